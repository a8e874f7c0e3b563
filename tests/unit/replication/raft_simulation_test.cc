// A deterministic simulation of the metadata quorum: voters exchange messages through a
// network that loses, delays, reorders and duplicates them, crash and restart (keeping only
// what RaftStorage made durable), get partitioned, and snapshot their committed entries (a
// voter that falls behind a snapshot must fetch and install it), over many seeds. After every step the
// Raft safety properties are checked; after the chaos the network heals and the quorum must
// elect a leader and bring every log to the same committed end.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "replication/raft/raft.h"

using namespace kb::raft;

namespace {

// The state machine of the simulation is the list of committed entries itself: a snapshot
// is their encoding, so a node that installs one must end up with exactly the entries the
// leader had applied.
std::string encode_entries(const std::vector<Entry>& entries, int64_t end) {
  std::string out;
  for (int64_t o = 0; o < end; ++o) {
    const Entry& e = entries.at(static_cast<size_t>(o));
    out += std::to_string(e.epoch) + ":" + std::to_string(e.data.size()) + ":" + e.data;
  }
  return out;
}

std::vector<Entry> decode_entries(const std::string& data) {
  std::vector<Entry> out;
  size_t at = 0;
  while (at < data.size()) {
    size_t colon = data.find(':', at);
    size_t colon2 = data.find(':', colon + 1);
    Entry e;
    e.epoch = std::stoi(data.substr(at, colon - at));
    size_t len = std::stoul(data.substr(colon + 1, colon2 - colon - 1));
    e.data = data.substr(colon2 + 1, len);
    out.push_back(e);
    at = colon2 + 1 + len;
  }
  return out;
}

class MemoryStorage final : public RaftStorage {
 public:
  int32_t epoch() const override { return epoch_; }
  int32_t voted_for() const override { return voted_for_; }
  void set_election_state(int32_t epoch, int32_t voted_for) override {
    epoch_ = epoch;
    voted_for_ = voted_for;
  }
  int64_t end_offset() const override { return static_cast<int64_t>(log_.size()); }
  const Entry& entry(int64_t offset) const override {
    // Entries below the start are only in the snapshot: the node must never read them.
    if (offset < start_) FAIL("entry " << offset << " read below the log start " << start_);
    return log_.at(static_cast<size_t>(offset));
  }
  void append(const Entry& e) override { log_.push_back(e); }
  void truncate(int64_t end) override {
    if (end < start_) FAIL("truncation to " << end << " below the log start " << start_);
    log_.resize(static_cast<size_t>(end));
  }
  int64_t start_offset() const override { return start_; }
  std::optional<SnapshotId> snapshot() const override { return snapshot_; }
  const std::string& snapshot_data() const override { return snapshot_data_; }
  void save_snapshot(const SnapshotId& id, std::string data) override {
    if (id.end_offset <= start_ || id.end_offset > end_offset() || log_[static_cast<size_t>(id.end_offset - 1)].epoch != id.epoch)
      FAIL("snapshot " << id.end_offset << "/" << id.epoch << " does not match the log");
    snapshot_ = id;
    snapshot_data_ = std::move(data);
    start_ = id.end_offset;
    ++saved_;
  }
  void install_snapshot(const SnapshotId& id, std::string data) override {
    // Everything below the snapshot's end comes from its bytes, nothing from the old log.
    std::vector<Entry> entries = decode_entries(data);
    if (static_cast<int64_t>(entries.size()) != id.end_offset || entries.back().epoch != id.epoch)
      FAIL("installed snapshot " << id.end_offset << "/" << id.epoch << " holds " << entries.size() << " entries");
    log_ = std::move(entries);
    snapshot_ = id;
    snapshot_data_ = std::move(data);
    start_ = id.end_offset;
    ++installed_;
  }
  // The entries in the snapshot (decoded, as the state machine has them) and then the log.
  const std::vector<Entry>& log() const { return log_; }
  int installed() const { return installed_; }
  int saved() const { return saved_; }

 private:
  int32_t epoch_ = 0;
  int32_t voted_for_ = -1;
  std::vector<Entry> log_;
  int64_t start_ = 0;
  std::optional<SnapshotId> snapshot_;
  std::string snapshot_data_;
  int installed_ = 0, saved_ = 0;
};

struct Faults {
  double loss = 0.0;       // probability a message is dropped
  double duplicate = 0.0;  // probability it is delivered twice
  int64_t max_delay_ms = 1;
  double crash_per_ms = 0.0;      // probability per ms that one voter crashes
  double partition_per_ms = 0.0;  // probability per ms that the network splits (or heals)
  double snapshot_per_ms = 0.0;   // probability per ms that a node snapshots its committed entries
};

class Simulation {
 public:
  // Nodes 1..voters vote; the next `observers` ids only follow the log (brokers that are not
  // controllers). Every check holds for all of them.
  Simulation(uint64_t seed, int voters, int observers = 0) : rng_(seed), seed_(seed) {
    for (int i = 1; i <= voters; ++i) voters_.push_back(i);
    for (int i = 1; i <= voters + observers; ++i) ids_.push_back(i);
    for (int32_t id : ids_) {
      storage_[id] = std::make_unique<MemoryStorage>();
      start(id);
    }
  }

