#include "controller/broker_lifecycle.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "protocol/messages/alter_partition_request.h"
#include "protocol/messages/alter_partition_response.h"
#include "protocol/messages/assign_replicas_to_dirs_request.h"
#include "protocol/messages/assign_replicas_to_dirs_response.h"
#include "protocol/messages/broker_heartbeat_request.h"
#include "protocol/messages/broker_heartbeat_response.h"
#include "protocol/messages/broker_registration_request.h"
#include "protocol/messages/broker_registration_response.h"
#include "controller/controller_channel.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"

namespace kb::controller {

namespace {

constexpr int64_t kTickMs = 100;
constexpr int16_t kRegistrationVersion = 2;  // log dirs
constexpr int16_t kHeartbeatVersion = 1;     // offline log dirs
// Most replicas one AssignReplicasToDirs carries; the rest go in the next round.
constexpr size_t kMaxAssignmentsPerRequest = 2000;
constexpr int64_t kAssignIntervalMs = 500;
constexpr int16_t kAlterPartitionVersion = 2;  // topic ids, plain ISR lists

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

struct BrokerLifecycle::Impl : std::enable_shared_from_this<Impl> {
  LifecycleOptions opts;
  ControllerChannel& channel;
  Controller& controller;
  replication::ReplicaManager& replicas;

  runtime::LoopThread loop{"kb-lifecycle"};

  // loop thread only
  bool registering = false, heartbeating = false, altering = false, assigning = false;
  int64_t next_assign_ms = 0;
  int64_t next_heartbeat_ms = 0;
  int64_t next_hw_checkpoint_ms = 0;

  std::mutex mu;  // guards the fields below
  std::condition_variable cv;
  int64_t epoch = -1;
  bool is_fenced = true;
  bool want_shut_down = false;
  bool shut_down_ok = false;
  bool stopped = false;

  Impl(LifecycleOptions o, ControllerChannel& ch, Controller& c, replication::ReplicaManager& r)
      : opts(std::move(o)), channel(ch), controller(c), replicas(r) {}

  // The tick timer is not kept: stopping the loop cancels it.
  void schedule() {
    loop.after_ms(kTickMs, [self = shared_from_this()] {
      self->tick();
      self->schedule();
    });
  }

  void tick() {
    int64_t now = runtime::now_ms();
    int64_t my_epoch;
    {
      std::lock_guard lk(mu);
      if (stopped) return;
      my_epoch = epoch;
    }
    if (now >= next_hw_checkpoint_ms) {
      if (auto s = replicas.checkpoint_high_watermarks(); !s.ok())
        spdlog::error("high watermark checkpoint failed: {}", s.error().message);
      next_hw_checkpoint_ms = now + opts.high_watermark_checkpoint_interval_ms;
    }
    if (my_epoch < 0) return register_self();
    if (now >= next_heartbeat_ms) heartbeat(my_epoch, now);
    alter_isrs(my_epoch, now);
    if (now >= next_assign_ms) {
      next_assign_ms = now + kAssignIntervalMs;
      assign_dirs(my_epoch);
    }
  }

  // The ids of the log dirs online (or not) now.
  std::vector<Uuid> dir_ids(bool online) const {
    std::vector<Uuid> out;
    if (!opts.logs) return out;
    auto infos = opts.logs->log_dir_infos();
    for (size_t i = 0; i < infos.size() && i < opts.log_dir_ids.size(); ++i)
      if (infos[i].online() == online) out.push_back(opts.log_dir_ids[i]);
    return out;
  }

