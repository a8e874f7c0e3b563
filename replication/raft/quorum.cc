#include "replication/raft/quorum.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <random>

#include "protocol/record_batch.h"
#include "replication/raft/log_storage.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"
#include "runtime/peer_client.h"

namespace kb::raft {

using runtime::PeerAddress;
using runtime::steady_ms;

namespace {

constexpr int16_t kVoteVersion = 1;
constexpr int16_t kBeginEpochVersion = 1;
constexpr int16_t kFetchVersion = 12;  // topic names, last fetched epoch, diverging epoch
constexpr int16_t kFetchSnapshotVersion = 0;
constexpr int32_t kFetchMaxBytes = 8 * 1024 * 1024;

// The one partition of a Vote or BeginQuorumEpoch request, addressed to `voter`.
template <class Request>
auto& metadata_partition(Request& req, const std::string& cluster_id, int32_t voter) {
  req.cluster_id = cluster_id;
  req.voter_id = voter;
  auto& t = req.topics.emplace_back();
  t.topic_name = Quorum::kTopic;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  return p;
}

// The one partition of a Vote or BeginQuorumEpoch response.
template <class Response>
auto& answer_partition(Response& resp) {
  auto& t = resp.topics.emplace_back();
  t.topic_name = Quorum::kTopic;
  auto& p = t.partitions.emplace_back();
  p.partition_index = 0;
  return p;
}

// Why a Vote or BeginQuorumEpoch request cannot be taken: another cluster, or anything but
// the metadata partition. NONE when it can.
template <class Request>
ErrorCode refusal(const Request& req, const std::string& cluster_id) {
  if (req.cluster_id && *req.cluster_id != cluster_id) return ErrorCode::INCONSISTENT_CLUSTER_ID;
  if (req.topics.size() != 1 || req.topics[0].partitions.size() != 1 || req.topics[0].topic_name != Quorum::kTopic ||
      req.topics[0].partitions[0].partition_index != 0)
    return ErrorCode::INVALID_REQUEST;
  return ErrorCode::NONE;
}

}  // namespace

struct Quorum::Impl : std::enable_shared_from_this<Impl> {
  QuorumOptions opts;
  runtime::PeerClient& peers;
  Callbacks cb;
  std::unique_ptr<raft::LogRaftStorage> storage;
  std::unique_ptr<raft::RaftNode> node;

  runtime::LoopThread loop{"kb-quorum"};
  std::shared_ptr<runtime::Timer> ticker;
  // Committed batches are applied on a thread of their own, in order: applying (opening
  // partition logs, say) must never hold up the quorum's heartbeats and fetches.
  runtime::LoopThread apply_loop{"kb-quorum-apply"};
  bool stopped = false;  // io thread only
  bool failed = false;   // storage failed: this voter no longer takes part

  // Published for other threads.
  std::atomic<int32_t> leader{-1}, epoch{0};
  std::atomic<bool> active{false};
  std::atomic<int64_t> applied_record_offset{-1}, end_record_offset{-1};
  std::atomic<int64_t> log_start{0};
  // Apply thread only: what was applied since the last snapshot.
  int64_t bytes_since_snapshot = 0;
  int64_t last_snapshot_ms = 0;

  int32_t active_epoch = -1;  // the epoch this node became the active controller in
  int64_t delivered = 0;  // entries handed to on_commit (or skipped as control batches)
  struct Pending {
    int32_t epoch;
    std::function<void(Result<int64_t>)> done;
  };
  std::map<int64_t, Pending> proposals;  // by entry index

  // Requests of other voters waiting for their answer (from the node's outbox).
  std::map<int32_t, std::vector<std::function<void(const raft::VoteResponse&)>>> vote_waiters;
  struct ParkedFetch {
    raft::FetchRequest request;
    std::function<void(const raft::FetchResponse&)> respond;
    int64_t deadline;
  };
  std::map<int32_t, ParkedFetch> parked;
  // What the parked fetches last saw: any change answers them.
  std::tuple<int64_t, int64_t, int32_t, int> seen{-1, -1, -1, -1};

