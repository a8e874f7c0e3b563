// The table of every broker and topic property kbroker knows: Kafka's names and defaults.
#include <limits>

#include "config/config.h"

namespace kb::config {

namespace {
constexpr double kIntMax = std::numeric_limits<int32_t>::max();
const std::optional<std::string> kNull = std::nullopt;
std::string s(const char* v) { return v; }
}  // namespace

const std::vector<PropertyDef>& broker_properties() {
  using T = Type;
  static const std::vector<PropertyDef> defs = {
      {"node.id", T::Int, kNull, "Id of this node in the cluster (required)", false, "", 0, kIntMax, {}},
      {"broker.id", T::Int, kNull, "Older name of node.id; must equal it when both are set", false, "", 0, kIntMax, {}},
      {"process.roles", T::List, s("broker,controller"), "Roles of this node: broker, controller or both", false, "", {}, {}, {"broker", "controller"}},
      {"controller.quorum.voters", T::List, s(""), "id@host:port of every controller voter; empty = this node alone is the controller", false, "", {}, {}, {}},
      {"controller.listener.names", T::List, s(""), "Listener names used by the controller quorum", false, "", {}, {}, {}},
      {"listeners", T::List, s("PLAINTEXT://:9092"), "Addresses the broker listens on, NAME://host:port", false, "", {}, {}, {}},
      {"advertised.listeners", T::List, kNull, "Addresses given to clients in Metadata; defaults to listeners", false, "", {}, {}, {}},
      {"listener.security.protocol.map", T::String, s("PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"), "Security protocol of each listener name", false, "", {}, {}, {}},
      {"inter.broker.listener.name", T::String, kNull, "Listener used between brokers", false, "", {}, {}, {}},
      {"log.dirs", T::List, kNull, "Directories where partition logs are kept (default log.dir)", false, "", {}, {}, {}},
      {"log.dir", T::String, s("/tmp/kafka-logs"), "Log directory used when log.dirs is not set", false, "", {}, {}, {}},
      {"num.network.threads", T::Int, s("3"), "Network event loops (each handles its connections' requests)", true, "", 1, kIntMax, {}},
      {"num.io.threads", T::Int, s("8"), "Accepted for compatibility; kbroker handles requests on the network threads", false, "", 1, kIntMax, {}},
      {"num.partitions", T::Int, s("1"), "Partitions of an auto-created topic or a CreateTopics with -1", false, "", 1, kIntMax, {}},
      {"default.replication.factor", T::Int, s("1"), "Replication factor of auto-created topics and CreateTopics with -1", false, "", 1, 32767, {}},
      {"min.insync.replicas", T::Int, s("1"), "Replicas that must acknowledge an acks=all write", true, "min.insync.replicas", 1, kIntMax, {}},
      {"auto.create.topics.enable", T::Bool, s("true"), "Create unknown topics on Metadata requests", false, "", {}, {}, {}},
      {"delete.topic.enable", T::Bool, s("true"), "Allow DeleteTopics", false, "", {}, {}, {}},
      {"socket.request.max.bytes", T::Int, s("104857600"), "Largest request accepted; a bigger frame closes the connection", false, "", 1, kIntMax, {}},
      // kbroker defaults these to -1 (Kafka: 102400): a fixed buffer turns off the kernel's
      // autotuning, and scripts/bench measured ~30% more 1 KiB produce throughput without it.
      {"socket.send.buffer.bytes", T::Int, s("-1"), "SO_SNDBUF of client sockets; -1 (kbroker's default) lets the kernel autotune", true, "", -1, kIntMax, {}},
      {"socket.receive.buffer.bytes", T::Int, s("-1"), "SO_RCVBUF of client sockets; -1 (kbroker's default) lets the kernel autotune", true, "", -1, kIntMax, {}},
      {"connections.max.idle.ms", T::Long, s("600000"), "Idle connections are closed after this long", false, "", {}, {}, {}},
      {"message.max.bytes", T::Int, s("1048588"), "Largest record batch accepted", true, "max.message.bytes", 0, kIntMax, {}},
      {"log.segment.bytes", T::Int, s("1073741824"), "Segment size before a new one is rolled", true, "segment.bytes", 14, kIntMax, {}},
      {"log.roll.ms", T::Long, kNull, "Segment age before a new one is rolled (overrides log.roll.hours)", true, "segment.ms", 1, {}, {}},
      {"log.roll.hours", T::Int, s("168"), "Segment age in hours before a new one is rolled", false, "", 1, kIntMax, {}},
      {"log.retention.ms", T::Long, kNull, "Age after which segments are deleted (-1: forever); beats minutes and hours", true, "retention.ms", -1, {}, {}},
      {"log.retention.minutes", T::Int, kNull, "Retention in minutes; beats hours", false, "", -1, kIntMax, {}},
      {"log.retention.hours", T::Int, s("168"), "Retention in hours", false, "", -1, kIntMax, {}},
      {"log.retention.bytes", T::Long, s("-1"), "Partition size above which old segments are deleted (-1: no limit)", true, "retention.bytes", -1, {}, {}},
      {"log.retention.check.interval.ms", T::Long, s("300000"), "How often retention is enforced", false, "", 1, {}, {}},
      {"log.index.interval.bytes", T::Int, s("4096"), "Bytes between offset index entries", true, "index.interval.bytes", 0, kIntMax, {}},
      {"log.index.size.max.bytes", T::Int, s("10485760"), "Largest offset/time index file", true, "segment.index.bytes", 4, kIntMax, {}},
      {"log.segment.delete.delay.ms", T::Long, s("60000"), "Delay before a deleted segment's file is removed", true, "file.delete.delay.ms", 0, {}, {}},
      {"log.flush.interval.ms", T::Long, kNull, "How often dirty logs are fsynced (kbroker default: every second)", true, "flush.ms", 0, {}, {}},
      {"log.flush.interval.messages", T::Long, s("9223372036854775807"), "Records between forced fsyncs", true, "flush.messages", 1, {}, {}},
      {"log.cleanup.policy", T::List, s("delete"), "delete and/or compact", true, "cleanup.policy", {}, {}, {"delete", "compact"}},
      {"log.message.timestamp.type", T::String, s("CreateTime"), "CreateTime or LogAppendTime", true, "message.timestamp.type", {}, {}, {"CreateTime", "LogAppendTime"}},
      {"log.message.timestamp.difference.max.ms", T::Long, s("9223372036854775807"), "Largest accepted difference between record and broker time", true, "message.timestamp.difference.max.ms", 0, {}, {}},
      {"log.cleaner.delete.retention.ms", T::Long, s("86400000"), "How long tombstones are kept on compacted topics", true, "delete.retention.ms", 0, {}, {}},
      {"log.cleaner.min.cleanable.ratio", T::Double, s("0.5"), "Dirty ratio that makes a log eligible for compaction", true, "min.cleanable.dirty.ratio", 0, 1, {}},
      {"log.cleaner.min.compaction.lag.ms", T::Long, s("0"), "Minimum age of a record before compaction", true, "min.compaction.lag.ms", 0, {}, {}},
      {"log.cleaner.max.compaction.lag.ms", T::Long, s("9223372036854775807"), "Maximum age of an uncompacted record", true, "max.compaction.lag.ms", 1, {}, {}},
      {"log.preallocate", T::Bool, s("false"), "Preallocate segment files", true, "preallocate", {}, {}, {}},
      {"compression.type", T::String, s("producer"), "Codec of stored batches; producer keeps the producer's", true, "compression.type", {}, {}, {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}},
      {"unclean.leader.election.enable", T::Bool, s("false"), "Allow out-of-sync replicas to become leader", true, "unclean.leader.election.enable", {}, {}, {}},
      {"offsets.topic.num.partitions", T::Int, s("50"), "Partitions of __consumer_offsets", false, "", 1, kIntMax, {}},
      {"offsets.topic.replication.factor", T::Int, s("3"), "Replication factor of __consumer_offsets", false, "", 1, 32767, {}},
      {"offsets.retention.minutes", T::Int, s("10080"), "How long committed offsets of empty groups are kept", false, "", 1, kIntMax, {}},
      {"transaction.state.log.num.partitions", T::Int, s("50"), "Partitions of __transaction_state", false, "", 1, kIntMax, {}},
      {"transaction.state.log.replication.factor", T::Int, s("3"), "Replication factor of __transaction_state", false, "", 1, 32767, {}},
      {"group.initial.rebalance.delay.ms", T::Int, s("3000"), "Wait for more members before the first rebalance", false, "", 0, kIntMax, {}},
      {"group.min.session.timeout.ms", T::Int, s("6000"), "Smallest session timeout a member may ask for", false, "", 0, kIntMax, {}},
      {"group.max.session.timeout.ms", T::Int, s("1800000"), "Largest session timeout a member may ask for", false, "", 0, kIntMax, {}},
      {"replica.lag.time.max.ms", T::Long, s("30000"), "A follower this far behind leaves the ISR", false, "", 0, {}, {}},
      {"broker.rack", T::String, kNull, "Rack of this broker, for replica placement", false, "", {}, {}, {}},
      {"metrics.listener", T::String, s("0.0.0.0:9644"), "kbroker: host:port of the HTTP endpoint serving /metrics and /health", false, "", {}, {}, {}},
      {"log.level", T::String, s("info"), "kbroker: log level", true, "", {}, {}, {"trace", "debug", "info", "warn", "error", "critical", "off"}},
  };
  return defs;
}

const std::vector<PropertyDef>& topic_properties() {
  using T = Type;
  static const std::vector<PropertyDef> defs = {
      {"cleanup.policy", T::List, s("delete"), "delete and/or compact", true, "log.cleanup.policy", {}, {}, {"delete", "compact"}},
      {"compression.type", T::String, s("producer"), "Codec of stored batches", true, "compression.type", {}, {}, {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}},
      {"delete.retention.ms", T::Long, s("86400000"), "How long tombstones are kept", true, "log.cleaner.delete.retention.ms", 0, {}, {}},
      {"file.delete.delay.ms", T::Long, s("60000"), "Delay before a deleted segment's file is removed", true, "log.segment.delete.delay.ms", 0, {}, {}},
      {"flush.messages", T::Long, s("9223372036854775807"), "Records between forced fsyncs", true, "log.flush.interval.messages", 1, {}, {}},
      {"flush.ms", T::Long, s("9223372036854775807"), "Time between forced fsyncs", true, "log.flush.interval.ms", 0, {}, {}},
      {"index.interval.bytes", T::Int, s("4096"), "Bytes between offset index entries", true, "log.index.interval.bytes", 0, kIntMax, {}},
      {"max.compaction.lag.ms", T::Long, s("9223372036854775807"), "Maximum age of an uncompacted record", true, "log.cleaner.max.compaction.lag.ms", 1, {}, {}},
      {"max.message.bytes", T::Int, s("1048588"), "Largest record batch accepted", true, "message.max.bytes", 0, kIntMax, {}},
      {"message.timestamp.type", T::String, s("CreateTime"), "CreateTime or LogAppendTime", true, "log.message.timestamp.type", {}, {}, {"CreateTime", "LogAppendTime"}},
      {"message.timestamp.difference.max.ms", T::Long, s("9223372036854775807"), "Largest accepted difference between record and broker time", true, "log.message.timestamp.difference.max.ms", 0, {}, {}},
      {"min.cleanable.dirty.ratio", T::Double, s("0.5"), "Dirty ratio that makes the log eligible for compaction", true, "log.cleaner.min.cleanable.ratio", 0, 1, {}},
      {"min.compaction.lag.ms", T::Long, s("0"), "Minimum age of a record before compaction", true, "log.cleaner.min.compaction.lag.ms", 0, {}, {}},
      {"min.insync.replicas", T::Int, s("1"), "Replicas that must acknowledge an acks=all write", true, "min.insync.replicas", 1, kIntMax, {}},
      {"preallocate", T::Bool, s("false"), "Preallocate segment files", true, "log.preallocate", {}, {}, {}},
      {"retention.bytes", T::Long, s("-1"), "Partition size above which old segments are deleted", true, "log.retention.bytes", -1, {}, {}},
      {"retention.ms", T::Long, s("604800000"), "Age after which segments are deleted (-1: forever)", true, "log.retention.ms", -1, {}, {}},
      {"segment.bytes", T::Int, s("1073741824"), "Segment size before a new one is rolled", true, "log.segment.bytes", 14, kIntMax, {}},
      {"segment.index.bytes", T::Int, s("10485760"), "Largest offset/time index file", true, "log.index.size.max.bytes", 4, kIntMax, {}},
      {"segment.jitter.ms", T::Long, s("0"), "Random jitter subtracted from segment.ms", true, "", 0, {}, {}},
      {"segment.ms", T::Long, s("604800000"), "Segment age before a new one is rolled", true, "log.roll.ms", 1, {}, {}},
      {"unclean.leader.election.enable", T::Bool, s("false"), "Allow out-of-sync replicas to become leader", true, "unclean.leader.election.enable", {}, {}, {}},
  };
  return defs;
}

}  // namespace kb::config
