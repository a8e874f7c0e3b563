#include "replication/replica_fetcher.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

#include "protocol/record_batch.h"
#include "replication/replica_manager.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"

namespace kb::replication {

namespace {

class PeerFetchTransport final : public FetchTransport {
 public:
  PeerFetchTransport(std::string client_id, runtime::PeerSecurity security)
      : peers_(std::move(client_id), std::move(security)) {}
  void stop() override { peers_.stop(); }
  void fetch(int32_t leader, const PeerAddress& to, const msg::FetchRequest& req, int16_t version, int64_t timeout_ms,
             std::function<void(Result<std::shared_ptr<FetchReply>>)> done) override {
    wire::Writer w;
    req.encode(w, version);
    peers_.send(leader, to, msg::FetchRequest::kApiKey, version, std::move(w.buffer()), timeout_ms,
                [version, done = std::move(done)](Result<std::vector<uint8_t>> body) {
                  if (!body.ok()) return done(body.error());
                  auto reply = std::make_shared<FetchReply>();
                  reply->body = std::move(body.value());
                  wire::Reader r(std::span<const uint8_t>(reply->body.data(), reply->body.size()));
                  if (!reply->response.decode(r, version))
                    return done(Error{ErrorCode::CORRUPT_MESSAGE, "undecodable Fetch response"});
                  done(std::move(reply));
                });
  }

 private:
  runtime::PeerClient peers_;
};

}  // namespace

std::unique_ptr<FetchTransport> peer_fetch_transport(std::string client_id, runtime::PeerSecurity security) {
  return std::make_unique<PeerFetchTransport>(std::move(client_id), std::move(security));
}

struct ReplicaFetcherManager::Impl : std::enable_shared_from_this<Impl> {
  using SessionKey = std::pair<int32_t, int32_t>;  // (leader, fetcher index)

  struct Followed {
    Uuid topic_id;
    int32_t leader = -1;
    PeerAddress address;
    int32_t leader_epoch = -1;
    int32_t fetcher = 0;
    bool fenced = false;
    int64_t retry_at_ms = 0;  // backing off until then
    int64_t leader_high_watermark = -1;  // in the last answer (the follower lag of /metrics)
  };
  struct Session {
    uint64_t id = 0;  // tells an answer to a replaced session apart
    PeerAddress address;
    bool in_flight = false;
    int64_t next_at_ms = 0;
    int failures = 0;  // consecutive failed requests (logged once)
  };
  // One partition as a request asked for it.
  struct Asked {
    TopicPartition tp;
    int64_t fetch_offset = 0;
    int32_t leader_epoch = -1;
  };
  struct InFlight {
    SessionKey key;
    uint64_t session_id = 0;
    PeerAddress address;
    msg::FetchRequest request;
    std::map<std::pair<Uuid, int32_t>, Asked> by_id;                // v13+
    std::map<std::pair<std::string, int32_t>, Asked> by_name;       // v12
  };
  struct Answer {
    std::shared_ptr<InFlight> asked;
    Result<std::shared_ptr<FetchReply>> reply;
  };
  // What handling one partition's answer leads to.
  enum class Next { kFetch, kBackOff, kFence };

  Impl(ReplicaFetcherOptions o, replication::ReplicaManager& r, std::unique_ptr<FetchTransport> t)
      : opts(std::move(o)), replicas(r), transport(std::move(t)) {
    opts.fetchers_per_leader = std::max(1, opts.fetchers_per_leader);
  }

  ReplicaFetcherOptions opts;
  replication::ReplicaManager& replicas;
  std::unique_ptr<FetchTransport> transport;

  mutable std::mutex mu;  // guards everything below but the loop's own fields
  bool stopping = false;
  bool pump_posted = false;  // a look at the sessions is queued on the loop
  std::map<TopicPartition, Followed> followed;
  std::map<SessionKey, Session> sessions;
  uint64_t next_session_id = 1;

  std::shared_ptr<runtime::Timer> wake_timer;  // loop only: the next look when nothing comes first
  // The worker: every fetching decision and every log append (never a network thread). Its
  // tasks use `this` raw: stop() stops the loop before anything they touch goes.
  runtime::LoopThread loop{"kb-fetcher"};