  Impl(QuorumOptions o, runtime::PeerClient& p, Callbacks c) : opts(std::move(o)), peers(p), cb(std::move(c)) {}

  std::optional<PeerAddress> address(int32_t id) const {
    for (const auto& v : opts.voters)
      if (v.id == id) return PeerAddress{v.host, v.port};
    return std::nullopt;
  }

  template <class F>
  void post(F&& f) {
    loop.post([self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      if (!self->stopped) f();
    });
  }

  void schedule_tick() {
    ticker = loop.after_ms(opts.tick_ms, [self = shared_from_this()] {
      if (self->stopped) return;
      self->on_tick();
      self->schedule_tick();
    });
  }

  void on_tick() {
    if (failed) return;
    int64_t now = steady_ms();
    node->tick(now);
    after_event(now);
  }

  // ---- after every event: send the outbox, deliver commits, answer parked fetches ----

  void after_event(int64_t now) {
    if (!storage->failure().ok() && !failed) {
      failed = true;
      spdlog::critical("metadata quorum: node {} stops taking part after a storage failure", opts.node_id);
      fail_proposals(storage->failure().error());
      publish();
      return;
    }
    auto out = node->take_outbox();
    for (auto& o : out) dispatch(std::move(o));
    deliver();
    publish();
    answer_parked(now);
  }

  void publish() {
    int32_t old_leader = leader.load();
    leader.store(failed ? -1 : node->leader());
    epoch.store(node->epoch());
    log_start.store(storage->start_offset());
    end_record_offset.store(storage->last_record_offset(storage->end_offset() - 1));
    bool is_leader = !failed && node->role() == raft::Role::Leader;
    int64_t h = node->high_watermark();
    // Active once everything up to its own epoch's first committed entry is applied here, and
    // then for the rest of its leadership.
    bool now_active = is_leader && (active_epoch == node->epoch() ||
                                    (h > storage->start_offset() && storage->entry(h - 1).epoch == node->epoch() &&
                                     delivered >= h && applied_record_offset.load() >= storage->last_record_offset(h - 1)));
    active_epoch = now_active ? node->epoch() : -1;
    if (!is_leader && !proposals.empty())
      fail_proposals(Error{ErrorCode::NOT_CONTROLLER, "this node is no longer the active controller"});
    if (now_active != active.load()) {
      active.store(now_active);
      spdlog::info("metadata quorum: node {} {} the active controller (epoch {})", opts.node_id,
                   now_active ? "is now" : "is no longer", node->epoch());
      if (cb.on_active) cb.on_active(now_active);
    }
    if (old_leader != leader.load() && leader.load() >= 0 && leader.load() != opts.node_id)
      spdlog::info("metadata quorum: node {} follows leader {} in epoch {}", opts.node_id, leader.load(),
                   node->epoch());
  }

  void fail_proposals(const Error& e) {
    auto p = std::exchange(proposals, {});
    for (auto& [index, pending] : p) pending.done(e);
  }

  void deliver() {
    int64_t h = std::min(node->high_watermark(), storage->end_offset());
    if (delivered < storage->start_offset()) deliver_snapshot();
    while (delivered < h) {
      const raft::Entry& e = storage->entry(delivered);
      int64_t last = storage->last_record_offset(delivered);
      if (!raft::LogRaftStorage::is_control(e))
        apply_loop.post([self = shared_from_this(), data = e.data, last, end = delivered + 1] {
          self->cb.on_commit(data, last);
          self->applied_record_offset.store(last);
          self->maybe_snapshot(end, last, static_cast<int64_t>(data.size()));
        });
      else
        apply_loop.post([self = shared_from_this(), last] { self->applied_record_offset.store(last); });
      auto it = proposals.find(delivered);
      if (it != proposals.end()) {
        auto done = std::move(it->second.done);
        bool same_epoch = it->second.epoch == e.epoch;
        proposals.erase(it);
        if (same_epoch) done(last);
        else done(Error{ErrorCode::NOT_CONTROLLER, "the proposal was replaced by a newer leader's entry"});
      }
      ++delivered;
    }
  }

