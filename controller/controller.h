// The built-in controller (KRaft's QuorumController): validates topic, partition, config,
// reassignment and producer-id requests, turns them into metadata records, appends them to the
// metadata log (the Raft quorum's, a quorum of one on a lone broker) and, once committed,
// applies them to the metadata image and tells listeners. Every node applies every committed
// batch (apply_committed); only the active controller (the quorum's leader, once its epoch is
// applied here) writes.
//
// Owner: the Broker (server/), created after the LogManager and destroyed before it.
// Thread-safety: writers (create_topics, delete_topics, allocate_producer_ids, ...) may be
// called from any thread but never a network thread: they are serialized by one mutex and
// block until the quorum committed and this node applied their batch. image() is a
// brief-locked pointer copy from any thread. Listeners run on the quorum's apply thread, in
// log order: they must not call the writers. maintain() runs every 100 ms on a LoopThread of
// the controller's own (`kb-ctl-maint`), stopped (the pass in progress finished) by the
// destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "controller/metadata_delta.h"
#include "controller/metadata_image.h"
#include "controller/metadata_log.h"
#include "security/acl.h"
#include "storage/log_manager.h"

namespace kb::runtime {
class LoopThread;
}

namespace kb::controller {

struct CreateTopicSpec {
  std::string name;
  int32_t num_partitions = -1;     // -1: num.partitions
  int16_t replication_factor = -1;  // -1: default.replication.factor
  // Manual placement: partition -> replicas (first = preferred leader). When given,
  // num_partitions and replication_factor must be -1.
  std::map<int32_t, std::vector<int32_t>> assignments;
  std::map<std::string, std::string> configs;  // topic config overrides
};

struct CreateTopicResult {
  std::string name;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  Uuid topic_id;  // zero for validate_only
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
  std::map<std::string, std::string> configs;  // every topic config's effective value (CreateTopics v5+)
};

struct DeleteTopicResult {
  std::string name;  // empty when the topic was named by an id that matches no topic
  Uuid topic_id;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};

// A block of producer ids handed to one broker (Kafka's AllocateProducerIds): ids
// first .. first + size - 1 are this broker's to give to InitProducerId callers.
struct ProducerIdBlock {
  int32_t broker_id = -1;
  int64_t first = 0;
  int32_t size = 0;
};

// A broker's BrokerRegistration (cluster mode).
struct BrokerRegistration {
  int32_t id = -1;
  Uuid incarnation_id;
  std::vector<Endpoint> endpoints;
  std::vector<int16_t> security_protocols;  // per endpoint, Kafka's ids
  std::optional<std::string> rack;
  // The ids (meta.properties' directory.id) of the log dirs online at registration (v2+).
  std::vector<Uuid> log_dirs;
};

// One replica of AssignReplicasToDirs: the broker's replica of the partition lives in `dir`.
struct DirAssignment {
  Uuid dir;
  Uuid topic_id;
  int32_t partition = -1;
};

struct HeartbeatResult {
  ErrorCode error = ErrorCode::NONE;
  bool caught_up = false;
  bool fenced = true;
  bool should_shut_down = false;
};

// One partition of an AlterPartition request: the leader's proposed ISR.
struct IsrChange {
  Uuid topic_id;
  int32_t partition = -1;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  std::vector<int32_t> new_isr;
};
struct IsrChangeResult {
  ErrorCode error = ErrorCode::NONE;
  int32_t leader = -1, leader_epoch = -1, partition_epoch = -1;
  std::vector<int32_t> isr;
};

// ElectLeaders and partition reassignments (defined in cluster_control.cc).
// Kafka's ElectionType ids, as ElectLeaders v1+ carries them.
enum class ElectionType : int8_t { kPreferred = 0, kUnclean = 1 };
// Some partitions of one topic, as ElectLeaders and ListPartitionReassignments name them.
struct PartitionSelection {
  std::string topic;
  std::vector<int32_t> partitions;
};
// The outcome for one partition of ElectLeaders or AlterPartitionReassignments; an empty
// message is a null one on the wire.
struct PartitionResult {
  std::string topic;
  int32_t partition = -1;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};
// One partition of AlterPartitionReassignments: its target replicas, or none to cancel.
struct ReassignmentTarget {
  std::string topic;
  int32_t partition = -1;
  std::optional<std::vector<int32_t>> replicas;
};
// A partition being reassigned (ListPartitionReassignments): replicas is the union of the
// target and the replicas being removed.
struct OngoingReassignment {
  std::string topic;
  int32_t partition = -1;
  std::vector<int32_t> replicas, adding, removing;
};

// One entry of AlterClientQuotas: an entity and the quota keys to set or remove on it.
struct ClientQuotaOp {
  std::string key;
  double value = 0;
  bool remove = false;
};
struct ClientQuotaAlteration {
  std::vector<QuotaEntityPart> entity;
  std::vector<ClientQuotaOp> ops;
};
// AlterUserScramCredentials entries (salted_password is Hi(password, salt, iterations): the
// client never sends the password itself), and the answer per user.
struct ScramDeletion {
  std::string user;
  int8_t mechanism = 0;
};
struct ScramUpsertion {
  std::string user;
  int8_t mechanism = 0;
  int32_t iterations = 0;
  std::string salt, salted_password;
};
struct ScramAlterResult {
  std::string user;
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};
// One DeleteAcls filter's outcome: the ACLs it matched (and removed), or why it failed.
struct AclDeleteResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  std::vector<security::AclBinding> deleted;
};

