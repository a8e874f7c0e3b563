#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "server/coordinator_loop.h"

#include <boost/asio.hpp>
#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "storage/files.h"

namespace kb::server {

namespace asio = boost::asio;

namespace {

// Cancelled on the loop's thread only (the coordinator's contract), so a flag suffices to
// stop a callback that Asio had already queued when the timer expired.
class LoopTimer final : public coordinator::Timer {
 public:
  explicit LoopTimer(asio::io_context& ctx) : timer(ctx) {}
  void cancel() override {
    cancelled = true;
    timer.cancel();
  }
  asio::steady_timer timer;
  bool cancelled = false;
};

}  // namespace

struct CoordinatorLoop::Impl {
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ctx);
  std::thread thread;
};

CoordinatorLoop::CoordinatorLoop() : impl_(std::make_unique<Impl>()) {
  impl_->thread = std::thread([this] {
    try {
      impl_->ctx.run();
    } catch (const std::exception& e) {
      spdlog::critical("group coordinator loop stopped: {}", e.what());
    }
  });
}

CoordinatorLoop::~CoordinatorLoop() { stop(); }

void CoordinatorLoop::stop() {
  if (!impl_->thread.joinable()) return;
  // Finish what is posted (answers to waiting clients), but do not wait for timers.
  asio::post(impl_->ctx, [this] { impl_->ctx.stop(); });
  impl_->thread.join();
}

void CoordinatorLoop::post(std::function<void()> fn) { asio::post(impl_->ctx, std::move(fn)); }

std::shared_ptr<coordinator::Timer> CoordinatorLoop::after_ms(int64_t delay_ms, std::function<void()> fn) {
  auto t = std::make_shared<LoopTimer>(impl_->ctx);
  t->timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0)));
  std::weak_ptr<LoopTimer> weak = t;
  t->timer.async_wait([weak, fn = std::move(fn)](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!ec && self && !self->cancelled) fn();
  });
  return t;
}

int64_t CoordinatorLoop::now_ms() const { return storage::now_ms(); }

}  // namespace kb::server