  // The storage holds a snapshot past what was delivered (start-up, or one installed from the
  // leader): the image starts again from it.
  void deliver_snapshot() {
    const int64_t start = storage->start_offset();
    const int64_t last = storage->last_record_offset(start - 1);
    auto contents = raft::LogRaftStorage::parse_snapshot(storage->snapshot_data());
    std::vector<std::string> batches;
    if (contents.ok())
      for (const auto& b : contents->batches) batches.emplace_back(b.begin(), b.end());
    else
      spdlog::error("metadata quorum: unreadable snapshot: {}", contents.error().message);
    apply_loop.post([self = shared_from_this(), batches = std::move(batches), last] {
      if (self->cb.on_load) self->cb.on_load(batches, last);
      self->applied_record_offset.store(last);
      self->bytes_since_snapshot = 0;
      self->last_snapshot_ms = steady_ms();
    });
    // Proposals below the snapshot were this node's as a leader that lost its office since.
    for (auto it = proposals.begin(); it != proposals.end() && it->first < start;) {
      it->second.done(Error{ErrorCode::NOT_CONTROLLER, "this node is no longer the active controller"});
      it = proposals.erase(it);
    }
    delivered = start;
  }

  // Apply thread, after the entry ending at Raft offset `end` (record offset `last`) was
  // applied: snapshot the image when enough went by since the last snapshot.
  void maybe_snapshot(int64_t end, int64_t last, int64_t bytes) {
    bytes_since_snapshot += bytes;
    int64_t now = steady_ms();
    if (last_snapshot_ms == 0) last_snapshot_ms = now;
    bool due = bytes_since_snapshot >= opts.snapshot_max_bytes ||
               (opts.snapshot_interval_ms > 0 && now - last_snapshot_ms >= opts.snapshot_interval_ms);
    if (!due || !cb.make_snapshot) return;
    auto batches = cb.make_snapshot(last);
    if (!batches) return;
    bytes_since_snapshot = 0;
    last_snapshot_ms = now;
    std::string data = raft::LogRaftStorage::frame_snapshot(last + 1, *batches);
    post([self = shared_from_this(), end, data = std::move(data)]() mutable {
      size_t size = data.size();
      if (self->failed || !self->node->snapshot(end, std::move(data))) return;
      spdlog::info("metadata quorum: snapshot of the first {} metadata batches ({} bytes); the log now starts there",
                   end, size);
      self->after_event(steady_ms());
    });
  }

  // ---- outgoing messages ----

  void dispatch(raft::Outgoing o) {
    std::visit(
        [&](auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, raft::VoteRequest>) send_vote(o.to, m);
          else if constexpr (std::is_same_v<T, raft::BeginQuorumEpoch>) send_begin_epoch(o.to, m);
          else if constexpr (std::is_same_v<T, raft::FetchRequest>) send_fetch(o.to, m);
          else if constexpr (std::is_same_v<T, raft::FetchSnapshotRequest>) send_fetch_snapshot(o.to, m);
          else if constexpr (std::is_same_v<T, raft::FetchSnapshotResponse>) {
            auto it = snapshot_answer_target_.find(o.to);
            if (it != snapshot_answer_target_.end()) {
              auto respond = std::move(it->second);
              snapshot_answer_target_.erase(it);
              respond(m);
            }
          }
          else if constexpr (std::is_same_v<T, raft::VoteResponse>) {
            auto& waiters = vote_waiters[o.to];
            if (waiters.empty()) return;
            auto respond = std::move(waiters.front());
            waiters.erase(waiters.begin());
            respond(m);
          } else {
            auto it = parked_answer_target_.find(o.to);
            if (it != parked_answer_target_.end()) {
              auto respond = std::move(it->second);
              parked_answer_target_.erase(it);
              respond(m);
            }
          }
        },
        o.message);
  }
  // The responder of the fetch being handled right now (set around node->receive).
  std::map<int32_t, std::function<void(const raft::FetchResponse&)>> parked_answer_target_;
  // The same for the FetchSnapshot being handled.
  std::map<int32_t, std::function<void(const raft::FetchSnapshotResponse&)>> snapshot_answer_target_;

