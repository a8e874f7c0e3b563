#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "runtime/loop_thread.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio.hpp>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "runtime/clock.h"

namespace kb::runtime {

namespace asio = boost::asio;

namespace {

class LoopTimer;

}  // namespace

struct LoopThread::Impl {
  explicit Impl(std::string n) : name(std::move(n)) {}

  const std::string name;
  asio::io_context ctx{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{asio::make_work_guard(ctx)};
  std::thread thread;
  std::promise<void> finished;
  std::atomic<bool> stopping{false};  // stop() began: new timers never fire
  std::atomic<bool> done{false};      // the loop has stopped: posts are dropped
  std::mutex stop_mu;                 // serializes stop()
  // Timers waiting to fire; touched on the loop's thread only (stop() cancels them there).
  std::unordered_set<LoopTimer*> pending;
};

namespace {

// Every operation on the Asio timer happens on the loop's thread (Asio timers are not
// thread-safe); the flag is what makes cancel() from any thread final.
class LoopTimer final : public Timer, public std::enable_shared_from_this<LoopTimer> {
 public:
  LoopTimer(std::shared_ptr<LoopThread::Impl> loop, std::function<void()> fn)
      : loop_(std::move(loop)), timer_(loop_->ctx), fn_(std::move(fn)) {}

  void cancel() override {
    if (cancelled_.exchange(true)) return;
    // Frees the wait (and what fn holds) now rather than when it would have expired.
    if (loop_->ctx.get_executor().running_in_this_thread()) timer_.cancel();
    else if (!loop_->done.load()) asio::post(loop_->ctx, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  // On the loop's thread.
  void start(asio::steady_timer::time_point at) {
    if (cancelled_.load() || loop_->stopping.load()) return;
    loop_->pending.insert(this);
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->loop_->pending.erase(self.get());
      if (ec || self->cancelled_.load()) return;
      auto fn = std::move(self->fn_);
      fn();
    });
  }

  // On the loop's thread, when the loop stops.
  void abandon() {
    cancelled_.store(true);
    timer_.cancel();
  }

 private:
  std::shared_ptr<LoopThread::Impl> loop_;
  asio::steady_timer timer_;
  std::function<void()> fn_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

LoopThread::LoopThread(std::string name) : impl_(std::make_shared<Impl>(std::move(name))) {
  // Asio creates a loop's reactor (an epoll descriptor, an eventfd, a timerfd) when its first
  // timer or socket is made. Made here, out of descriptors (EMFILE) is an exception for the
  // constructing code to report, not one on the loop's thread that aborts the process.
  asio::steady_timer make_reactor(impl_->ctx);
  impl_->thread = std::thread([impl = impl_.get()] {
    pthread_setname_np(pthread_self(), impl->name.substr(0, 15).c_str());
    try {
      impl->ctx.run();
    } catch (const std::exception& e) {
      spdlog::critical("{} thread stopped on an exception: {}", impl->name, e.what());
      std::abort();
    }
    impl->done.store(true);
    impl->finished.set_value();
  });
}

LoopThread::~LoopThread() { stop(std::chrono::seconds(1)); }

void LoopThread::post(std::function<void()> fn) {
  if (impl_->done.load()) return;
  asio::post(impl_->ctx, std::move(fn));
}

std::shared_ptr<Timer> LoopThread::after_ms(int64_t delay_ms, std::function<void()> fn) {
  auto t = std::make_shared<LoopTimer>(impl_, std::move(fn));
  const auto at = asio::steady_timer::clock_type::now() + std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0));
  if (on_loop_thread()) t->start(at);
  else if (!impl_->done.load()) asio::post(impl_->ctx, [t, at] { t->start(at); });
  return t;
}

int64_t LoopThread::now_ms() const { return runtime::now_ms(); }

bool LoopThread::on_loop_thread() const { return impl_->ctx.get_executor().running_in_this_thread(); }

asio::io_context& LoopThread::context() { return impl_->ctx; }

void LoopThread::stop(std::chrono::milliseconds grace) {
  std::lock_guard lk(impl_->stop_mu);
  if (!impl_->thread.joinable()) return;
  if (on_loop_thread()) {
    spdlog::critical("{} loop stopped from its own thread", impl_->name);
    std::abort();
  }
  impl_->stopping.store(true);
  asio::post(impl_->ctx, [impl = impl_.get()] {
    for (LoopTimer* t : std::exchange(impl->pending, {})) t->abandon();
  });
  impl_->work.reset();
  auto finished = impl_->finished.get_future();
  if (grace == kNoDeadline) finished.wait();
  else if (finished.wait_for(grace) != std::future_status::ready) impl_->ctx.stop();
  impl_->thread.join();
  impl_->done.store(true);
}

}  // namespace kb::runtime
