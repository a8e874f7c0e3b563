// What a handler sees of a request and how it answers. One handler per Kafka API lives in
// server/handlers/<api>.cc and declares itself in handlers.h with its version range.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/wire.h"
#include "runtime/event_loop.h"

namespace kb::server {

// Allocates without zero-filling: a request frame is overwritten by the socket read anyway,
// and clearing a megabyte per produce request is measurable.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Frame = std::vector<uint8_t, UninitAllocator<uint8_t>>;

class Broker;
class SaslSession;

struct Response {
  wire::Writer body;          // response body (without size prefix and response header)
  bool send = true;           // false: no response on the wire (Produce with acks=0)
  bool close_after = false;   // close the connection once this (and earlier) answers are out
  // Quota throttling (Kafka's channel mute): no further request is read from the connection
  // for this long after the answer (also for an answer that is not sent, acks=0).
  int64_t throttle_ms = 0;
  // Not charged to the client's request_percentage (a follower's Fetch: Kafka exempts it).
  bool quota_exempt = false;
  // Where in `body` throttle_time_ms lies when the body does not begin with it (Produce's is
  // at the end), so a request-quota throttle can be written there; -1: unknown.
  int64_t throttle_at = -1;
};

// Call exactly once, from any thread; the connection writes answers in request order.
using Respond = std::function<void(Response&&)>;

struct RequestContext {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::string client_id;
  std::string peer;                         // "127.0.0.1:53122", for log lines
  std::string host;                         // the client's address without the port ("127.0.0.1"), for ACLs
  // Who sent the request: "User:<name>" from SASL or the client certificate (mapped by
  // ssl.principal.mapping.rules), "User:ANONYMOUS" on a PLAINTEXT listener or without either.
  std::string principal = "User:ANONYMOUS";
  std::span<uint8_t> body;                  // request body after the header; writable in place
  std::shared_ptr<Frame> frame;  // owns `body`; keep it while borrowing from it
  Broker* broker = nullptr;
  runtime::EventLoop* scheduler = nullptr;  // the connection's network thread
  std::string listener;                     // the listener the request came in on ("PLAINTEXT")
  // Broker-to-controller traffic: the request came from this broker's own ControllerChannel
  // (requests on a controller listener count too: Broker::privileged).
  bool from_this_broker = false;
  // The request came in an Envelope (server/forwarding.h): this node serves it as the active
  // controller, for the client named by `peer` and `client_id`.
  bool forwarded = false;
  // The connection's SASL state on SASL_PLAINTEXT and SASL_SSL listeners, else null. Only the
  // SaslHandshake and SaslAuthenticate handlers use it, on the connection's thread, before
  // they answer.
  SaslSession* sasl = nullptr;
};

using HandlerFn = void (*)(RequestContext& ctx, Respond respond);

struct HandlerInfo {
  int16_t api_key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  HandlerFn fn;
  // Served and advertised only on the listeners in controller.listener.names (Kafka's
  // "controller" listener type: the quorum and broker-to-controller APIs).
  bool controller_only = false;
};

// Every API this broker serves, sorted by key; ApiVersions advertises exactly these ranges.
const std::vector<HandlerInfo>& handlers();
const HandlerInfo* find_handler(int16_t api_key);

}  // namespace kb::server