  void run(int64_t ms, const Faults& f) {
    for (int64_t i = 0; i < ms; ++i) step(f);
  }

  // Heals everything and runs until the quorum has converged (or the time is up).
  bool converge(int64_t max_ms) {
    for (int32_t id : ids_)
      if (!nodes_[id]) start(id);
    side_.clear();
    proposing_ = false;  // so the logs can come to one end
    Faults calm;
    for (int64_t i = 0; i < max_ms; ++i) {
      step(calm);
      if (i % 50 == 0 && converged()) return true;
    }
    return converged();
  }

  std::string describe() const {
    std::ostringstream out;
    out << "seed " << seed_ << " at " << now_ << " ms:";
    for (int32_t id : ids_) {
      out << " [" << id << " ";
      if (!nodes_.at(id)) {
        out << "down";
      } else {
        const RaftNode& n = *nodes_.at(id);
        out << role_name(n.role()) << " e" << n.epoch() << " end " << n.storage().end_offset() << " hw "
            << n.high_watermark();
      }
      out << "]";
    }
    out << " committed " << committed_.size() << " proposals accepted " << proposals_;
    return out.str();
  }

  size_t committed() const { return committed_.size(); }
  int snapshots_installed() const {
    int n = 0;
    for (const auto& [id, s] : storage_) n += s->installed();
    return n;
  }
  int snapshots_saved() const {
    int n = 0;
    for (const auto& [id, s] : storage_) n += s->saved();
    return n;
  }
  // Clients propose again (converge() stops them).
  void resume_proposals() { proposing_ = true; }
  // Snapshots every node's committed entries now.
  void snapshot_all() {
    for (int32_t id : ids_)
      if (nodes_[id]) take_snapshot(id);
  }

  // Stops `id` (its storage stays); converge() restarts it.
  void crash(int32_t id) { nodes_[id].reset(); }

  // Cuts `id` off from every other voter until the next converge().
  void isolate(int32_t id) {
    for (int32_t v : ids_) side_[v] = v == id ? 1 : 0;
  }
  int32_t leader() const {
    for (int32_t id : ids_)
      if (nodes_.at(id) && nodes_.at(id)->role() == Role::Leader) return id;
    return -1;
  }
  int elections() const { return static_cast<int>(leaders_.size()); }

 private:
  struct InFlight {
    int32_t from, to;
    Message message;
  };

  void start(int32_t id) {
    RaftConfig config;
    config.max_snapshot_chunk_bytes = 64;  // snapshots travel in several pieces
    nodes_[id] = std::make_unique<RaftNode>(id, voters_, config, *storage_[id], rng_(), now_);
    // The high watermark is volatile: a restarted voter learns it again (from its snapshot's
    // end at least).
    hw_seen_[id] = nodes_[id]->high_watermark();
  }

  void take_snapshot(int32_t id) {
    RaftNode& n = *nodes_[id];
    int64_t end = n.high_watermark();
    if (end > storage_[id]->start_offset()) n.snapshot(end, encode_entries(storage_[id]->log(), end));
  }

