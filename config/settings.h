// BrokerSettings: the broker properties kbroker's code reads, as typed fields.
//
// The code used to read configuration with run-time string lookups (get_int("num.partitions")):
// a typo or a getter of the wrong type surfaced only when that line first ran. Here every
// property the code reads is one line of KB_BROKER_SETTINGS: C++ type, field name, Kafka
// property name. A BrokerConfig fills its BrokerSettings once when it is built (from_yaml,
// with_dynamic), so a bad line fails at the first start-up of any test, and
// tests/unit/config/test_settings.cc checks every line against the property table (the
// property exists, its type fits the field's) without starting anything.
//
// Dynamic properties: a BrokerConfig is an immutable snapshot and so are its settings. The
// Broker swaps in a new effective BrokerConfig (with_dynamic) whenever AlterConfigs changes
// a dynamic layer; code reading a dynamic property reads broker.effective_config()->settings()
// at use, code reading a static one may keep broker.config().settings().
//
// Types: Bool -> bool, Int -> int32_t, Long -> int64_t, Double -> double, String/Password ->
// std::string ("" when null), List -> std::vector<std::string>; a property whose default is
// null and whose absence means something takes std::optional<std::string> / <int64_t>.
// Adding a property the code reads is one line below (keep the list in name order).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#define KB_BROKER_SETTINGS(X)                                                                              \
  X(bool, allow_everyone_if_no_acl_found, "allow.everyone.if.no.acl.found")                                 \
  X(std::string, authorizer_class_name, "authorizer.class.name")                                            \
  X(bool, auto_create_topics_enable, "auto.create.topics.enable")                                           \
  X(bool, auto_leader_rebalance_enable, "auto.leader.rebalance.enable")                                     \
  X(std::string, bootstrap_scram_users, "bootstrap.scram.users")                                            \
  X(int32_t, broker_heartbeat_interval_ms, "broker.heartbeat.interval.ms")                                  \
  X(std::optional<std::string>, broker_rack, "broker.rack")                                                 \
  X(int32_t, broker_session_timeout_ms, "broker.session.timeout.ms")                                        \
  X(int64_t, connections_max_idle_ms, "connections.max.idle.ms")                                            \
  X(std::vector<std::string>, controller_listener_names, "controller.listener.names")                       \
  X(int32_t, controller_quorum_election_timeout_ms, "controller.quorum.election.timeout.ms")                \
  X(int32_t, controller_quorum_fetch_timeout_ms, "controller.quorum.fetch.timeout.ms")                      \
  X(int32_t, controller_quorum_request_timeout_ms, "controller.quorum.request.timeout.ms")                  \
  X(int32_t, controller_quorum_retry_backoff_ms, "controller.quorum.retry.backoff.ms")                      \
  X(std::vector<std::string>, controller_quorum_voters, "controller.quorum.voters")                         \
  X(int32_t, controller_quota_window_num, "controller.quota.window.num")                                    \
  X(int32_t, controller_quota_window_size_seconds, "controller.quota.window.size.seconds")                  \
  X(int32_t, default_replication_factor, "default.replication.factor")                                      \
  X(bool, delete_topic_enable, "delete.topic.enable")                                                       \
  X(int32_t, group_initial_rebalance_delay_ms, "group.initial.rebalance.delay.ms")                          \
  X(int32_t, group_max_session_timeout_ms, "group.max.session.timeout.ms")                                  \
  X(int32_t, group_max_size, "group.max.size")                                                              \
  X(int32_t, group_min_session_timeout_ms, "group.min.session.timeout.ms")                                  \
  X(std::optional<std::string>, inter_broker_listener_name, "inter.broker.listener.name")                   \
  X(int64_t, leader_imbalance_check_interval_seconds, "leader.imbalance.check.interval.seconds")            \
  X(std::vector<std::string>, listeners, "listeners")                                                       \
  X(int64_t, log_cleaner_backoff_ms, "log.cleaner.backoff.ms")                                              \
  X(int64_t, log_cleaner_dedupe_buffer_size, "log.cleaner.dedupe.buffer.size")                              \
  X(bool, log_cleaner_enable, "log.cleaner.enable")                                                         \
  X(int32_t, log_cleaner_threads, "log.cleaner.threads")                                                    \
  X(std::optional<int64_t>, log_flush_interval_ms, "log.flush.interval.ms")                                 \
  X(std::string, log_level, "log.level")                                                                    \
  X(int64_t, log_retention_check_interval_ms, "log.retention.check.interval.ms")                            \
  X(int32_t, max_connections, "max.connections")                                                            \
  X(int32_t, max_connections_per_ip, "max.connections.per.ip")                                              \
  X(std::string, max_connections_per_ip_overrides, "max.connections.per.ip.overrides")                      \
  X(int64_t, metadata_log_max_record_bytes_between_snapshots, "metadata.log.max.record.bytes.between.snapshots") \
  X(int64_t, metadata_log_max_snapshot_interval_ms, "metadata.log.max.snapshot.interval.ms")                \
  X(int32_t, min_insync_replicas, "min.insync.replicas")                                                    \
  X(int32_t, num_network_threads, "num.network.threads")                                                    \
  X(int32_t, num_partitions, "num.partitions")                                                              \
  X(int32_t, num_replica_fetchers, "num.replica.fetchers")                                                  \
  X(int32_t, offset_metadata_max_bytes, "offset.metadata.max.bytes")                                        \
  X(int32_t, offsets_commit_timeout_ms, "offsets.commit.timeout.ms")                                        \
  X(int64_t, offsets_retention_check_interval_ms, "offsets.retention.check.interval.ms")                    \
  X(int32_t, offsets_retention_minutes, "offsets.retention.minutes")                                        \
  X(int32_t, offsets_topic_compression_codec, "offsets.topic.compression.codec")                            \
  X(int32_t, offsets_topic_num_partitions, "offsets.topic.num.partitions")                                  \
  X(int32_t, offsets_topic_replication_factor, "offsets.topic.replication.factor")                          \
  X(int32_t, offsets_topic_segment_bytes, "offsets.topic.segment.bytes")                                    \
  X(int32_t, producer_id_expiration_check_interval_ms, "producer.id.expiration.check.interval.ms")          \
  X(int32_t, producer_id_expiration_ms, "producer.id.expiration.ms")                                        \
  X(int64_t, queued_max_request_bytes, "queued.max.request.bytes")                                          \
  X(int32_t, quota_window_num, "quota.window.num")                                                          \
  X(int32_t, quota_window_size_seconds, "quota.window.size.seconds")                                        \
  X(int32_t, replica_fetch_backoff_ms, "replica.fetch.backoff.ms")                                          \
  X(int32_t, replica_fetch_max_bytes, "replica.fetch.max.bytes")                                            \
  X(int32_t, replica_fetch_min_bytes, "replica.fetch.min.bytes")                                            \
  X(int32_t, replica_fetch_response_max_bytes, "replica.fetch.response.max.bytes")                          \
  X(int32_t, replica_fetch_wait_max_ms, "replica.fetch.wait.max.ms")                                        \
  X(int64_t, replica_high_watermark_checkpoint_interval_ms, "replica.high.watermark.checkpoint.interval.ms") \
  X(int64_t, replica_lag_time_max_ms, "replica.lag.time.max.ms")                                            \
  X(std::optional<std::string>, sasl_jaas_config, "sasl.jaas.config")                                      \
  X(int32_t, sasl_server_max_receive_size, "sasl.server.max.receive.size")                                  \
  X(std::string, schema_registry_authentication_method, "schema.registry.authentication.method")            \
  X(bool, schema_registry_enable, "schema.registry.enable")                                                 \
  X(int32_t, schema_registry_max_request_bytes, "schema.registry.max.request.bytes")                        \
  X(int32_t, schema_registry_timeout_ms, "schema.registry.timeout.ms")                                      \
  X(std::string, schema_registry_topic, "schema.registry.topic")                                            \
  X(int32_t, schema_registry_topic_replication_factor, "schema.registry.topic.replication.factor")          \
  X(int32_t, socket_receive_buffer_bytes, "socket.receive.buffer.bytes")                                    \
  X(int32_t, socket_request_max_bytes, "socket.request.max.bytes")                                          \
  X(int32_t, socket_send_buffer_bytes, "socket.send.buffer.bytes")                                          \
  X(std::string, super_users, "super.users")                                                                \
  X(int64_t, transaction_abort_timed_out_transaction_cleanup_interval_ms,                                   \
    "transaction.abort.timed.out.transaction.cleanup.interval.ms")                                          \
  X(int32_t, transaction_max_timeout_ms, "transaction.max.timeout.ms")                                      \
  X(bool, transaction_partition_verification_enable, "transaction.partition.verification.enable")           \
  X(int64_t, transaction_remove_expired_transaction_cleanup_interval_ms,                                    \
    "transaction.remove.expired.transaction.cleanup.interval.ms")                                           \
  X(int32_t, transaction_state_log_min_isr, "transaction.state.log.min.isr")                                \
  X(int32_t, transaction_state_log_num_partitions, "transaction.state.log.num.partitions")                  \
  X(int32_t, transaction_state_log_replication_factor, "transaction.state.log.replication.factor")          \
  X(int32_t, transaction_state_log_segment_bytes, "transaction.state.log.segment.bytes")                    \
  X(int64_t, transactional_id_expiration_ms, "transactional.id.expiration.ms")

namespace kb::config {

class BrokerConfig;
enum class Type;

struct BrokerSettings {
#define KB_SETTING_FIELD(type, field, property) type field{};
  KB_BROKER_SETTINGS(KB_SETTING_FIELD)
#undef KB_SETTING_FIELD

  // Reads every field from `config`'s effective values. Throws std::logic_error naming the
  // property for a line whose property is unknown or whose type does not fit (a kbroker bug).
  static BrokerSettings from(const BrokerConfig& config);
};

// One line of KB_BROKER_SETTINGS, for the table check: the property name and whether a
// property of type `t` fits the field's C++ type.
struct SettingInfo {
  const char* field;
  const char* property;
  bool (*fits)(Type t);
};
const std::vector<SettingInfo>& broker_setting_infos();

}  // namespace kb::config
