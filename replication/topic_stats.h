// Traffic of one topic through this broker (Kafka's BrokerTopicStats of a topic): what
// /metrics shows as kbroker_topic_*_total. Counted on the hot path with relaxed atomic adds on
// counters that the topic's replicas share, so no lookup and no lock per request; the
// ReplicaManager creates them with the first replica of a topic hosted here and drops them
// with the last one (the series of a deleted topic disappear; a topic that moves away and
// back starts again at zero, as a new Kafka meter does).
//
// Owner: shared by ReplicaManager and the topic's Partitions (a handler holding a Partition
// may count after the topic is gone: harmless).
#pragma once

#include <atomic>
#include <cstdint>

namespace kb::replication {

struct TopicStats {
  std::atomic<uint64_t> bytes_in{0};     // record batch bytes appended by producers
  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> bytes_out{0};    // record bytes sent to consumers (not followers)
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> failed_produce{0};  // partition produce requests refused

  static void add(std::atomic<uint64_t>& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace kb::replication