  void step(const Faults& f) {
    ++now_;
    std::uniform_real_distribution<double> coin(0, 1);
    if (f.crash_per_ms > 0 && coin(rng_) < f.crash_per_ms) {
      int32_t id = ids_[rng_() % ids_.size()];
      if (nodes_[id]) {
        nodes_[id].reset();  // volatile state gone; storage stays
      } else {
        start(id);
      }
    }
    if (f.partition_per_ms > 0 && coin(rng_) < f.partition_per_ms) {
      side_.clear();
      if (coin(rng_) < 0.7)
        for (int32_t id : ids_) side_[id] = static_cast<int>(rng_() % 2);
    }
    // Deliver what is due, in the (random) order the delays produced.
    auto due = in_flight_.equal_range(now_);
    std::vector<InFlight> now_due;
    for (auto it = due.first; it != due.second; ++it) now_due.push_back(it->second);
    in_flight_.erase(due.first, due.second);
    for (const auto& m : now_due)
      if (nodes_[m.to]) nodes_[m.to]->receive(m.from, m.message, now_);
    for (int32_t id : ids_)
      if (nodes_[id]) nodes_[id]->tick(now_);
    if (f.snapshot_per_ms > 0)
      for (int32_t id : ids_)
        if (nodes_[id] && coin(rng_) < f.snapshot_per_ms) take_snapshot(id);
    // A client proposes to whoever claims to lead.
    if (proposing_ && now_ % 7 == 0) {
      for (int32_t id : ids_)
        if (nodes_[id] && nodes_[id]->role() == Role::Leader &&
            nodes_[id]->propose("v" + std::to_string(proposals_ + 1), now_) >= 0)
          ++proposals_;
    }
    for (int32_t id : ids_) {
      if (!nodes_[id]) continue;
      for (auto& out : nodes_[id]->take_outbox()) {
        if (!nodes_[out.to] || (side_.count(id) && side_[id] != side_[out.to])) continue;
        if (coin(rng_) < f.loss) continue;
        int copies = coin(rng_) < f.duplicate ? 2 : 1;
        for (int c = 0; c < copies; ++c) {
          int64_t at = now_ + 1 + static_cast<int64_t>(rng_() % static_cast<uint64_t>(f.max_delay_ms));
          in_flight_.emplace(at, InFlight{id, out.to, out.message});
        }
      }
    }
    check();
  }

  // Checked after every millisecond: election safety, leader completeness, high watermarks.
  // Every 50 ms (they cost a scan of every log): committed entries are never lost or
  // changed, and log matching.
  void check() {
    for (int32_t id : ids_) {
      if (!nodes_[id]) continue;
      const RaftNode& n = *nodes_[id];
      const auto& log = storage_[id]->log();
      if (n.role() == Role::Leader) {
        if (n.observer()) FAIL("observer " << id << " leads: " << describe());
        auto [it, added] = leaders_.emplace(n.epoch(), id);
        if (it->second != id) FAIL("two leaders in epoch " << n.epoch() << ": " << describe());
        if (added)
          for (const auto& [offset, e] : committed_)
            if (offset >= static_cast<int64_t>(log.size()) || !(log[static_cast<size_t>(offset)] == e))
              FAIL("leader " << id << " lacks committed offset " << offset << ": " << describe());
      }
      if (n.high_watermark() < hw_seen_[id] || n.high_watermark() > static_cast<int64_t>(log.size()))
        FAIL("high watermark of " << id << " went back or past its log: " << describe());
      for (int64_t o = hw_seen_[id]; o < n.high_watermark(); ++o) {
        auto [it, added] = committed_.emplace(o, log[static_cast<size_t>(o)]);
        if (!(it->second == log[static_cast<size_t>(o)]))
          FAIL("offset " << o << " committed twice with different entries: " << describe());
      }
      hw_seen_[id] = n.high_watermark();
    }
    if (now_ % 50 != 0) return;
    for (int32_t id : ids_) {
      const auto& log = storage_[id]->log();
      for (int64_t o = 0; o < hw_seen_[id]; ++o)
        if (!(log[static_cast<size_t>(o)] == committed_.at(o)))
          FAIL("committed offset " << o << " changed on " << id << ": " << describe());
    }
    for (size_t a = 0; a < ids_.size(); ++a)
      for (size_t b = a + 1; b < ids_.size(); ++b) {
        const auto& la = storage_[ids_[a]]->log();
        const auto& lb = storage_[ids_[b]]->log();
        size_t n = std::min(la.size(), lb.size());
        size_t last_same = n;
        for (size_t o = n; o-- > 0;)
          if (la[o].epoch == lb[o].epoch) {
            last_same = o;
            break;
          }
        if (last_same == n) continue;
        for (size_t o = 0; o <= last_same; ++o)
          if (!(la[o] == lb[o]))
            FAIL("logs of " << ids_[a] << " and " << ids_[b] << " differ at " << o << " below a common epoch: "
                            << describe());
      }
  }

  bool converged() const {
    int leaders = 0;
    int32_t leader = -1;
    for (int32_t id : ids_)
      if (nodes_.at(id)->role() == Role::Leader) ++leaders, leader = id;
    if (leaders != 1) return false;
    const auto& want = storage_.at(leader)->log();
    for (int32_t id : ids_) {
      const RaftNode& n = *nodes_.at(id);
      if (storage_.at(id)->log() != want || n.high_watermark() != static_cast<int64_t>(want.size())) return false;
      if (n.role() != Role::Leader && (n.role() != Role::Follower || n.leader() != leader)) return false;
    }
    return true;
  }

