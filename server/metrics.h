// Prometheus metrics of the broker (names: kbroker_ prefix, base units, _total counters).
// Owner: Broker; lives as long as the broker. Thread-safety: every method may be called from
// any thread. The produce and fetch paths take no lock here: their per-topic traffic is
// counted in counters each hosted partition holds (replication::TopicStats) and read through
// the topic source at each scrape; per-request counters are cached per API at start-up.
// Errors take one mutex (they are rare).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "protocol/types.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
struct MetricFamily;
}  // namespace prometheus

namespace kb::server {

// One topic's traffic through this broker, read at each scrape (a topic with no replica here
// has no series).
struct TopicSample {
  std::string topic;
  uint64_t bytes_in = 0, records_in = 0, bytes_out = 0, records_out = 0, failed_produce = 0;
};

struct PartitionSample {
  TopicPartition tp;
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
  int64_t high_watermark = 0;
  int64_t size_bytes = 0;
  int64_t segments = 0;
};

// One consumer group as /metrics shows it (sampled from the group coordinator at each scrape).
struct GroupSample {
  std::string group;
  std::string state;  // Kafka's state name
  int members = 0;
  uint64_t rebalances = 0;
  struct Committed {
    TopicPartition tp;
    int64_t offset = -1;
    int64_t end_offset = -1;  // the partition's high watermark here; -1 when not led here
  };
  std::vector<Committed> offsets;
};

// The cluster as this broker sees it (sampled at each scrape): its place in the metadata
// quorum and its leaderships; the partition-state counts come from the active controller.
struct ClusterSample {
  bool active_controller = false;
  int32_t controller_id = -1;
  int32_t quorum_epoch = 0;
  int64_t metadata_applied_offset = -1;
  int64_t metadata_log_end_offset = -1;
  int64_t leader_partitions = 0;            // partitions led by this broker
  int64_t under_replicated_partitions = 0;  // led here with an ISR smaller than the replicas
  int64_t offline_partitions = -1;          // without a leader; -1 when not the active controller
  int64_t fenced_brokers = -1;              // -1 when not the active controller
  uint64_t isr_shrinks = 0, isr_expands = 0;  // of partitions led here
  // Led here with an ISR smaller than the topic's min.insync.replicas (acks=all refused).
  int64_t under_min_isr_partitions = 0;
  // The cluster as the metadata image has it, on every broker (zeros, never absent).
  int64_t online_brokers = 0;  // registered and not fenced
  int64_t topics = 0, partitions = 0;
  // Elections this node's controller decided while active (Kafka's ControllerStats).
  uint64_t leader_elections = 0, unclean_leader_elections = 0;
  // Operations waiting in the purgatories, counted once per partition they wait on (Kafka's
  // DelayedOperationPurgatory PurgatorySize).
  int64_t produce_purgatory = 0, fetch_purgatory = 0;
  // Bytes of requests read and not yet answered: what queued.max.request.bytes limits.
  int64_t queued_request_bytes = 0;
  // Per partition this broker follows: the leader's high watermark at the last fetch minus
  // this replica's log end after it (Kafka's fetcher records-lag).
  std::vector<std::pair<TopicPartition, int64_t>> follower_lag;
};

// The transactions of one partition led here (sampled at each scrape).
struct TransactionSample {
  TopicPartition tp;
  int64_t last_stable_offset_lag = 0;  // high watermark - last stable offset
  int64_t ongoing_transactions = 0;
  int64_t producer_ids = 0;  // idempotent/transactional producers the partition keeps state for
  bool late_transaction = false;  // Broker::late_transaction
};

// What the transaction series show at one scrape: the partitions led here, and this broker's
// transaction coordinator.
struct TransactionSamples {
  std::vector<TransactionSample> partitions;
  std::map<std::string, int64_t> transactional_ids_by_state;  // Kafka's state names
  uint64_t commits = 0, aborts = 0;                           // transactions completed here
};

// One log dir as /metrics shows it (sampled at each scrape).
struct LogDirSample {
  std::string dir;
  bool offline = false;  // full or failed (storage/log_dir_state.h)
  // The file system holding the dir (statvfs at scrape time); -1 when it cannot be read.
  double free_bytes = -1, total_bytes = -1;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void connection_opened();
  void connection_closed();
  // `seconds`: arrival to answer queued; `processing_seconds`: arrival until the handler
  // answered (the rest is the wait behind earlier answers on the same connection).
  void request_completed(int16_t api_key, double seconds, double processing_seconds);
  void request_error(int16_t api_key, ErrorCode code);

  // Called at every scrape for the kbroker_topic_* series.
  void set_topic_source(std::function<std::vector<TopicSample>()> source);

  // Called at every scrape to refresh the per-partition gauges.
  void set_partition_source(std::function<std::vector<PartitionSample>()> source);

  // Called at every scrape for the consumer-group series (members, state, rebalances,
  // committed offsets and lag): what Kafka users run a separate lag exporter for.
  void set_group_source(std::function<std::vector<GroupSample>()> source);

  // Called at every scrape for the coordinators' counters: records of each internal topic
  // (__consumer_offsets, __transaction_state) skipped while loading because they could not
  // be read (kbroker_coordinator_skipped_records_total{topic}).
  void set_coordinator_source(std::function<std::map<std::string, uint64_t>()> skipped_records_by_topic);

  // Called at every scrape for the cluster series (a lone broker has none).
  void set_cluster_source(std::function<ClusterSample()> source);

  // Called at every scrape for the transaction series: LSO lag per partition and ongoing
  // transactions over all partitions.
  void set_transaction_source(std::function<TransactionSamples()> source);
  // Called at every scrape for the log dir series (Kafka's LogDirectoryOffline and
  // OfflineLogDirectoryCount).
  void set_log_dir_source(std::function<std::vector<LogDirSample>()> source);
  // A transaction marker written by WriteTxnMarkers.
  void transaction_marker_written(bool commit);
  // A SASL authentication on `listener` ended: kbroker_successful_authentication_total or
  // kbroker_failed_authentication_total, by listener and mechanism.
  void authentication(const std::string& listener, const std::string& mechanism, bool ok);

  // Called at every scrape for series a subsystem keeps itself (the Schema Registry's).
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;
  void add_collector(Collector collect);

  // Prometheus text exposition of everything.
  std::string scrape();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kb::server
