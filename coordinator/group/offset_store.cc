#include "coordinator/group/offset_store.h"

#include <spdlog/spdlog.h>

#include "coordinator/group/group_records.h"

namespace kb::coordinator {

namespace {

// An OffsetCommit or TxnOffsetCommit answer shaped like its request: `code` for each
// partition, UNKNOWN_TOPIC_OR_PARTITION for the `unknown` ones.
template <class Response, class Request>
Response shaped(const Request& req, const std::set<TopicPartition>& unknown,
                const std::function<int16_t(const TopicPartition&)>& code) {
  Response resp;
  for (const auto& t : req.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      TopicPartition tp{t.name, p.partition_index};
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      rp.error_code = unknown.count(tp) ? to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) : code(tp);
    }
  }
  return resp;
}

template <class Response, class Request>
Response answer_all(const Request& req, const std::set<TopicPartition>& unknown, ErrorCode code) {
  return shaped<Response>(req, unknown, [code](const TopicPartition&) { return to_wire(code); });
}

// Whether any partition of the request exists (the others never reach the group).
template <class Request>
bool any_known(const Request& req, const std::set<TopicPartition>& unknown) {
  for (const auto& t : req.topics)
    for (const auto& p : t.partitions)
      if (!unknown.count(TopicPartition{t.name, p.partition_index})) return true;
  return false;
}

std::string offset_key(const std::string& group, const TopicPartition& tp) {
  rec::OffsetCommitKey k;
  k.group = group;
  k.topic = tp.topic;
  k.partition = tp.partition;
  return encode_key(k);
}

GroupRecord offset_record(const std::string& group, const TopicPartition& tp, const CommittedOffset& c) {
  rec::OffsetCommitValue v;
  v.offset = c.offset;
  v.leader_epoch = c.leader_epoch;
  v.metadata = c.metadata;
  v.commit_timestamp = c.commit_timestamp;
  v.expire_timestamp = c.expire_timestamp;
  return {offset_key(group, tp), encode_value(v)};
}

GroupRecord group_tombstone(const std::string& group) {
  rec::GroupMetadataKey k;
  k.group = group;
  return {encode_key(k), std::nullopt};
}

}  // namespace

// ---- OffsetCommit, TxnOffsetCommit ----------------------------------------------------------

void OffsetStore::commit_offsets(const msg::OffsetCommitRequest& req, const std::set<TopicPartition>& unknown,
                                 const ClientInfo& client, std::function<void(msg::OffsetCommitResponse)> done) {
  using Resp = msg::OffsetCommitResponse;
  // Before anything else: a client told NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS looks
  // for the coordinator again or retries, where UNKNOWN_TOPIC_OR_PARTITION from a broker whose
  // metadata is still catching up (a restart) would fail its commit.
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) return done(answer_all<Resp>(req, {}, e));
  if (!any_known(req, unknown)) return done(answer_all<Resp>(req, unknown, ErrorCode::NONE));
  auto refuse = [&](ErrorCode code) { done(answer_all<Resp>(req, unknown, code)); };
  const int32_t generation = req.generation_id_or_member_epoch;
  Group* g = t_.find(req.group_id);
  if (!g) {
    // A group that does not use Kafka for membership (assign() and commit) may commit
    // with generation -1; a positive generation of an unknown group is stale.
    if (generation >= 0) return refuse(ErrorCode::ILLEGAL_GENERATION);
    g = &t_.get_or_create(req.group_id);
  }
  if (g->is(GroupState::Dead)) return refuse(ErrorCode::COORDINATOR_NOT_AVAILABLE);
  if (generation >= 0 || !req.member_id.empty() || req.group_instance_id) {
    if (auto e = g->validate_member(req.member_id, req.group_instance_id); e != ErrorCode::NONE) return refuse(e);
    if (generation != g->generation) return refuse(ErrorCode::ILLEGAL_GENERATION);
  } else if (!g->is(GroupState::Empty)) {
    // Only members may commit for a group that has them.
    return refuse(ErrorCode::UNKNOWN_MEMBER_ID);
  }
  if (g->is(GroupState::CompletingRebalance)) return refuse(ErrorCode::REBALANCE_IN_PROGRESS);
  if (g->has(req.member_id)) members_.schedule_session_timeout(*g, g->members.at(req.member_id));

  const int64_t now = t_.loop.now_ms();
  // Retention asked by the client (v2-v4), else the broker's.
  const int64_t expire = req.retention_time_ms > 0 ? now + req.retention_time_ms : -1;
  const int64_t retention = t_.config.offsets_retention_ms;
  auto stamp = [&](CommittedOffset& c, const auto& p) {
    // v1 carries the commit time; an explicit one also fixes the retention.
    const bool explicit_time = client.api_version == 1 && p.commit_timestamp >= 0;
    c.commit_timestamp = explicit_time ? p.commit_timestamp : now;
    c.expire_timestamp = explicit_time ? p.commit_timestamp + retention : expire;
  };
  write_offsets<Resp>(
      *g, req, unknown, stamp, std::nullopt,
      [](Group& grp, WrittenOffsets& written) {
        for (auto& [tp, c] : written) {
          auto& slot = grp.offsets[tp];
          if (slot.log_offset < c.log_offset) slot = c;
        }
      },
      std::move(done));
}