  // Tells the controller where this broker's replicas are when the image says otherwise.
  void assign_dirs(int64_t my_epoch) {
    if (assigning || !opts.logs || opts.log_dir_ids.size() < 2 || channel.controller_id() < 0) return;
    auto image = controller.image();
    // dir -> topic id -> partitions
    std::map<Uuid, std::map<Uuid, std::vector<int32_t>>> wanted;
    size_t count = 0;
    for (const auto& [tp, dir] : opts.logs->placements()) {
      if (count >= kMaxAssignmentsPerRequest) break;
      if (dir >= opts.log_dir_ids.size()) continue;
      const controller::TopicInfo* t = image->topic(tp.topic);
      const controller::PartitionInfo* info = image->partition(tp.topic, tp.partition);
      if (!t || !info || !contains(info->replicas, opts.node_id)) continue;
      const Uuid& id = opts.log_dir_ids[dir];
      if (info->directory(opts.node_id) == id) continue;
      wanted[id][t->id].push_back(tp.partition);
      ++count;
    }
    if (count == 0) return;
    msg::AssignReplicasToDirsRequest req;
    req.broker_id = opts.node_id;
    req.broker_epoch = my_epoch;
    for (auto& [dir, topics] : wanted) {
      auto& d = req.directories.emplace_back();
      d.id = dir;
      for (auto& [topic_id, partitions] : topics) {
        auto& t = d.topics.emplace_back();
        t.topic_id = topic_id;
        for (int32_t p : partitions) t.partitions.emplace_back().partition_index = p;
      }
    }
    assigning = true;
    channel.call<msg::AssignReplicasToDirsRequest, msg::AssignReplicasToDirsResponse>(
        req, 0, opts.request_timeout_ms, [w = weak_from_this()](Result<msg::AssignReplicasToDirsResponse> r) {
          auto self = w.lock();
          if (!self) return;
          if (r.ok() && r->error_code != 0 && r->error_code != to_wire(ErrorCode::NOT_CONTROLLER))
            spdlog::warn("AssignReplicasToDirs refused with error {}", r->error_code);
          // The new directories arrive through the metadata log; the next round sends only
          // what is still different (a failed request is thus retried).
          self->loop.post([self] { self->assigning = false; });
        });
  }

  void register_self() {
    if (registering || channel.controller_id() < 0) return;
    msg::BrokerRegistrationRequest req;
    req.broker_id = opts.node_id;
    req.cluster_id = opts.cluster_id;
    req.incarnation_id = opts.incarnation_id;
    for (size_t i = 0; i < opts.endpoints.size(); ++i) {
      auto& l = req.listeners.emplace_back();
      l.name = opts.endpoints[i].listener;
      l.host = opts.endpoints[i].host;
      l.port = opts.endpoints[i].port;
      l.security_protocol = opts.security_protocols[i];
    }
    req.rack = opts.rack;
    req.log_dirs = dir_ids(true);
    registering = true;
    channel.call<msg::BrokerRegistrationRequest, msg::BrokerRegistrationResponse>(
        req, kRegistrationVersion, opts.request_timeout_ms,
        [w = weak_from_this()](Result<msg::BrokerRegistrationResponse> r) {
          auto self = w.lock();
          if (!self) return;
          self->loop.post([self, r = std::move(r)] {
            self->registering = false;
            if (!r.ok()) return;
            if (r->error_code != 0) {
              if (r->error_code != to_wire(ErrorCode::NOT_CONTROLLER))
                spdlog::warn("broker registration refused with error {}", r->error_code);
              return;
            }
            {
              std::lock_guard lk(self->mu);
              self->epoch = r->broker_epoch;
            }
            spdlog::info("broker {} registered with the controller, broker epoch {}", self->opts.node_id,
                         r->broker_epoch);
            self->heartbeat(r->broker_epoch, runtime::now_ms());
          });
        });
  }

  void heartbeat(int64_t my_epoch, int64_t now) {
    if (heartbeating || channel.controller_id() < 0) return;
    msg::BrokerHeartbeatRequest req;
    req.broker_id = opts.node_id;
    req.broker_epoch = my_epoch;
    req.current_metadata_offset = controller.image()->offset();
    req.offline_log_dirs = dir_ids(false);
    {
      std::lock_guard lk(mu);
      req.want_shut_down = want_shut_down;
    }
    heartbeating = true;
    next_heartbeat_ms = now + opts.heartbeat_interval_ms;
    channel.call<msg::BrokerHeartbeatRequest, msg::BrokerHeartbeatResponse>(
        req, kHeartbeatVersion, opts.request_timeout_ms,
        [w = weak_from_this(), my_epoch](Result<msg::BrokerHeartbeatResponse> r) {
          auto self = w.lock();
          if (!self) return;
          self->loop.post([self, r = std::move(r), my_epoch] { self->on_heartbeat(r, my_epoch); });
        });
  }

  void on_heartbeat(const Result<msg::BrokerHeartbeatResponse>& r, int64_t my_epoch) {
    heartbeating = false;
    if (!r.ok()) {
      next_heartbeat_ms = 0;  // the controller may have moved: try again at the next tick
      return;
    }
    auto code = static_cast<ErrorCode>(r->error_code);
    std::lock_guard lk(mu);
    if (code == ErrorCode::STALE_BROKER_EPOCH || code == ErrorCode::BROKER_ID_NOT_REGISTERED) {
      spdlog::warn("broker {}: heartbeat refused ({}), registering again", opts.node_id, r->error_code);
      if (epoch == my_epoch) epoch = -1;
      return;
    }
    if (code != ErrorCode::NONE) {
      next_heartbeat_ms = 0;
      return;
    }
    if (is_fenced != r->is_fenced)
      spdlog::info("broker {} is {} by the controller", opts.node_id, r->is_fenced ? "fenced" : "unfenced");
    is_fenced = r->is_fenced;
    if (want_shut_down) {
      if (r->should_shut_down) {
        shut_down_ok = true;
        cv.notify_all();
      } else {
        next_heartbeat_ms = 0;
      }
    } else if (is_fenced && r->is_caught_up) {
      // Unfencing comes with the next heartbeat: at once, not a heartbeat interval later.
      loop.post([self = shared_from_this(), my_epoch] { self->heartbeat(my_epoch, runtime::now_ms()); });
    }
  }

