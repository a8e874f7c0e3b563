#include "controller/controller.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <variant>

#include <spdlog/spdlog.h>

#include "controller/records/config_record.h"
#include "controller/records/partition_record.h"
#include "controller/records/register_broker_record.h"
#include "controller/records/remove_topic_record.h"
#include "controller/records/topic_record.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace kb::controller {

namespace fs = std::filesystem;

namespace {

// Metadata record type ids (the upstream metadata record apiKeys) and versions written.
constexpr uint32_t kRegisterBroker = 0, kTopic = 2, kPartition = 3, kConfig = 4, kRemoveTopic = 9;
constexpr int16_t kRegisterBrokerVersion = 1, kPartitionVersion = 0;
constexpr uint32_t kFrameVersion = 1;
constexpr int8_t kTopicResource = 2;
constexpr int32_t kMaxPartitions = 100000;

using Record = std::variant<metadata::TopicRecord, metadata::PartitionRecord, metadata::RemoveTopicRecord,
                            metadata::RegisterBrokerRecord, metadata::ConfigRecord>;

uint32_t type_of(const Record& r) {
  switch (r.index()) {
    case 0: return kTopic;
    case 1: return kPartition;
    case 2: return kRemoveTopic;
    case 3: return kRegisterBroker;
    default: return kConfig;
  }
}
int16_t version_of(const Record& r) {
  if (r.index() == 1) return kPartitionVersion;
  if (r.index() == 3) return kRegisterBrokerVersion;
  return 0;
}

// A record's value on the metadata log: frame version, record type, record version, body
// (the framing KRaft uses).
std::string encode(const Record& r) {
  wire::Writer w;
  w.write_uvarint(kFrameVersion);
  w.write_uvarint(type_of(r));
  int16_t v = version_of(r);
  w.write_uvarint(static_cast<uint64_t>(v));
  std::visit([&](const auto& rec) { rec.encode(w, v); }, r);
  return std::string(w.buffer().begin(), w.buffer().end());
}

std::optional<Record> decode(std::string_view bytes) {
  wire::Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  uint32_t frame = r.read_uvarint();
  uint32_t type = r.read_uvarint();
  int16_t v = static_cast<int16_t>(r.read_uvarint());
  if (!r.ok() || frame != kFrameVersion) return std::nullopt;
  auto dec = [&](auto rec) -> std::optional<Record> {
    if (!rec.decode(r, v)) return std::nullopt;
    return Record(std::move(rec));
  };
  switch (type) {
    case kTopic: return dec(metadata::TopicRecord{});
    case kPartition: return dec(metadata::PartitionRecord{});
    case kRemoveTopic: return dec(metadata::RemoveTopicRecord{});
    case kRegisterBroker: return dec(metadata::RegisterBrokerRecord{});
    case kConfig: return dec(metadata::ConfigRecord{});
    default: return std::nullopt;
  }
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// meta.properties (Kafka's format): the cluster id survives restarts and a log dir of another
// node is refused.
Result<std::string> load_or_create_cluster_id(const fs::path& dir, int32_t node_id) {
  fs::path p = dir / "meta.properties";
  std::ifstream in(p);
  if (in) {
    std::map<std::string, std::string> props;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      auto eq = line.find('=');
      if (eq != std::string::npos) props[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (props.count("node.id") && props["node.id"] != std::to_string(node_id))
      return Error{ErrorCode::INCONSISTENT_CLUSTER_ID,
                   p.string() + " belongs to node.id " + props["node.id"] + ", not " + std::to_string(node_id)};
    if (props.count("cluster.id") && !props["cluster.id"].empty()) return props["cluster.id"];
  }
  std::string id = Uuid::random().to_string();
  std::ofstream out(p);
  out << "#kbroker metadata properties\nversion=1\nnode.id=" << node_id << "\ncluster.id=" << id << "\n";
  if (!out) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot write " + p.string()};
  return id;
}

void apply_record(MetadataImage& img, const Record& r) {
  std::visit([&](const auto& rec) { img.apply(rec); }, r);
}

}  // namespace

struct Controller::Pending {
  std::vector<Record> records;
};

Status validate_topic_name(std::string_view name) {
  if (name.empty()) return Status(ErrorCode::INVALID_TOPIC_EXCEPTION, "Topic name is illegal, it can't be empty");
  if (name == "." || name == "..")
    return Status(ErrorCode::INVALID_TOPIC_EXCEPTION, "Topic name cannot be \".\" or \"..\"");
  if (name.size() > 249)
    return Status(ErrorCode::INVALID_TOPIC_EXCEPTION,
                  "Topic name is illegal, it can't be longer than 249 characters, topic name: " + std::string(name));
  for (char c : name) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return Status(ErrorCode::INVALID_TOPIC_EXCEPTION,
                    "Topic name \"" + std::string(name) +
                        "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'");
  }
  return {};
}

Result<std::unique_ptr<Controller>> Controller::open(const config::BrokerConfig& config, storage::LogManager& logs) {
  std::unique_ptr<Controller> c(new Controller(config));
  auto dirs = config.log_dirs();
  auto cluster_id = load_or_create_cluster_id(dirs.front(), config.node_id());
  if (!cluster_id.ok()) return cluster_id.error();
  storage::LogConfig lc;
  lc.segment_bytes = 100 * 1024 * 1024;
  lc.retention_ms = -1;
  lc.max_message_bytes = 64 * 1024 * 1024;
  auto log = logs.get_or_create(TopicPartition{"__cluster_metadata", 0}, lc);
  if (!log.ok()) return log.error();
  c->log_ = log.value();
  auto img = std::make_shared<MetadataImage>();
  img->set_cluster(cluster_id.value(), config.node_id());
  c->image_ = img;
  if (auto s = c->replay(); !s.ok()) return s.error();

  // Register this broker (again, when its endpoints or rack changed since the last start).
  std::vector<Endpoint> endpoints;
  for (const auto& l : config.advertised_listeners()) endpoints.push_back({l.name, l.host, l.port});
  std::optional<std::string> rack;
  if (config.raw("broker.rack")) rack = config.get_string("broker.rack");
  const BrokerInfo* me = c->image_->broker(config.node_id());
  if (!me || me->endpoints != endpoints || me->rack != rack || me->fenced) {
    metadata::RegisterBrokerRecord r;
    r.broker_id = config.node_id();
    r.incarnation_id = Uuid::random();
    r.broker_epoch = c->image_->offset() + 1;
    for (const auto& e : endpoints) {
      metadata::RegisterBrokerRecord::BrokerEndpoint be;
      be.name = e.listener;
      be.host = e.host;
      be.port = e.port;
      be.security_protocol = 0;  // PLAINTEXT
      r.end_points.push_back(std::move(be));
    }
    r.rack = rack;
    r.fenced = false;  // a lone broker is its own controller: nothing to catch up with
    Pending p;
    p.records.push_back(std::move(r));
    std::lock_guard lk(c->mu_);
    if (auto s = c->commit(p); !s.ok()) return s.error();
  }
  return c;
}

Controller::~Controller() = default;

Status Controller::replay() {
  auto img = std::make_shared<MetadataImage>(*image_);
  Offset next = log_->log_start_offset();
  Offset end = log_->log_end_offset();
  int64_t applied = 0;
  std::vector<uint8_t> buf;
  while (next < end) {
    auto rr = log_->read(next, 1 << 20, end, true);
    if (!rr.ok()) return rr.error();
    if (!rr->slice) break;
    buf.resize(static_cast<size_t>(rr->slice->size));
    if (::pread(rr->slice->fd, buf.data(), buf.size(), rr->slice->position) != static_cast<ssize_t>(buf.size()))
      return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot read the metadata log");
    size_t pos = 0;
    while (pos + batch::kHeaderSize <= buf.size()) {
      auto h = read_batch_header(std::span<const uint8_t>(buf).subspan(pos));
      if (!h.ok()) return h.error();
      Status bad;
      auto s = for_each_record(std::span<const uint8_t>(buf).subspan(pos, h->total_size()), [&](const RecordView& rv) {
        auto rec = rv.value ? decode(*rv.value) : std::nullopt;
        if (!rec) {
          bad = Status(ErrorCode::CORRUPT_MESSAGE, "undecodable metadata record at offset " + std::to_string(rv.offset));
          return;
        }
        apply_record(*img, *rec);
        img->set_offset(rv.offset);
        ++applied;
      });
      if (!s.ok()) return s;
      if (!bad.ok()) return bad;
      next = Offset(h->last_offset() + 1);
      pos += static_cast<size_t>(h->total_size());
    }
  }
  image_ = img;
  spdlog::info("metadata log replayed: {} records, {} topics", applied, img->topics().size());
  return {};
}

Status Controller::commit(Pending& p) {
  if (p.records.empty()) return {};
  RecordBatchBuilder b;
  int64_t ts = now_ms();
  for (const auto& r : p.records) b.add(std::nullopt, encode(r), ts);
  auto bytes = b.build();
  auto info = log_->append(bytes, 0);
  if (!info.ok()) return info.error();
  // Metadata is durable before anyone is told about it.
  if (auto s = log_->flush(); !s.ok()) return s;
  auto before = image();
  auto next = std::make_shared<MetadataImage>(*before);
  for (const auto& r : p.records) apply_record(*next, r);
  next->set_offset(info->last_offset.value());
  {
    std::lock_guard lk(image_mu_);
    image_ = next;
  }
  for (const auto& l : listeners_) l(*before, *next);
  return {};
}

std::shared_ptr<const MetadataImage> Controller::image() const {
  std::lock_guard lk(image_mu_);
  return image_;
}

void Controller::subscribe(Listener listener) {
  std::lock_guard lk(mu_);
  MetadataImage empty;
  listener(empty, *image());
  listeners_.push_back(std::move(listener));
}

std::vector<CreateTopicResult> Controller::create_topics(const std::vector<CreateTopicSpec>& specs, bool validate_only) {
  std::lock_guard lk(mu_);
  auto img = image();
  std::vector<CreateTopicResult> results;
  Pending p;
  std::vector<int32_t> live;
  for (const BrokerInfo* b : img->brokers())
    if (!b->fenced) live.push_back(b->id);
  std::set<std::string> in_this_request;
  for (const auto& spec : specs) {
    CreateTopicResult r;
    r.name = spec.name;
    auto fail = [&](ErrorCode code, std::string msg) {
      r.error = code;
      r.message = std::move(msg);
      results.push_back(r);
    };
    if (auto s = validate_topic_name(spec.name); !s.ok()) {
      fail(s.code(), s.error().message);
      continue;
    }
    if (img->topic(spec.name) || in_this_request.count(spec.name)) {
      fail(ErrorCode::TOPIC_ALREADY_EXISTS, "Topic '" + spec.name + "' already exists.");
      continue;
    }
    if (!spec.assignments.empty() && (spec.num_partitions != -1 || spec.replication_factor != -1)) {
      fail(ErrorCode::INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set.");
      continue;
    }
    int32_t partitions = spec.num_partitions == -1 ? config_.get_int("num.partitions") : spec.num_partitions;
    int32_t rf = spec.replication_factor == -1 ? config_.get_int("default.replication.factor") : spec.replication_factor;
    if (!spec.assignments.empty()) {
      partitions = static_cast<int32_t>(spec.assignments.size());
      rf = static_cast<int32_t>(spec.assignments.begin()->second.size());
    }
    if (partitions <= 0 || partitions > kMaxPartitions) {
      fail(ErrorCode::INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.");
      continue;
    }
    if (rf <= 0) {
      fail(ErrorCode::INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.");
      continue;
    }
    if (rf > static_cast<int32_t>(live.size())) {
      fail(ErrorCode::INVALID_REPLICATION_FACTOR,
           "Unable to replicate the partition " + std::to_string(rf) + " time(s): The target replication factor of " +
               std::to_string(rf) + " cannot be reached because only " + std::to_string(live.size()) +
               " broker(s) are registered.");
      continue;
    }
    bool bad_assignment = false;
    for (int32_t i = 0; i < partitions && !spec.assignments.empty(); ++i) {
      auto it = spec.assignments.find(i);
      if (it == spec.assignments.end() || static_cast<int32_t>(it->second.size()) != rf) bad_assignment = true;
      else
        for (int32_t b : it->second)
          if (std::find(live.begin(), live.end(), b) == live.end() ||
              std::count(it->second.begin(), it->second.end(), b) > 1)
            bad_assignment = true;
    }
    if (bad_assignment) {
      fail(ErrorCode::INVALID_REPLICA_ASSIGNMENT, "Invalid replica assignment for topic " + spec.name);
      continue;
    }
    auto tc = config::TopicConfig::make(config_, spec.configs);
    if (!tc.ok()) {
      fail(tc.code(), tc.error().message);
      continue;
    }
    r.num_partitions = partitions;
    r.replication_factor = static_cast<int16_t>(rf);
    r.configs = tc->all();
    in_this_request.insert(spec.name);
    if (validate_only) {
      results.push_back(r);
      continue;
    }
    r.topic_id = Uuid::random();
    metadata::TopicRecord tr;
    tr.name = spec.name;
    tr.topic_id = r.topic_id;
    p.records.push_back(tr);
    for (const auto& [k, v] : spec.configs) {
      metadata::ConfigRecord cr;
      cr.resource_type = kTopicResource;
      cr.resource_name = spec.name;
      cr.name = k;
      cr.value = v;
      p.records.push_back(cr);
    }
    for (int32_t i = 0; i < partitions; ++i) {
      metadata::PartitionRecord pr;
      pr.partition_id = i;
      pr.topic_id = r.topic_id;
      if (!spec.assignments.empty()) {
        pr.replicas = spec.assignments.at(i);
      } else {
        // Replicas round-robin over the live brokers from a rotating start; leader = first.
        int32_t start = next_placement_++;
        for (int32_t k = 0; k < rf; ++k) pr.replicas.push_back(live[(start + k) % live.size()]);
      }
      pr.isr = pr.replicas;
      pr.leader = pr.replicas.front();
      pr.leader_epoch = 0;
      pr.partition_epoch = 0;
      p.records.push_back(pr);
    }
    results.push_back(r);
  }
  if (auto s = commit(p); !s.ok()) {
    spdlog::error("metadata log append failed: {}", s.error().message);
    for (auto& r : results)
      if (r.error == ErrorCode::NONE && !validate_only) {
        r.error = ErrorCode::KAFKA_STORAGE_ERROR;
        r.message = s.error().message;
      }
  }
  return results;
}

std::vector<DeleteTopicResult> Controller::delete_topics(const std::vector<std::string>& names, const std::vector<Uuid>& ids) {
  std::lock_guard lk(mu_);
  auto img = image();
  std::vector<DeleteTopicResult> results;
  Pending p;
  std::set<Uuid> removing;
  bool enabled = config_.get_bool("delete.topic.enable");
  auto one = [&](const TopicInfo* t, DeleteTopicResult r, ErrorCode missing) {
    if (!enabled) {
      r.error = ErrorCode::TOPIC_DELETION_DISABLED;
      r.message = "Topic deletion is disabled.";
    } else if (!t) {
      r.error = missing;
      r.message = missing == ErrorCode::UNKNOWN_TOPIC_ID ? "This server does not host this topic ID."
                                                        : "This server does not host this topic-partition.";
    } else {
      r.name = t->name;
      r.topic_id = t->id;
      if (removing.insert(t->id).second) {
        metadata::RemoveTopicRecord rr;
        rr.topic_id = t->id;
        p.records.push_back(rr);
      }
    }
    results.push_back(std::move(r));
  };
  for (const auto& n : names) {
    DeleteTopicResult r;
    r.name = n;
    one(img->topic(n), r, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  }
  for (const auto& id : ids) {
    DeleteTopicResult r;
    r.topic_id = id;
    one(img->topic(id), r, ErrorCode::UNKNOWN_TOPIC_ID);
  }
  if (auto s = commit(p); !s.ok()) {
    for (auto& r : results)
      if (r.error == ErrorCode::NONE) {
        r.error = ErrorCode::KAFKA_STORAGE_ERROR;
        r.message = s.error().message;
      }
  }
  for (const auto& r : results)
    if (r.error == ErrorCode::NONE) spdlog::info("deleted topic {} ({})", r.name, r.topic_id.to_string());
  return results;
}

}  // namespace kb::controller
