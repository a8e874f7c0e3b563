#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <chrono>
#include <algorithm>
#include <sstream>

#include "server/metrics_families.h"
#include "server/request.h"

namespace kb::server {

namespace {
constexpr size_t kMaxApiKey = 128;

// The APIs clients call (what the split request-time histograms cover): not the quorum's,
// the controller's or the inter-broker ones, whose cost would buy series nobody graphs.
bool client_facing(const HandlerInfo& h) {
  constexpr int16_t kWriteTxnMarkers = 27;  // from transaction coordinators, on the client listeners
  return !h.controller_only && h.api_key != kWriteTxnMarkers;
}

std::string api_label(int16_t key) {
  if (const HandlerInfo* h = find_handler(key)) return h->name;
  return "api_" + std::to_string(key);
}
}  // namespace

struct Metrics::Impl {
  prometheus::Registry registry;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("kbroker_requests_total")
          .Help("Requests answered, by Kafka API")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& request_errors =
      prometheus::BuildCounter()
          .Name("kbroker_request_errors_total")
          .Help("Error codes returned, by Kafka API and error")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("kbroker_request_duration_seconds")
          .Help("Time from a request's arrival until its answer is queued, by Kafka API")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& processing =
      prometheus::BuildHistogram()
          .Name("kbroker_request_processing_seconds")
          .Help("Time from a request's arrival until its handler answered, including purgatory waits "
                "(Kafka's LocalTimeMs + RemoteTimeMs), by client-facing Kafka API")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& response_queue =
      prometheus::BuildHistogram()
          .Name("kbroker_request_response_queue_seconds")
          .Help("Time an answer waited behind earlier answers of the same connection before it was queued "
                "for sending (Kafka's ResponseQueueTimeMs), by client-facing Kafka API")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& connections =
      prometheus::BuildGauge()
          .Name("kbroker_connections_open")
          .Help("Open client connections")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& connections_total =
      prometheus::BuildCounter()
          .Name("kbroker_connections_accepted_total")
          .Help("Client connections accepted since start")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& uptime =
      prometheus::BuildGauge()
          .Name("kbroker_uptime_seconds")
          .Help("Seconds since the broker process started")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& log_end_offset =
      prometheus::BuildGauge()
          .Name("kbroker_partition_log_end_offset")
          .Help("Log end offset (offset of the next record) per partition")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& log_start_offset =
      prometheus::BuildGauge()
          .Name("kbroker_partition_log_start_offset")
          .Help("Log start offset (first readable offset) per partition")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& high_watermark =
      prometheus::BuildGauge()
          .Name("kbroker_partition_high_watermark")
          .Help("High watermark per partition")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& log_size =
      prometheus::BuildGauge()
          .Name("kbroker_partition_log_size_bytes")
          .Help("Bytes stored in the partition's segments")
          .Register(registry);
  prometheus::Family<prometheus::Gauge>& log_segments =
      prometheus::BuildGauge()
          .Name("kbroker_partition_log_segments")
          .Help("Number of segments of the partition's log")
          .Register(registry);

  prometheus::Gauge* open_connections = &connections.Add({});
  prometheus::Counter* accepted = &connections_total.Add({});
  prometheus::Gauge* uptime_gauge = &uptime.Add({});
  std::array<prometheus::Counter*, kMaxApiKey> request_counters{};
  std::array<prometheus::Histogram*, kMaxApiKey> latency_histograms{};
  std::array<prometheus::Histogram*, kMaxApiKey> processing_histograms{};
  std::array<prometheus::Histogram*, kMaxApiKey> response_queue_histograms{};