  void send_fetch_snapshot(int32_t to, const raft::FetchSnapshotRequest& f) {
    auto addr = address(to);
    if (!addr) return;
    msg::FetchSnapshotRequest req;
    req.cluster_id = opts.cluster_id;
    req.replica_id = opts.node_id;
    auto& t = req.topics.emplace_back();
    t.name = kTopic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.current_leader_epoch = f.epoch;
    p.snapshot_id.end_offset = f.id.end_offset;
    p.snapshot_id.epoch = f.id.epoch;
    p.position = f.position;
    peers.call<msg::FetchSnapshotRequest, msg::FetchSnapshotResponse>(
        to, *addr, req, kFetchSnapshotVersion, opts.request_timeout_ms,
        [w = weak_from_this(), to](Result<msg::FetchSnapshotResponse> r) {
          auto self = w.lock();
          if (!self || !r.ok()) return;
          if (r->error_code != 0 || r->topics.empty() || r->topics[0].partitions.empty()) {
            spdlog::warn("metadata quorum: snapshot fetch refused with error {}", r->error_code);
            return;
          }
          const auto& p = r->topics[0].partitions[0];
          raft::FetchSnapshotResponse resp;
          resp.epoch = p.current_leader.leader_epoch;
          resp.leader = p.current_leader.leader_id;
          resp.id = raft::SnapshotId{p.snapshot_id.end_offset, p.snapshot_id.epoch};
          auto e = static_cast<ErrorCode>(p.error_code);
          resp.fenced = e == ErrorCode::FENCED_LEADER_EPOCH || e == ErrorCode::NOT_LEADER_OR_FOLLOWER;
          resp.not_found = e == ErrorCode::SNAPSHOT_NOT_FOUND || e == ErrorCode::POSITION_OUT_OF_RANGE;
          if (e != ErrorCode::NONE && !resp.fenced && !resp.not_found) return;
          resp.size = p.size;
          resp.position = p.position;
          auto bytes = p.unaligned_records.data();
          resp.bytes.assign(bytes.begin(), bytes.end());  // the answer's buffer goes with this thread
          self->post([self, to, resp = std::move(resp)] { self->receive(to, resp); });
        });
  }

  void send_vote(int32_t to, const raft::VoteRequest& v) {
    auto addr = address(to);
    if (!addr) return;
    msg::VoteRequest req;
    auto& p = metadata_partition(req, opts.cluster_id, to);
    p.candidate_epoch = v.epoch;
    p.candidate_id = v.candidate;
    p.last_offset_epoch = v.last_epoch;
    p.last_offset = v.end_offset;
    p.pre_vote = v.pre_vote;
    bool pre = v.pre_vote;
    peers.call<msg::VoteRequest, msg::VoteResponse>(
        to, *addr, req, kVoteVersion, opts.request_timeout_ms,
        [w = weak_from_this(), to, pre](Result<msg::VoteResponse> r) {
          auto self = w.lock();
          if (!self || !r.ok()) return;
          if (r->error_code != 0 || r->topics.empty() || r->topics[0].partitions.empty()) {
            spdlog::warn("metadata quorum: vote request to {} refused with error {}", to, r->error_code);
            return;
          }
          const auto& p = r->topics[0].partitions[0];
          raft::VoteResponse resp{p.leader_epoch, p.vote_granted, pre, p.leader_id};
          self->post([self, to, resp] { self->receive(to, resp); });
        });
  }

  void send_begin_epoch(int32_t to, const raft::BeginQuorumEpoch& b) {
    auto addr = address(to);
    if (!addr) return;
    msg::BeginQuorumEpochRequest req;
    auto& p = metadata_partition(req, opts.cluster_id, to);
    p.leader_id = b.leader;
    p.leader_epoch = b.epoch;
    if (auto me = address(opts.node_id)) {
      auto& ep = req.leader_endpoints.emplace_back();
      ep.name = "CONTROLLER";
      ep.host = me->host;
      ep.port = me->port;
    }
    peers.call<msg::BeginQuorumEpochRequest, msg::BeginQuorumEpochResponse>(
        to, *addr, req, kBeginEpochVersion, opts.request_timeout_ms, [](Result<msg::BeginQuorumEpochResponse>) {});
  }

