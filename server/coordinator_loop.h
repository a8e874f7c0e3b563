// The group coordinator's event loop in the broker: one thread running an Asio io_context.
// Owner: the Broker, which stops the coordinator before this loop.
#pragma once

#include <memory>

#include "controller/group/event_loop.h"

namespace kb::server {

class CoordinatorLoop final : public coordinator::EventLoop {
 public:
  CoordinatorLoop();  // starts the thread
  ~CoordinatorLoop() override;  // stop()

  // Runs what is already posted, then joins the thread. Later posts are dropped.
  void stop();

  void post(std::function<void()> fn) override;
  std::shared_ptr<coordinator::Timer> after_ms(int64_t delay_ms, std::function<void()> fn) override;
  int64_t now_ms() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::server
