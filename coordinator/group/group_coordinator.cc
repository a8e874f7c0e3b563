#include "coordinator/group/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <set>

#include "coordinator/group/group_loader.h"

namespace kb::coordinator {

using Described = msg::DescribeGroupsResponse::DescribedGroup;

struct GroupCoordinator::Impl : std::enable_shared_from_this<Impl> {
  Impl(GroupConfig c, runtime::EventLoop& l, GroupLog& g) : table(c, l, g), rebalance(table), offsets(table, rebalance) {}

  GroupTable table;
  Rebalancer rebalance;
  OffsetStore offsets;
  std::atomic<uint64_t> skipped_records{0};

  // ---- partitions led here ----------------------------------------------------------------

  void became_leader(int32_t partition, int32_t count) {
    if (table.stopped) return;
    table.partition_count = count;
    if (table.partitions.count(partition)) return;
    table.partitions[partition] = PartitionState::Loading;
    // Loading is its own task: requests queued before it are answered
    // COORDINATOR_LOAD_IN_PROGRESS rather than waiting behind the replay.
    table.loop.post([self = shared_from_this(), partition] { self->load(partition); });
    offsets.start_expiry();
  }

  void load(int32_t partition) {
    auto it = table.partitions.find(partition);
    if (table.stopped || it == table.partitions.end() || it->second != PartitionState::Loading) return;
    auto loaded = load_groups(table.log, partition, table.loop.now_ms());
    if (!loaded.ok()) {
      // The log itself cannot be read here (an I/O error, the partition gone): stay not the
      // coordinator of this partition (clients retry FindCoordinator) and say why.
      spdlog::error("cannot load groups of __consumer_offsets-{}: {}", partition, loaded.error().message);
      table.partitions.erase(partition);
      return;
    }
    for (auto& [id, g] : loaded->groups) {
      // Members must heartbeat to this coordinator within their session timeout, as after
      // any coordinator move.
      for (auto& [mid, m] : g->members) rebalance.schedule_session_timeout(*g, m);
      table.groups[id] = std::move(g);
    }
    table.partitions[partition] = PartitionState::Owned;
    const SkippedRecords& skipped = loaded->skipped;
    if (skipped.count > 0) {
      skipped_records += static_cast<uint64_t>(skipped.count);
      spdlog::warn("__consumer_offsets-{}: skipped {} records that could not be read (first at {}); the rest loaded",
                   partition, skipped.count, skipped.first);
    }
    if (loaded->records > 0)
      spdlog::info("loaded {} groups from __consumer_offsets-{} ({} records)", loaded->groups.size(), partition,
                   loaded->records);
  }

  void resigned(int32_t partition) {
    table.partitions.erase(partition);
    for (auto it = table.groups.begin(); it != table.groups.end();) {
      if (it->second->partition == partition) {
        rebalance.drop(*it->second, ErrorCode::NOT_COORDINATOR);
        it = table.groups.erase(it);
      } else {
        ++it;
      }
    }
  }

  void stop() {
    table.stopped = true;
    for (auto& [id, g] : table.groups) rebalance.drop(*g, ErrorCode::NOT_COORDINATOR);
    table.groups.clear();
    table.partitions.clear();
    offsets.stop();
  }

  // ---- administration ---------------------------------------------------------------------

  Described describe(const std::string& group_id) {
    Described d;
    d.group_id = group_id;
    if (auto e = table.coordinator_error(group_id); e != ErrorCode::NONE) {
      d.error_code = to_wire(e);
      return d;
    }
    d.error_code = to_wire(ErrorCode::NONE);
    Group* g = table.find(group_id);
    if (!g) {
      d.group_state = std::string(state_name(GroupState::Dead));
      return d;
    }
    d.group_state = std::string(state_name(g->state()));
    d.protocol_type = g->protocol_type;
    // Metadata and assignments are only meaningful once the generation is complete.
    const bool stable = g->is(GroupState::Stable);
    d.protocol_data = stable ? g->protocol.value_or("") : "";
    for (const Member* m : g->members_in_join_order()) {
      Described::DescribedGroupMember dm;
      dm.member_id = m->id;
      dm.group_instance_id = m->instance_id;
      dm.client_id = m->client_id;
      dm.client_host = m->client_host;
      if (stable) {
        if (const auto* meta = m->metadata_for(g->protocol.value_or(""))) dm.member_metadata = *meta;
        dm.member_assignment = m->assignment;
      }
      d.members.push_back(std::move(dm));
    }
    return d;
  }

  ListedGroups list_groups(const std::vector<std::string>& states_filter) {
    ListedGroups out;
    if (table.stopped) {
      out.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
      return out;
    }
    std::set<GroupState> wanted;
    for (const auto& s : states_filter)
      if (auto st = parse_state(s)) wanted.insert(*st);
    const bool filtered = !states_filter.empty();
    for (const auto& [p, st] : table.partitions)
      if (st == PartitionState::Loading) out.error = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    for (const auto& [id, g] : table.groups) {
      if (g->is(GroupState::Dead)) continue;
      if (filtered && !wanted.count(g->state())) continue;
      out.groups.push_back({id, g->protocol_type, g->state()});
    }
    return out;
  }