  void send_fetch(int32_t to, const raft::FetchRequest& f) {
    auto addr = address(to);
    if (!addr) return;
    msg::FetchRequest req;
    req.cluster_id = opts.cluster_id;
    req.replica_id = opts.node_id;
    req.max_wait_ms = static_cast<int32_t>(opts.fetch_max_wait_ms);
    req.min_bytes = 0;
    req.max_bytes = kFetchMaxBytes;
    auto& t = req.topics.emplace_back();
    t.topic = kTopic;
    auto& p = t.partitions.emplace_back();
    p.partition = 0;
    p.current_leader_epoch = f.epoch;
    p.fetch_offset = f.fetch_offset;
    p.last_fetched_epoch = f.last_fetched_epoch;
    p.partition_max_bytes = kFetchMaxBytes;
    int64_t sent_offset = f.fetch_offset;
    peers.call<msg::FetchRequest, msg::FetchResponse>(
        to, *addr, req, kFetchVersion, opts.fetch_max_wait_ms + opts.request_timeout_ms,
        [w = weak_from_this(), to, sent_offset](Result<msg::FetchResponse> r) {
          auto self = w.lock();
          if (!self || !r.ok()) return;
          // The records borrow the answer's buffer: copy them out before leaving this thread.
          auto resp = from_wire(r.value(), sent_offset);
          if (!resp) return;
          self->post([self, to, resp = std::move(*resp)] { self->receive(to, resp); });
        });
  }

  static std::optional<raft::FetchResponse> from_wire(const msg::FetchResponse& m, int64_t sent_offset) {
    if (m.error_code != 0 || m.responses.empty() || m.responses[0].partitions.empty()) {
      spdlog::warn("metadata quorum: fetch refused with error {}", m.error_code);
      return std::nullopt;
    }
    const auto& p = m.responses[0].partitions[0];
    raft::FetchResponse r;
    r.epoch = p.current_leader.leader_epoch;
    r.leader = p.current_leader.leader_id;
    r.fetch_offset = sent_offset;
    r.high_watermark = p.high_watermark;
    if (p.error_code != 0) {
      r.fenced = true;
      return r;
    }
    if (p.diverging_epoch.epoch >= 0) r.diverging = std::make_pair(p.diverging_epoch.epoch, p.diverging_epoch.end_offset);
    if (p.snapshot_id.end_offset >= 0 && p.snapshot_id.epoch >= 0)
      r.snapshot = raft::SnapshotId{p.snapshot_id.end_offset, p.snapshot_id.epoch};
    auto bytes = p.records.data();
    if (!bytes.empty()) {
      auto valid = validate_batches(bytes, kFetchMaxBytes);
      if (!valid.ok()) {
        spdlog::warn("metadata quorum: dropping a fetch answer with damaged batches: {}", valid.error().message);
        return std::nullopt;
      }
      for (const auto& b : valid->batches) {
        auto one = bytes.subspan(b.position, static_cast<size_t>(b.header.total_size()));
        r.entries.push_back(raft::Entry{b.header.partition_leader_epoch, std::string(one.begin(), one.end())});
      }
    }
    return r;
  }

  // ---- incoming ----

  void receive(int32_t from, const raft::Message& m) {
    if (failed) return;
    int64_t now = steady_ms();
    node->receive(from, m, now);
    after_event(now);
  }

  // Hands a voter's Fetch to the node; the answer goes to `respond` now, or later when the
  // fetch finds nothing new (parked until something moves or its wait ends).
  void handle_fetch(int32_t from, const raft::FetchRequest& f, int64_t max_wait_ms,
                    std::function<void(const raft::FetchResponse&)> respond, bool may_park) {
    int64_t now = steady_ms();
    std::optional<raft::FetchResponse> answer;
    parked_answer_target_[from] = [&answer](const raft::FetchResponse& r) { answer = r; };
    if (!failed) node->receive(from, f, now);
    auto out = node->take_outbox();
    for (auto& o : out) dispatch(std::move(o));
    parked_answer_target_.erase(from);
    if (!answer) {
      // The node had nothing to say (it learned of a newer epoch from this fetch): the
      // fetcher should look for the leader again.
      raft::FetchResponse r;
      r.epoch = node->epoch();
      r.leader = node->leader();
      r.fenced = true;
      answer = r;
    }
    bool empty = answer->entries.empty() && !answer->fenced && !answer->diverging && !answer->snapshot;
    if (may_park && empty && max_wait_ms > 0) {
      auto old = parked.find(from);
      if (old != parked.end()) {
        // A newer fetch of the same voter replaces the parked one, which ends empty.
        auto prev = std::move(old->second.respond);
        parked.erase(old);
        prev(*answer);
      }
      parked[from] = ParkedFetch{f, std::move(respond), now + max_wait_ms};
    } else {
      respond(*answer);
    }
    deliver();
    publish();
    answer_parked(now);
  }