  void stop() {
    {
      std::lock_guard lk(mu);
      stopping = true;
    }
    // An answer or a look in progress ends; those queued see `stopping` and do nothing.
    loop.stop(runtime::LoopThread::kNoDeadline);
    transport->stop();
  }

  // Under mu: the followed set or an answer changed what to fetch; look at the sessions again
  // (once, however many changes come before the loop gets to it).
  void kick_locked() {
    if (pump_posted || stopping) return;
    pump_posted = true;
    loop.post([this] { pump(); });
  }

  int32_t fetcher_of(const TopicPartition& tp) const {
    return static_cast<int32_t>(std::hash<TopicPartition>()(tp) % static_cast<size_t>(opts.fetchers_per_leader));
  }

  void add_or_update(const TopicPartition& tp, const Uuid& topic_id, int32_t leader, const PeerAddress& address,
                     int32_t epoch) {
    std::lock_guard lk(mu);
    auto [it, inserted] = followed.try_emplace(tp);
    Followed& f = it->second;
    if (!inserted && f.topic_id == topic_id && f.leader == leader && f.address == address &&
        f.leader_epoch == epoch)
      return;
    if (inserted || f.leader != leader || f.leader_epoch != epoch)
      spdlog::info("{}: fetching from broker {} ({}:{}) at leader epoch {}", tp.to_string(), leader, address.host,
                   address.port, epoch);
    f.topic_id = topic_id;
    f.leader = leader;
    f.address = address;
    f.leader_epoch = epoch;
    f.fetcher = fetcher_of(tp);
    f.fenced = false;
    f.retry_at_ms = 0;
    Session& s = sessions[{leader, f.fetcher}];
    if (s.id == 0) s.id = next_session_id++;
    if (!(s.address == address)) {
      s.address = address;
      s.next_at_ms = 0;  // a new address: no back-off from the old one
      s.failures = 0;
    }
    kick_locked();
  }

  void remove(const TopicPartition& tp) {
    std::lock_guard lk(mu);
    if (followed.erase(tp) == 0) return;
    spdlog::debug("{}: no longer fetched", tp.to_string());
    kick_locked();
  }

  // ---- on the loop ----

  // On the loop: sends the Fetch of every session that may fetch now, and arms the next look
  // for when a back-off ends (at the latest in a second).
  void pump() {
    const int64_t now = runtime::steady_ms();
    int64_t wake_at = now + 1000;
    std::vector<std::shared_ptr<InFlight>> to_send;
    {
      std::lock_guard lk(mu);
      pump_posted = false;
      if (stopping) return;
      for (auto it = sessions.begin(); it != sessions.end();) {
        Session& s = it->second;
        if (s.in_flight) {
          ++it;
          continue;
        }
        if (s.next_at_ms > now) {
          wake_at = std::min(wake_at, s.next_at_ms);
          ++it;
          continue;
        }
        bool has_partitions = false;
        auto req = build_locked(it->first, s, now, wake_at, has_partitions);
        if (!has_partitions) {
          it = sessions.erase(it);  // nothing follows this leader through it any more
          continue;
        }
        if (req) {
          s.in_flight = true;
          to_send.push_back(std::move(req));
        }
        ++it;
      }
    }
    for (auto& r : to_send) send(r);
    if (wake_timer) wake_timer->cancel();
    wake_timer = loop.after_ms(wake_at - now, [this] { pump(); });
  }