// Kafka's SecurityProtocol ids (PLAINTEXT 0, SSL 1, SASL_PLAINTEXT 2, SASL_SSL 3), as
// registrations carry them.
int16_t security_protocol_id(std::string_view name);

// Kafka's Topic.validate: 1..249 characters of [a-zA-Z0-9._-], not "." or "..";
// INVALID_TOPIC_EXCEPTION with Kafka's message otherwise.
Status validate_topic_name(std::string_view name);

class Controller {
 public:
  // Told every published change, as a delta (its images before and after included).
  using Listener = std::function<void(const MetadataDelta& delta)>;

  // The metadata log's topic: clients may not create it (INVALID_REQUEST), since its log
  // shares the data log directory.
  static constexpr const char* kMetadataTopic = kMetadataLogTopic;
  // Producer ids per AllocateProducerIds block (Kafka's ProducerIdManager block size).
  static constexpr int32_t kProducerIdBlockSize = 1000;
  // What a standby controller answers writes with (Kafka's NotControllerException message).
  static constexpr const char* kNotControllerMessage = "This is not the correct controller for this cluster.";
  // Most records one request may turn into (Kafka's MAX_RECORDS_PER_USER_OP); beyond it
  // Kafka refuses the whole request with POLICY_VIOLATION.
  static constexpr size_t kMaxRecordsPerRequest = 10000;

  // A controller over `log` (the quorum's, which delivers every committed batch to
  // apply_committed on every node, leader or not; tests use a log that commits at once).
  // Nothing is replayed here: the quorum delivers the log from its start (or a snapshot), and
  // this broker registers with the active controller like any other (BrokerLifecycle).
  static Result<std::unique_ptr<Controller>> open(const config::BrokerConfig& config,
                                                  std::unique_ptr<MetadataLog> log, std::string cluster_id);
  ~Controller();

