#include "controller/controller.h"

#include <algorithm>
#include <limits>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include <chrono>

#include "config/parse.h"
#include "config/settings.h"
#include "controller/partition_cap.h"
#include "runtime/clock.h"
#include "runtime/loop_thread.h"

namespace kb::controller {

namespace {

constexpr size_t kMaxTopicNameLength = 249;
constexpr int64_t kMaintenanceIntervalMs = 100;
// metadata.version written at bootstrap: 3.3-IV3 (level 7). kbroker reads and writes the
// directory fields of KIP-858 (Kafka's 3.7-IV2) whatever the level: its own readers know them.
constexpr const char* kMetadataVersionFeature = "metadata.version";
constexpr int16_t kMetadataVersionLevel = 7;

std::string invalid_name(std::string_view why) { return "Topic name is invalid: " + std::string(why); }

// Java's String.length(): UTF-16 code units, which is what Kafka's 249 limit counts.
size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    n += c >= 0xF0 ? 2 : 1;            // 4-byte sequences are surrogate pairs
  }
  return n;
}

bool has_collision_chars(std::string_view name) { return name.find_first_of("._") != std::string_view::npos; }
std::string unify_collision_chars(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}


// The brokers replicas may go to, by id: usable = registered and not shutting down.
struct Brokers {
  std::vector<int32_t> usable, unfenced;
};

// The brokers new replicas may go to (not in controlled shutdown), in placement order: by id,
// or, when brokers have racks (broker.rack), taking one broker of each rack in turn, so that
// consecutive brokers — the replicas of one partition — sit in different racks.
Brokers placement_brokers(const MetadataImage& img) {
  std::map<std::string, std::vector<int32_t>> by_rack;  // "" for brokers without a rack
  for (const BrokerInfo* b : img.brokers())
    if (!b->in_controlled_shutdown) by_rack[b->rack.value_or("")].push_back(b->id);
  std::vector<int32_t> order;
  for (size_t round = 0;; ++round) {
    bool any = false;
    for (const auto& [rack, ids] : by_rack)
      if (round < ids.size()) {
        order.push_back(ids[round]);
        any = true;
      }
    if (!any) break;
  }
  Brokers out;
  for (int32_t id : order) {
    out.usable.push_back(id);
    if (!img.broker(id)->fenced) out.unfenced.push_back(id);
  }
  return out;
}

// Like Kafka's StripedReplicaPlacer: the leader rotates over the unfenced brokers
// (`next_leader` advances), followers are the next usable brokers in placement order after
// it (other racks first, see placement_brokers), unfenced ones first. Errors carry Kafka's
// messages.
Result<std::vector<int32_t>> place(const Brokers& brokers, int32_t replication_factor, uint32_t& next_leader) {
  if (replication_factor <= 0)
    return Error{ErrorCode::INVALID_REPLICATION_FACTOR, "Invalid replication factor " +
                                                            std::to_string(replication_factor) +
                                                            ": the replication factor must be positive."};
  if (brokers.unfenced.empty()) return Error{ErrorCode::INVALID_REPLICATION_FACTOR, "All brokers are currently fenced."};
  if (replication_factor > static_cast<int32_t>(brokers.usable.size()))
    return Error{ErrorCode::INVALID_REPLICATION_FACTOR,
                 "The target replication factor of " + std::to_string(replication_factor) +
                     " cannot be reached because only " + std::to_string(brokers.usable.size()) +
                     " broker(s) are registered."};
  const auto& usable = brokers.usable;
  const int32_t leader = brokers.unfenced[next_leader++ % brokers.unfenced.size()];
  std::vector<int32_t> replicas{leader};
  const size_t at = static_cast<size_t>(std::find(usable.begin(), usable.end(), leader) - usable.begin());
  for (bool want_fenced : {false, true}) {
    for (size_t k = 1; k < usable.size() && static_cast<int32_t>(replicas.size()) < replication_factor; ++k) {
      int32_t b = usable[(at + k) % usable.size()];
      bool fenced = std::find(brokers.unfenced.begin(), brokers.unfenced.end(), b) == brokers.unfenced.end();
      if (fenced == want_fenced) replicas.push_back(b);
    }
  }
  return replicas;
}

}  // namespace

int16_t security_protocol_id(std::string_view name) {
  if (name == "SSL") return 1;
  if (name == "SASL_PLAINTEXT") return 2;
  if (name == "SASL_SSL") return 3;
  return 0;  // PLAINTEXT
}

