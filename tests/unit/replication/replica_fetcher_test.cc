// The follower fetcher against in-process leaders: the transport answers each Fetch from a
// leader replica's read_for_replica (what the Fetch handler calls), so catching up,
// truncation after a leader change, a leader whose log start passed ours, fencing and
// network failures run through the real fetch loop.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "protocol/record_batch.h"
#include "replication/replica_fetcher.h"
#include "replication/replica_manager.h"
#include "storage/log_manager.h"

using namespace kb;
using namespace kb::replication;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

const TopicPartition kTp{"t", 0};
const Uuid kTopicId = [] {
  Uuid u;
  u.bytes[0] = 7;
  return u;
}();

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kb-fetcher-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::vector<uint8_t> batch_of(int n, const std::string& tag) {
  RecordBatchBuilder b;
  for (int i = 0; i < n; ++i) {
    std::string v = tag;
    v += std::to_string(i);
    b.add("k", v, 1000 + i);
  }
  return b.build();
}

std::vector<uint8_t> bytes_of(const FileSlice& s) {
  std::vector<uint8_t> out(static_cast<size_t>(s.size));
  REQUIRE(::pread(s.fd, out.data(), out.size(), s.position) == static_cast<ssize_t>(out.size()));
  return out;
}

std::vector<uint8_t> log_bytes(const storage::Log& log) {
  auto rr = log.read(log.log_start_offset(), INT32_MAX, log.log_end_offset(), true);
  REQUIRE(rr.ok());
  return rr->slice ? bytes_of(*rr->slice) : std::vector<uint8_t>{};
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// Leaders by node id, answering fetches in-process; answers arrive on threads of their own
// (as PeerClient's do), empty ones after a short wait (the long poll).
class FakeLeaders final : public FetchTransport {
 public:
  std::map<int32_t, std::shared_ptr<replication::Partition>> leaders;  // set before fetching starts
  std::atomic<bool> down{false};
  std::atomic<int> requests{0};

  void fetch(int32_t leader, const PeerAddress&, const msg::FetchRequest& req, int16_t version, int64_t,
             std::function<void(Result<std::shared_ptr<FetchReply>>)> done) override {
    ++requests;
    CHECK(version == 13);
    if (down.load()) return later(5ms, [done] { done(Error{ErrorCode::NETWORK_EXCEPTION, "refused"}); });
    auto reply = std::make_shared<FetchReply>();
    bool any = false;
    auto it = leaders.find(leader);
    for (const auto& t : req.topics) {
      auto& tr = reply->response.responses.emplace_back();
      tr.topic_id = t.topic_id;
      for (const auto& fp : t.partitions) {
        auto& pd = tr.partitions.emplace_back();
        pd.partition_index = fp.partition;
        if (it == leaders.end()) {
          pd.error_code = to_wire(ErrorCode::NOT_LEADER_OR_FOLLOWER);
          any = true;
          continue;
        }
        auto r = it->second->read_for_replica(req.replica_id, Offset(fp.fetch_offset), fp.current_leader_epoch,
                                              fp.last_fetched_epoch, fp.partition_max_bytes, true, 0);
        pd.error_code = to_wire(r.error);
        pd.high_watermark = r.high_watermark.value();
        pd.log_start_offset = r.log_start_offset.value();
        if (r.diverging) {
          pd.diverging_epoch.epoch = r.diverging->epoch;
          pd.diverging_epoch.end_offset = r.diverging->end_offset;
        }
        if (r.slice) pd.records.owned = bytes_of(*r.slice);
        any = any || r.error != ErrorCode::NONE || r.diverging || !pd.records.owned.empty();
      }
    }
    later(any ? 0ms : 20ms, [done, reply] { done(reply); });
  }

  void stop() override {
    std::vector<std::thread> ts;
    {
      std::lock_guard lk(mu_);
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
  }
  ~FakeLeaders() override { stop(); }

 private:
  void later(std::chrono::milliseconds delay, std::function<void()> fn) {
    std::lock_guard lk(mu_);
    threads_.emplace_back([delay, fn = std::move(fn)] {
      std::this_thread::sleep_for(delay);
      fn();
    });
  }
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

replication::PartitionState state(int32_t leader, int32_t epoch, std::vector<int32_t> isr = {1, 2}) {
  return replication::PartitionState{leader, epoch, 0, {1, 2}, std::move(isr)};
}

// Broker 2 following t-0, with leader replicas on "brokers" 1 and 3 in the same directory.
struct Cluster {
  TempDir dir;
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<replication::ReplicaManager> replicas;
  FakeLeaders* transport = nullptr;
  std::unique_ptr<ReplicaFetcherManager> fetcher;

  explicit Cluster(int64_t backoff_ms = 50) {
    storage::LogManagerOptions o;
    o.log_dirs = {dir.path / "broker2"};
    auto l = storage::LogManager::open(o);
    REQUIRE(l.ok());
    logs = std::move(l.value());
    replicas = std::make_unique<replication::ReplicaManager>(*logs, 2);
    auto t = std::make_unique<FakeLeaders>();
    transport = t.get();
    ReplicaFetcherOptions fo;
    fo.node_id = 2;
    fo.backoff_ms = backoff_ms;
    fo.partition_max_bytes = 300;  // several rounds to catch up
    fetcher = std::make_unique<ReplicaFetcherManager>(fo, *replicas, std::move(t));
  }
  ~Cluster() {
    fetcher->stop();
    logs->shutdown();
  }
  std::shared_ptr<replication::Partition> replica_on(int32_t node, const replication::PartitionState& s) {
    auto log = storage::Log::open(dir.path / ("broker" + std::to_string(node)) / "t-0", storage::LogConfig{}, false);
    REQUIRE(log.ok());
    return std::make_shared<replication::Partition>(kTp, kTopicId, std::shared_ptr<storage::Log>(std::move(log.value())),
                                                    node, s);
  }
  std::shared_ptr<replication::Partition> follow(const replication::PartitionState& s) {
    auto p = replicas->become_follower(kTp, kTopicId, s, storage::LogConfig{});
    REQUIRE(p.ok());
    fetcher->add_or_update(kTp, kTopicId, s.leader, PeerAddress{"127.0.0.1", 1}, s.leader_epoch);
    return p.value();
  }
};

int64_t produce(replication::Partition& p, int n, const std::string& tag = "v") {
  auto b = batch_of(n, tag);
  auto info = p.append_as_leader(b);
  REQUIRE(info.ok());
  return info->last_offset.value() + 1;
}

}  // namespace

TEST_CASE("a follower catches up with its leader, and its fetches move the leader's high watermark") {
  Cluster c;
  auto leader = c.replica_on(1, state(1, 4));
  c.transport->leaders[1] = leader;
  for (int i = 0; i < 10; ++i) produce(*leader, 5, "r" + std::to_string(i));
  CHECK(leader->high_watermark().value() == 0);  // the follower has nothing yet

  auto follower = c.follow(state(1, 4));
  REQUIRE(eventually([&] { return leader->high_watermark().value() == 50 && follower->high_watermark().value() == 50; }));
  CHECK(log_bytes(follower->log()) == log_bytes(leader->log()));
  CHECK(follower->epochs().entries() == std::vector<replication::EpochEntry>{{4, 0}});
  // New records keep flowing.
  produce(*leader, 3);
  REQUIRE(eventually([&] { return follower->log_end_offset().value() == 53; }));
}

TEST_CASE("after a leader change the follower cuts its divergent tail and copies the new leader") {
  Cluster c;
  auto old_leader = c.replica_on(1, state(1, 1));
  c.transport->leaders[1] = old_leader;
  produce(*old_leader, 10, "a");
  auto follower = c.follow(state(1, 1));
  REQUIRE(eventually([&] { return follower->log_end_offset().value() == 10; }));
  c.fetcher->remove(kTp);

  // The follower got 3 more of epoch 1 that broker 3 never saw; broker 3 copied the first 10,
  // took over at epoch 2 from offset 10 and wrote 4.
  auto extra = batch_of(3, "lost");
  patch_base_offset(extra.data(), 10);
  patch_leader_epoch(extra.data(), 1);
  REQUIRE(follower->append_as_follower(extra, 1).ok());
  auto new_leader = c.replica_on(3, replication::PartitionState{1, 1, 0, {1, 2, 3}, {1, 2, 3}});
  REQUIRE(new_leader->append_as_follower(log_bytes(old_leader->log()), 1).ok());
  REQUIRE(new_leader->become_leader(replication::PartitionState{3, 2, 0, {1, 2, 3}, {3}}, 0));
  produce(*new_leader, 4, "b");
  c.transport->leaders[3] = new_leader;

  REQUIRE(follower->become_follower(replication::PartitionState{3, 2, 0, {1, 2, 3}, {3}}));
  c.fetcher->add_or_update(kTp, kTopicId, 3, PeerAddress{"127.0.0.1", 3}, 2);
  REQUIRE(eventually([&] { return follower->log_end_offset().value() == 14 && follower->latest_epoch() == 2; }));
  CHECK(log_bytes(follower->log()) == log_bytes(new_leader->log()));
  CHECK(follower->epochs().entries() == std::vector<replication::EpochEntry>{{1, 0}, {2, 10}});
}

TEST_CASE("a follower behind its leader's log start starts over there") {
  Cluster c;
  auto leader = c.replica_on(1, state(1, 0, {1}));
  c.transport->leaders[1] = leader;
  for (int i = 0; i < 4; ++i) produce(*leader, 5);
  REQUIRE(leader->log().advance_log_start(Offset(15)).ok());
  auto follower = c.follow(state(1, 0, {1}));
  REQUIRE(eventually([&] { return follower->log_end_offset().value() == 20; }));
  CHECK(follower->log_start_offset().value() == 15);
}

TEST_CASE("a fenced follower waits for newer metadata; a refused connection is retried") {
  Cluster c(30);
  auto leader = c.replica_on(1, state(1, 7));
  c.transport->leaders[1] = leader;
  produce(*leader, 5);

  SECTION("the leader is at a newer epoch than the follower's metadata") {
    auto follower = c.follow(state(1, 6));
    REQUIRE(eventually([&] { return c.fetcher->status(kTp) && c.fetcher->status(kTp)->fenced; }));
    int sent = c.transport->requests.load();
    std::this_thread::sleep_for(100ms);
    CHECK(c.transport->requests.load() == sent);  // nothing is fetched while fenced
    CHECK(follower->log_end_offset().value() == 0);
    REQUIRE(follower->become_follower(state(1, 7)));
    c.fetcher->add_or_update(kTp, kTopicId, 1, PeerAddress{"127.0.0.1", 1}, 7);
    REQUIRE(eventually([&] { return follower->log_end_offset().value() == 5; }));
    CHECK_FALSE(c.fetcher->status(kTp)->fenced);
  }
  SECTION("the leader's broker refuses connections for a while") {
    c.transport->down = true;
    auto follower = c.follow(state(1, 7));
    REQUIRE(eventually([&] { return c.transport->requests.load() >= 3; }));
    CHECK(follower->log_end_offset().value() == 0);
    c.transport->down = false;
    REQUIRE(eventually([&] { return follower->log_end_offset().value() == 5; }));
  }
  SECTION("the leader has not heard it leads yet: retried until it does") {
    c.transport->leaders.erase(1);
    auto follower = c.follow(state(1, 7));
    // Seen between two attempts (not while one is in flight): backing off, not given up.
    CHECK(eventually([&] { return c.transport->requests.load() >= 3 && c.fetcher->status(kTp)->backing_off; }));
  }
}

namespace {

// Runs `hook` (once) on the thread that logs a line containing `text`: a way to make something
// happen at an exact point inside the fetcher's handling of an answer.
class HookSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  HookSink(std::string text, std::function<void()> hook) : text_(std::move(text)), hook_(std::move(hook)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (hook_ && std::string_view(msg.payload.data(), msg.payload.size()).find(text_) != std::string_view::npos)
      std::exchange(hook_, nullptr)();
  }
  void flush_() override {}

 private:
  std::string text_;
  std::function<void()> hook_;
};

}  // namespace

TEST_CASE("metadata that arrives while a fenced answer is handled is not lost") {
  Cluster c(30);
  auto leader = c.replica_on(1, state(1, 7));
  c.transport->leaders[1] = leader;
  produce(*leader, 5);
  // The leader answers FENCED_LEADER_EPOCH to the fetch at epoch 6; the metadata of epoch 7
  // arrives just after the fetcher looked at the answer and before it applied the outcome.
  auto previous = spdlog::default_logger();
  std::atomic<bool> updated{false};
  auto hooked = std::make_shared<spdlog::logger>(
      "hook", std::make_shared<HookSink>("waiting for the metadata", [&] {
        spdlog::set_default_logger(previous);  // this sink's lock is held: log elsewhere
        auto p = c.replicas->get(kTp);
        REQUIRE(p);
        REQUIRE(p->become_follower(state(1, 7)));
        c.fetcher->add_or_update(kTp, kTopicId, 1, PeerAddress{"127.0.0.1", 1}, 7);
        updated = true;
      }));
  spdlog::set_default_logger(hooked);
  auto follower = c.follow(state(1, 6));
  const bool caught_up = eventually([&] { return follower->log_end_offset().value() == 5; }, 5s);
  spdlog::set_default_logger(previous);
  REQUIRE(updated);
  CHECK(caught_up);
  CHECK_FALSE(c.fetcher->status(kTp)->fenced);
}

TEST_CASE("a removed partition is no longer fetched") {
  Cluster c;
  auto leader = c.replica_on(1, state(1, 0));
  c.transport->leaders[1] = leader;
  auto follower = c.follow(state(1, 0));
  REQUIRE(eventually([&] { return c.transport->requests.load() >= 2; }));
  c.fetcher->remove(kTp);
  CHECK(c.fetcher->partition_count() == 0);
  std::this_thread::sleep_for(60ms);  // an answer in flight may still come
  int sent = c.transport->requests.load();
  produce(*leader, 2);
  std::this_thread::sleep_for(100ms);
  CHECK(c.transport->requests.load() == sent);
  CHECK(follower->log_end_offset().value() == 0);
}