  // Under mu: the next Fetch of a session, or null when none of its partitions may fetch now
  // (`wake` then says when one may). `has_partitions`: whether any partition uses it at all.
  std::shared_ptr<InFlight> build_locked(const SessionKey& key, const Session& s, int64_t now, int64_t& wake,
                                         bool& has_partitions) {
    auto in = std::make_shared<InFlight>();
    in->key = key;
    in->session_id = s.id;
    in->address = s.address;
    msg::FetchRequest& req = in->request;
    req.replica_id = opts.node_id;
    req.replica_state.replica_id = opts.node_id;
    req.max_wait_ms = opts.max_wait_ms;
    req.min_bytes = opts.min_bytes;
    req.max_bytes = opts.max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;  // full fetches, no incremental session
    req.session_epoch = -1;
    const bool by_id = opts.fetch_version >= 13;
    std::map<std::string, size_t> topic_index;
    for (auto& [tp, f] : followed) {
      if (f.leader != key.first || f.fetcher != key.second) continue;
      has_partitions = true;
      if (f.fenced) continue;
      if (f.retry_at_ms > now) {
        wake = std::min(wake, f.retry_at_ms);
        continue;
      }
      auto p = replicas.get(tp);
      if (!p || p->is_leader()) continue;
      auto [ti, added] = topic_index.try_emplace(tp.topic, req.topics.size());
      if (added) {
        auto& t = req.topics.emplace_back();
        t.topic = tp.topic;
        t.topic_id = f.topic_id;
      }
      auto& fp = req.topics[ti->second].partitions.emplace_back();
      fp.partition = tp.partition;
      fp.current_leader_epoch = f.leader_epoch;
      fp.fetch_offset = p->log_end_offset().value();
      fp.last_fetched_epoch = p->latest_epoch();
      fp.log_start_offset = p->log_start_offset().value();
      fp.partition_max_bytes = opts.partition_max_bytes;
      Asked asked{tp, fp.fetch_offset, f.leader_epoch};
      if (by_id) in->by_id[{f.topic_id, tp.partition}] = asked;
      else in->by_name[{tp.topic, tp.partition}] = asked;
    }
    if (req.topics.empty()) return nullptr;
    return in;
  }

  void send(const std::shared_ptr<InFlight>& in) {
    std::weak_ptr<Impl> weak = shared_from_this();
    transport->fetch(in->key.first, in->address, in->request, opts.fetch_version,
                     opts.max_wait_ms + opts.request_timeout_ms,
                     [weak, in](Result<std::shared_ptr<FetchReply>> reply) {
                       auto self = weak.lock();
                       if (!self) return;
                       auto a = std::make_shared<Answer>(Answer{in, std::move(reply)});
                       self->loop.post([impl = self.get(), a] {
                         {
                           std::lock_guard lk(impl->mu);
                           if (impl->stopping) return;
                         }
                         impl->handle(*a);
                         std::lock_guard lk(impl->mu);
                         impl->kick_locked();
                       });
                     });
  }

  // On the loop, without mu: one answer.
  void handle(Answer& a) {
    const SessionKey key = a.asked->key;
    const int64_t now = runtime::steady_ms();
    if (!a.reply.ok() || a.reply.value()->response.error_code != 0) {
      std::string why = !a.reply.ok() ? std::string(error_name(a.reply.code())) + " " + a.reply.error().message
                                      : std::string(error_name(static_cast<ErrorCode>(
                                            a.reply.value()->response.error_code)));
      std::lock_guard lk(mu);
      auto it = sessions.find(key);
      if (it == sessions.end() || it->second.id != a.asked->session_id) return;
      Session& s = it->second;
      s.in_flight = false;
      // An address changed since the request was sent: try the new one at once.
      s.next_at_ms = s.address == a.asked->address ? now + opts.backoff_ms : 0;
      if (s.failures++ == 0)
        spdlog::warn("fetching from broker {} ({}:{}) failed: {}; retrying every {} ms", key.first,
                     a.asked->address.host, a.asked->address.port, why, opts.backoff_ms);
      return;
    }
    const msg::FetchResponse& resp = a.reply.value()->response;
    struct Outcome {
      Asked asked;
      Next next;
      int64_t leader_high_watermark;
    };
    std::vector<Outcome> outcomes;
    for (const auto& t : resp.responses) {
      for (const auto& pd : t.partitions) {
        const Asked* asked = nullptr;
        if (opts.fetch_version >= 13) {
          auto it = a.asked->by_id.find({t.topic_id, pd.partition_index});
          if (it != a.asked->by_id.end()) asked = &it->second;
        } else {
          auto it = a.asked->by_name.find({t.topic, pd.partition_index});
          if (it != a.asked->by_name.end()) asked = &it->second;
        }
        if (!asked || !still_current(*asked)) continue;  // removed or re-pointed meanwhile
        auto p = replicas.get(asked->tp);
        if (!p || p->is_leader() || p->log_end_offset().value() != asked->fetch_offset) continue;
        outcomes.push_back({*asked, handle_partition(*p, *asked, pd), pd.high_watermark});
      }
    }
    std::lock_guard lk(mu);
    for (const auto& [asked, next, leader_high_watermark] : outcomes) {
      // Newer metadata may have come while the answer was handled (mu is not held there): a
      // fence or back-off earned at the old epoch must not stick to the new one, or the
      // partition would wait for metadata it already has.
      auto it = followed.find(asked.tp);
      if (it == followed.end() || it->second.leader_epoch != asked.leader_epoch) continue;
      if (leader_high_watermark >= 0) it->second.leader_high_watermark = leader_high_watermark;
      if (next == Next::kBackOff) it->second.retry_at_ms = now + opts.backoff_ms;
      if (next == Next::kFence) it->second.fenced = true;
    }
    auto it = sessions.find(key);
    if (it == sessions.end() || it->second.id != a.asked->session_id) return;
    Session& s = it->second;
    s.in_flight = false;
    if (s.failures > 0)
      spdlog::info("fetching from broker {} ({}:{}) works again", key.first, s.address.host, s.address.port);
    s.failures = 0;
    s.next_at_ms = 0;
  }