  // The ISR each led partition should have now, sent to the controller when it differs from
  // the image's.
  void alter_isrs(int64_t my_epoch, int64_t now) {
    if (altering || channel.controller_id() < 0) return;
    auto image = controller.image();
    std::map<Uuid, msg::AlterPartitionRequest::TopicData> topics;
    int count = 0;
    for (const auto& part : replicas.all()) {
      if (part->leader() != opts.node_id) continue;
      const controller::PartitionInfo* info = image->partition(part->tp().topic, part->tp().partition);
      if (!info || info->leader != opts.node_id || info->leader_epoch != part->leader_epoch()) continue;
      auto lagging = part->lagging_in_sync(now, opts.replica_lag_time_max_ms);
      auto caught_up = part->caught_up_out_of_sync();
      std::vector<int32_t> isr;
      for (int32_t b : info->replicas) {
        bool in = contains(info->isr, b) ? !contains(lagging, b) : contains(caught_up, b);
        if (b == opts.node_id || in) isr.push_back(b);
      }
      // Keep the image's order for members that stay, as Kafka does not reorder the ISR.
      std::vector<int32_t> ordered;
      for (int32_t b : info->isr)
        if (contains(isr, b)) ordered.push_back(b);
      for (int32_t b : isr)
        if (!contains(ordered, b)) ordered.push_back(b);
      if (ordered == info->isr) continue;
      auto& t = topics[part->topic_id()];
      t.topic_id = part->topic_id();
      t.topic_name = part->tp().topic;
      auto& p = t.partitions.emplace_back();
      p.partition_index = part->tp().partition;
      p.leader_epoch = info->leader_epoch;
      p.partition_epoch = info->partition_epoch;
      p.new_isr = ordered;
      ++count;
    }
    if (count == 0) return;
    msg::AlterPartitionRequest req;
    req.broker_id = opts.node_id;
    req.broker_epoch = my_epoch;
    for (auto& [id, t] : topics) req.topics.push_back(std::move(t));
    altering = true;
    channel.call<msg::AlterPartitionRequest, msg::AlterPartitionResponse>(
        req, kAlterPartitionVersion, opts.request_timeout_ms,
        [w = weak_from_this()](Result<msg::AlterPartitionResponse> r) {
          auto self = w.lock();
          if (!self) return;
          if (r.ok() && r->error_code != 0 && r->error_code != to_wire(ErrorCode::NOT_CONTROLLER))
            spdlog::warn("AlterPartition refused with error {}", r->error_code);
          // The answer's new ISR arrives through the metadata log too; wait for it there
          // before asking again.
          self->loop.after_ms(200, [self] { self->altering = false; });
        });
  }
};

BrokerLifecycle::BrokerLifecycle(LifecycleOptions options, ControllerChannel& channel, Controller& controller,
                                 replication::ReplicaManager& replicas)
    : impl_(std::make_shared<Impl>(std::move(options), channel, controller, replicas)) {
  // The first tick at once: a lone broker registers with its own controller in milliseconds.
  impl_->loop.post([i = impl_.get()] {
    i->tick();
    i->schedule();
  });
}

BrokerLifecycle::~BrokerLifecycle() { stop(); }

void BrokerLifecycle::stop() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopped = true;
  }
  impl_->cv.notify_all();
  impl_->loop.stop(std::chrono::seconds(1));
}

bool BrokerLifecycle::controlled_shutdown(int64_t timeout_ms) {
  std::unique_lock lk(impl_->mu);
  if (impl_->epoch < 0) return false;  // never registered: nothing to hand over
  impl_->want_shut_down = true;
  impl_->loop.post([i = impl_.get()] { i->next_heartbeat_ms = 0; });
  return impl_->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms),
                            [&] { return impl_->shut_down_ok || impl_->stopped; }) &&
         impl_->shut_down_ok;
}

}  // namespace kb::controller