  std::mt19937_64 rng_;
  uint64_t seed_;
  int64_t now_ = 0;
  std::vector<int32_t> voters_;
  std::vector<int32_t> ids_;  // voters and observers
  std::map<int32_t, std::unique_ptr<MemoryStorage>> storage_;
  std::map<int32_t, std::unique_ptr<RaftNode>> nodes_;
  std::multimap<int64_t, InFlight> in_flight_;
  std::map<int32_t, int> side_;  // network partition: voters talk only within their side
  std::map<int32_t, int32_t> leaders_;  // epoch -> leader
  std::map<int64_t, Entry> committed_;  // offset -> entry, from every high watermark seen
  std::map<int32_t, int64_t> hw_seen_;
  int64_t proposals_ = 0;
  bool proposing_ = true;
};

}  // namespace

TEST_CASE("a calm quorum elects one leader and commits what it is given") {
  for (int voters : {1, 3, 5}) {
    Simulation sim(7, voters);
    sim.run(5000, Faults{});
    INFO(sim.describe());
    REQUIRE(sim.converge(5000));
    CHECK(sim.committed() > 100);
    CHECK(sim.elections() == 1);
  }
}

TEST_CASE("the quorum stays safe through loss, delay, reordering, duplication, crashes and partitions") {
  Faults moderate;
  moderate.loss = 0.1;
  moderate.duplicate = 0.05;
  moderate.max_delay_ms = 40;
  moderate.crash_per_ms = 0.002;
  moderate.partition_per_ms = 0.001;
  moderate.snapshot_per_ms = 0.002;
  Faults harsh;
  harsh.loss = 0.3;
  harsh.duplicate = 0.1;
  harsh.max_delay_ms = 150;
  harsh.crash_per_ms = 0.006;
  harsh.partition_per_ms = 0.003;
  harsh.snapshot_per_ms = 0.004;
  // KB_RAFT_SEEDS=N runs more seeds (a longer soak than the test suite's).
  const char* env = std::getenv("KB_RAFT_SEEDS");
  const uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 150;
  int installed = 0;
  for (const Faults& chaos : {moderate, harsh}) {
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      Simulation sim(seed, seed % 2 ? 3 : 5, static_cast<int>(seed % 3));
      sim.run(15000, chaos);
      std::string after_chaos = sim.describe();
      bool healed = sim.converge(20000);
      INFO("loss " << chaos.loss << "; after the chaos: " << after_chaos << "; now: " << sim.describe());
      REQUIRE(healed);
      installed += sim.snapshots_installed();
    }
  }
  CHECK(installed > 0);  // the chaos did make voters fall behind a snapshot
}

TEST_CASE("observers follow the committed log without voting, and find the next leader after a crash") {
  Simulation sim(11, 3, 2);
  sim.run(3000, Faults{});
  INFO(sim.describe());
  REQUIRE(sim.converge(5000));
  CHECK(sim.elections() == 1);
  CHECK(sim.committed() > 50);
  int32_t leader = sim.leader();
  sim.crash(leader);
  sim.run(5000, Faults{});
  REQUIRE(sim.converge(8000));
  CHECK(sim.leader() != leader);
  CHECK(sim.leader() <= 3);
}

TEST_CASE("a voter cut off from the others does not depose the leader when it returns") {
  // Pre-vote: the isolated voter keeps asking but never raises its epoch, and the others
  // refuse while their leader is alive; when it is back it follows the same leader.
  Simulation sim(42, 3);
  REQUIRE(sim.converge(5000));
  int32_t leader = sim.leader();
  int elections = sim.elections();
  sim.isolate(leader == 1 ? 2 : 1);
  sim.run(10000, Faults{});
  REQUIRE(sim.converge(5000));
  CHECK(sim.leader() == leader);
  CHECK(sim.elections() == elections);
}

TEST_CASE("a voter that missed entries now only in snapshots installs the leader's snapshot") {
  for (int observers : {0, 1}) {
    Simulation sim(5, 3, observers);
    REQUIRE(sim.converge(5000));
    int32_t leader = sim.leader();
    int32_t behind = leader == 1 ? 2 : 1;
    sim.crash(behind);
    sim.resume_proposals();
    sim.run(3000, Faults{});
    sim.snapshot_all();  // the log below the committed end is gone everywhere
    sim.run(500, Faults{});
    INFO(sim.describe());
    REQUIRE(sim.converge(8000));  // restarts `behind`, which can only catch up from a snapshot
    CHECK(sim.snapshots_installed() >= 1);
    CHECK(sim.snapshots_saved() >= 2);
    CHECK(sim.leader() == leader);
  }
}