  bool still_current(const Asked& asked) {
    std::lock_guard lk(mu);
    auto it = followed.find(asked.tp);
    return it != followed.end() && it->second.leader_epoch == asked.leader_epoch && !it->second.fenced;
  }

  // On the loop, without mu: one partition's answer.
  Next handle_partition(replication::Partition& p, const Asked& asked,
                        const msg::FetchResponse::FetchableTopicResponse::PartitionData& pd) {
    const std::string name = asked.tp.to_string();
    const auto error = static_cast<ErrorCode>(pd.error_code);
    switch (error) {
      case ErrorCode::NONE:
        break;
      case ErrorCode::OFFSET_OUT_OF_RANGE:
        return out_of_range(p, asked, pd);
      case ErrorCode::FENCED_LEADER_EPOCH:
        spdlog::info("{}: the leader has a newer epoch than {}; waiting for the metadata", name, asked.leader_epoch);
        return Next::kFence;
      case ErrorCode::NOT_LEADER_OR_FOLLOWER:
      case ErrorCode::UNKNOWN_LEADER_EPOCH:
      case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
      case ErrorCode::UNKNOWN_TOPIC_ID:
        // The leader has not applied the metadata that made it leader (or us a replica) yet.
        spdlog::debug("{}: leader answered {}; retrying", name, error_name(error));
        return Next::kBackOff;
      default:
        spdlog::warn("{}: leader answered {}; retrying in {} ms", name, error_name(error), opts.backoff_ms);
        return Next::kBackOff;
    }
    if (pd.diverging_epoch.epoch >= 0) {
      replication::EpochEndOffset leader{pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset};
      auto t = replication::follower_truncation(p.epochs(), leader, p.log_end_offset(), p.high_watermark());
      auto end = p.truncate_to(t.offset);
      if (!end.ok()) {
        spdlog::warn("{}: truncation to {} failed: {}", name, t.offset.value(), end.error().message);
        return Next::kBackOff;
      }
      spdlog::info("{}: log diverged from the leader's (its epoch {} ends at {}): truncated to {}{}", name,
                   leader.epoch, leader.end_offset, end->value(), t.complete ? "" : ", asking again");
      return Next::kFetch;
    }
    std::span<const uint8_t> bytes = pd.records.data();
    // Whole batches at or after our log end only (a leader may start with the batch that
    // holds the fetch offset, or end with a partial batch when sizes cut it).
    size_t begin = 0, end = 0;
    for (size_t pos = 0; pos + batch::kHeaderSize <= bytes.size();) {
      auto h = read_batch_header(bytes.subspan(pos));
      if (!h.ok() || h->batch_length < batch::kMinBatchLength ||
          static_cast<uint64_t>(h->total_size()) > bytes.size() - pos)
        break;
      if (h->last_offset() < asked.fetch_offset) begin = pos + static_cast<size_t>(h->total_size());
      pos += static_cast<size_t>(h->total_size());
      end = pos;
    }
    if (end > begin) {
      auto appended = p.append_as_follower(bytes.subspan(begin, end - begin), asked.leader_epoch);
      if (!appended.ok()) {
        if (appended.code() == ErrorCode::FENCED_LEADER_EPOCH || appended.code() == ErrorCode::NOT_LEADER_OR_FOLLOWER)
          return Next::kFetch;  // the role changed meanwhile: the next fetch uses the new one
        spdlog::warn("{}: appending the leader's records at {} failed: {} ({})", name, asked.fetch_offset,
                     error_name(appended.code()), appended.error().message);
        return Next::kBackOff;
      }
    }
    if (pd.high_watermark >= 0) p.update_follower_high_watermark(Offset(pd.high_watermark));
    if (pd.log_start_offset > p.log_start_offset().value()) p.follow_log_start(Offset(pd.log_start_offset));
    return Next::kFetch;
  }

