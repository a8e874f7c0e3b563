#include "controller/controller_channel.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include "replication/raft/quorum.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"

namespace kb::controller {

namespace {

// How often an attempt in flight to another node checks whether the quorum has elected
// someone else meanwhile.
constexpr int64_t kLeaderCheckMs = 50;

// One attempt's callback, run once: by the answer, or by the watch that gives up on a node
// the quorum no longer follows (its late answer is then dropped).
struct Attempt {
  std::atomic<bool> finished{false};
  ControllerChannel::Callback done;
  void finish(Result<std::vector<uint8_t>> r) {
    if (!finished.exchange(true)) done(std::move(r));
  }
};

}  // namespace

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

  // To `leader`, the quorum's leader as the caller read it.
  void send(int32_t leader, int16_t api_key, int16_t version, std::vector<uint8_t> body, int64_t timeout_ms,
            Callback done) {
    {
      std::lock_guard lk(mu);
      if (stopped) return done(Error{ErrorCode::NETWORK_EXCEPTION, "the broker is shutting down"});
    }
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
    auto current = std::make_shared<Attempt>();
    current->done = [self = shared_from_this(), api_key, version, again = std::move(again), deadline, retry,
                     done = std::move(done)](Result<std::vector<uint8_t>> r) mutable {
      const bool answered = r.ok() && (!retry || !retry(r.value()));
      const bool retriable = !r.ok() && (r.code() == ErrorCode::NOT_CONTROLLER ||
                                         r.code() == ErrorCode::NETWORK_EXCEPTION ||
                                         r.code() == ErrorCode::REQUEST_TIMED_OUT);
      if (answered || (!r.ok() && !retriable) || runtime::steady_ms() + self->backoff_ms >= deadline)
        return done(std::move(r));
      self->later(api_key, version, std::move(again), deadline, std::move(retry), std::move(done));
    };
    const int32_t target = quorum.leader();
    send(target, api_key, version, std::move(body), left,
         [current](Result<std::vector<uint8_t>> r) { current->finish(std::move(r)); });
    if (target >= 0 && target != node_id) watch(current, target);
  }

  // A controller that stops answering (frozen, cut off) would hold the attempt until its
  // deadline, although the quorum has elected another meanwhile: as soon as it has, the
  // attempt ends with NOT_CONTROLLER and the retry goes to the new one. A change the old
  // controller committed just before is then tried again, as when its connection drops
  // (Kafka's brokers retry so too).
  void watch(std::shared_ptr<Attempt> current, int32_t target) {
    {
      std::lock_guard lk(mu);
      if (stopped) return;  // the answer or the peer client's timeout ends the attempt
    }
    loop.after_ms(kLeaderCheckMs, [self = shared_from_this(), current = std::move(current), target]() mutable {
      if (current->finished.load()) return;
      const int32_t now = self->quorum.leader();
      if (now >= 0 && now != target)
        return current->finish(Error{ErrorCode::NOT_CONTROLLER, "node " + std::to_string(target) +
                                                                     " is no longer the active controller"});
      self->watch(std::move(current), target);
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
  impl_->send(impl_->quorum.leader(), api_key, api_version, std::move(body), timeout_ms, std::move(done));
}

void ControllerChannel::send_until(int16_t api_key, int16_t api_version, std::vector<uint8_t> body,
                                   int64_t timeout_ms, RetryIf retry, Callback done) {
  impl_->attempt(api_key, api_version, std::move(body), runtime::steady_ms() + timeout_ms, std::move(retry),
                 std::move(done));
}

}  // namespace kb::controller
