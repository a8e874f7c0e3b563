// How this broker reaches the active controller (Kafka's NodeToControllerChannelManager):
// registration and heartbeats, AlterPartition, producer-id blocks, and client requests
// forwarded in an Envelope all go through here, whether the controller is this very node or
// another one. The active controller is the metadata quorum's leader; when that is this node
// the request goes to `LocalSink` (the broker's own dispatch, on its controller-request loop)
// without touching the network, otherwise to the leader's controller listener over a
// PeerClient. Either way the same handler answers the same bytes, so a lone broker (a quorum
// of one) and a cluster run one path.
//
// send() makes one attempt. send_until() retries, after controller.quorum.retry.backoff.ms,
// while no controller is known, the transport failed, or `retry` says the answer came from a
// node that is no longer the controller, until its deadline; the controller id is looked up
// again for every attempt, so a retry follows the controller when it moves, and an attempt
// still waiting on a node the quorum no longer follows ends (NOT_CONTROLLER) and is retried.
//
// Owner: the Broker. Threads: a LoopThread of its own (`kb-ctl-channel`) for retry timers;
// every method may be called from any thread; callbacks run on the peer client's thread,
// the local sink's, or the channel's, and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "protocol/types.h"
#include "protocol/wire.h"
#include "runtime/peer_client.h"

namespace kb::raft {
class Quorum;
}

namespace kb::controller {

class ControllerChannel {
 public:
  using Callback = runtime::PeerClient::Callback;  // the response body (after its header)
  // Hands one request body to this node's own controller; `done` exactly once.
  using LocalSink =
      std::function<void(int16_t api_key, int16_t api_version, std::vector<uint8_t> body, Callback done)>;
  // Whether an answer says the node that gave it is not (any more) the active controller.
  using RetryIf = std::function<bool(const std::vector<uint8_t>& body)>;

  ControllerChannel(int32_t node_id, raft::Quorum& quorum, runtime::PeerClient& peers, LocalSink local,
                    int64_t retry_backoff_ms);
  ~ControllerChannel();  // stop()
  // Pending retries end with NETWORK_EXCEPTION; later sends fail at once.
  void stop();

  // The active controller as this node knows it (the quorum's leader); -1 while none.
  int32_t controller_id() const;

  // One attempt; NOT_CONTROLLER when no controller is known.
  void send(int16_t api_key, int16_t api_version, std::vector<uint8_t> body, int64_t timeout_ms, Callback done);
  // Attempts until one is answered (and `retry`, if given, accepts the answer) or
  // `timeout_ms` has passed; then the last error, or REQUEST_TIMED_OUT.
  void send_until(int16_t api_key, int16_t api_version, std::vector<uint8_t> body, int64_t timeout_ms, RetryIf retry,
                  Callback done);

  // Typed one-attempt form (CORRUPT_MESSAGE for an answer that does not decode).
  template <class Request, class Response>
  void call(const Request& req, int16_t version, int64_t timeout_ms, std::function<void(Result<Response>)> done) {
    wire::Writer w;
    req.encode(w, version);
    send(Request::kApiKey, version, std::move(w.buffer()), timeout_ms,
         runtime::decoding_answer<Response>(version, std::move(done)));
  }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::controller