  void answer_parked(int64_t now) {
    if (parked.empty()) return;
    std::tuple<int64_t, int64_t, int32_t, int> state{storage->end_offset(), node->high_watermark(), node->epoch(),
                                                     static_cast<int>(node->role())};
    bool moved = state != seen;
    seen = state;
    std::vector<std::pair<int32_t, ParkedFetch>> due;
    for (auto it = parked.begin(); it != parked.end();) {
      if (moved || now >= it->second.deadline) {
        due.emplace_back(it->first, std::move(it->second));
        it = parked.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [from, pf] : due) handle_fetch(from, pf.request, 0, std::move(pf.respond), false);
  }
};

Quorum::Quorum(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Quorum>> Quorum::open(QuorumOptions options, std::shared_ptr<storage::Log> log,
                                             runtime::PeerClient& peers, Callbacks callbacks) {
  auto storage = raft::LogRaftStorage::open(std::move(log));
  if (!storage.ok()) return storage.error();
  auto impl = std::make_shared<Impl>(std::move(options), peers, std::move(callbacks));
  impl->storage = std::move(storage.value());
  std::vector<int32_t> ids;
  for (const auto& v : impl->opts.voters) ids.push_back(v.id);
  impl->node = std::make_unique<raft::RaftNode>(impl->opts.node_id, ids, impl->opts.raft, *impl->storage,
                                                static_cast<uint64_t>(std::random_device{}()), steady_ms());
  spdlog::info("metadata quorum: node {} of voters {} starts in epoch {} with metadata batches {}..{}",
               impl->opts.node_id, fmt::join(ids, ","), impl->storage->epoch(), impl->storage->start_offset(),
               impl->storage->end_offset());
  impl->publish();
  impl->post([i = impl.get()] { i->schedule_tick(); });
  return std::unique_ptr<Quorum>(new Quorum(std::move(impl)));
}

Quorum::~Quorum() { stop(); }

void Quorum::stop() {
  if (!impl_) return;
  impl_->loop.post([i = impl_.get()] {
    i->stopped = true;
    if (i->ticker) i->ticker->cancel();
    i->fail_proposals(Error{ErrorCode::NOT_CONTROLLER, "the controller is shutting down"});
    for (auto& [from, pf] : std::exchange(i->parked, {})) {
      raft::FetchResponse r;
      r.epoch = i->node->epoch();
      r.leader = -1;
      r.fenced = true;
      pf.respond(r);
    }
  });
  // Everything committed so far is applied before the controller goes.
  impl_->loop.stop(std::chrono::seconds(5));
  impl_->apply_loop.stop(runtime::LoopThread::kNoDeadline);
}

void Quorum::propose(std::vector<uint8_t> batch, std::function<void(Result<int64_t>)> done) {
  impl_->loop.post([i = impl_, batch = std::move(batch), done = std::move(done)]() mutable {
    if (i->stopped || i->failed || !i->active.load())
      return done(Error{ErrorCode::NOT_CONTROLLER, "this node is not the active controller"});
    int64_t now = steady_ms();
    int64_t index = i->node->propose(std::string(batch.begin(), batch.end()), now);
    if (index < 0) return done(Error{ErrorCode::NOT_CONTROLLER, "this node is not the active controller"});
    i->proposals[index] = Impl::Pending{i->node->epoch(), std::move(done)};
    i->after_event(now);
  });
}

int32_t Quorum::leader() const { return impl_->leader.load(); }
int32_t Quorum::epoch() const { return impl_->epoch.load(); }
bool Quorum::active() const { return impl_->active.load(); }
int64_t Quorum::applied_record_offset() const { return impl_->applied_record_offset.load(); }
int64_t Quorum::log_end_record_offset() const { return impl_->end_record_offset.load(); }

std::optional<std::pair<std::string, uint16_t>> Quorum::voter_address(int32_t id) const {
  auto a = impl_->address(id);
  if (!a) return std::nullopt;
  return std::make_pair(a->host, a->port);
}

void Quorum::on_vote(msg::VoteRequest req, std::function<void(msg::VoteResponse)> respond) {
  if (ErrorCode e = refusal(req, impl_->opts.cluster_id); e != ErrorCode::NONE) {
    msg::VoteResponse resp;
    resp.error_code = to_wire(e);
    return respond(resp);
  }
  const auto& p = req.topics[0].partitions[0];
  raft::VoteRequest v{p.candidate_epoch, p.candidate_id, p.last_offset_epoch, p.last_offset, p.pre_vote};
  impl_->post([i = impl_, v, respond = std::move(respond)]() mutable {
    int32_t from = v.candidate;
    i->vote_waiters[from].push_back([respond](const raft::VoteResponse& r) {
      msg::VoteResponse out;
      auto& p = answer_partition(out);
      p.leader_id = r.leader;
      p.leader_epoch = r.epoch;
      p.vote_granted = r.granted;
      respond(out);
    });
    i->receive(from, v);
    // A candidate that is not a voter gets no answer from the node: refuse it.
    auto& waiters = i->vote_waiters[from];
    if (!waiters.empty()) {
      auto w = std::move(waiters.front());
      waiters.erase(waiters.begin());
      w(raft::VoteResponse{i->node->epoch(), false, v.pre_vote, i->node->leader()});
    }
  });
}

void Quorum::on_begin_quorum_epoch(msg::BeginQuorumEpochRequest req,
                                   std::function<void(msg::BeginQuorumEpochResponse)> respond) {
  if (ErrorCode e = refusal(req, impl_->opts.cluster_id); e != ErrorCode::NONE) {
    msg::BeginQuorumEpochResponse resp;
    resp.error_code = to_wire(e);
    return respond(resp);
  }
  const auto& p = req.topics[0].partitions[0];
  raft::BeginQuorumEpoch b{p.leader_epoch, p.leader_id};
  impl_->post([i = impl_, b, respond = std::move(respond)] {
    i->receive(b.leader, b);
    msg::BeginQuorumEpochResponse out;
    auto& q = answer_partition(out);
    q.leader_id = i->node->leader();
    q.leader_epoch = i->node->epoch();
    respond(out);
  });
}

void Quorum::on_fetch(const msg::FetchRequest& req, int16_t version,
                      std::function<void(msg::FetchResponse)> respond) {
  msg::FetchResponse resp;
  if (req.cluster_id && *req.cluster_id != impl_->opts.cluster_id) {
    resp.error_code = to_wire(ErrorCode::INCONSISTENT_CLUSTER_ID);
    return respond(resp);
  }
  int32_t replica = version >= 15 ? req.replica_state.replica_id : req.replica_id;
  if (req.topics.size() != 1 || req.topics[0].partitions.size() != 1 || replica < 0) {
    resp.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    return respond(resp);
  }
  const auto& t = req.topics[0];
  const auto& p = t.partitions[0];
  raft::FetchRequest f{p.current_leader_epoch, replica, p.fetch_offset, p.last_fetched_epoch};
  int64_t wait = req.max_wait_ms;
  auto shape = [t, version](const raft::FetchResponse& r) {
    msg::FetchResponse out;
    auto& rt = out.responses.emplace_back();
    rt.topic = t.topic;
    rt.topic_id = t.topic_id;
    auto& rp = rt.partitions.emplace_back();
    rp.partition_index = 0;
    rp.current_leader.leader_id = r.leader;
    rp.current_leader.leader_epoch = r.epoch;
    rp.high_watermark = r.high_watermark;
    rp.records.is_null = false;
    if (r.fenced) {
      rp.error_code = to_wire(r.leader >= 0 && r.epoch > 0 ? ErrorCode::FENCED_LEADER_EPOCH
                                                          : ErrorCode::NOT_LEADER_OR_FOLLOWER);
      return out;
    }
    if (r.diverging) {
      rp.diverging_epoch.epoch = r.diverging->first;
      rp.diverging_epoch.end_offset = r.diverging->second;
    }
    if (r.snapshot) {
      rp.snapshot_id.end_offset = r.snapshot->end_offset;
      rp.snapshot_id.epoch = r.snapshot->epoch;
    }
    for (const auto& e : r.entries) rp.records.owned.insert(rp.records.owned.end(), e.data.begin(), e.data.end());
    (void)version;
    return out;
  };
  impl_->post([i = impl_, f, wait, shape, respond = std::move(respond)]() mutable {
    i->handle_fetch(
        f.replica, f, wait, [shape, respond](const raft::FetchResponse& r) { respond(shape(r)); }, true);
  });
}

void Quorum::on_fetch_snapshot(const msg::FetchSnapshotRequest& req,
                               std::function<void(msg::FetchSnapshotResponse)> respond) {
  msg::FetchSnapshotResponse resp;
  if (req.cluster_id && *req.cluster_id != impl_->opts.cluster_id) {
    resp.error_code = to_wire(ErrorCode::INCONSISTENT_CLUSTER_ID);
    return respond(resp);
  }
  if (req.topics.size() != 1 || req.topics[0].partitions.size() != 1 || req.topics[0].name != kTopic ||
      req.topics[0].partitions[0].partition != 0 || req.replica_id < 0) {
    resp.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    return respond(resp);
  }
  const auto& p = req.topics[0].partitions[0];
  raft::FetchSnapshotRequest f{p.current_leader_epoch, req.replica_id,
                               raft::SnapshotId{p.snapshot_id.end_offset, p.snapshot_id.epoch}, p.position};
  int32_t max_bytes = req.max_bytes;
  impl_->post([i = impl_, f, max_bytes, respond = std::move(respond)]() mutable {
    std::optional<raft::FetchSnapshotResponse> answer;
    i->snapshot_answer_target_[f.replica] = [&answer](const raft::FetchSnapshotResponse& r) { answer = r; };
    int64_t now = steady_ms();
    if (!i->failed) i->node->receive(f.replica, f, now);
    auto out = i->node->take_outbox();
    for (auto& o : out) i->dispatch(std::move(o));
    i->snapshot_answer_target_.erase(f.replica);
    msg::FetchSnapshotResponse resp;
    auto& t = resp.topics.emplace_back();
    t.name = kTopic;
    auto& rp = t.partitions.emplace_back();
    rp.index = 0;
    rp.snapshot_id.end_offset = f.id.end_offset;
    rp.snapshot_id.epoch = f.id.epoch;
    rp.unaligned_records.is_null = false;
    if (!answer) {
      answer = raft::FetchSnapshotResponse{};
      answer->fenced = true;
      answer->epoch = i->node->epoch();
      answer->leader = i->node->leader();
    }
    rp.current_leader.leader_id = answer->leader;
    rp.current_leader.leader_epoch = answer->epoch;
    if (answer->fenced) {
      rp.error_code = to_wire(answer->leader >= 0 && answer->epoch > 0 ? ErrorCode::FENCED_LEADER_EPOCH
                                                                      : ErrorCode::NOT_LEADER_OR_FOLLOWER);
    } else if (answer->not_found) {
      rp.error_code = to_wire(ErrorCode::SNAPSHOT_NOT_FOUND);
    } else {
      rp.size = answer->size;
      rp.position = answer->position;
      size_t n = std::min(answer->bytes.size(), static_cast<size_t>(std::max(max_bytes, 1)));
      rp.unaligned_records.owned.assign(answer->bytes.begin(), answer->bytes.begin() + static_cast<std::ptrdiff_t>(n));
    }
    respond(std::move(resp));
    i->after_event(now);
  });
}

int64_t Quorum::log_start() const { return impl_->log_start.load(); }

}  // namespace kb::raft