  // Applies one committed metadata batch (the quorum's thread, in log order): the image
  // moves on and the listeners run. A batch the image refuses is logged and skipped.
  void apply_committed(const MetadataBatch& batch);
  // A metadata snapshot: the image as batches of metadata records (encode_metadata_batch),
  // or nothing when the image is not at `last_offset`. Called by the quorum's apply thread
  // right after applying the entry that ends there.
  std::optional<std::vector<std::vector<uint8_t>>> snapshot_batches(int64_t last_offset) const;
  // Replaces the image with the one a snapshot describes (this node installed the leader's
  // snapshot, or restarts from its own); the listeners see the change as one step. A
  // snapshot the image refuses is logged and the image kept.
  void load_snapshot(const std::vector<MetadataBatch>& batches, int64_t last_offset);
  // The quorum made this node the active controller, or took it away. Becoming active gives
  // every registered broker a fresh session (heartbeats went to the previous controller).
  void set_active(bool active);
  bool active() const { return active_.load(); }
  // Leader elections this node decided while active (Kafka's ControllerStats): a partition
  // change that gives it a new leader; unclean when that leader was not in the ISR.
  struct ElectionCounts {
    uint64_t leader = 0, unclean = 0;
  };
  ElectionCounts election_counts() const { return {leader_elections_.load(), unclean_elections_.load()}; }
  // BrokerRegistration: a new registration (RegisterBrokerRecord, fenced) unless this
  // incarnation is already registered; the broker epoch. NOT_CONTROLLER, INVALID_REQUEST.
  Result<int64_t> register_broker(const BrokerRegistration& registration);
  // BrokerHeartbeat: keeps the broker's session; unfences it once it has caught up with its
  // own registration; with want_shut_down moves its leaderships to other in-sync replicas,
  // then fences it and answers should_shut_down. A registered log dir named in
  // `offline_log_dirs` (v1) goes offline (Kafka's handleDirectoriesOffline): the broker's
  // replicas placed there leave their ISRs and lose their leaderships, and its registration
  // drops the dir; such replicas are not elected again while it stays dropped.
  HeartbeatResult heartbeat(int32_t broker_id, int64_t broker_epoch, int64_t metadata_offset, bool want_fence,
                            bool want_shut_down, const std::vector<Uuid>& offline_log_dirs = {});
  // AssignReplicasToDirs (KIP-858): where a broker with several log dirs placed its replicas.
  // One error per assignment, in order: UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION,
  // NOT_LEADER_OR_FOLLOWER (the broker holds no replica of it). A replica placed in a dir that
  // is not online leaves the ISR and its leadership at once. STALE_BROKER_EPOCH /
  // NOT_CONTROLLER for the whole request.
  Result<std::vector<ErrorCode>> assign_replicas_to_dirs(int32_t broker_id, int64_t broker_epoch,
                                                         const std::vector<DirAssignment>& assignments);
  // AlterPartition from a partition leader. Per partition: FENCED_LEADER_EPOCH,
  // INVALID_UPDATE_VERSION, NOT_LEADER_OR_FOLLOWER, INELIGIBLE_REPLICA, UNKNOWN_TOPIC_ID.
  // STALE_BROKER_EPOCH / NOT_CONTROLLER for all of them as the request's error.
  Result<std::vector<IsrChangeResult>> alter_partition(int32_t broker_id, int64_t broker_epoch,
                                                       const std::vector<IsrChange>& changes);
  // Periodic work of the active controller: fences brokers whose session expired (moving
  // their leaderships), elects leaders for leaderless partitions from their live in-sync
  // replicas (or, with unclean.leader.election.enable for the topic, any live replica), and
  // (auto.leader.rebalance.enable) returns leadership to preferred replicas.
  void maintain(int64_t now_ms);