Status validate_topic_name(std::string_view name) {
  auto bad = [](std::string why) { return Status(ErrorCode::INVALID_TOPIC_EXCEPTION, invalid_name(why)); };
  if (name.empty()) return bad("the empty string is not allowed");
  if (name == ".") return bad("'.' is not allowed");
  if (name == "..") return bad("'..' is not allowed");
  if (utf16_length(name) > kMaxTopicNameLength)
    return bad("the length of '" + std::string(name) + "' is longer than the max allowed length " +
               std::to_string(kMaxTopicNameLength));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok)
      return bad("'" + std::string(name) +
                 "' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'");
  }
  return {};
}

Controller::Controller(const config::BrokerConfig& config, std::unique_ptr<MetadataLog> log)
    : config_(config), log_(std::move(log)) {
  // Placement starts at a random broker so that single-partition topics spread over brokers
  // that restart often.
  next_leader_ = static_cast<uint32_t>(std::random_device{}());
}

Controller::~Controller() {
  if (maintenance_) maintenance_->stop(runtime::LoopThread::kNoDeadline);
}

Result<std::unique_ptr<Controller>> Controller::open(const config::BrokerConfig& config,
                                                     std::unique_ptr<MetadataLog> log, std::string cluster_id) {
  std::unique_ptr<Controller> c(new Controller(config, std::move(log)));
  auto img = std::make_shared<MetadataImage>();
  img->set_cluster(std::move(cluster_id), -1);
  c->image_ = std::move(img);
  c->maintenance_ = std::make_unique<runtime::LoopThread>("kb-ctl-maint");
  c->schedule_maintenance();
  return c;
}

void Controller::schedule_maintenance() {
  maintenance_->after_ms(kMaintenanceIntervalMs, [this] {
    if (active()) maintain(runtime::now_ms());
    schedule_maintenance();
  });
}

void Controller::apply_committed(const MetadataBatch& batch) {
  std::lock_guard lk(apply_mu_);
  auto before = image();
  auto next = std::make_shared<MetadataImage>(*before);
  for (const auto& r : batch.records) {
    if (auto s = next->apply(r); !s.ok()) {
      // Every node applies the same batches: a refusal here is a kbroker bug, and applying
      // part of the batch would leave this node's image unlike everyone else's.
      spdlog::error("committed metadata batch at offset {} refused by the image ({}): {}; skipped",
                    batch.base_offset, record_name(r), s.error().message);
      mark_published(batch.last_offset);
      return;
    }
  }
  next->set_offset(batch.last_offset);
  std::shared_ptr<const MetadataImage> after = std::move(next);
  publish(MetadataDelta(before, after, batch.records));
}

std::optional<std::vector<std::vector<uint8_t>>> Controller::snapshot_batches(int64_t last_offset) const {
  auto img = image();
  if (img->offset() != last_offset) return std::nullopt;
  // Batches of a bounded size, so a snapshot of a large cluster is not one huge batch.
  constexpr size_t kRecordsPerBatch = 1000;
  std::vector<MetadataRecord> records = img->to_records();
  std::vector<std::vector<uint8_t>> batches;
  for (size_t at = 0; at < records.size(); at += kRecordsPerBatch) {
    std::vector<MetadataRecord> part(records.begin() + static_cast<std::ptrdiff_t>(at),
                                     records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), at + kRecordsPerBatch)));
    batches.push_back(encode_metadata_batch(part));
  }
  return batches;
}

void Controller::load_snapshot(const std::vector<MetadataBatch>& batches, int64_t last_offset) {
  std::lock_guard lk(apply_mu_);
  auto before = image();
  auto next = std::make_shared<MetadataImage>();
  next->set_cluster(before->cluster_id(), before->controller_id());
  size_t records = 0;
  for (const auto& batch : batches)
    for (const auto& r : batch.records) {
      if (auto s = next->apply(r); !s.ok()) {
        spdlog::error("metadata snapshot at offset {} refused by the image ({}): {}; not loaded", last_offset,
                      record_name(r), s.error().message);
        return;
      }
      ++records;
    }
  next->set_offset(last_offset);
  spdlog::info("metadata image loaded from a snapshot at offset {}: {} records, {} topics, {} brokers", last_offset,
               records, next->topic_count(), next->brokers().size());
  publish(MetadataDelta::between(before, std::move(next)));
}