  std::vector<GroupSnapshot> snapshot() const {
    std::vector<GroupSnapshot> out;
    for (const auto& [id, g] : table.groups) {
      GroupSnapshot s;
      s.group_id = id;
      s.state = g->state();
      s.members = static_cast<int>(g->members.size());
      s.rebalances = g->rebalances;
      for (const auto& [tp, c] : g->offsets) s.committed[tp] = c.offset;
      out.push_back(std::move(s));
    }
    return out;
  }
};

GroupCoordinator::GroupCoordinator(GroupConfig config, runtime::EventLoop& loop, GroupLog& log)
    : impl_(std::make_shared<Impl>(config, loop, log)) {
  impl_->table.alive = impl_;
}

GroupCoordinator::~GroupCoordinator() = default;

int32_t GroupCoordinator::partition_for(std::string_view group_id, int32_t partitions) {
  return java_hash_partition(group_id, partitions);
}

void GroupCoordinator::became_leader(int32_t partition, int32_t partitions) {
  auto impl = impl_;
  impl->table.loop.post([impl, partition, partitions] { impl->became_leader(partition, partitions); });
}

void GroupCoordinator::resigned(int32_t partition) {
  auto impl = impl_;
  impl->table.loop.post([impl, partition] { impl->resigned(partition); });
}

void GroupCoordinator::stop() {
  auto stopped = std::make_shared<std::promise<void>>();
  auto fut = stopped->get_future();
  stop([stopped] { stopped->set_value(); });
  fut.wait_for(std::chrono::seconds(5));
}

void GroupCoordinator::stop(std::function<void()> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, done = std::move(done)] {
    impl->stop();
    done();
  });
}

void GroupCoordinator::join_group(msg::JoinGroupRequest req, ClientInfo client, JoinCallback done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), client = std::move(client), done = std::move(done)]() mutable {
    impl->rebalance.join_group(req, client, std::move(done));
  });
}

void GroupCoordinator::sync_group(msg::SyncGroupRequest req, ClientInfo, SyncCallback done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), done = std::move(done)]() mutable {
    impl->rebalance.sync_group(std::move(req), std::move(done));
  });
}

void GroupCoordinator::heartbeat(msg::HeartbeatRequest req, ClientInfo, std::function<void(ErrorCode)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), done = std::move(done)] { done(impl->rebalance.heartbeat(req)); });
}

void GroupCoordinator::leave_group(msg::LeaveGroupRequest req, ClientInfo client,
                                   std::function<void(msg::LeaveGroupResponse)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), v = client.api_version, done = std::move(done)] {
    done(impl->rebalance.leave_group(req, v));
  });
}

void GroupCoordinator::commit_offsets(msg::OffsetCommitRequest req, std::set<TopicPartition> unknown,
                                      ClientInfo client, std::function<void(msg::OffsetCommitResponse)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), unknown = std::move(unknown), client = std::move(client),
                         done = std::move(done)]() mutable {
    impl->offsets.commit_offsets(req, unknown, client, std::move(done));
  });
}

void GroupCoordinator::commit_txn_offsets(msg::TxnOffsetCommitRequest req, std::set<TopicPartition> unknown,
                                          ClientInfo, std::function<void(msg::TxnOffsetCommitResponse)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), unknown = std::move(unknown), done = std::move(done)]() mutable {
    impl->offsets.commit_txn_offsets(req, unknown, std::move(done));
  });
}

void GroupCoordinator::complete_txn(int32_t offsets_partition, int64_t producer_id, bool committed) {
  auto impl = impl_;
  impl->table.loop.post([impl, offsets_partition, producer_id, committed] {
    impl->offsets.complete_txn(offsets_partition, producer_id, committed);
  });
}

void GroupCoordinator::fetch_offsets(std::string group_id,
                                     std::optional<std::map<std::string, std::vector<int32_t>>> topics,
                                     bool require_stable, std::function<void(FetchedOffsets)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, group_id = std::move(group_id), topics = std::move(topics), require_stable,
                   done = std::move(done)] { done(impl->offsets.fetch_offsets(group_id, topics, require_stable)); });
}

void GroupCoordinator::describe_groups(std::vector<std::string> ids,
                                       std::function<void(std::vector<Described>)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, ids = std::move(ids), done = std::move(done)] {
    std::vector<Described> out;
    for (const auto& id : ids) out.push_back(impl->describe(id));
    done(std::move(out));
  });
}

void GroupCoordinator::list_groups(std::vector<std::string> states_filter, std::function<void(ListedGroups)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, f = std::move(states_filter), done = std::move(done)] { done(impl->list_groups(f)); });
}

void GroupCoordinator::delete_groups(std::vector<std::string> ids,
                                     std::function<void(std::vector<std::pair<std::string, ErrorCode>>)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, ids = std::move(ids), done = std::move(done)]() mutable {
    impl->offsets.delete_groups(ids, std::move(done));
  });
}

void GroupCoordinator::delete_offsets(msg::OffsetDeleteRequest req, std::function<void(msg::OffsetDeleteResponse)> done) {
  auto impl = impl_;
  impl->table.loop.post([impl, req = std::move(req), done = std::move(done)]() mutable {
    impl->offsets.delete_offsets(req, std::move(done));
  });
}

void GroupCoordinator::topics_deleted(std::set<std::string> topics) {
  auto impl = impl_;
  impl->table.loop.post([impl, topics = std::move(topics)] { impl->offsets.forget_topics(topics); });
}

std::vector<GroupSnapshot> GroupCoordinator::snapshot(int64_t timeout_ms) {
  auto impl = impl_;
  auto promise = std::make_shared<std::promise<std::vector<GroupSnapshot>>>();
  auto fut = promise->get_future();
  impl->table.loop.post([impl, promise] { promise->set_value(impl->snapshot()); });
  if (fut.wait_for(std::chrono::milliseconds(timeout_ms)) != std::future_status::ready) return {};
  return fut.get();
}

uint64_t GroupCoordinator::skipped_records() const { return impl_->skipped_records.load(); }

}  // namespace kb::coordinator
