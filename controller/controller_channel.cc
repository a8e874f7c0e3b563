#include "controller/controller_channel.h"

#include <chrono>
#include <map>
#include <mutex>

#include "replication/raft/quorum.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"

namespace kb::controller {

struct ControllerChannel::Impl : std::enable_shared_from_this<Impl> {
  const int32_t node_id;
  raft::Quorum& quorum;
  runtime::PeerClient& peers;
  const LocalSink local;
  const int64_t backoff_ms;
  runtime::LoopThread loop{"kb-ctl-channel"};

  std::mutex mu;  // guards the fields below
  bool stopped = false;
  uint64_t next_wait = 0;
  std::map<uint64_t, Callback> waiting;  // retries waiting for their timer

  Impl(int32_t id, raft::Quorum& q, runtime::PeerClient& p, LocalSink l, int64_t backoff)
      : node_id(id), quorum(q), peers(p), local(std::move(l)), backoff_ms(backoff) {}

  void send(int16_t api_key, int16_t version, std::vector<uint8_t> body, int64_t timeout_ms, Callback done) {
    {
      std::lock_guard lk(mu);
      if (stopped) return done(Error{ErrorCode::NETWORK_EXCEPTION, "the broker is shutting down"});
    }
    const int32_t leader = quorum.leader();
    if (leader < 0) return done(Error{ErrorCode::NOT_CONTROLLER, "no active controller known"});
    if (leader == node_id) return local(api_key, version, std::move(body), std::move(done));
    auto address = quorum.voter_address(leader);
    if (!address) return done(Error{ErrorCode::NOT_CONTROLLER, "no address for controller " + std::to_string(leader)});
    peers.send(leader, runtime::PeerAddress{address->first, address->second}, api_key, version, std::move(body),
               timeout_ms, std::move(done));
  }

  void attempt(int16_t api_key, int16_t version, std::vector<uint8_t> body, int64_t deadline, RetryIf retry,
               Callback done) {
    const int64_t left = deadline - runtime::steady_ms();
    if (left <= 0) return done(Error{ErrorCode::REQUEST_TIMED_OUT, "no answer from the active controller in time"});
    auto again = body;
    send(api_key, version, std::move(body), left,
         [self = shared_from_this(), api_key, version, again = std::move(again), deadline, retry,
          done = std::move(done)](Result<std::vector<uint8_t>> r) mutable {
           const bool answered = r.ok() && (!retry || !retry(r.value()));
           const bool retriable = !r.ok() && (r.code() == ErrorCode::NOT_CONTROLLER ||
                                              r.code() == ErrorCode::NETWORK_EXCEPTION ||
                                              r.code() == ErrorCode::REQUEST_TIMED_OUT);
           if (answered || (!r.ok() && !retriable) || runtime::steady_ms() + self->backoff_ms >= deadline)
             return done(std::move(r));
           self->later(api_key, version, std::move(again), deadline, std::move(retry), std::move(done));
         });
  }

  // The next attempt after the backoff, on the channel's loop.
  void later(int16_t api_key, int16_t version, std::vector<uint8_t> body, int64_t deadline, RetryIf retry,
             Callback done) {
    uint64_t id;
    {
      std::lock_guard lk(mu);
      if (stopped) return done(Error{ErrorCode::NETWORK_EXCEPTION, "the broker is shutting down"});
      id = next_wait++;
      waiting.emplace(id, std::move(done));
    }
    loop.after_ms(backoff_ms, [self = shared_from_this(), id, api_key, version, body = std::move(body), deadline,
                               retry = std::move(retry)]() mutable {
      Callback cb;
      {
        std::lock_guard lk(self->mu);
        auto it = self->waiting.find(id);
        if (it == self->waiting.end()) return;
        cb = std::move(it->second);
        self->waiting.erase(it);
      }
      self->attempt(api_key, version, std::move(body), deadline, std::move(retry), std::move(cb));
    });
  }
};

ControllerChannel::ControllerChannel(int32_t node_id, raft::Quorum& quorum, runtime::PeerClient& peers,
                                     LocalSink local, int64_t retry_backoff_ms)
    : impl_(std::make_shared<Impl>(node_id, quorum, peers, std::move(local), retry_backoff_ms)) {}

ControllerChannel::~ControllerChannel() { stop(); }

void ControllerChannel::stop() {
  std::map<uint64_t, Callback> waiting;
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    waiting = std::move(impl_->waiting);
  }
  impl_->loop.stop(std::chrono::seconds(1));
  for (auto& [id, done] : waiting) done(Error{ErrorCode::NETWORK_EXCEPTION, "the broker is shutting down"});
}

int32_t ControllerChannel::controller_id() const { return impl_->quorum.leader(); }

void ControllerChannel::send(int16_t api_key, int16_t api_version, std::vector<uint8_t> body, int64_t timeout_ms,
                             Callback done) {
  impl_->send(api_key, api_version, std::move(body), timeout_ms, std::move(done));
}

void ControllerChannel::send_until(int16_t api_key, int16_t api_version, std::vector<uint8_t> body,
                                   int64_t timeout_ms, RetryIf retry, Callback done) {
  impl_->attempt(api_key, api_version, std::move(body), runtime::steady_ms() + timeout_ms, std::move(retry),
                 std::move(done));
}

}  // namespace kb::controller