  // ElectLeaders and partition reassignments (cluster_control.cc).
  // ElectLeaders (Kafka's ReplicationControlManager.electLeaders): one result per requested
  // partition, in order; with `partitions` null, every partition except those that need no
  // election. Per partition: ELECTION_NOT_NEEDED (preferred: the first replica leads already;
  // unclean: there is a leader), PREFERRED_LEADER_NOT_AVAILABLE (the first replica is not a
  // live in-sync replica), ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean: no live replica at all),
  // UNKNOWN_TOPIC_OR_PARTITION. The request's error: NOT_CONTROLLER, INVALID_REQUEST (an
  // unknown election type), POLICY_VIOLATION, KAFKA_STORAGE_ERROR.
  Result<std::vector<PartitionResult>> elect_partition_leaders(
      ElectionType type, const std::optional<std::vector<PartitionSelection>>& partitions);
  // AlterPartitionReassignments (KIP-455): starts, replaces or (replicas null) cancels the
  // reassignment of each partition, all in one metadata batch; one result per target, in
  // order. Per partition: INVALID_REPLICA_ASSIGNMENT (empty, a broker twice, an unregistered
  // broker, a cancel that needs an unclean election), NO_REASSIGNMENT_IN_PROGRESS,
  // UNKNOWN_TOPIC_OR_PARTITION. The request's error: NOT_CONTROLLER, POLICY_VIOLATION,
  // KAFKA_STORAGE_ERROR. A reassignment completes when every adding replica is in the ISR
  // (alter_partition, or the moment it starts when they already are).
  Result<std::vector<PartitionResult>> alter_partition_reassignments(const std::vector<ReassignmentTarget>& targets);
  // ListPartitionReassignments from the current image: the partitions being reassigned among
  // `partitions` (null: all), by topic name. Unknown topics and partitions are left out.
  std::vector<OngoingReassignment> list_partition_reassignments(
      const std::optional<std::vector<PartitionSelection>>& partitions) const;
  
  // CreateTopics. One result per spec, in order. Errors (Kafka's codes and messages):
  // INVALID_TOPIC_EXCEPTION (name rules, or a '.'/'_' collision with an existing topic),
  // TOPIC_ALREADY_EXISTS (also for a second spec of the same name), INVALID_CONFIG,
  // INVALID_REQUEST (assignments together with a count), INVALID_REPLICA_ASSIGNMENT,
  // INVALID_REPLICATION_FACTOR (<= 0 or more than the registered brokers), INVALID_PARTITIONS
  // (<= 0), INVALID_REQUEST (the metadata topic), POLICY_VIOLATION (more than
  // kMaxRecordsPerRequest records), INVALID_PARTITIONS (more partition replicas on a broker
  // than max.partitions.per.broker: controller/partition_cap.h), KAFKA_STORAGE_ERROR (the
  // metadata log failed).
  // validate_only checks everything and writes nothing.
  std::vector<CreateTopicResult> create_topics(const std::vector<CreateTopicSpec>& topics, bool validate_only);

  // DeleteTopics by name and by id. One result per distinct name (first names, in order) then
  // per distinct id; like Kafka's ControllerApis: a name or id given twice is INVALID_REQUEST
  // ("Duplicate topic name."), as is a zero id and a name whose topic was also given by id;
  // UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID for missing topics; every entry is
  // TOPIC_DELETION_DISABLED when delete.topic.enable is false (DeleteTopics v0-2 answer that
  // with INVALID_REQUEST: the handler's choice). Internal topics may be deleted, as in Kafka.
  std::vector<DeleteTopicResult> delete_topics(const std::vector<std::string>& names, const std::vector<Uuid>& ids);

  // CreatePartitions: grows `topic` to `count` partitions, placed like a new topic's with the
  // topic's replication factor, or on `assignments` (one replica list per new partition).
  // Kafka's errors and messages: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (not an
  // increase, or over max.partitions.per.broker on a broker), INVALID_REPLICA_ASSIGNMENT,
  // INVALID_REPLICATION_FACTOR (too few brokers),
  // NOT_CONTROLLER. validate_only checks and writes nothing.
  Status create_partitions(const std::string& topic, int32_t count,
                           const std::optional<std::vector<std::vector<int32_t>>>& assignments, bool validate_only);