// Writes the offsets of an OffsetCommit or TxnOffsetCommit request as one batch (of `txn`'s
// transaction when set) and answers in request order: UNKNOWN_TOPIC_OR_PARTITION for the
// unknown partitions, OFFSET_METADATA_TOO_LARGE for a partition whose metadata is too long,
// the write's outcome for the others. `stamp` sets an offset's timestamps; `apply` takes the
// written offsets (with their log offsets) into the group once the write is committed.
template <class Response, class Request, class Stamp>
void OffsetStore::write_offsets(Group& g, const Request& req, const std::set<TopicPartition>& unknown, Stamp stamp,
                                std::optional<TxnProducer> txn, std::function<void(Group&, WrittenOffsets&)> apply,
                                std::function<void(Response)> done) {
  std::vector<GroupRecord> records;
  WrittenOffsets written;
  std::set<TopicPartition> too_large;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) {
      TopicPartition tp{t.name, p.partition_index};
      if (unknown.count(tp)) continue;
      const std::string metadata = p.committed_metadata.value_or("");
      if (static_cast<int64_t>(metadata.size()) > t_.config.offset_metadata_max_bytes) {
        too_large.insert(tp);
        continue;
      }
      CommittedOffset c;
      c.offset = p.committed_offset;
      c.leader_epoch = p.committed_leader_epoch;
      c.metadata = metadata;
      stamp(c, p);
      records.push_back(offset_record(g.id, tp, c));
      written.emplace_back(tp, c);
    }
  }
  // Errors known before the write are filled in now, the others (-1 here) when it completes.
  auto resp = shaped<Response>(req, unknown, [&](const TopicPartition& tp) -> int16_t {
    return too_large.count(tp) ? to_wire(ErrorCode::OFFSET_METADATA_TOO_LARGE) : -1;
  });
  if (records.empty()) return done(std::move(resp));
  t_.log.append(g.partition, records, txn,
                [this, alive = t_.alive, gid = g.id, written = std::move(written), resp = std::move(resp),
                 apply = std::move(apply), done = std::move(done)](Result<int64_t> r) mutable {
                  ErrorCode code = r.ok() ? ErrorCode::NONE : commit_error_for(r.code());
                  auto keep = alive.lock();
                  Group* grp = keep ? t_.find(gid) : nullptr;
                  if (r.ok() && grp) {
                    int64_t log_offset = r.value();
                    for (auto& [tp, c] : written) c.log_offset = log_offset++;
                    apply(*grp, written);
                  } else if (r.ok()) {
                    code = ErrorCode::NOT_COORDINATOR;  // moved away while writing
                  }
                  for (auto& t : resp.topics)
                    for (auto& p : t.partitions)
                      if (p.error_code == -1) p.error_code = to_wire(code);
                  done(std::move(resp));
                });
}