  Next out_of_range(replication::Partition& p, const Asked& asked,
                    const msg::FetchResponse::FetchableTopicResponse::PartitionData& pd) {
    const std::string name = asked.tp.to_string();
    if (pd.log_start_offset >= 0 && asked.fetch_offset < pd.log_start_offset) {
      // The leader no longer has what we would fetch next (retention, DeleteRecords).
      spdlog::warn("{}: the leader's log starts at {}, after this replica's end {}: starting over there", name,
                   pd.log_start_offset, asked.fetch_offset);
      if (auto s = p.truncate_fully_and_start_at(Offset(pd.log_start_offset)); !s.ok()) {
        spdlog::warn("{}: cannot empty the log: {}", name, s.error().message);
        return Next::kBackOff;
      }
      return Next::kFetch;
    }
    if (pd.high_watermark >= 0 && asked.fetch_offset > pd.high_watermark) {
      // Past the leader's end with no epoch to find where the logs part: what the leader
      // committed is the same here (Kafka truncates to the leader's end offset).
      spdlog::warn("{}: this replica's end {} is past the leader's log; truncating to its high watermark {}", name,
                   asked.fetch_offset, pd.high_watermark);
      if (auto e = p.truncate_to(Offset(pd.high_watermark)); !e.ok()) {
        spdlog::warn("{}: truncation failed: {}", name, e.error().message);
        return Next::kBackOff;
      }
      return Next::kFetch;
    }
    spdlog::warn("{}: leader answered OFFSET_OUT_OF_RANGE for offset {}; retrying in {} ms", name,
                 asked.fetch_offset, opts.backoff_ms);
    return Next::kBackOff;
  }
};

ReplicaFetcherManager::ReplicaFetcherManager(ReplicaFetcherOptions options, replication::ReplicaManager& replicas,
                                             std::unique_ptr<FetchTransport> transport)
    : impl_(std::make_shared<Impl>(std::move(options), replicas, std::move(transport))) {}

ReplicaFetcherManager::~ReplicaFetcherManager() { stop(); }

void ReplicaFetcherManager::stop() { impl_->stop(); }

void ReplicaFetcherManager::add_or_update(const TopicPartition& tp, const Uuid& topic_id, int32_t leader_id,
                                          const PeerAddress& leader, int32_t leader_epoch) {
  impl_->add_or_update(tp, topic_id, leader_id, leader, leader_epoch);
}

void ReplicaFetcherManager::remove(const TopicPartition& tp) { impl_->remove(tp); }

std::optional<ReplicaFetcherManager::PartitionStatus> ReplicaFetcherManager::status(const TopicPartition& tp) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->followed.find(tp);
  if (it == impl_->followed.end()) return std::nullopt;
  PartitionStatus s;
  s.leader = it->second.leader;
  s.leader_epoch = it->second.leader_epoch;
  s.fenced = it->second.fenced;
  s.backing_off = it->second.retry_at_ms > runtime::steady_ms();
  return s;
}

std::vector<std::pair<TopicPartition, int64_t>> ReplicaFetcherManager::leader_high_watermarks() const {
  std::vector<std::pair<TopicPartition, int64_t>> out;
  std::lock_guard lk(impl_->mu);
  for (const auto& [tp, f] : impl_->followed)
    if (f.leader_high_watermark >= 0) out.emplace_back(tp, f.leader_high_watermark);
  return out;
}

size_t ReplicaFetcherManager::partition_count() const {
  std::lock_guard lk(impl_->mu);
  return impl_->followed.size();
}

}  // namespace kb::replication