  // Makes `overrides` a topic's complete set of config overrides (AlterConfigs and
  // IncrementalAlterConfigs compute it): one ConfigRecord per key that changed (a null value
  // removes an override). UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG with Kafka's message,
  // KAFKA_STORAGE_ERROR. validate_only checks and writes nothing.
  Status set_topic_configs(const std::string& topic, const std::map<std::string, std::string>& overrides,
                           bool validate_only);

  // KIP-226 dynamic broker configs: the complete config set of BROKER resource `resource` (""
  // the cluster-wide default, "<id>" one broker, registered or not, as in Kafka) becomes what
  // `edit` makes of the current one; one ConfigRecord per key that changed. `edit` runs under
  // the writers' lock, so two concurrent changes cannot lose each other's keys; it must not
  // call the controller's writers. Errors: INVALID_REQUEST (a name that is not a broker id,
  // check_dynamic_broker_configs, or what `edit` returns), NOT_CONTROLLER,
  // KAFKA_STORAGE_ERROR. validate_only checks and writes nothing.
  using ConfigEdit = std::function<Status(std::map<std::string, std::string>& configs)>;
  Status alter_broker_configs(const std::string& resource, const ConfigEdit& edit, bool validate_only);
  // This node's configuration as the image makes it: the static config with the image's
  // dynamic broker configs layered on (BrokerConfig::with_dynamic); the static one when the
  // layers break a rule between keys.
  config::BrokerConfig effective_config(const MetadataImage& img) const;

  // AlterClientQuotas (client_quota_control.cc): one status per entry, in order; the valid
  // entries' ClientQuotaRecords go in one batch. Per entry, Kafka's errors (client_quotas.h:
  // make_quota_entity, check_quota_op; a key twice in one entry is INVALID_REQUEST);
  // NOT_CONTROLLER and KAFKA_STORAGE_ERROR for every valid entry. validate_only writes nothing.
  std::vector<Status> alter_client_quotas(const std::vector<ClientQuotaAlteration>& entries, bool validate_only);

  // Hands the next block of kProducerIdBlockSize producer ids to `broker_id`, durably
  // (ProducerIdsRecord), so no id is ever given twice, even across restarts.
  // BROKER_ID_NOT_REGISTERED for an unknown broker, STALE_BROKER_EPOCH when `broker_epoch`
  // (-1: any) is not its current epoch, UNKNOWN_SERVER_ERROR when the ids are exhausted.
  Result<ProducerIdBlock> allocate_producer_ids(int32_t broker_id, int64_t broker_epoch = -1);

  // ---- ACLs and SCRAM credentials (security_control.cc), Kafka's AclControlManager and
  // ScramControlManager ----
  // CreateAcls: one status per binding, in order. security::validate's INVALID_REQUEST for a
  // bad binding; a binding that exists already (or twice in the request) is stored once and
  // succeeds. Every valid one fails with the metadata log's error (NOT_CONTROLLER...).
  std::vector<Status> create_acls(const std::vector<security::AclBinding>& acls);
  // DeleteAcls: per filter, the ACLs it matched, all removed in one batch (an ACL two filters
  // match is removed once and listed under both). INVALID_REQUEST for a filter with an UNKNOWN
  // field.
  std::vector<AclDeleteResult> delete_acls(const std::vector<security::AclBindingFilter>& filters);
  // AlterUserScramCredentials: one result per user named, in the order first named. Kafka's
  // rules: a user named twice is DUPLICATE_RESOURCE; UNSUPPORTED_SASL_MECHANISM; an empty name,
  // or iterations outside 4096..16384, UNACCEPTABLE_CREDENTIAL; deleting a credential that does
  // not exist RESOURCE_NOT_FOUND. The valid ones are written in one batch.
  std::vector<ScramAlterResult> alter_scram_credentials(const std::vector<ScramDeletion>& deletions,
                                                        const std::vector<ScramUpsertion>& upsertions);

  // A committed batch this node could not read (an undecodable record): the image stops
  // following the log, so the node refuses writes and its broker does not start. The quorum's
  // apply thread reports it; failure() is the first one (OK when none).
  void fail_apply(Status why);
  Status failure() const;