  std::mutex mu;  // guards the maps below and the partition gauges
  std::map<std::pair<int16_t, int16_t>, prometheus::Counter*> error_counters;
  struct PartitionGauges {
    prometheus::Gauge *leo, *lso, *hw, *size, *segments;
  };
  std::map<TopicPartition, PartitionGauges> partitions;
  std::function<std::vector<PartitionSample>()> partition_source;
  std::function<std::vector<TopicSample>()> topic_source;
  std::function<std::vector<GroupSample>()> group_source;
  std::function<ClusterSample()> cluster_source;
  std::function<TransactionSamples()> transaction_source;
  std::function<std::vector<LogDirSample>()> log_dir_source;
  std::function<std::map<std::string, uint64_t>()> coordinator_source;
  std::vector<Collector> collectors;
  prometheus::Family<prometheus::Counter>& txn_markers =
      prometheus::BuildCounter()
          .Name("kbroker_transaction_markers_total")
          .Help("Transaction markers written for the coordinator (WriteTxnMarkers), by result")
          .Register(registry);
  prometheus::Counter* commits = &txn_markers.Add({{"result", "commit"}});
  prometheus::Counter* aborts = &txn_markers.Add({{"result", "abort"}});
  prometheus::Family<prometheus::Counter>& authentications_ok =
      prometheus::BuildCounter()
          .Name("kbroker_successful_authentication_total")
          .Help("SASL authentications (and re-authentications) that succeeded, by listener and mechanism")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& authentications_failed =
      prometheus::BuildCounter()
          .Name("kbroker_failed_authentication_total")
          .Help("SASL authentications that failed (the connection closes), by listener and mechanism")
          .Register(registry);