void Controller::publish(const MetadataDelta& delta) {
  {
    std::lock_guard lk(image_mu_);
    image_ = delta.after_ptr();
  }
  applied_cv_.notify_all();
  for (const auto& l : listeners_) l(delta);
  mark_published(delta.after().offset());
}

void Controller::mark_published(int64_t offset) {
  {
    std::lock_guard lk(image_mu_);
    published_offset_ = std::max(published_offset_, offset);
  }
  applied_cv_.notify_all();
}

MetadataRecord Controller::bootstrap_feature_record() {
  metadata::FeatureLevelRecord f;
  f.name = kMetadataVersionFeature;
  f.feature_level = kMetadataVersionLevel;
  return f;
}

Status Controller::commit(std::vector<MetadataRecord> records) {
  if (!failed_.ok()) return failed_;
  if (auto s = failure(); !s.ok()) return s;
  if (!active_.load()) return Status(ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
  if (records.empty()) return {};
  auto before = image();
  auto next = std::make_shared<MetadataImage>(*before);
  for (const auto& r : records) {
    // The controller builds records from this very image, so a refusal is a kbroker bug;
    // nothing has been written yet, and nothing will be.
    if (auto s = next->apply(r); !s.ok()) {
      spdlog::error("metadata record {} refused by the image: {}", record_name(r), s.error().message);
      return Status(ErrorCode::UNKNOWN_SERVER_ERROR, "metadata record refused: " + s.error().message);
    }
  }
  auto last = log_->append(records);
  if (!last.ok()) {
    if (last.code() == ErrorCode::NOT_CONTROLLER || last.code() == ErrorCode::REQUEST_TIMED_OUT)
      return last.error();  // leadership moved (or the quorum is slow): the caller retries
    // The batch may or may not be on disk: the image can no longer be trusted to match the
    // log, so stop writing until a restart replays what survived.
    failed_ = Status(ErrorCode::KAFKA_STORAGE_ERROR, "the metadata log failed: " + last.error().message);
    spdlog::error("{}; refusing metadata changes until restart", failed_.error().message);
    return failed_;
  }
  // The quorum applies committed batches on its own thread: the next writer must see this one,
  // and the answer waits for this node's listeners too (a deleted topic's files are gone, a
  // created one's replicas exist here when the client hears of it, as before the quorum).
  std::unique_lock lk(image_mu_);
  if (!applied_cv_.wait_for(lk, std::chrono::seconds(10),
                            [&] { return published_offset_ >= last.value() || !apply_failed_.ok(); }))
    return Status(ErrorCode::REQUEST_TIMED_OUT, "the committed metadata change was not applied in time");
  return apply_failed_;
}

void Controller::fail_apply(Status why) {
  spdlog::critical("metadata image stops following the log: {}", why.error().message);
  {
    std::lock_guard lk(image_mu_);
    if (apply_failed_.ok()) apply_failed_ = std::move(why);
  }
  applied_cv_.notify_all();
}

Status Controller::failure() const {
  std::lock_guard lk(image_mu_);
  return apply_failed_;
}

std::shared_ptr<const MetadataImage> Controller::image() const {
  std::lock_guard lk(image_mu_);
  return image_;
}

void Controller::subscribe(Listener listener) {
  std::lock_guard lk(apply_mu_);
  auto current = image();
  auto empty = std::make_shared<MetadataImage>();
  empty->set_cluster(current->cluster_id(), current->controller_id());
  listener(MetadataDelta::between(std::move(empty), current));
  listeners_.push_back(std::move(listener));
}

std::vector<CreateTopicResult> Controller::create_topics(const std::vector<CreateTopicSpec>& specs,
                                                         bool validate_only) {
  std::lock_guard lk(mu_);
  if (!active_.load()) {
    // A standby answers as Kafka's brokers do when they are not the controller: the client
    // looks the controller up again and retries there.
    std::vector<CreateTopicResult> results(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      results[i].name = specs[i].name;
      results[i].error = ErrorCode::NOT_CONTROLLER;
      results[i].message = kNotControllerMessage;
    }
    return results;
  }
  auto img = image();
  auto active = [&](int32_t id) {
    const BrokerInfo* b = img->broker(id);
    return b && !b->fenced && !b->in_controlled_shutdown;
  };
  Brokers brokers = placement_brokers(*img);
  // Existing topics by their name with '.' as '_' (only those that have either).
  std::map<std::string, std::string> colliding;
  for (const TopicInfo* t : img->topics())
    if (has_collision_chars(t->name)) colliding.emplace(unify_collision_chars(t->name), t->name);

  // Topic defaults follow the dynamic broker configs (CreateTopics v5+ answers them).
  const config::BrokerConfig effective = effective_config(*img);
  std::vector<CreateTopicResult> results;
  std::vector<MetadataRecord> records;
  std::set<std::string> in_request;
  bool too_many_records = false;
  PartitionCap cap(config_, *img);
  for (const auto& spec : specs) {
    CreateTopicResult& r = results.emplace_back();
    r.name = spec.name;
    auto fail = [&](ErrorCode code, std::string message) {
      r.error = code;
      r.message = std::move(message);
    };
    if (auto s = validate_topic_name(spec.name); !s.ok()) {
      fail(s.code(), s.error().message);
      continue;
    }
    if (spec.name == kMetadataTopic) {
      fail(ErrorCode::INVALID_REQUEST, "Creation of internal topic " + std::string(kMetadataTopic) + " is prohibited.");
      continue;
    }
    if (img->topic(spec.name) || in_request.count(spec.name)) {
      fail(ErrorCode::TOPIC_ALREADY_EXISTS, "Topic '" + spec.name + "' already exists.");
      continue;
    }
    // Metric names turn '.' into '_', so Kafka refuses a topic that would share its metrics.
    // Topics created earlier in this request count too (Kafka checks only existing ones).
    if (has_collision_chars(spec.name)) {
      auto it = colliding.find(unify_collision_chars(spec.name));
      if (it != colliding.end()) {
        fail(ErrorCode::INVALID_TOPIC_EXCEPTION, "Topic '" + spec.name + "' collides with existing topic: " + it->second);
        continue;
      }
    }
    auto tc = config::TopicConfig::make(effective, spec.configs);
    if (!tc.ok()) {
      fail(ErrorCode::INVALID_CONFIG, tc.error().message);
      continue;
    }

    // Replicas of each partition; ISR = the active ones, leader = the first of those.
    std::vector<std::vector<int32_t>> replicas;
    if (!spec.assignments.empty()) {
      if (spec.replication_factor != -1) {
        fail(ErrorCode::INVALID_REQUEST,
             "A manual partition assignment was specified, but replication factor was not set to -1.");
        continue;
      }
      if (spec.num_partitions != -1) {
        fail(ErrorCode::INVALID_REQUEST,
             "A manual partition assignment was specified, but numPartitions was not set to -1.");
        continue;
      }
      std::string problem;
      for (const auto& [index, brokers] : spec.assignments) {
        std::string prefix = "The manual partition assignment includes ";
        if (brokers.empty()) {
          problem = prefix + "an empty replica list.";
          break;
        }
        std::vector<int32_t> sorted = brokers;
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < sorted.size() && problem.empty(); ++i) {
          if (!img->broker(sorted[i]))
            problem = prefix + "broker " + std::to_string(sorted[i]) + ", but no such broker is registered.";
          else if (i > 0 && sorted[i] == sorted[i - 1])
            problem = prefix + "the broker " + std::to_string(sorted[i]) + " more than once.";
        }
        if (problem.empty() && !replicas.empty() && brokers.size() != replicas.front().size())
          problem = prefix + "a partition with " + std::to_string(brokers.size()) +
                    " replica(s), but this is not consistent with previous partitions, which have " +
                    std::to_string(replicas.front().size()) + " replica(s).";
        if (problem.empty() && std::none_of(brokers.begin(), brokers.end(), active))
          problem = "All brokers specified in the manual partition assignment for partition " + std::to_string(index) +
                    " are fenced or in controlled shutdown.";
        if (!problem.empty()) break;
        replicas.push_back(brokers);
      }
      if (problem.empty()) {
        int32_t expected = 0;
        for (const auto& entry : spec.assignments)
          if (entry.first != expected++) problem = "partitions should be a consecutive 0-based integer sequence";
      }
      if (!problem.empty()) {
        fail(ErrorCode::INVALID_REPLICA_ASSIGNMENT, problem);
        continue;
      }
    } else {
      if (spec.replication_factor < -1 || spec.replication_factor == 0) {
        fail(ErrorCode::INVALID_REPLICATION_FACTOR,
             "Replication factor must be larger than 0, or -1 to use the default value.");
        continue;
      }
      if (spec.num_partitions < -1 || spec.num_partitions == 0) {
        fail(ErrorCode::INVALID_PARTITIONS, "Number of partitions was set to an invalid non-positive value.");
        continue;
      }
      const int32_t partitions =
          spec.num_partitions == -1 ? config_.settings().num_partitions : spec.num_partitions;
      const int32_t rf =
          spec.replication_factor == -1 ? config_.settings().default_replication_factor : spec.replication_factor;
      // A request Kafka would refuse as a whole for its size: stop building records now,
      // before a count like 2^31-1 turns into memory.
      if (records.size() + spec.configs.size() + 1 + static_cast<size_t>(partitions) > kMaxRecordsPerRequest) {
        too_many_records = true;
        break;
      }
      std::string problem;
      for (int32_t p = 0; p < partitions && problem.empty(); ++p) {
        auto placed = place(brokers, rf, next_leader_);
        if (!placed.ok()) problem = "Unable to replicate the partition " + std::to_string(rf) +
                                    " time(s): " + placed.error().message;
        else replicas.push_back(std::move(placed.value()));
      }
      if (!problem.empty()) {
        fail(ErrorCode::INVALID_REPLICATION_FACTOR, problem);
        continue;
      }
    }
    if (records.size() + spec.configs.size() + 1 + replicas.size() > kMaxRecordsPerRequest) {
      too_many_records = true;
      break;
    }
    if (auto over = cap.add(replicas)) {
      fail(ErrorCode::INVALID_PARTITIONS, *over);
      continue;
    }

    r.num_partitions = static_cast<int32_t>(replicas.size());
    r.replication_factor = static_cast<int16_t>(replicas.front().size());
    r.configs = tc->all();
    in_request.insert(spec.name);
    if (has_collision_chars(spec.name)) colliding.emplace(unify_collision_chars(spec.name), spec.name);
    if (!validate_only) r.topic_id = Uuid::random();

    // One topic: TopicRecord, its ConfigRecords, then its PartitionRecords (Kafka's order).
    metadata::TopicRecord tr;
    tr.name = spec.name;
    tr.topic_id = r.topic_id;
    records.push_back(std::move(tr));
    for (const auto& [name, value] : tc->overrides()) {
      metadata::ConfigRecord cr;
      cr.resource_type = static_cast<int8_t>(ConfigResourceType::kTopic);
      cr.resource_name = spec.name;
      cr.name = name;
      cr.value = value;
      records.push_back(std::move(cr));
    }
    for (size_t p = 0; p < replicas.size(); ++p) {
      metadata::PartitionRecord pr;
      pr.partition_id = static_cast<int32_t>(p);
      pr.topic_id = r.topic_id;
      pr.replicas = replicas[p];
      for (int32_t b : replicas[p])
        if (active(b)) pr.isr.push_back(b);
      pr.leader = pr.isr.front();
      pr.leader_epoch = 0;
      pr.partition_epoch = 0;
      for (int32_t b : replicas[p]) pr.directories.push_back(img->default_dir(b));
      records.push_back(std::move(pr));
    }
  }

  if (too_many_records) {
    // Kafka's BoundedList gives up on the whole request.
    results.resize(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      results[i] = CreateTopicResult{};
      results[i].name = specs[i].name;
      results[i].error = ErrorCode::POLICY_VIOLATION;
      results[i].message = "Unable to perform excessively large batch operation.";
    }
    return results;
  }
  if (validate_only) return results;
  if (auto s = commit(std::move(records)); !s.ok()) {
    for (auto& r : results) {
      if (r.error != ErrorCode::NONE) continue;
      r.error = s.code();
      r.message = s.error().message;
      r.topic_id = Uuid{};
    }
  }
  return results;
}

