// The network layer: listeners, connections, framing, and in-order responses.
//
// Threading: `num.network.threads` event loops, each an io_context run by one thread; a
// connection lives on one loop for its whole life, so its state needs no locks. Handlers run
// on the connection's loop; an answer produced elsewhere (a timer, a produce that completes a
// waiting fetch) is posted back to it. Owner: Broker. Boost.Asio stays inside network.cc.
//
// Limits (Kafka's): socket.request.max.bytes per frame, and a frame's buffer grows as its
// bytes arrive (a client that declares 100 MB and sends ten bytes costs 64 KiB);
// queued.max.request.bytes over all connections; max.connections and max.connections.per.ip
// (network_limits.h). A failed accept (out of descriptors) rests the listener with a growing
// backoff instead of spinning, and is logged once per 10 s.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/types.h"
#include "security/tls.h"

namespace kb::server {

class Broker;
class ConnectionQuotas;
struct ListenerSecurity;

struct NetworkOptions {
  struct Listener {
    std::string name;
    std::string host;
    uint16_t port = 0;
    // Bound by start(), but connections are taken only after serve_deferred(): clients that
    // connect meanwhile wait in the listen backlog (the data plane while the broker catches
    // up with the metadata at start-up).
    bool deferred = false;
    // Not held back by max.connections: the controller listeners, and the inter-broker one
    // when clients have a listener of their own (Kafka's "protected" listener).
    bool exempt_from_max_connections = false;
    // TLS and SASL of SSL, SASL_PLAINTEXT and SASL_SSL listeners; null on PLAINTEXT ones.
    std::shared_ptr<const ListenerSecurity> security;
  };
  std::vector<Listener> listeners;
  int threads = 3;                          // num.network.threads
  int32_t max_request_bytes = 104857600;    // socket.request.max.bytes
  int64_t connections_max_idle_ms = 600000; // connections.max.idle.ms
  int socket_send_buffer_bytes = -1;        // socket.send.buffer.bytes (-1: kernel autotuning)
  int socket_receive_buffer_bytes = -1;     // socket.receive.buffer.bytes (-1: kernel autotuning)
  int max_in_flight_per_connection = 100;   // requests read ahead of their answers
  // queued.max.request.bytes: bytes of requests read and not yet answered (counted as their
  // frames grow) beyond which no connection starts reading another request; <= 0: no limit.
  int64_t queued_max_request_bytes = -1;
  // max.connections, max.connections.per.ip(.overrides); shared with the Broker, which
  // updates the limits when the dynamic configs change. Null: no limits.
  std::shared_ptr<ConnectionQuotas> quotas;
};

class Network {
 public:
  Network(NetworkOptions options, Broker& broker);
  ~Network();
  // Binds every listener (an error names the address) and starts the loops and every
  // listener that is not deferred.
  Status start();
  // Starts taking connections on the deferred listeners too.
  void serve_deferred();
  // New connections to `listener` (SSL or SASL_SSL) use `tls` from now on; those open keep
  // theirs (a reloaded key store, server/listener_security.h). Any thread.
  void set_tls_context(const std::string& listener, security::TlsContext tls);
  // The port a listener is bound to (useful when configured with port 0).
  uint16_t bound_port(size_t listener_index) const;
  // Stops accepting, lets in-flight requests finish and their answers go out (at most
  // `grace`), closes every connection and joins the threads.
  void stop(std::chrono::milliseconds grace);
  int64_t open_connections() const;
  // Bytes of requests read and not yet answered (what queued.max.request.bytes limits).
  int64_t queued_request_bytes() const;

  struct Impl;  // public so the connection code in network.cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::server
