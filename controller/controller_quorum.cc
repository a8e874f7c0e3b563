#include "controller/controller_quorum.h"

#include <spdlog/spdlog.h>

#include "config/settings.h"
#include "controller/meta_properties.h"
#include "controller/quorum_metadata_log.h"

namespace kb::controller {

namespace {

// 128 bits of FNV-1a over the voters list: what every voter of one quorum derives alike.
std::string quorum_cluster_id(const std::vector<config::QuorumVoter>& voters) {
  std::string text = "kbroker-cluster:";
  for (const auto& v : voters) text += std::to_string(v.id) + "@" + v.host + ":" + std::to_string(v.port) + ",";
  Uuid id;
  for (int half = 0; half < 2; ++half) {
    uint64_t h = 14695981039346656037ull ^ static_cast<uint64_t>(half);
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ull;
    }
    for (int i = 0; i < 8; ++i) id.bytes[half * 8 + i] = static_cast<uint8_t>(h >> (56 - 8 * i));
  }
  return id.to_string();
}

Result<MetadataBatch> decode(const std::string& batch) {
  return decode_metadata_batch(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(batch.data()), batch.size()));
}

raft::Quorum::Callbacks callbacks_for(Controller* ctl) {
  raft::Quorum::Callbacks callbacks;
  callbacks.on_commit = [ctl](const std::string& batch, int64_t) {
    auto decoded = decode(batch);
    if (!decoded.ok()) return ctl->fail_apply(decoded.error());
    ctl->apply_committed(decoded.value());
  };
  callbacks.on_active = [ctl](bool active) { ctl->set_active(active); };
  callbacks.on_load = [ctl](const std::vector<std::string>& batches, int64_t last) {
    std::vector<MetadataBatch> decoded;
    for (const auto& b : batches) {
      auto d = decode(b);
      if (!d.ok()) {
        spdlog::error("undecodable metadata snapshot batch: {}", d.error().message);
        return;
      }
      decoded.push_back(std::move(d.value()));
    }
    ctl->load_snapshot(decoded, last);
  };
  callbacks.make_snapshot = [ctl](int64_t last) { return ctl->snapshot_batches(last); };
  return callbacks;
}

}  // namespace

Result<std::string> ensure_cluster_id(const config::BrokerConfig& config) {
  auto voters = config.quorum_voters();
  return ensure_meta_properties(config.log_dirs(), config.node_id(), voters.empty() ? "" : quorum_cluster_id(voters));
}

ControllerQuorum::~ControllerQuorum() { stop(); }

void ControllerQuorum::stop() {
  if (quorum) quorum->stop();
  quorum.reset();
  controller.reset();
}

Result<std::unique_ptr<ControllerQuorum>> open_controller_quorum(const config::BrokerConfig& config,
                                                                  const std::string& cluster_id,
                                                                  storage::LogManager& logs, runtime::PeerClient& peers) {
  auto log = logs.get_or_create(TopicPartition{raft::Quorum::kTopic, 0}, metadata_log_config());
  if (!log.ok()) return log.error();
  const int64_t request_timeout = config.settings().controller_quorum_request_timeout_ms;
  auto qlog = std::make_unique<QuorumMetadataLog>(request_timeout * 2);
  QuorumMetadataLog* qlog_ptr = qlog.get();
  auto out = std::make_unique<ControllerQuorum>();
  auto ctl = Controller::open(config, std::move(qlog), cluster_id);
  if (!ctl.ok()) return ctl.error();
  out->controller = std::move(ctl.value());

  raft::QuorumOptions qo;
  qo.node_id = config.node_id();
  for (const auto& v : config.quorum_voters()) qo.voters.push_back({v.id, v.host, v.port});
  // A lone broker is its quorum's only voter; nobody ever dials it as one.
  if (qo.voters.empty()) qo.voters.push_back({config.node_id(), "", 0});
  qo.cluster_id = cluster_id;
  qo.raft.election_timeout_ms = config.settings().controller_quorum_election_timeout_ms;
  qo.raft.fetch_timeout_ms = config.settings().controller_quorum_fetch_timeout_ms;
  qo.raft.fetch_resend_ms = request_timeout;
  qo.request_timeout_ms = request_timeout;
  qo.fetch_max_wait_ms = std::min<int64_t>(500, qo.raft.fetch_timeout_ms / 2);
  qo.snapshot_max_bytes = config.settings().metadata_log_max_record_bytes_between_snapshots;
  qo.snapshot_interval_ms = config.settings().metadata_log_max_snapshot_interval_ms;
  auto q = raft::Quorum::open(qo, log.value(), peers, callbacks_for(out->controller.get()));
  if (!q.ok()) return q.error();
  out->quorum = std::move(q.value());
  qlog_ptr->attach(out->quorum.get());
  return out;
}

}  // namespace kb::controller