Status Controller::create_partitions(const std::string& topic, int32_t count,
                                     const std::optional<std::vector<std::vector<int32_t>>>& assignments,
                                     bool validate_only) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_;
  if (!active_.load()) return Status(ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
  auto img = image();
  const TopicInfo* t = img->topic(topic);
  if (!t) return Status(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.");
  // Groups and transactional ids are placed by a hash over the partition count: more
  // partitions would move them away from their stored state.
  if (t->internal)
    return Status(ErrorCode::INVALID_TOPIC_EXCEPTION, "Cannot add partitions to internal topic " + topic);
  const int32_t current = static_cast<int32_t>(t->partitions.size());
  if (count < current)
    return Status(ErrorCode::INVALID_PARTITIONS, "The topic " + topic + " currently has " + std::to_string(current) +
                                                     " partition(s); " + std::to_string(count) +
                                                     " would not be an increase.");
  if (count == current)
    return Status(ErrorCode::INVALID_PARTITIONS, "Topic already has " + std::to_string(current) + " partition(s).");
  const size_t adding = static_cast<size_t>(count - current);
  if (adding > kMaxRecordsPerRequest)
    return Status(ErrorCode::POLICY_VIOLATION, "Unable to perform excessively large batch operation.");
  const size_t rf = t->partitions.empty() ? 1 : t->partitions.front().replicas.size();
  auto active = [&](int32_t id) {
    const BrokerInfo* b = img->broker(id);
    return b && !b->fenced && !b->in_controlled_shutdown;
  };
  std::vector<std::vector<int32_t>> replicas;
  if (assignments) {
    if (assignments->size() != adding)
      return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    "Attempted to add " + std::to_string(adding) + " additional partition(s), but only " +
                        std::to_string(assignments->size()) + " assignment(s) were specified.");
    for (const auto& brokers : *assignments) {
      std::string prefix = "The manual partition assignment includes ";
      if (brokers.size() != rf)
        return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                      prefix + "a partition with " + std::to_string(brokers.size()) +
                          " replica(s), but this is not consistent with previous partitions, which have " +
                          std::to_string(rf) + " replica(s).");
      std::vector<int32_t> sorted = brokers;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (!img->broker(sorted[i]))
          return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        prefix + "broker " + std::to_string(sorted[i]) + ", but no such broker is registered.");
        if (i > 0 && sorted[i] == sorted[i - 1])
          return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                        prefix + "the broker " + std::to_string(sorted[i]) + " more than once.");
      }
      if (std::none_of(brokers.begin(), brokers.end(), active))
        return Status(ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                      "All brokers specified in the manual partition assignment are fenced or in controlled shutdown.");
      replicas.push_back(brokers);
    }
  } else {
    Brokers brokers = placement_brokers(*img);
    for (size_t p = 0; p < adding; ++p) {
      auto placed = place(brokers, static_cast<int32_t>(rf), next_leader_);
      if (!placed.ok())
        return Status(ErrorCode::INVALID_REPLICATION_FACTOR, "Unable to replicate the partition " + std::to_string(rf) +
                                                                 " time(s): " + placed.error().message);
      replicas.push_back(std::move(placed.value()));
    }
  }
  if (auto over = PartitionCap(config_, *img).add(replicas)) return Status(ErrorCode::INVALID_PARTITIONS, *over);
  if (validate_only) return {};
  std::vector<MetadataRecord> records;
  for (size_t i = 0; i < replicas.size(); ++i) {
    metadata::PartitionRecord pr;
    pr.partition_id = current + static_cast<int32_t>(i);
    pr.topic_id = t->id;
    pr.replicas = replicas[i];
    for (int32_t b : replicas[i])
      if (active(b)) pr.isr.push_back(b);
    pr.leader = pr.isr.front();
    for (int32_t b : replicas[i]) pr.directories.push_back(img->default_dir(b));
    records.push_back(std::move(pr));
  }
  return commit(std::move(records));
}