// Kafka's handleTxnCommitOffsets + doTxnCommitOffsets. Unlike OffsetCommit, a group that
// has members accepts commits without member fields (TxnOffsetCommit before v3 has none)
// and a rebalance in progress does not refuse them.
void OffsetStore::commit_txn_offsets(const msg::TxnOffsetCommitRequest& req, const std::set<TopicPartition>& unknown,
                                     std::function<void(msg::TxnOffsetCommitResponse)> done) {
  using Resp = msg::TxnOffsetCommitResponse;
  if (req.group_id.empty()) return done(answer_all<Resp>(req, {}, ErrorCode::INVALID_GROUP_ID));
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) return done(answer_all<Resp>(req, {}, e));
  if (!any_known(req, unknown)) return done(answer_all<Resp>(req, unknown, ErrorCode::NONE));
  auto refuse = [&](ErrorCode code) { done(answer_all<Resp>(req, unknown, code)); };
  const bool member_fields = req.generation_id >= 0 || !req.member_id.empty() || req.group_instance_id;
  Group* g = t_.find(req.group_id);
  // Kafka creates an unknown group empty; member fields would name nobody in it, so that is
  // answered UNKNOWN_MEMBER_ID without creating the group.
  if (!g && member_fields) return refuse(ErrorCode::UNKNOWN_MEMBER_ID);
  if (!g) g = &t_.get_or_create(req.group_id);
  if (g->is(GroupState::Dead)) return refuse(ErrorCode::COORDINATOR_NOT_AVAILABLE);
  if (member_fields) {
    if (auto e = g->validate_member(req.member_id, req.group_instance_id); e != ErrorCode::NONE) return refuse(e);
    if (req.generation_id != g->generation) return refuse(ErrorCode::ILLEGAL_GENERATION);
  }

  const int64_t now = t_.loop.now_ms();
  const int64_t producer_id = req.producer_id;
  write_offsets<Resp>(
      *g, req, unknown, [now](CommittedOffset& c, const auto&) { c.commit_timestamp = now; },
      TxnProducer{req.producer_id, req.producer_epoch},
      [producer_id](Group& grp, WrittenOffsets& written) {
        // Pending until the transaction's marker (complete_txn); a later write of the same
        // transaction replaces an earlier one.
        auto& pending = grp.pending_txn_offsets[producer_id];
        for (auto& [tp, c] : written) pending[tp] = c;
      },
      std::move(done));
}

void OffsetStore::complete_txn(int32_t partition, int64_t producer_id, bool committed) {
  // A partition still loading gets the marker from its log.
  if (!t_.owns(partition)) return;
  for (auto& [id, g] : t_.groups)
    if (g->partition == partition) g->complete_txn(producer_id, committed);
}

// ---- OffsetFetch, OffsetDelete, DeleteGroups ------------------------------------------------

FetchedOffsets OffsetStore::fetch_offsets(const std::string& group_id,
                                          const std::optional<std::map<std::string, std::vector<int32_t>>>& topics,
                                          bool require_stable) {
  FetchedOffsets out;
  if (auto e = t_.coordinator_error(group_id); e != ErrorCode::NONE) {
    out.error = e;
    if (topics)
      for (const auto& [t, parts] : *topics)
        for (int32_t p : parts) out.partitions.push_back({t, p, -1, -1, "", e});
    return out;
  }
  Group* g = t_.find(group_id);
  // Kafka's getOffsets: with require_stable, a partition whose offset a transaction may
  // still change is answered UNSTABLE_OFFSET_COMMIT (the client retries).
  auto unstable = [&](const TopicPartition& tp) { return require_stable && g && g->has_pending_txn_offset(tp); };
  if (!topics) {
    if (g)
      for (const auto& [tp, c] : g->offsets) {
        if (unstable(tp))
          out.partitions.push_back({tp.topic, tp.partition, -1, -1, "", ErrorCode::UNSTABLE_OFFSET_COMMIT});
        else
          out.partitions.push_back({tp.topic, tp.partition, c.offset, c.leader_epoch, c.metadata, ErrorCode::NONE});
      }
    return out;
  }
  for (const auto& [t, parts] : *topics) {
    for (int32_t p : parts) {
      FetchedOffset f{t, p, -1, -1, "", ErrorCode::NONE};
      if (unstable(TopicPartition{t, p})) {
        f.error = ErrorCode::UNSTABLE_OFFSET_COMMIT;
      } else if (g) {
        if (auto it = g->offsets.find(TopicPartition{t, p}); it != g->offsets.end()) {
          f.offset = it->second.offset;
          f.leader_epoch = it->second.leader_epoch;
          f.metadata = it->second.metadata;
        }
      }
      out.partitions.push_back(std::move(f));
    }
  }
  return out;
}

