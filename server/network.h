// The network layer: listeners, connections, framing, and in-order responses.
//
// Threading: `num.network.threads` event loops, each an io_context run by one thread; a
// connection lives on one loop for its whole life, so its state needs no locks. Handlers run
// on the connection's loop; an answer produced elsewhere (a timer, a produce that completes a
// waiting fetch) is posted back to it. Owner: Broker. Boost.Asio stays inside network.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/types.h"

namespace kb::server {

class Broker;

struct NetworkOptions {
  struct Listener {
    std::string name;
    std::string host;
    uint16_t port = 0;
    // Bound by start(), but connections are taken only after serve_deferred(): clients that
    // connect meanwhile wait in the listen backlog (the data plane while the broker catches
    // up with the metadata at start-up).
    bool deferred = false;
  };
  std::vector<Listener> listeners;
  int threads = 3;                          // num.network.threads
  int32_t max_request_bytes = 104857600;    // socket.request.max.bytes
  int64_t connections_max_idle_ms = 600000; // connections.max.idle.ms
  int socket_send_buffer_bytes = -1;        // socket.send.buffer.bytes (-1: kernel autotuning)
  int socket_receive_buffer_bytes = -1;     // socket.receive.buffer.bytes (-1: kernel autotuning)
  int max_in_flight_per_connection = 100;   // requests read ahead of their answers
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
  // The port a listener is bound to (useful when configured with port 0).
  uint16_t bound_port(size_t listener_index) const;
  // Stops accepting, lets in-flight requests finish and their answers go out (at most
  // `grace`), closes every connection and joins the threads.
  void stop(std::chrono::milliseconds grace);
  int64_t open_connections() const;

  struct Impl;  // public so the connection code in network.cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::server