Status Controller::set_topic_configs(const std::string& topic, const std::map<std::string, std::string>& overrides,
                                     bool validate_only) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_;
  if (!active_.load()) return Status(ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
  const TopicInfo* t = image_->topic(topic);
  if (!t) return Status(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "Topic " + topic + " does not exist");
  auto tc = config::TopicConfig::make(effective_config(*image_), overrides);
  if (!tc.ok()) return tc.error();
  std::vector<MetadataRecord> records;
  auto record = [&](const std::string& name, std::optional<std::string> value) {
    metadata::ConfigRecord cr;
    cr.resource_type = static_cast<int8_t>(ConfigResourceType::kTopic);
    cr.resource_name = topic;
    cr.name = name;
    cr.value = std::move(value);
    records.push_back(std::move(cr));
  };
  for (const auto& [name, value] : tc->overrides()) {
    auto old = t->configs.find(name);
    if (old == t->configs.end() || old->second != value) record(name, value);
  }
  for (const auto& [name, value] : t->configs)
    if (!tc->overrides().count(name)) record(name, std::nullopt);
  if (validate_only || records.empty()) return {};
  return commit(std::move(records));
}

config::BrokerConfig Controller::effective_config(const MetadataImage& img) const {
  static const std::map<std::string, std::string> kNone;
  const auto* cluster_default = img.broker_configs("");
  const auto* mine = img.broker_configs(std::to_string(config_.node_id()));
  if (!cluster_default && !mine) return config_;
  auto c = config_.with_dynamic(cluster_default ? *cluster_default : kNone, mine ? *mine : kNone);
  return c.ok() ? std::move(c.value()) : config_;
}