  Impl() {
    // Latency buckets from 0.1 ms to 10 s (long-polling fetches sit at max.wait.ms).
    const prometheus::Histogram::BucketBoundaries buckets = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};
    for (const HandlerInfo& h : handlers()) {
      if (h.api_key < 0 || static_cast<size_t>(h.api_key) >= kMaxApiKey) continue;
      request_counters[h.api_key] = &requests.Add({{"api", h.name}});
      latency_histograms[h.api_key] = &latency.Add({{"api", h.name}}, buckets);
      if (!client_facing(h)) continue;
      processing_histograms[h.api_key] = &processing.Add({{"api", h.name}}, buckets);
      response_queue_histograms[h.api_key] = &response_queue.Add({{"api", h.name}}, buckets);
    }
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::connection_opened() {
  impl_->open_connections->Increment();
  impl_->accepted->Increment();
}
void Metrics::connection_closed() { impl_->open_connections->Decrement(); }

void Metrics::request_completed(int16_t api_key, double seconds, double processing_seconds) {
  if (api_key < 0 || static_cast<size_t>(api_key) >= kMaxApiKey) return;
  if (auto* c = impl_->request_counters[api_key]) c->Increment();
  if (auto* h = impl_->latency_histograms[api_key]) h->Observe(seconds);
  if (auto* h = impl_->processing_histograms[api_key]) h->Observe(processing_seconds);
  if (auto* h = impl_->response_queue_histograms[api_key]) h->Observe(std::max(0.0, seconds - processing_seconds));
}

void Metrics::request_error(int16_t api_key, ErrorCode code) {
  if (code == ErrorCode::NONE) return;
  std::lock_guard lk(impl_->mu);
  auto key = std::make_pair(api_key, to_wire(code));
  auto it = impl_->error_counters.find(key);
  if (it == impl_->error_counters.end()) {
    auto* c = &impl_->request_errors.Add(
        {{"api", api_label(api_key)}, {"error", std::string(error_name(code))}});
    it = impl_->error_counters.emplace(key, c).first;
  }
  it->second->Increment();
}

void Metrics::set_topic_source(std::function<std::vector<TopicSample>()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->topic_source = std::move(source);
}

void Metrics::set_partition_source(std::function<std::vector<PartitionSample>()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->partition_source = std::move(source);
}

void Metrics::set_group_source(std::function<std::vector<GroupSample>()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->group_source = std::move(source);
}

void Metrics::set_cluster_source(std::function<ClusterSample()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->cluster_source = std::move(source);
}

void Metrics::set_transaction_source(std::function<TransactionSamples()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->transaction_source = std::move(source);
}

void Metrics::set_log_dir_source(std::function<std::vector<LogDirSample>()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->log_dir_source = std::move(source);
}

void Metrics::set_coordinator_source(std::function<std::map<std::string, uint64_t>()> source) {
  std::lock_guard lk(impl_->mu);
  impl_->coordinator_source = std::move(source);
}

void Metrics::transaction_marker_written(bool commit) { (commit ? impl_->commits : impl_->aborts)->Increment(); }

void Metrics::authentication(const std::string& listener, const std::string& mechanism, bool ok) {
  // Family::Add is thread-safe and returns the existing series for known labels.
  (ok ? impl_->authentications_ok : impl_->authentications_failed)
      .Add({{"listener", listener}, {"mechanism", mechanism}})
      .Increment();
}

namespace {

// Short names for this file's many series (metrics_families.h).
constexpr auto* family = &metric_family;
constexpr auto* add = &add_sample;

std::vector<prometheus::MetricFamily> transaction_families(const TransactionSamples& samples) {
  using T = prometheus::MetricType;
  auto lag = family("kbroker_partition_last_stable_offset_lag",
                    "High watermark minus last stable offset (records held back from read_committed "
                    "consumers by open transactions), per partition led here",
                    T::Gauge);
  auto ongoing = family("kbroker_ongoing_transactions", "Transactions open on the partitions led here", T::Gauge);
  int64_t total = 0, producers = 0, late = 0;
  for (const auto& s : samples.partitions) {
    producers += s.producer_ids;
    late += s.late_transaction ? 1 : 0;
    add(lag, {{"partition", std::to_string(s.tp.partition)}, {"topic", s.tp.topic}},
        static_cast<double>(s.last_stable_offset_lag));
    total += s.ongoing_transactions;
  }
  add(ongoing, {}, static_cast<double>(total));
  auto pids = family("kbroker_producer_ids",
                     "Producer ids with state (sequences, open transactions) summed over the partitions led here",
                     T::Gauge);
  add(pids, {}, static_cast<double>(producers));
  auto hanging = family("kbroker_partitions_with_late_transactions",
                        "Partitions led here whose oldest open transaction's producer has been silent longer than "
                        "transaction.max.timeout.ms + 5 min (Kafka's PartitionsWithLateTransactionsCount): a "
                        "hanging transaction holds read_committed consumers back",
                        T::Gauge);
  add(hanging, {}, static_cast<double>(late));
  auto ids = family("kbroker_transactional_ids",
                    "Transactional ids this broker coordinates, by their transaction state", T::Gauge);
  for (const auto& [state, n] : samples.transactional_ids_by_state) add(ids, {{"state", state}}, static_cast<double>(n));
  auto ended = family("kbroker_transactions_total",
                      "Transactions this broker's coordinator completed, by result, since start", T::Counter);
  add(ended, {{"result", "commit"}}, static_cast<double>(samples.commits));
  add(ended, {{"result", "abort"}}, static_cast<double>(samples.aborts));
  return {std::move(lag), std::move(ongoing), std::move(pids), std::move(hanging), std::move(ids), std::move(ended)};
}

std::vector<prometheus::MetricFamily> cluster_families(const ClusterSample& s) {
  using T = prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  auto one = [&](const char* name, const char* help, T type, double v) { add_single(out, name, help, type, v); };
  one("kbroker_controller_active", "1 when this node is the active controller", T::Gauge, s.active_controller ? 1 : 0);
  one("kbroker_controller_id", "The active controller's node id as this node knows it (-1: none)", T::Gauge,
      s.controller_id);
  one("kbroker_metadata_quorum_epoch", "Epoch of the metadata quorum (leader elections so far)", T::Gauge,
      s.quorum_epoch);
  one("kbroker_metadata_applied_offset", "Last metadata log offset applied to this node's image", T::Gauge,
      static_cast<double>(s.metadata_applied_offset));
  one("kbroker_metadata_log_end_offset", "Last metadata log offset this node holds", T::Gauge,
      static_cast<double>(s.metadata_log_end_offset));
  one("kbroker_metadata_lag_records", "Metadata records held here but not yet applied (uncommitted or in flight)",
      T::Gauge, static_cast<double>(std::max<int64_t>(0, s.metadata_log_end_offset - s.metadata_applied_offset)));
  one("kbroker_leader_partitions", "Partitions this broker leads", T::Gauge, static_cast<double>(s.leader_partitions));
  one("kbroker_under_replicated_partitions", "Partitions led here whose ISR is smaller than their replica set",
      T::Gauge, static_cast<double>(s.under_replicated_partitions));
  one("kbroker_isr_shrinks_total", "ISR shrinks of partitions led here", T::Counter, static_cast<double>(s.isr_shrinks));
  one("kbroker_isr_expands_total", "ISR expansions of partitions led here", T::Counter,
      static_cast<double>(s.isr_expands));
  one("kbroker_under_min_isr_partitions",
      "Partitions led here whose ISR is smaller than their min.insync.replicas (acks=all produce refused)", T::Gauge,
      static_cast<double>(s.under_min_isr_partitions));
  one("kbroker_online_brokers", "Registered brokers that are not fenced, as this broker's metadata image has them",
      T::Gauge, static_cast<double>(s.online_brokers));
  one("kbroker_topics", "Topics in the cluster (internal ones included)", T::Gauge, static_cast<double>(s.topics));
  one("kbroker_partitions", "Partitions in the cluster (internal ones included)", T::Gauge,
      static_cast<double>(s.partitions));
  one("kbroker_leader_elections_total",
      "Partition leader changes this node's controller decided while active (Kafka's LeaderElectionRateAndTimeMs)",
      T::Counter, static_cast<double>(s.leader_elections));
  one("kbroker_unclean_leader_elections_total",
      "Leaders this node's controller chose from outside the ISR while active (Kafka's UncleanLeaderElectionsPerSec)",
      T::Counter, static_cast<double>(s.unclean_leader_elections));
  auto purgatory = family("kbroker_purgatory_size",
                          "Operations waiting in a purgatory, counted once per partition they wait on (Kafka's "
                          "DelayedOperationPurgatory PurgatorySize)",
                          T::Gauge);
  add(purgatory, {{"delayed_operation", "Produce"}}, static_cast<double>(s.produce_purgatory));
  add(purgatory, {{"delayed_operation", "Fetch"}}, static_cast<double>(s.fetch_purgatory));
  out.push_back(std::move(purgatory));
  one("kbroker_network_queued_request_bytes",
      "Bytes of requests read and not yet answered, over all connections (what queued.max.request.bytes limits)",
      T::Gauge, static_cast<double>(s.queued_request_bytes));
  auto lag = family("kbroker_follower_lag_records",
                    "Per partition followed here: the leader's high watermark at the last fetch minus this "
                    "replica's log end offset (Kafka's replica fetcher records-lag)",
                    T::Gauge);
  for (const auto& [tp, n] : s.follower_lag)
    add(lag, {{"partition", std::to_string(tp.partition)}, {"topic", tp.topic}}, static_cast<double>(n));
  out.push_back(std::move(lag));
  if (s.offline_partitions >= 0)
    one("kbroker_offline_partitions", "Partitions without a leader (reported by the active controller)", T::Gauge,
        static_cast<double>(s.offline_partitions));
  if (s.fenced_brokers >= 0)
    one("kbroker_fenced_brokers", "Registered brokers that are fenced (reported by the active controller)", T::Gauge,
        static_cast<double>(s.fenced_brokers));
  return out;
}

std::vector<prometheus::MetricFamily> log_dir_families(const std::vector<LogDirSample>& dirs) {
  using T = prometheus::MetricType;
  auto offline = family("kbroker_log_dir_offline", "1 when the log dir is offline (full or failed)", T::Gauge);
  double count = 0;
  for (const auto& d : dirs) {
    add(offline, {{"log_dir", d.dir}}, d.offline ? 1 : 0);
    count += d.offline ? 1 : 0;
  }
  auto total = family("kbroker_offline_log_dirs", "Log dirs that are offline (full or failed)", T::Gauge);
  add(total, {}, count);
  auto free = family("kbroker_log_dir_free_bytes", "Bytes available to kbroker on the file system of the log dir",
                     T::Gauge);
  auto size = family("kbroker_log_dir_total_bytes", "Size in bytes of the file system of the log dir", T::Gauge);
  for (const auto& d : dirs) {
    if (d.free_bytes >= 0) add(free, {{"log_dir", d.dir}}, d.free_bytes);
    if (d.total_bytes >= 0) add(size, {{"log_dir", d.dir}}, d.total_bytes);
  }
  return {std::move(offline), std::move(total), std::move(free), std::move(size)};
}

// The traffic of the topics hosted here; a topic gone from this broker leaves no series.
std::vector<prometheus::MetricFamily> topic_families(const std::vector<TopicSample>& topics) {
  using T = prometheus::MetricType;
  auto bytes_in = family("kbroker_topic_bytes_in_total", "Record batch bytes appended by producers, by topic", T::Counter);
  auto bytes_out = family("kbroker_topic_bytes_out_total", "Record batch bytes sent to fetchers, by topic", T::Counter);
  auto records_in = family("kbroker_topic_records_in_total", "Records appended by producers, by topic", T::Counter);
  auto records_out = family("kbroker_topic_records_out_total", "Records sent to fetchers, by topic", T::Counter);
  auto failed = family("kbroker_topic_failed_produce_requests_total", "Partition produce requests refused, by topic",
                       T::Counter);
  for (const auto& t : topics) {
    add(bytes_in, {{"topic", t.topic}}, static_cast<double>(t.bytes_in));
    add(bytes_out, {{"topic", t.topic}}, static_cast<double>(t.bytes_out));
    add(records_in, {{"topic", t.topic}}, static_cast<double>(t.records_in));
    add(records_out, {{"topic", t.topic}}, static_cast<double>(t.records_out));
    add(failed, {{"topic", t.topic}}, static_cast<double>(t.failed_produce));
  }
  return {std::move(bytes_in), std::move(bytes_out), std::move(records_in), std::move(records_out), std::move(failed)};
}

// Series that exist only while their group does: built afresh at each scrape rather than
// registered (a deleted group simply stops appearing).
std::vector<prometheus::MetricFamily> group_families(const std::vector<GroupSample>& groups) {
  using T = prometheus::MetricType;
  auto members = family("kbroker_consumer_group_members", "Members of each consumer group", T::Gauge);
  auto states = family("kbroker_consumer_groups", "Consumer groups coordinated here, by state", T::Gauge);
  auto rebalances = family("kbroker_consumer_group_rebalances_total", "Rebalances started, by group", T::Counter);
  auto committed = family("kbroker_consumer_group_committed_offset",
                          "Committed offset, by group, topic and partition", T::Gauge);
  auto lag = family("kbroker_consumer_group_lag",
                    "High watermark minus committed offset, by group, topic and partition", T::Gauge);
  std::map<std::string, int> per_state = {{"Empty", 0}, {"PreparingRebalance", 0}, {"CompletingRebalance", 0}, {"Stable", 0}};
  for (const auto& g : groups) {
    ++per_state[g.state];
    add(members, {{"group", g.group}}, g.members);
    add(rebalances, {{"group", g.group}}, static_cast<double>(g.rebalances));
    for (const auto& c : g.offsets) {
      std::vector<prometheus::ClientMetric::Label> labels = {
          {"group", g.group}, {"topic", c.tp.topic}, {"partition", std::to_string(c.tp.partition)}};
      add(committed, labels, static_cast<double>(c.offset));
      if (c.end_offset >= 0) add(lag, labels, static_cast<double>(std::max<int64_t>(c.end_offset - c.offset, 0)));
    }
  }
  for (const auto& [state, n] : per_state) add(states, {{"state", state}}, n);
  return {std::move(members), std::move(states), std::move(rebalances), std::move(committed), std::move(lag)};
}

}  // namespace

void Metrics::add_collector(Collector collect) {
  std::lock_guard lk(impl_->mu);
  impl_->collectors.push_back(std::move(collect));
}

std::string Metrics::scrape() {
  impl_->uptime_gauge->Set(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->started).count());
  std::function<std::vector<PartitionSample>()> source;
  {
    std::lock_guard lk(impl_->mu);
    source = impl_->partition_source;
  }
  std::function<std::vector<GroupSample>()> groups_source;
  std::function<ClusterSample()> cluster_source;
  std::function<TransactionSamples()> transaction_source;
  std::function<std::vector<LogDirSample>()> log_dir_source;
  std::function<std::vector<TopicSample>()> topic_source;
  std::function<std::map<std::string, uint64_t>()> coordinator_source;
  {
    std::lock_guard lk(impl_->mu);
    log_dir_source = impl_->log_dir_source;
    topic_source = impl_->topic_source;
    groups_source = impl_->group_source;
    cluster_source = impl_->cluster_source;
    transaction_source = impl_->transaction_source;
    coordinator_source = impl_->coordinator_source;
  }
  std::vector<Collector> collectors;
  {
    std::lock_guard lk(impl_->mu);
    collectors = impl_->collectors;
  }
  std::vector<PartitionSample> samples;
  if (source) samples = source();
  {
    std::lock_guard lk(impl_->mu);
    std::map<TopicPartition, Impl::PartitionGauges> keep;
    for (const auto& s : samples) {
      auto it = impl_->partitions.find(s.tp);
      Impl::PartitionGauges g;
      if (it != impl_->partitions.end()) {
        g = it->second;
        impl_->partitions.erase(it);
      } else {
        prometheus::Labels labels{{"topic", s.tp.topic}, {"partition", std::to_string(s.tp.partition)}};
        g = {&impl_->log_end_offset.Add(labels), &impl_->log_start_offset.Add(labels),
             &impl_->high_watermark.Add(labels), &impl_->log_size.Add(labels),
             &impl_->log_segments.Add(labels)};
      }
      g.leo->Set(static_cast<double>(s.log_end_offset));
      g.lso->Set(static_cast<double>(s.log_start_offset));
      g.hw->Set(static_cast<double>(s.high_watermark));
      g.size->Set(static_cast<double>(s.size_bytes));
      g.segments->Set(static_cast<double>(s.segments));
      keep.emplace(s.tp, g);
    }
    // Partitions that are gone (topic deleted) lose their series.
    for (auto& [tp, g] : impl_->partitions) {
      impl_->log_end_offset.Remove(g.leo);
      impl_->log_start_offset.Remove(g.lso);
      impl_->high_watermark.Remove(g.hw);
      impl_->log_size.Remove(g.size);
      impl_->log_segments.Remove(g.segments);
    }
    impl_->partitions = std::move(keep);
  }
  std::ostringstream out;
  auto families = impl_->registry.Collect();
  if (topic_source)
    for (auto& f : topic_families(topic_source())) families.push_back(std::move(f));
  if (groups_source)
    for (auto& f : group_families(groups_source())) families.push_back(std::move(f));
  if (cluster_source)
    for (auto& f : cluster_families(cluster_source())) families.push_back(std::move(f));
  if (transaction_source)
    for (auto& f : transaction_families(transaction_source())) families.push_back(std::move(f));
  if (log_dir_source)
    for (auto& f : log_dir_families(log_dir_source())) families.push_back(std::move(f));
  if (coordinator_source) {
    auto skipped = family("kbroker_coordinator_skipped_records_total",
                          "Records of an internal topic the coordinators skipped while loading, because they could "
                          "not be read (damaged, or of an unknown format)",
                          prometheus::MetricType::Counter);
    for (const auto& [topic, n] : coordinator_source()) add(skipped, {{"topic", topic}}, static_cast<double>(n));
    families.push_back(std::move(skipped));
  }
  for (const auto& collect : collectors)
    for (auto& f : collect()) families.push_back(std::move(f));
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace kb::server