void OffsetStore::delete_offsets(const msg::OffsetDeleteRequest& req,
                                 std::function<void(msg::OffsetDeleteResponse)> done) {
  msg::OffsetDeleteResponse resp;
  auto fail = [&](ErrorCode code) {
    resp.error_code = to_wire(code);
    done(std::move(resp));
  };
  if (req.group_id.empty()) return fail(ErrorCode::INVALID_GROUP_ID);
  if (auto e = t_.coordinator_error(req.group_id); e != ErrorCode::NONE) return fail(e);
  Group* g = t_.find(req.group_id);
  if (!g || g->is(GroupState::Dead)) return fail(ErrorCode::GROUP_ID_NOT_FOUND);
  std::optional<std::set<std::string>> subscribed;
  if (!g->is(GroupState::Empty)) {
    if (g->protocol_type != "consumer") return fail(ErrorCode::NON_EMPTY_GROUP);
    subscribed = g->subscribed_topics();
  }
  std::vector<GroupRecord> tombstones;
  std::vector<TopicPartition> deleted;
  for (const auto& t : req.topics) {
    msg::OffsetDeleteResponse::OffsetDeleteResponseTopic rt;
    rt.name = t.name;
    // Unknown subscriptions count as subscribed: nothing a member may still use is deleted.
    const bool in_use = !g->is(GroupState::Empty) && (!subscribed || subscribed->count(t.name));
    for (const auto& p : t.partitions) {
      msg::OffsetDeleteResponse::OffsetDeleteResponseTopic::OffsetDeleteResponsePartition rp;
      rp.partition_index = p.partition_index;
      if (in_use) {
        rp.error_code = to_wire(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
      } else {
        TopicPartition tp{t.name, p.partition_index};
        if (g->offsets.count(tp)) {
          tombstones.push_back({offset_key(g->id, tp), std::nullopt});
          deleted.push_back(tp);
        }
        rp.error_code = to_wire(ErrorCode::NONE);
      }
      rt.partitions.push_back(rp);
    }
    resp.topics.push_back(std::move(rt));
  }
  if (tombstones.empty()) return done(std::move(resp));
  t_.log.append(g->partition, tombstones, std::nullopt,
                [this, alive = t_.alive, gid = g->id, deleted, resp = std::move(resp),
                 done = std::move(done)](Result<int64_t> r) mutable {
                  if (!r.ok()) {
                    resp.error_code = to_wire(commit_error_for(r.code()));
                    return done(std::move(resp));
                  }
                  auto keep = alive.lock();
                  if (Group* grp = keep ? t_.find(gid) : nullptr)
                    for (const auto& tp : deleted) {
                      grp->offsets.erase(tp);
                      for (auto& [producer, offsets] : grp->pending_txn_offsets) offsets.erase(tp);
                    }
                  done(std::move(resp));
                });
}

void OffsetStore::delete_groups(const std::vector<std::string>& ids,
                                std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done) {
  auto results = std::make_shared<std::vector<std::pair<std::string, ErrorCode>>>();
  auto outstanding = std::make_shared<int>(1);
  auto finish = [results, outstanding, done]() {
    if (--*outstanding == 0) done(std::move(*results));
  };
  for (const auto& id : ids) {
    ErrorCode code = t_.coordinator_error(id);
    Group* g = code == ErrorCode::NONE ? t_.find(id) : nullptr;
    if (code == ErrorCode::NONE) {
      if (!g || g->is(GroupState::Dead))
        code = ErrorCode::GROUP_ID_NOT_FOUND;
      else if (!g->is(GroupState::Empty))
        code = ErrorCode::NON_EMPTY_GROUP;
    }
    const size_t slot = results->size();
    results->emplace_back(id, code);
    if (code != ErrorCode::NONE) continue;
    // Dead first, so nothing joins or commits while the tombstones are written.
    t_.transition(*g, GroupState::Dead);
    std::vector<GroupRecord> tombstones;
    for (const auto& [tp, c] : g->offsets) tombstones.push_back({offset_key(id, tp), std::nullopt});
    tombstones.push_back(group_tombstone(id));
    const int32_t partition = g->partition;
    members_.drop(*g, ErrorCode::COORDINATOR_NOT_AVAILABLE);
    t_.groups.erase(id);
    spdlog::info("group {} deleted", id);
    ++*outstanding;
    t_.log.append(partition, tombstones, std::nullopt, [results, slot, finish](Result<int64_t> r) {
      if (!r.ok()) (*results)[slot].second = commit_error_for(r.code());
      finish();
    });
  }
  finish();
}

// ---- offset expiry --------------------------------------------------------------------------

void OffsetStore::start_expiry() {
  if (expiry_timer_) return;
  expiry_timer_ = t_.loop.after_ms(t_.config.offsets_retention_check_interval_ms, t_.guarded([this] {
    expiry_timer_.reset();
    expire_offsets();
    if (!t_.stopped) start_expiry();
  }));
}

void OffsetStore::stop() {
  if (expiry_timer_) expiry_timer_->cancel();
}

// Kafka's rules: offsets of an Empty group expire offsets.retention.minutes after it became
// empty (after their commit when the group never used the group protocol); in a consumer
// group that is alive, offsets of topics no member subscribes to expire after their commit.
// An explicit retention from OffsetCommit v1-v4 wins.
void OffsetStore::expire_offsets() {
  const int64_t now = t_.loop.now_ms();
  const int64_t retention = t_.config.offsets_retention_ms;
  remove_offsets("expired", [now, retention](const Group& g) -> OffsetFilter {
    const bool empty = g.is(GroupState::Empty);
    std::optional<std::set<std::string>> subscribed;
    if (!empty) {
      if (g.protocol_type != "consumer") return nullptr;
      subscribed = g.subscribed_topics();
      if (!subscribed) return nullptr;
    }
    const int64_t empty_since = g.state_timestamp();
    const bool simple = g.protocol_type.empty();
    return [=](const TopicPartition& tp, const CommittedOffset& c) {
      if (c.expire_timestamp >= 0) return now >= c.expire_timestamp;
      if (empty) return now >= (simple ? c.commit_timestamp : empty_since) + retention;
      return !subscribed->count(tp.topic) && now >= c.commit_timestamp + retention;
    };
  });
}

// Kafka's onPartitionsDeleted: a re-created topic of the same name starts with no committed
// offsets, so its consumers begin where auto.offset.reset says, not at the old topic's
// positions.
void OffsetStore::forget_topics(const std::set<std::string>& topics) {
  for (auto& [id, g] : t_.groups)
    for (auto& [producer, pending] : g->pending_txn_offsets)
      std::erase_if(pending, [&](const auto& entry) { return topics.count(entry.first.topic) > 0; });
  remove_offsets("of deleted topics removed", [&topics](const Group&) -> OffsetFilter {
    return [&topics](const TopicPartition& tp, const CommittedOffset&) { return topics.count(tp.topic) > 0; };
  });
}

// Kafka's cleanupGroupMetadata: in every group this broker coordinates, the offsets `select`
// picks are forgotten and their tombstones written; a group left Empty with nothing is deleted.
void OffsetStore::remove_offsets(const char* what, const std::function<OffsetFilter(const Group&)>& select) {
  std::vector<std::string> dead;
  for (auto& [id, g] : t_.groups) {
    if (t_.coordinator_error(id) != ErrorCode::NONE || g->is(GroupState::Dead)) continue;
    OffsetFilter drop = select(*g);
    if (!drop) continue;
    std::vector<GroupRecord> tombstones;
    for (auto it = g->offsets.begin(); it != g->offsets.end();) {
      if (drop(it->first, it->second)) {
        tombstones.push_back({offset_key(id, it->first), std::nullopt});
        it = g->offsets.erase(it);
      } else {
        ++it;
      }
    }
    const size_t removed = tombstones.size();
    if (g->is(GroupState::Empty) && g->offsets.empty() && g->members.empty() && g->pending_txn_offsets.empty()) {
      tombstones.push_back(group_tombstone(id));
      dead.push_back(id);
    }
    if (tombstones.empty()) continue;
    spdlog::info("group {}: {} offsets {}", id, removed, what);
    t_.log.append(g->partition, tombstones, std::nullopt, [gid = id](Result<int64_t> r) {
      // Forgotten in memory already; a coordinator that reloads this partition sees them
      // again and removes them again (expiry), or keeps them (deleted topics: a consumer of
      // a re-created topic then starts at that offset, as before this rule).
      if (!r.ok()) spdlog::warn("group {}: writing offset tombstones failed: {}", gid, r.error().message);
    });
  }
  for (const auto& id : dead) {
    Group& g = *t_.groups.at(id);
    t_.transition(g, GroupState::Dead);
    members_.drop(g, ErrorCode::COORDINATOR_NOT_AVAILABLE);
    t_.groups.erase(id);
  }
}

}  // namespace kb::coordinator