Status Controller::alter_broker_configs(const std::string& resource, const ConfigEdit& edit, bool validate_only) {
  std::lock_guard lk(mu_);
  if (!failed_.ok()) return failed_;
  if (!active_.load()) return Status(ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
  // Kafka's ControllerConfigurationValidator: "" or a non-negative broker id; the broker need
  // not be registered (its configs may be set before it first starts).
  if (!resource.empty()) {
    auto id = config::detail::parse_long(resource);
    if (!id || *id > INT32_MAX || *id < INT32_MIN)
      return Status(ErrorCode::INVALID_REQUEST, "Unable to parse broker name " + resource);
    if (*id < 0) return Status(ErrorCode::INVALID_REQUEST, "Invalid negative broker ID.");
  }
  std::map<std::string, std::string> current;
  if (const auto* c = image_->broker_configs(resource)) current = *c;
  std::map<std::string, std::string> next = current;
  if (auto s = edit(next); !s.ok()) return s;
  if (auto s = config::check_dynamic_broker_configs(next); !s.ok()) return s;
  next = config::normalize_broker_configs(next);
  std::vector<MetadataRecord> records;
  auto record = [&](const std::string& name, std::optional<std::string> value) {
    metadata::ConfigRecord cr;
    cr.resource_type = static_cast<int8_t>(ConfigResourceType::kBroker);
    cr.resource_name = resource;
    cr.name = name;
    cr.value = std::move(value);
    records.push_back(std::move(cr));
  };
  // A listener's store setting is written again even unchanged: brokers reload a store whose
  // file changed when it is set again (Kafka, KAFKA-14136).
  for (const auto& [name, value] : next)
    if (auto old = current.find(name); old == current.end() || old->second != value ||
                                        config::dynamic_listener_property(name))
      record(name, value);
  for (const auto& [name, value] : current)
    if (!next.count(name)) record(name, std::nullopt);
  if (validate_only || records.empty()) return {};
  return commit(std::move(records));
}

std::vector<DeleteTopicResult> Controller::delete_topics(const std::vector<std::string>& names,
                                                         const std::vector<Uuid>& ids) {
  std::lock_guard lk(mu_);
  auto img = image();
  std::vector<DeleteTopicResult> results;
  auto add = [&](std::string name, Uuid id, ErrorCode code, std::string message) {
    DeleteTopicResult& r = results.emplace_back();
    r.name = std::move(name);
    r.topic_id = id;
    r.error = code;
    r.message = std::move(message);
    return results.size() - 1;
  };

  // Distinct names and ids in first-appearance order, and which were given more than once.
  std::vector<std::string> unique_names;
  std::map<std::string, int> name_count;
  for (const auto& n : names)
    if (name_count[n]++ == 0) unique_names.push_back(n);
  std::vector<Uuid> unique_ids;
  std::map<Uuid, int> id_count;
  for (const auto& id : ids)
    if (id_count[id]++ == 0) unique_ids.push_back(id);

  if (!active_.load()) {
    for (const auto& n : unique_names) add(n, Uuid{}, ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
    for (const auto& id : unique_ids) add("", id, ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
    return results;
  }
  if (!config_.settings().delete_topic_enable) {
    for (const auto& n : unique_names) add(n, Uuid{}, ErrorCode::TOPIC_DELETION_DISABLED, "Topic deletion is disabled.");
    for (const auto& id : unique_ids) add("", id, ErrorCode::TOPIC_DELETION_DISABLED, "Topic deletion is disabled.");
    return results;
  }

  // The coordinators' state would go with them (Kafka leaves this to ACLs and its tools).
  auto internal = [](const std::string& name) { return "Cannot delete internal topic " + name; };
  // Ids are resolved first, as in Kafka, so that a name naming the same topic as a supplied id
  // is refused (and then neither is deleted; the id gets no answer of its own).
  struct IdEntry {
    DeleteTopicResult result;
    const TopicInfo* topic = nullptr;  // set when it would be deleted
    bool dropped = false;
  };
  std::vector<IdEntry> id_entries;
  std::set<Uuid> duplicate_ids;
  for (const auto& id : unique_ids) {
    IdEntry& e = id_entries.emplace_back();
    e.result.topic_id = id;
    if (id.is_zero()) {
      e.result.error = ErrorCode::INVALID_REQUEST;
      e.result.message = "Neither topic name nor id were specified.";
    } else if (id_count[id] > 1) {
      duplicate_ids.insert(id);
      e.result.error = ErrorCode::INVALID_REQUEST;
      e.result.message = "Duplicate topic id.";
    } else if ((e.topic = img->topic(id))) {
      e.result.name = e.topic->name;
      if (e.topic->internal) {
        e.result.error = ErrorCode::INVALID_TOPIC_EXCEPTION;
        e.result.message = internal(e.topic->name);
        e.topic = nullptr;
      }
    } else {
      e.result.error = ErrorCode::UNKNOWN_TOPIC_ID;
      e.result.message = "This server does not host this topic ID.";
    }
  }
  std::vector<std::pair<size_t, const TopicInfo*>> to_delete;  // index in results, topic
  for (const auto& n : unique_names) {
    if (name_count[n] > 1) {
      add(n, Uuid{}, ErrorCode::INVALID_REQUEST, "Duplicate topic name.");
      continue;
    }
    const TopicInfo* t = img->topic(n);
    if (!t) {
      add(n, Uuid{}, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.");
      continue;
    }
    if (t->internal) {
      add(n, t->id, ErrorCode::INVALID_TOPIC_EXCEPTION, internal(n));
      continue;
    }
    bool id_supplied = duplicate_ids.count(t->id) > 0;
    for (auto& e : id_entries) {
      if (e.topic == t) {
        e.dropped = true;
        id_supplied = true;
      }
    }
    if (id_supplied) {
      add(n, t->id, ErrorCode::INVALID_REQUEST, "The provided topic name maps to an ID that was already supplied.");
      continue;
    }
    to_delete.emplace_back(add(n, t->id, ErrorCode::NONE, ""), t);
  }
  for (auto& e : id_entries) {
    if (e.dropped) continue;
    results.push_back(std::move(e.result));
    if (e.topic) to_delete.emplace_back(results.size() - 1, e.topic);
  }

  std::vector<MetadataRecord> records;
  for (const auto& [index, topic] : to_delete) {
    metadata::RemoveTopicRecord rr;
    rr.topic_id = topic->id;
    records.push_back(std::move(rr));
  }
  if (records.size() > kMaxRecordsPerRequest) {
    for (auto& r : results) {
      r.error = ErrorCode::POLICY_VIOLATION;
      r.message = "Unable to perform excessively large batch operation.";
    }
    return results;
  }
  if (auto s = commit(std::move(records)); !s.ok()) {
    for (const auto& [index, topic] : to_delete) {
      results[index].error = s.code();
      results[index].message = s.error().message;
    }
    return results;
  }
  for (const auto& [index, topic] : to_delete)
    spdlog::debug("removed topic {} ({}) from the metadata", topic->name, topic->id.to_string());
  return results;
}

Result<ProducerIdBlock> Controller::allocate_producer_ids(int32_t broker_id, int64_t broker_epoch) {
  std::lock_guard lk(mu_);
  auto img = image();
  const BrokerInfo* b = img->broker(broker_id);
  if (!b) return Error{ErrorCode::BROKER_ID_NOT_REGISTERED, "Broker ID " + std::to_string(broker_id) +
                                                                 " is not currently registered"};
  if (broker_epoch != -1 && broker_epoch != b->epoch)
    return Error{ErrorCode::STALE_BROKER_EPOCH, "Expected broker epoch " + std::to_string(b->epoch) +
                                                     ", but got broker epoch " + std::to_string(broker_epoch)};
  const int64_t first = img->next_producer_id();
  if (first > std::numeric_limits<int64_t>::max() - kProducerIdBlockSize)
    return Error{ErrorCode::UNKNOWN_SERVER_ERROR,
                 "Exhausted all producerIds as the next block's end producerId has exceeded the int64 type limit"};
  metadata::ProducerIdsRecord r;
  r.broker_id = broker_id;
  r.broker_epoch = b->epoch;
  r.next_producer_id = first + kProducerIdBlockSize;
  std::vector<MetadataRecord> records;
  records.push_back(std::move(r));
  if (auto s = commit(std::move(records)); !s.ok()) return s.error();
  return ProducerIdBlock{broker_id, first, kProducerIdBlockSize};
}

}  // namespace kb::controller
