// The table of every broker and topic property kbroker knows, with the checks no range or set
// can say; property_rules.cc reads the table. Names, types, defaults and ranges are Kafka's
// unless the doc line says "kbroker".
#include <algorithm>
#include <cctype>
#include <limits>

#include "config/config.h"
#include "config/parse.h"
#include "config/scram_users.h"

namespace kb::config {

using detail::Def;
using detail::split_list;

namespace {

const std::string kLongMax = std::to_string(std::numeric_limits<int64_t>::max());

// --- rules no range or set can say ---------------------------------------------------------

std::string check_listeners(std::string_view v) {
  std::vector<Listener> seen;
  for (const auto& item : split_list(v)) {
    std::string why;
    auto l = detail::parse_listener(item, why);
    if (!l) return why;
    for (const auto& o : seen) {
      if (o.name == l->name) return "Each listener must have a different name: " + l->name + " is used twice";
      // Kafka allows a shared port only for an IPv4 and an IPv6 address; 0 = any free port.
      bool v4_v6 = (detail::is_ipv4_literal(o.host) && detail::is_ipv6_literal(l->host)) ||
                   (detail::is_ipv6_literal(o.host) && detail::is_ipv4_literal(l->host));
      if (l->port != 0 && o.port == l->port && !v4_v6)
        return "Each listener must have a different port: " + std::to_string(l->port) + " is used by " +
               o.name + " and " + l->name;
    }
    seen.push_back(*l);
  }
  return "";
}

std::string check_advertised_listeners(std::string_view v) {
  std::vector<std::string> names;
  for (const auto& item : split_list(v)) {
    std::string why;
    auto l = detail::parse_listener(item, why);
    if (!l) return why;
    if (l->host == "0.0.0.0" || l->host == "::")
      return "cannot advertise the non-routable address " + l->host + " in '" + item +
             "'; use an address or name clients can reach";
    if (std::find(names.begin(), names.end(), l->name) != names.end())
      return "Each listener must have a different name: " + l->name + " is used twice";
    names.push_back(l->name);
  }
  return "";
}

std::string check_voters(std::string_view v) {
  std::vector<int32_t> ids;
  for (const auto& item : split_list(v)) {
    std::string why;
    auto voter = detail::parse_voter(item, why);
    if (!voter) return why;
    if (std::find(ids.begin(), ids.end(), voter->id) != ids.end())
      return "voter id " + std::to_string(voter->id) + " appears twice";
    ids.push_back(voter->id);
  }
  return "";
}

std::string check_protocol_map(std::string_view v) {
  std::string why;
  return detail::parse_protocol_map(v, why) ? "" : why;
}

std::string check_log_dirs(std::string_view v) {
  auto dirs = split_list(v);
  if (dirs.empty()) return "At least one log directory must be given";
  for (size_t i = 0; i < dirs.size(); ++i)
    for (size_t j = i + 1; j < dirs.size(); ++j)
      if (dirs[i] == dirs[j]) return "log directory " + dirs[i] + " is listed twice";
  return "";
}

std::string check_metrics_listener(std::string_view v) {
  std::string why;
  auto hp = detail::parse_host_port(v, why);
  if (!hp) return why + " (expected host:port, e.g. 0.0.0.0:9644)";
  if (hp->host.empty()) return "the host is empty (expected host:port, e.g. 0.0.0.0:9644)";
  return "";
}

std::string check_scram_users(std::string_view v) {
  auto users = parse_scram_users(v);
  return users.ok() ? "" : users.error().message;
}

// Kafka's topic name rule (Topic.validate): 1..249 of [a-zA-Z0-9._-], not "." or "..".
std::string check_topic_name(std::string_view v) {
  if (v.empty() || v == "." || v == "..") return "a topic name cannot be empty, \".\" or \"..\"";
  if (v.size() > 249) return "a topic name is at most 249 characters";
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return "a topic name may contain only ASCII letters, digits, '.', '_' and '-'";
  return "";
}

std::string check_roles(std::string_view v) {
  auto roles = split_list(v);
  if (roles.empty()) return "must name broker and/or controller (kbroker has no ZooKeeper mode)";
  for (size_t i = 0; i < roles.size(); ++i)
    for (size_t j = i + 1; j < roles.size(); ++j)
      if (roles[i] == roles[j]) return "Duplicate role names found in process.roles";
  return "";
}

std::string check_per_ip_overrides(std::string_view v) {
  std::string why;
  return parse_per_ip_overrides(v, why) ? "" : why;
}

std::vector<PropertyDef> joined(const std::vector<PropertyDef>& a, const std::vector<PropertyDef>& b) {
  std::vector<PropertyDef> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

const std::vector<PropertyDef>& broker_properties() {
  using T = Type;
  constexpr auto null = std::nullopt;
  constexpr double kShortMax = 32767;
  static const std::vector<std::string> kCompression = {"uncompressed", "zstd", "lz4",
                                                        "snappy",       "gzip", "producer"};
  static const std::vector<PropertyDef> own = {
      // Identity and roles.
      Def("node.id", T::Int, null,
          "Id of this node in the cluster; required (broker.id is accepted as its older name)")
          .at_least(0),
      Def("broker.id", T::Int, null, "Older name of node.id; when both are set they must be equal")
          .at_least(0),
      Def("process.roles", T::List, "broker,controller",
          "Roles of this node: broker, controller or both (kbroker's default: both, a single-node cluster)")
          .in({"broker", "controller"})
          .check(check_roles),
      Def("controller.quorum.voters", T::List, "",
          "Metadata quorum voters as id@host:port; empty = this node alone is its own controller")
          .check(check_voters),
      Def("controller.listener.names", T::List, "",
          "Listeners used by the controller quorum; never advertised to clients"),
      Def("broker.rack", T::String, null, "Rack of this broker, used to spread replicas across racks"),
      Def("controller.quorum.election.timeout.ms", T::Int, "1000",
          "Without a leader for this long (randomized up to twice as long) a voter asks for votes")
          .at_least(1),
      Def("controller.quorum.fetch.timeout.ms", T::Int, "2000",
          "A voter whose leader has not answered its fetches for this long starts an election")
          .at_least(1),
      Def("metadata.log.max.record.bytes.between.snapshots", T::Long, "20971520",
          "Bytes of metadata log applied after which the metadata image is written as a snapshot and the "
          "log before it dropped")
          .at_least(1),
      Def("metadata.log.max.snapshot.interval.ms", T::Long, "3600000",
          "Longest time between metadata snapshots while the metadata log grows; 0 disables the timer")
          .at_least(0),
      Def("controller.quorum.request.timeout.ms", T::Int, "2000",
          "How long a quorum request (vote, fetch) may go unanswered before it is sent again")
          .at_least(1),
      Def("controller.quorum.retry.backoff.ms", T::Int, "20", "Pause before retrying a failed quorum request")
          .at_least(0),
      Def("broker.heartbeat.interval.ms", T::Int, "2000", "How often a broker heartbeats to the active controller")
          .at_least(1),
      Def("broker.session.timeout.ms", T::Int, "9000",
          "A broker that has not heartbeated for this long is fenced and its leaderships move")
          .at_least(1),
      Def("auto.leader.rebalance.enable", T::Bool, "true",
          "The controller moves leadership back to each partition's preferred replica when it is in sync"),
      Def("leader.imbalance.check.interval.seconds", T::Long, "300",
          "How often the controller checks for partitions not led by their preferred replica")
          .at_least(1),

      // Network.
      Def("listeners", T::List, "PLAINTEXT://:9092",
          "Addresses to listen on, NAME://host:port (empty host = every interface, port 0 = any free port); read "
          "at start-up (Kafka can change it per broker at run time)")
          .check(check_listeners),
      Def("advertised.listeners", T::List, null,
          "Addresses handed to clients in Metadata, NAME://host:port; defaults to listeners; read at start-up")
          .check(check_advertised_listeners),
      Def("listener.security.protocol.map", T::String,
          "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
          "Security protocol of each listener name, NAME:PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); read "
          "at start-up")
          .check(check_protocol_map),
      Def("inter.broker.listener.name", T::String, null,
          "Listener other brokers use to reach this one; must be one of advertised.listeners"),
      Def("num.network.threads", T::Int, "3",
          "Network threads, each serving its share of the connections; read at start-up (Kafka: dynamic)")
          .at_least(1),
      Def("num.io.threads", T::Int, "8",
          "Request handler threads (kbroker handles requests on the network threads; accepted for "
          "compatibility, also dynamically, and not used)")
          .at_least(1)
          .dynamic(),
      Def("socket.request.max.bytes", T::Int, "104857600",
          "Largest request frame accepted; a bigger one closes the connection")
          .at_least(1),
      // kbroker's default is -1 (Kafka: 102400): a fixed buffer turns off the kernel's
      // autotuning, and scripts/bench measured ~30% more 1 KiB produce throughput without it.
      Def("socket.send.buffer.bytes", T::Int, "-1",
          "SO_SNDBUF of client sockets; -1 = kernel autotuning (kbroker's default; Kafka's is 102400)")
          .at_least(-1),
      Def("socket.receive.buffer.bytes", T::Int, "-1",
          "SO_RCVBUF of client sockets; -1 = kernel autotuning (kbroker's default; Kafka's is 102400)")
          .at_least(-1),
      Def("connections.max.idle.ms", T::Long, "600000", "A connection idle this long is closed"),

      // Limits on what clients may hold (Kafka's names and meanings), and kbroker's partition cap.
      Def("max.connections", T::Int, "2147483647",
          "Connections the broker holds at most; at the limit a listener stops accepting until one closes "
          "(the inter-broker and controller listeners are exempt when the broker has other listeners)")
          .at_least(0)
          .dynamic(),
      Def("max.connections.per.ip", T::Int, "2147483647",
          "Connections one address may hold; a further one is closed as it arrives")
          .at_least(0)
          .dynamic(),
      Def("max.connections.per.ip.overrides", T::String, "",
          "Per-address limits overriding max.connections.per.ip, host:count,... (host names resolved when read)")
          .check(check_per_ip_overrides)
          .dynamic(),
      Def("max.connection.creation.rate", T::Int, "2147483647",
          "New connections a second the broker accepts (over the quota windows); over it a listener waits "
          "before accepting the next (the inter-broker and controller listeners are exempt, as for max.connections)")
          .at_least(0)
          .dynamic(),
      // Client quotas (ClientQuotaRecord; server/client_quota_manager.h): how use is measured.
      Def("quota.window.num", T::Int, "11", "Windows a client's byte rate is measured over (quotas)").at_least(1),
      Def("quota.window.size.seconds", T::Int, "1", "Length of one quota window").at_least(1),
      Def("controller.quota.window.num", T::Int, "11",
          "Windows of controller_mutation_rate (the burst a client may take is rate x windows x size)")
          .at_least(1),
      Def("controller.quota.window.size.seconds", T::Int, "1", "Length of one controller-mutation window")
          .at_least(1),
      Def("queued.max.request.bytes", T::Long, "-1",
          "Bytes of requests read and not yet answered beyond which no further request is read (connections "
          "in the middle of one finish it); 0 or less: no limit; read at start-up"),
      Def("max.partitions.per.broker", T::Int, "20000",
          "kbroker: partition replicas one broker may host; CreateTopics and CreatePartitions that would put "
          "more on a broker answer INVALID_PARTITIONS; 0: no limit (Kafka has none; Redpanda's is "
          "topic_partitions_per_shard)")
          .at_least(0)
          .dynamic(),

      // Topics.
      Def("num.partitions", T::Int, "1",
          "Partitions of a topic created without a count (auto-created, or -1)")
          .at_least(1),
      Def("default.replication.factor", T::Int, "1",
          "Replication factor of a topic created without one (auto-created, or -1)")
          .between(1, kShortMax),
      Def("min.insync.replicas", T::Int, "1",
          "In-sync replicas that must hold a record before acks=all succeeds")
          .at_least(1)
          .dynamic()
          .topic("min.insync.replicas"),
      Def("auto.create.topics.enable", T::Bool, "true",
          "Create a topic when a Metadata request names an unknown one"),
      Def("delete.topic.enable", T::Bool, "true",
          "Allow DeleteTopics; false answers TOPIC_DELETION_DISABLED"),
      Def("message.max.bytes", T::Int, "1048588", "Largest record batch accepted (after compression)")
          .at_least(0)
          .dynamic()
          .topic("max.message.bytes"),
      Def("compression.type", T::String, "producer",
          "Codec batches are stored with; producer keeps whatever the producer used")
          .in(kCompression)
          .dynamic()
          .topic("compression.type"),
      Def("unclean.leader.election.enable", T::Bool, "false",
          "Let an out-of-sync replica become leader when no in-sync one is left (may lose records)")
          .dynamic()
          .topic("unclean.leader.election.enable"),

      // The partition log.
      Def("log.dirs", T::List, null, "Directories holding the partition logs; defaults to log.dir")
          .check(check_log_dirs),
      Def("log.dir", T::String, "/tmp/kafka-logs", "The log directory used when log.dirs is not set")
          .check(check_log_dirs),
      Def("log.segment.bytes", T::Int, "1073741824", "Size at which the active segment is rolled")
          .at_least(14)
          .dynamic()
          .topic("segment.bytes"),
      Def("log.roll.ms", T::Long, null, "Age at which the active segment is rolled; overrides log.roll.hours")
          .at_least(1)
          .dynamic()
          .topic("segment.ms"),
      Def("log.roll.hours", T::Int, "168", "Age in hours at which the active segment is rolled")
          .at_least(1)
          .dynamic()
          .topic("segment.ms"),
      Def("log.roll.jitter.ms", T::Long, null,
          "Random amount up to which a roll happens early; overrides hours (accepted, also dynamically; "
          "kbroker rolls without jitter)")
          .at_least(0)
          .dynamic()
          .topic("segment.jitter.ms"),
      Def("log.roll.jitter.hours", T::Int, "0", "Roll jitter in hours (accepted; kbroker rolls without jitter)")
          .at_least(0)
          .dynamic()
          .topic("segment.jitter.ms"),
      Def("log.retention.ms", T::Long, null,
          "Age after which closed segments are deleted; -1 = forever; overrides minutes and hours")
          .dynamic()
          .topic("retention.ms"),
      Def("log.retention.minutes", T::Int, null, "Retention in minutes; overrides log.retention.hours")
          .dynamic()
          .topic("retention.ms"),
      Def("log.retention.hours", T::Int, "168",
          "Retention in hours (the lowest-precedence retention setting)")
          .dynamic()
          .topic("retention.ms"),
      Def("log.retention.bytes", T::Long, "-1",
          "Partition size above which the oldest segments are deleted; -1 = none")
          .dynamic()
          .topic("retention.bytes"),
      Def("log.retention.check.interval.ms", T::Long, "300000", "How often segments are checked for deletion")
          .at_least(1),
      Def("log.index.interval.bytes", T::Int, "4096", "Log bytes between two offset index entries")
          .at_least(0)
          .dynamic()
          .topic("index.interval.bytes"),
      Def("log.index.size.max.bytes", T::Int, "10485760",
          "Largest offset or time index file; a full index rolls the segment")
          .at_least(4)
          .dynamic()
          .topic("segment.index.bytes"),
      Def("log.segment.delete.delay.ms", T::Long, "60000",
          "Wait before a deleted segment's files are removed")
          .at_least(0)
          .dynamic()
          .topic("file.delete.delay.ms"),
      Def("log.flush.interval.ms", T::Long, null,
          "fsync a log whose oldest unflushed write is this old; unset = leave write-back to the OS, like "
          "Kafka; read at start-up (Kafka: dynamic)")
          .at_least(0)
          .topic("flush.ms"),
      Def("log.flush.interval.messages", T::Long, kLongMax, "Kafka's records appended before a log is forced to disk; accepted (also dynamically), not "
          "enforced by kbroker")
          .at_least(1)
          .dynamic()
          .topic("flush.messages"),
      Def("log.flush.scheduler.interval.ms", T::Long, kLongMax,
          "Kafka's flusher check period, the default of flush.ms; kbroker's flusher runs only with "
          "log.flush.interval.ms")
          .dynamic()
          .topic("flush.ms"),
      Def("log.cleanup.policy", T::List, "delete", "What happens to old segments: delete, compact, or both")
          .in({"delete", "compact"})
          .dynamic()
          .topic("cleanup.policy"),
      Def("log.message.timestamp.type", T::String, "CreateTime",
          "Timestamp stored with records: the producer's (CreateTime) or the broker's (LogAppendTime)")
          .in({"CreateTime", "LogAppendTime"})
          .dynamic()
          .topic("message.timestamp.type"),
      Def("log.message.timestamp.difference.max.ms", T::Long, kLongMax,
          "Largest gap allowed between a CreateTime timestamp and the broker's clock")
          .at_least(0)
          .dynamic()
          .topic("message.timestamp.difference.max.ms"),
      Def("log.cleaner.enable", T::Bool, "true",
          "Run the log cleaner, which compacts topics with cleanup.policy=compact"),
      Def("log.cleaner.threads", T::Int, "1", "Threads compacting logs")
          .at_least(0)
          .dynamic(),
      Def("log.cleaner.backoff.ms", T::Long, "15000", "Sleep of a cleaner thread when no log needs cleaning")
          .at_least(0)
          .dynamic(),
      Def("log.cleaner.dedupe.buffer.size", T::Long, "134217728",
          "Memory for the cleaners' key -> offset maps, over all cleaner threads; read at start-up (Kafka: "
          "dynamic)"),
      Def("log.cleaner.io.buffer.size", T::Int, "524288",
          "Kafka's cleaner read/write buffer over all threads; kbroker reads one batch at a time")
          .at_least(0)
          .dynamic(),
      Def("log.cleaner.io.buffer.load.factor", T::Double, "0.9",
          "Kafka's dedupe hash table load factor; kbroker's offset map has none")
          .dynamic(),
      Def("log.cleaner.io.max.bytes.per.second", T::Double, "1.7976931348623157E308",
          "Kafka's cleaner I/O throttle; not enforced by kbroker")
          .dynamic(),
      Def("log.cleaner.delete.retention.ms", T::Long, "86400000",
          "How long tombstones stay in a compacted log")
          .at_least(0)
          .dynamic()
          .topic("delete.retention.ms"),
      Def("log.cleaner.min.cleanable.ratio", T::Double, "0.5",
          "Share of dirty log that makes a log worth compacting")
          .between(0, 1)
          .dynamic()
          .topic("min.cleanable.dirty.ratio"),
      Def("log.cleaner.min.compaction.lag.ms", T::Long, "0",
          "Youngest age at which a record may be compacted")
          .at_least(0)
          .dynamic()
          .topic("min.compaction.lag.ms"),
      Def("log.cleaner.max.compaction.lag.ms", T::Long, kLongMax, "Oldest age a record may reach uncompacted")
          .at_least(1)
          .dynamic()
          .topic("max.compaction.lag.ms"),
      Def("log.preallocate", T::Bool, "false",
          "Kafka's preallocation of a new segment's file; accepted (also dynamically), kbroker does not preallocate")
          .dynamic()
          .topic("preallocate"),

      // Replication.
      Def("replica.high.watermark.checkpoint.interval.ms", T::Long, "5000",
          "How often each replica's high watermark is written to replication-offset-checkpoint")
          .at_least(1),
      Def("replica.lag.time.max.ms", T::Long, "30000",
          "A follower that has not caught up for this long is removed from the ISR"),
      Def("replica.fetch.max.bytes", T::Int, "1048576",
          "Bytes a follower asks for per partition in one fetch (at least one batch comes anyway)")
          .at_least(0),
      Def("replica.fetch.min.bytes", T::Int, "1",
          "Bytes a follower's fetch waits for at the leader (up to replica.fetch.wait.max.ms)")
          .at_least(1),
      Def("replica.fetch.wait.max.ms", T::Int, "500",
          "Longest a follower's fetch waits at the leader for new records")
          .at_least(0),
      Def("replica.fetch.backoff.ms", T::Int, "1000",
          "Pause before a follower fetches again after an error")
          .at_least(0),
      Def("replica.fetch.response.max.bytes", T::Int, "10485760",
          "Bytes a follower asks for in one fetch over all partitions (at least one batch comes anyway)")
          .at_least(0),
      Def("num.replica.fetchers", T::Int, "1",
          "Fetch sessions per leader broker a follower runs; partitions are spread over them")
          .at_least(1),

      // Idempotent producers.
      Def("producer.id.expiration.ms", T::Int, "86400000",
          "A producer id whose last batch on a partition is older than this is forgotten there")
          .at_least(1),
      Def("producer.id.expiration.check.interval.ms", T::Int, "600000",
          "How often partitions look for producer ids to expire")
          .at_least(1),

      // Coordinators and their internal topics.
      Def("offsets.topic.num.partitions", T::Int, "50",
          "Partitions of __consumer_offsets (fixed once created)")
          .at_least(1),
      Def("offsets.topic.replication.factor", T::Int, "3",
          "Replication factor of __consumer_offsets; Kafka does not create it until this many brokers are up")
          .between(1, kShortMax),
      Def("offsets.retention.minutes", T::Int, "10080",
          "How long an empty group's committed offsets are kept")
          .at_least(1),
      Def("offsets.retention.check.interval.ms", T::Long, "600000",
          "How often the group coordinator looks for expired offsets")
          .at_least(1),
      Def("offsets.commit.timeout.ms", T::Int, "5000",
          "An offset commit fails (COORDINATOR_NOT_AVAILABLE) when the ISR has not got it within this time")
          .at_least(1),
      Def("offsets.topic.compression.codec", T::Int, "0",
          "Codec of the batches the group coordinator writes to __consumer_offsets: 0 none, 1 gzip, 2 snappy, "
          "3 lz4, 4 zstd (every codec is read)")
          .between(0, 4),
      Def("offsets.topic.segment.bytes", T::Int, "104857600",
          "segment.bytes of __consumer_offsets (kept small so the log cleaner can compact it)")
          .at_least(1),
      Def("offset.metadata.max.bytes", T::Int, "4096",
          "Largest metadata string a client may commit with an offset (OFFSET_METADATA_TOO_LARGE beyond)"),
      Def("transaction.state.log.num.partitions", T::Int, "50", "Partitions of __transaction_state")
          .at_least(1),
      Def("transaction.state.log.replication.factor", T::Int, "3",
          "Replication factor of __transaction_state; Kafka waits for this many brokers before creating it")
          .between(1, kShortMax),
      Def("transaction.state.log.min.isr", T::Int, "2",
          "min.insync.replicas of __transaction_state (at most its replication factor)")
          .at_least(1),
      Def("transaction.state.log.segment.bytes", T::Int, "104857600",
          "segment.bytes of __transaction_state (kept small so the log cleaner can compact it)")
          .at_least(1),
      Def("transaction.max.timeout.ms", T::Int, "900000",
          "Longest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT beyond)")
          .at_least(1),
      Def("transaction.abort.timed.out.transaction.cleanup.interval.ms", T::Long, "10000",
          "How often the transaction coordinator aborts transactions that ran past their timeout")
          .at_least(1),
      Def("transactional.id.expiration.ms", T::Long, "604800000",
          "A transactional id with no transaction for this long is forgotten")
          .at_least(1),
      Def("transaction.remove.expired.transaction.cleanup.interval.ms", T::Long, "3600000",
          "How often the transaction coordinator looks for transactional ids to forget")
          .at_least(1),
      Def("transaction.partition.verification.enable", T::Bool, "true",
          "Before a producer's first transactional batch on a partition, its leader asks the transaction "
          "coordinator whether the partition is in the transaction (KIP-890); refused with INVALID_TXN_STATE if not")
          .dynamic(),
      Def("group.initial.rebalance.delay.ms", T::Int, "3000",
          "How long the first rebalance of a new group waits for more members to join"),
      Def("group.min.session.timeout.ms", T::Int, "6000",
          "Smallest session timeout a group member may ask for"),
      Def("group.max.session.timeout.ms", T::Int, "1800000",
          "Largest session timeout a group member may ask for"),
      Def("group.max.size", T::Int, "2147483647",
          "Most members one consumer group may have (GROUP_MAX_SIZE_REACHED beyond)")
          .at_least(1),

      // kbroker's own.
      Def("metrics.listener", T::String, "0.0.0.0:9644",
          "kbroker: host:port of the HTTP endpoint serving /metrics (Prometheus) and /health")
          .check(check_metrics_listener),
      // The built-in Schema Registry (Confluent's REST API; its store is a compacted topic).
      Def("schema.registry.enable", T::Bool, "true",
          "kbroker: serve the Schema Registry REST API on schema.registry.listener (read at start-up)"),
      Def("schema.registry.listener", T::String, "0.0.0.0:8081",
          "kbroker: host:port of the Schema Registry REST API (Confluent's listeners; read at start-up)")
          .check(check_metrics_listener),
      Def("schema.registry.topic", T::String, "_schemas",
          "kbroker: the compacted topic holding the registry's schemas (Confluent's kafkastore.topic)")
          .check(check_topic_name),
      Def("schema.registry.topic.replication.factor", T::Int, "3",
          "kbroker: replication factor of schema.registry.topic (Confluent's "
          "kafkastore.topic.replication.factor); a lone broker caps it at 1, a cluster waits for that many brokers")
          .between(1, kShortMax),
      Def("schema.registry.max.request.bytes", T::Int, "4194304",
          "kbroker: largest Schema Registry request body; a larger one is answered 413")
          .between(1024, 1073741824),
      Def("schema.registry.timeout.ms", T::Int, "30000",
          "kbroker: longest a Schema Registry request waits for the topic (a write for its replication, a "
          "read for the view to catch up) before 50002 (Confluent's kafkastore.timeout.ms)")
          .at_least(1),
      // Security records (issue 17): the first SCRAM users, and the registry's Basic auth.
      Def("bootstrap.scram.users", T::Password, "",
          "kbroker: SCRAM users the controller writes into a new cluster's metadata log (kafka-storage format "
          "--add-scram): SCRAM-SHA-256=[name=admin,password=admin-secret], several separated by spaces or ';'; "
          "ignored once the cluster exists")
          .check(check_scram_users),
      Def("schema.registry.authentication.method", T::String, "NONE",
          "kbroker: Confluent's authentication.method for the Schema Registry: NONE, or BASIC (HTTP Basic "
          "against the cluster's SCRAM users and the PLAIN users of sasl.jaas.config)")
          .in({"NONE", "BASIC"}),
      Def("log.level", T::String, "info", "kbroker: level of the broker's own log (not a Kafka property)")
          .in({"trace", "debug", "info", "warn", "error", "critical", "off"}),
  };
  static const std::vector<PropertyDef> defs =
      joined(joined(joined(own, detail::security_transport_properties()), detail::authorizer_properties()),
             detail::compat_broker_properties());
  return defs;
}

const std::vector<PropertyDef>& topic_properties() {
  using T = Type;
  static const std::vector<std::string> kCompression = {"uncompressed", "zstd", "lz4",
                                                        "snappy",       "gzip", "producer"};
  static const char* kTopicNameStrategy = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
  static const std::vector<std::string> kSubjectNameStrategies = {
      kTopicNameStrategy, "io.confluent.kafka.serializers.subject.RecordNameStrategy",
      "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"};
  // topic(): the first broker synonym (see detail::synonyms_of for the full list).
  static const std::vector<PropertyDef> own = {
      Def("cleanup.policy", T::List, "delete",
          "delete old segments, compact to the last value per key, or both")
          .in({"delete", "compact"})
          .dynamic()
          .topic("log.cleanup.policy"),
      Def("compression.type", T::String, "producer",
          "Codec batches are stored with; producer keeps the producer's")
          .in(kCompression)
          .dynamic()
          .topic("compression.type"),
      Def("delete.retention.ms", T::Long, "86400000", "How long tombstones stay in a compacted topic")
          .at_least(0)
          .dynamic()
          .topic("log.cleaner.delete.retention.ms"),
      Def("file.delete.delay.ms", T::Long, "60000", "Wait before a deleted segment's files are removed")
          .at_least(0)
          .dynamic()
          .topic("log.segment.delete.delay.ms"),
      Def("flush.messages", T::Long, kLongMax, "Records appended before the log is forced to disk")
          .at_least(1)
          .dynamic()
          .topic("log.flush.interval.messages"),
      Def("flush.ms", T::Long, kLongMax, "Age of the oldest unflushed write that forces the log to disk")
          .at_least(0)
          .dynamic()
          .topic("log.flush.interval.ms"),
      Def("index.interval.bytes", T::Int, "4096", "Log bytes between two offset index entries")
          .at_least(0)
          .dynamic()
          .topic("log.index.interval.bytes"),
      Def("max.compaction.lag.ms", T::Long, kLongMax, "Oldest age a record may reach uncompacted")
          .at_least(1)
          .dynamic()
          .topic("log.cleaner.max.compaction.lag.ms"),
      Def("max.message.bytes", T::Int, "1048588", "Largest record batch accepted (after compression)")
          .at_least(0)
          .dynamic()
          .topic("message.max.bytes"),
      Def("message.timestamp.difference.max.ms", T::Long, kLongMax,
          "Largest gap allowed between a CreateTime timestamp and the broker's clock")
          .at_least(0)
          .dynamic()
          .topic("log.message.timestamp.difference.max.ms"),
      Def("message.timestamp.type", T::String, "CreateTime",
          "CreateTime (the producer's) or LogAppendTime (the broker's)")
          .in({"CreateTime", "LogAppendTime"})
          .dynamic()
          .topic("log.message.timestamp.type"),
      Def("min.cleanable.dirty.ratio", T::Double, "0.5",
          "Share of dirty log that makes the log worth compacting")
          .between(0, 1)
          .dynamic()
          .topic("log.cleaner.min.cleanable.ratio"),
      Def("min.compaction.lag.ms", T::Long, "0", "Youngest age at which a record may be compacted")
          .at_least(0)
          .dynamic()
          .topic("log.cleaner.min.compaction.lag.ms"),
      Def("min.insync.replicas", T::Int, "1",
          "In-sync replicas that must hold a record before acks=all succeeds")
          .at_least(1)
          .dynamic()
          .topic("min.insync.replicas"),
      Def("preallocate", T::Bool, "false", "Preallocate the file of a new segment")
          .dynamic()
          .topic("log.preallocate"),
      Def("retention.bytes", T::Long, "-1",
          "Partition size above which the oldest segments are deleted; -1 = none")
          .dynamic()
          .topic("log.retention.bytes"),
      Def("retention.ms", T::Long, "604800000", "Age after which closed segments are deleted; -1 = forever")
          .at_least(-1)
          .dynamic()
          .topic("log.retention.ms"),
      Def("segment.bytes", T::Int, "1073741824", "Size at which the active segment is rolled")
          .at_least(14)
          .dynamic()
          .topic("log.segment.bytes"),
      Def("segment.index.bytes", T::Int, "10485760", "Largest offset or time index file")
          .at_least(4)
          .dynamic()
          .topic("log.index.size.max.bytes"),
      Def("segment.jitter.ms", T::Long, "0", "Random amount up to which a time-based roll happens early")
          .at_least(0)
          .dynamic()
          .topic("log.roll.jitter.ms"),
      Def("segment.ms", T::Long, "604800000", "Age at which the active segment is rolled")
          .at_least(1)
          .dynamic()
          .topic("log.roll.ms"),
      Def("unclean.leader.election.enable", T::Bool, "false",
          "Let an out-of-sync replica become leader when no in-sync one is left (may lose records)")
          .dynamic()
          .topic("unclean.leader.election.enable"),
      // Confluent Server's broker-side schema validation (no broker-wide default: per topic).
      Def("confluent.key.schema.validation", T::Bool, "false",
          "Refuse records whose key does not carry a schema id registered under the key subject")
          .dynamic(),
      Def("confluent.value.schema.validation", T::Bool, "false",
          "Refuse records whose value does not carry a schema id registered under the value subject")
          .dynamic(),
      Def("confluent.key.subject.name.strategy", T::String, kTopicNameStrategy,
          "How the key subject is named: TopicNameStrategy (<topic>-key), RecordNameStrategy, "
          "TopicRecordNameStrategy")
          .in(kSubjectNameStrategies)
          .dynamic(),
      Def("confluent.value.subject.name.strategy", T::String, kTopicNameStrategy,
          "How the value subject is named: TopicNameStrategy (<topic>-value), RecordNameStrategy, "
          "TopicRecordNameStrategy")
          .in(kSubjectNameStrategies)
          .dynamic(),
  };
  static const std::vector<PropertyDef> defs = joined(own, detail::compat_topic_properties());
  return defs;
}

}  // namespace kb::config
