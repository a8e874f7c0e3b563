#include "coordinator/group/group_loader.h"

#include <variant>

#include "coordinator/group/group_records.h"

namespace kb::coordinator {

namespace {

class Loader {
 public:
  Loader(int32_t partition, int64_t now) : partition_(partition), now_(now) {}

  void apply(const StoredGroupRecord& r) {
    if (r.marker != TxnMarker::None) return end_txn(r);
    if (!r.key) return out_.skipped.add(r.offset, "a record without a key");
    auto key = decode_key(*r.key);
    if (!key) return out_.skipped.add(r.offset, "a key of no known __consumer_offsets version");
    if (auto* ok = std::get_if<rec::OffsetCommitKey>(&*key))
      apply_offset(r, *ok);
    else
      apply_group(r, std::get<rec::GroupMetadataKey>(*key));
  }

  SkippedRecords& skipped() { return out_.skipped; }

  LoadedGroups finish() {
    for (auto& [producer, by_group] : open_txns_)
      for (auto& [gid, offsets] : by_group)
        if (!offsets.empty()) slot(gid).pending_txn_offsets[producer] = std::move(offsets);
    std::erase_if(out_.groups, [](const auto& kv) {
      const Group& g = *kv.second;
      return g.members.empty() && g.offsets.empty() && g.pending_txn_offsets.empty() && g.generation == 0;
    });
    for (auto& [id, g] : out_.groups)
      g->restore_state(g->members.empty() ? GroupState::Empty : GroupState::Stable, g->state_timestamp());
    return std::move(out_);
  }

 private:
  Group& slot(const std::string& id) {
    auto& g = out_.groups[id];
    if (!g) g = std::make_unique<Group>(id, partition_, now_);
    return *g;
  }

  // A transaction marker of r.txn_producer_id.
  void end_txn(const StoredGroupRecord& r) {
    auto txn = open_txns_.find(r.txn_producer_id);
    if (txn == open_txns_.end()) return;
    if (r.marker == TxnMarker::Commit)
      for (auto& [gid, offsets] : txn->second) {
        Group& g = slot(gid);
        g.pending_txn_offsets[r.txn_producer_id] = std::move(offsets);
        g.complete_txn(r.txn_producer_id, true);
      }
    open_txns_.erase(txn);
  }

  void apply_offset(const StoredGroupRecord& r, const rec::OffsetCommitKey& k) {
    TopicPartition tp{k.topic, k.partition};
    const bool txn = r.txn_producer_id >= 0;
    if (!r.value) {
      ++out_.records;
      if (txn) {
        if (auto t = open_txns_.find(r.txn_producer_id); t != open_txns_.end())
          if (auto g = t->second.find(k.group); g != t->second.end()) g->second.erase(tp);
      } else if (auto g = out_.groups.find(k.group); g != out_.groups.end()) {
        g->second->offsets.erase(tp);
      }
      return;
    }
    auto v = decode_offset_value(*r.value);
    if (!v) return out_.skipped.add(r.offset, "an offset commit value that does not decode");
    ++out_.records;
    CommittedOffset c{v->offset, v->leader_epoch, v->metadata, v->commit_timestamp, v->expire_timestamp, r.offset};
    if (txn)
      open_txns_[r.txn_producer_id][k.group][tp] = std::move(c);
    else
      slot(k.group).offsets[tp] = std::move(c);
  }

  void apply_group(const StoredGroupRecord& r, const rec::GroupMetadataKey& k) {
    if (!r.value) {
      ++out_.records;
      // The group is gone; offsets committed after the tombstone start a new one.
      if (auto it = out_.groups.find(k.group); it != out_.groups.end()) {
        Group& g = *it->second;
        g.members.clear();
        g.static_members.clear();
        g.generation = 0;
        g.protocol_type.clear();
        g.protocol.reset();
        g.leader.reset();
      }
      return;
    }
    auto v = decode_group_value(*r.value);
    if (!v) return out_.skipped.add(r.offset, "a group metadata value that does not decode");
    ++out_.records;
    Group& g = slot(k.group);
    g.generation = v->generation;
    g.protocol_type = v->protocol_type;
    g.protocol = v->protocol;
    g.leader = v->leader;
    if (v->current_state_timestamp >= 0) g.restore_state(g.state(), v->current_state_timestamp);
    g.members.clear();
    g.static_members.clear();
    for (const auto& mm : v->members) {
      Member m;
      m.id = mm.member_id;
      m.instance_id = mm.group_instance_id;
      m.client_id = mm.client_id;
      m.client_host = mm.client_host;
      m.session_timeout_ms = mm.session_timeout;
      m.rebalance_timeout_ms = mm.rebalance_timeout >= 0 ? mm.rebalance_timeout : mm.session_timeout;
      if (g.protocol) m.protocols.push_back({*g.protocol, mm.subscription});
      m.assignment = mm.assignment;
      m.join_order = g.next_join_order++;
      if (m.instance_id) g.static_members[*m.instance_id] = m.id;
      g.members.emplace(m.id, std::move(m));
    }
  }

  const int32_t partition_;
  const int64_t now_;
  LoadedGroups out_;
  // Offsets of transactions whose marker has not been read yet: producer id -> group ->
  // partition.
  std::map<int64_t, std::map<std::string, std::map<TopicPartition, CommittedOffset>>> open_txns_;
};

}  // namespace

Result<LoadedGroups> load_groups(GroupLog& log, int32_t partition, int64_t now) {
  Loader loader(partition, now);
  auto st = log.replay(partition, [&](const StoredGroupRecord& r) { loader.apply(r); }, loader.skipped());
  if (!st.ok()) return st.error();
  return loader.finish();
}

}  // namespace kb::coordinator