  // The current image; never null.
  std::shared_ptr<const MetadataImage> image() const;

  // Adds a listener, invoked at once with the delta from an empty image to the current one,
  // then with the delta of every applied batch (or loaded snapshot).
  void subscribe(Listener listener);

 private:
  Controller(const config::BrokerConfig& config, std::unique_ptr<MetadataLog> log);
  // Makes delta.after() the image and tells the listeners. apply_mu_ held.
  void publish(const MetadataDelta& delta);
  // The listeners have seen everything up to `offset`: writers waiting for it go on.
  void mark_published(int64_t offset);
  // The next maintain() tick on maintenance_ (the handle is not kept: stopping the loop
  // cancels it).
  void schedule_maintenance();
  // Records that take broker `id` out of every ISR it can leave and move the leaderships it
  // holds to other eligible in-sync replicas (leader -1 when none is left); with `only`, just
  // in the partitions it accepts. `why` ends each log line. mu_ held.
  using PartitionFilter = std::function<bool(const TopicInfo&, const PartitionInfo&)>;
  std::vector<MetadataRecord> evacuate(const MetadataImage& img, int32_t id, const PartitionFilter& only = {},
                                       const std::string& why = {}) const;
  // The records that take broker `b`'s newly offline log dirs out of service (see heartbeat).
  std::vector<MetadataRecord> dirs_offline(const MetadataImage& img, const BrokerInfo& b,
                                           const std::vector<Uuid>& offline) const;
  // Records electing a leader for every leaderless partition with an eligible ISR member,
  // and, with `preferred`, moving leadership to the first replica where it is eligible.
  std::vector<MetadataRecord> elect_leaders(const MetadataImage& img, bool preferred) const;
  bool eligible(const MetadataImage& img, int32_t broker) const;
  // Logs one partition change it is about to write (cluster_control.cc) and counts it when it
  // elects a leader.
  void note_change(const TopicInfo& t, const PartitionInfo& p, const metadata::PartitionChangeRecord& r,
                   std::string_view why) const;
  // The metadata.version a new cluster's log starts with.
  static MetadataRecord bootstrap_feature_record();
  // The SCRAM users of bootstrap.scram.users, which a new cluster's log starts with too.
  std::vector<MetadataRecord> bootstrap_scram_records() const;
  // Appends one batch and waits until the quorum committed it and this node applied it (so the
  // next writer builds on it). mu_ held. Fail-stop: after a log error every later write fails.
  Status commit(std::vector<MetadataRecord> records);

  const config::BrokerConfig config_;
  std::unique_ptr<MetadataLog> log_;
  mutable std::mutex mu_;        // serializes writers, the log and the listeners
  mutable std::mutex image_mu_;  // guards the image_ pointer only
  std::shared_ptr<const MetadataImage> image_;
  std::vector<Listener> listeners_;
  uint32_t next_leader_ = 0;  // rotating start of the round-robin placement
  Status failed_;             // the first metadata log error, once there was one
  Status apply_failed_;       // under image_mu_: see fail_apply
  std::mutex apply_mu_;  // serializes applying batches and the listeners
  std::condition_variable applied_cv_;  // with image_mu_: a new image was published
  int64_t published_offset_ = -1;       // under image_mu_: the listeners have run up to here
  std::atomic<bool> active_{false};
  mutable std::atomic<uint64_t> leader_elections_{0}, unclean_elections_{0};  // note_change
  std::map<int32_t, int64_t> last_heartbeat_ms_;  // active controller only; under mu_
  int64_t last_rebalance_ms_ = 0;
  std::atomic<bool> reset_sessions_{false};  // set on activation, done under mu_
  // Calls maintain() every kMaintenanceIntervalMs while active. Last: stopped first.
  std::unique_ptr<runtime::LoopThread> maintenance_;
};

}  // namespace kb::controller
