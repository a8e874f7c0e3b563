// Kafka 3.9's properties that kbroker accepts for compatibility and does not use: every
// broker property of Kafka's KafkaConfig (and the replication throttle rates of its dynamic
// broker configs) that properties.cc does not list, and the topic configs Kafka 3.9 still
// takes although kbroker has no use for them (the deprecated message.format.version and
// message.downconversion.enable, compression levels, replication throttles).
//
// Kafka accepts its whole property table, so a configuration or an AlterConfigs written for
// Kafka must not fail on kbroker for naming one of these. Each keeps Kafka's type, default,
// range and update mode (read-only, cluster-wide or per-broker), so a value Kafka would refuse
// is refused here too. A few are refused when set to something kbroker cannot honour (a
// policy class, a dynamic quorum) rather than silently ignored. When kbroker starts using one, it moves to properties.cc.
#include "config/config.h"
#include "config/parse.h"

namespace kb::config::detail {

namespace {

constexpr const char* kNotUsed = "Kafka's; accepted for compatibility, not used by kbroker";

Def kafka(const char* name, Type type, std::optional<std::string> default_value) {
  Def d(name, type, std::move(default_value), kNotUsed);
  d.not_used();
  return d;
}

// Kafka's MetadataVersion list (3.9), oldest first.
constexpr const char* kMetadataVersions[] = {
    "0.8.0",      "0.8.1",      "0.8.2",      "0.9.0",      "0.10.0-IV0", "0.10.0-IV1", "0.10.1-IV0",
    "0.10.1-IV1", "0.10.1-IV2", "0.10.2-IV0", "0.11.0-IV0", "0.11.0-IV1", "0.11.0-IV2", "1.0-IV0",
    "1.1-IV0",    "2.0-IV0",    "2.0-IV1",    "2.1-IV0",    "2.1-IV1",    "2.1-IV2",    "2.2-IV0",
    "2.2-IV1",    "2.3-IV0",    "2.3-IV1",    "2.4-IV0",    "2.4-IV1",    "2.5-IV0",    "2.6-IV0",
    "2.7-IV0",    "2.7-IV1",    "2.7-IV2",    "2.8-IV0",    "2.8-IV1",    "3.0-IV0",    "3.0-IV1",
    "3.1-IV0",    "3.2-IV0",    "3.3-IV0",    "3.3-IV1",    "3.3-IV2",    "3.3-IV3",    "3.4-IV0",
    "3.5-IV0",    "3.5-IV1",    "3.5-IV2",    "3.6-IV0",    "3.6-IV1",    "3.6-IV2",    "3.7-IV0",
    "3.7-IV1",    "3.7-IV2",    "3.7-IV3",    "3.7-IV4",    "3.8-IV0",    "3.9-IV0",    "4.0-IV0",
    "4.0-IV1"};
constexpr std::string_view kLatestProduction = "3.9-IV0";  // later ones are not releases yet

int index_of(std::string_view v) {
  for (int i = 0; i < static_cast<int>(std::size(kMetadataVersions)); ++i)
    if (kMetadataVersions[i] == v) return i;
  return -1;
}

std::string check_metadata_version(std::string_view v) {
  return metadata_version_index(v) ? "" : "Version " + std::string(v) + " is not a valid version";
}

// Kafka refuses an inter-broker protocol that predates KRaft in KRaft mode, kbroker's only one.
std::string check_kraft_metadata_version(std::string_view v) {
  auto i = metadata_version_index(v);
  if (!i) return "Version " + std::string(v) + " is not a valid version";
  if (*i < metadata_version_index_of_kraft_minimum())
    return "A non-KRaft version " + std::string(v) +
           " given for inter.broker.protocol.version. The minimum version is " +
           kMetadataVersions[metadata_version_index_of_kraft_minimum()];
  return "";
}

std::string check_gzip_level(std::string_view v) {
  auto x = parse_long(v);
  return x && (*x == -1 || (*x >= 1 && *x <= 9)) ? "" : "Value must be between 1 and 9, or -1";
}

std::string non_empty(std::string_view v) { return v.empty() ? "String may not be empty" : ""; }

// A Java class that would change what the broker allows (a topic or config policy): kbroker cannot load it, and silently running without it would be worse.
std::string no_java_class(std::string_view v) {
  return v.empty() ? "" : "kbroker cannot load Java classes; leave it unset";
}

std::string no_bootstrap_servers(std::string_view v) {
  return v.empty() ? ""
                   : "kbroker has no dynamic quorum (KIP-853); name the voters in controller.quorum.voters";
}

// "*" or partition:broker pairs (Kafka's ThrottledReplicaListValidator).
std::string check_throttled_replicas(std::string_view v) {
  auto items = split_list(v);
  if (items.size() == 1 && items[0] == "*") return "";
  for (const auto& item : items) {
    auto colon = item.find(':');
    if (colon == std::string::npos || !parse_long(trim(item.substr(0, colon))) ||
        !parse_long(trim(item.substr(colon + 1))))
      return "must be the literal '*' or a list of replicas in the following format: "
             "[partitionId]:[brokerId],[partitionId]:[brokerId],...";
  }
  return "";
}

}  // namespace

std::optional<int> metadata_version_index(std::string_view v) {
  // Kafka's fromVersionString: "0.x.y..." keeps three parts, anything else two ("2.8.1" is
  // "2.8", "3.0-IV1" stays itself); a release names its last production version.
  size_t parts = v.substr(0, 2) == "0." ? 3 : 2, dots = 0, cut = v.size();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == '.' && ++dots == parts) {
      cut = i;
      break;
    }
  std::string_view key = v.substr(0, cut);
  if (int i = index_of(key); i >= 0) return i;
  const int latest = index_of(kLatestProduction);
  std::optional<int> last;
  for (int i = 0; i <= latest; ++i) {
    std::string_view s = kMetadataVersions[i];
    if (s.substr(0, s.find("-IV")) == key) last = i;
  }
  return last;
}

int metadata_version_index_of_record_v2() { return index_of("0.11.0-IV0"); }
int metadata_version_index_of_kraft_minimum() { return index_of("3.0-IV1"); }

const std::vector<PropertyDef>& compat_broker_properties() {
  using T = Type;
  constexpr auto null = std::nullopt;
  static const std::vector<PropertyDef> defs = {
      kafka("alter.config.policy.class.name", T::String, null).check(no_java_class),
      kafka("alter.log.dirs.replication.quota.window.num", T::Int, "11").at_least(1),
      kafka("alter.log.dirs.replication.quota.window.size.seconds", T::Int, "1").at_least(1),
      kafka("auto.include.jmx.reporter", T::Bool, "true"),
      kafka("background.threads", T::Int, "10").at_least(1).dynamic(),
      kafka("broker.id.generation.enable", T::Bool, "true"),
      kafka("client.quota.callback.class", T::String, null),
      kafka("compression.gzip.level", T::Int, "-1")
          .check(check_gzip_level)
          .dynamic()
          .topic("compression.gzip.level"),
      kafka("compression.lz4.level", T::Int, "9").between(1, 17).dynamic().topic("compression.lz4.level"),
      kafka("compression.zstd.level", T::Int, "3")
          .between(-131072, 22)
          .dynamic()
          .topic("compression.zstd.level"),
      kafka("connection.failed.authentication.delay.ms", T::Int, "100").at_least(0),
      kafka("control.plane.listener.name", T::String, null),
      kafka("controlled.shutdown.enable", T::Bool, "true"),
      kafka("controlled.shutdown.max.retries", T::Int, "3"),
      kafka("controlled.shutdown.retry.backoff.ms", T::Long, "5000"),
      kafka("controller.quorum.append.linger.ms", T::Int, "25"),
      kafka("controller.quorum.bootstrap.servers", T::List, "").check(no_bootstrap_servers),
      kafka("controller.quorum.election.backoff.max.ms", T::Int, "1000"),
      kafka("controller.socket.timeout.ms", T::Int, "30000"),
      kafka("create.topic.policy.class.name", T::String, null).check(no_java_class),
      kafka("delegation.token.expiry.check.interval.ms", T::Long, "3600000").at_least(1),
      kafka("delegation.token.expiry.time.ms", T::Long, "86400000").at_least(1),
      kafka("delegation.token.master.key", T::Password, null),
      kafka("delegation.token.max.lifetime.ms", T::Long, "604800000").at_least(1),
      kafka("delegation.token.secret.key", T::Password, null),
      kafka("delete.records.purgatory.purge.interval.requests", T::Int, "1"),
      kafka("early.start.listeners", T::String, null),
      kafka("eligible.leader.replicas.enable", T::Bool, "false"),
      kafka("fetch.max.bytes", T::Int, "57671680").at_least(1024),
      kafka("fetch.purgatory.purge.interval.requests", T::Int, "1000"),
      kafka("follower.replication.throttled.rate", T::Long, "9223372036854775807").at_least(0).dynamic(),
      kafka("group.consumer.assignors", T::List,
            "org.apache.kafka.coordinator.group.assignor.UniformAssignor,"
            "org.apache.kafka.coordinator.group.assignor.RangeAssignor"),
      kafka("group.consumer.heartbeat.interval.ms", T::Int, "5000").at_least(1),
      kafka("group.consumer.max.heartbeat.interval.ms", T::Int, "15000").at_least(1),
      kafka("group.consumer.max.session.timeout.ms", T::Int, "60000").at_least(1),
      kafka("group.consumer.max.size", T::Int, "2147483647").at_least(1),
      kafka("group.consumer.min.heartbeat.interval.ms", T::Int, "5000").at_least(1),
      kafka("group.consumer.min.session.timeout.ms", T::Int, "45000").at_least(1),
      kafka("group.consumer.session.timeout.ms", T::Int, "45000").at_least(1),
      kafka("group.coordinator.append.linger.ms", T::Int, "10").at_least(0),
      kafka("group.coordinator.rebalance.protocols", T::List, "classic")
          .in({"consumer", "classic", "share", "unknown"}),
      kafka("group.coordinator.threads", T::Int, "1").at_least(1),
      kafka("group.share.delivery.count.limit", T::Int, "5").between(2, 10),
      kafka("group.share.heartbeat.interval.ms", T::Int, "5000").at_least(1),
      kafka("group.share.max.groups", T::Int, "10").between(1, 100),
      kafka("group.share.max.heartbeat.interval.ms", T::Int, "15000").at_least(1),
      kafka("group.share.max.record.lock.duration.ms", T::Int, "60000").between(30000, 3600000),
      kafka("group.share.max.session.timeout.ms", T::Int, "60000").at_least(1),
      kafka("group.share.max.size", T::Int, "200").between(10, 1000),
      kafka("group.share.min.heartbeat.interval.ms", T::Int, "5000").at_least(1),
      kafka("group.share.min.record.lock.duration.ms", T::Int, "15000").between(1000, 30000),
      kafka("group.share.min.session.timeout.ms", T::Int, "45000").at_least(1),
      kafka("group.share.partition.max.record.locks", T::Int, "200").between(100, 10000),
      kafka("group.share.record.lock.duration.ms", T::Int, "30000").between(1000, 60000),
      kafka("group.share.session.timeout.ms", T::Int, "45000").at_least(1),
      kafka("initial.broker.registration.timeout.ms", T::Int, "60000"),
      Def("inter.broker.protocol.version", T::String, "3.9-IV0",
          "Kafka's inter-broker protocol; deprecated in KRaft mode (at least 3.0-IV1); accepted for "
          "compatibility, "
          "not used by kbroker")
          .check(check_kraft_metadata_version)
          .not_used(),
      kafka("kafka.metrics.polling.interval.secs", T::Int, "10").at_least(1),
      kafka("kafka.metrics.reporters", T::List, ""),
      kafka("leader.imbalance.per.broker.percentage", T::Int, "10"),
      kafka("leader.replication.throttled.rate", T::Long, "9223372036854775807").at_least(0).dynamic(),
      kafka("log.dir.failure.timeout.ms", T::Long, "30000").at_least(1),
      kafka("log.flush.offset.checkpoint.interval.ms", T::Int, "60000").at_least(0),
      kafka("log.flush.start.offset.checkpoint.interval.ms", T::Int, "60000").at_least(0),
      kafka("log.local.retention.bytes", T::Long, "-2").at_least(-2).dynamic(),
      kafka("log.local.retention.ms", T::Long, "-2").at_least(-2).dynamic(),
      Def("log.message.downconversion.enable", T::Bool, "true",
          "Default of message.downconversion.enable; accepted for compatibility, not used by kbroker (Fetch "
          "v0-3 "
          "always get down-converted batches)")
          .dynamic()
          .topic("message.downconversion.enable")
          .not_used(),
      Def("log.message.format.version", T::String, "3.0-IV1",
          "Deprecated in Kafka 3: ignored under inter.broker.protocol.version 3.0 or later (a warning below "
          "0.11); "
          "accepted for compatibility, not used by kbroker (it stores record batches v2)")
          .check(check_metadata_version)
          .topic("message.format.version")
          .not_used(),
      kafka("log.message.timestamp.after.max.ms", T::Long, "9223372036854775807").at_least(0).dynamic(),
      kafka("log.message.timestamp.before.max.ms", T::Long, "9223372036854775807").at_least(0).dynamic(),
      kafka("max.incremental.fetch.session.cache.slots", T::Int, "1000").at_least(0),
      kafka("max.request.partition.size.limit", T::Int, "2000").at_least(1),
      kafka("metadata.log.dir", T::String, null),
      kafka("metadata.log.segment.bytes", T::Int, "1073741824").at_least(12),
      kafka("metadata.log.segment.ms", T::Long, "604800000"),
      kafka("metadata.max.idle.interval.ms", T::Int, "500").at_least(0),
      kafka("metadata.max.retention.bytes", T::Long, "104857600"),
      kafka("metadata.max.retention.ms", T::Long, "604800000"),
      kafka("metric.reporters", T::List, "").dynamic(),
      kafka("metrics.num.samples", T::Int, "2").at_least(1),
      kafka("metrics.recording.level", T::String, "INFO"),
      kafka("metrics.sample.window.ms", T::Long, "30000").at_least(1),
      kafka("num.recovery.threads.per.data.dir", T::Int, "1").at_least(1).dynamic(),
      kafka("num.replica.alter.log.dirs.threads", T::Int, null),
      kafka("offsets.commit.required.acks", T::Int, "-1").between(-32768, 32767),
      kafka("offsets.load.buffer.size", T::Int, "5242880").at_least(1),
      kafka("password.encoder.cipher.algorithm", T::String, "AES/CBC/PKCS5Padding"),
      kafka("password.encoder.iterations", T::Int, "4096").at_least(1024),
      kafka("password.encoder.key.length", T::Int, "128").at_least(8),
      kafka("password.encoder.keyfactory.algorithm", T::String, null),
      kafka("password.encoder.old.secret", T::Password, null),
      kafka("password.encoder.secret", T::Password, null),
      kafka("principal.builder.class", T::String,
            "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder")
          .per_broker(),
      kafka("producer.purgatory.purge.interval.requests", T::Int, "1000"),
      kafka("queued.max.requests", T::Int, "500").at_least(1),
      kafka("remote.fetch.max.wait.ms", T::Int, "500").at_least(1).dynamic(),
      kafka("remote.log.index.file.cache.total.size.bytes", T::Long, "1073741824").at_least(1).dynamic(),
      kafka("remote.log.manager.copier.thread.pool.size", T::Int, "-1").at_least(-1),
      kafka("remote.log.manager.copy.max.bytes.per.second", T::Long, "9223372036854775807")
          .at_least(1)
          .dynamic(),
      kafka("remote.log.manager.copy.quota.window.num", T::Int, "11").at_least(1),
      kafka("remote.log.manager.copy.quota.window.size.seconds", T::Int, "1").at_least(1),
      kafka("remote.log.manager.expiration.thread.pool.size", T::Int, "-1").at_least(-1),
      kafka("remote.log.manager.fetch.max.bytes.per.second", T::Long, "9223372036854775807")
          .at_least(1)
          .dynamic(),
      kafka("remote.log.manager.fetch.quota.window.num", T::Int, "11").at_least(1),
      kafka("remote.log.manager.fetch.quota.window.size.seconds", T::Int, "1").at_least(1),
      kafka("remote.log.manager.task.interval.ms", T::Long, "30000").at_least(1),
      kafka("remote.log.manager.thread.pool.size", T::Int, "10").at_least(1),
      kafka("remote.log.metadata.custom.metadata.max.bytes", T::Int, "128").at_least(0),
      kafka("remote.log.metadata.manager.class.name", T::String,
            "org.apache.kafka.server.log.remote.metadata.storage.TopicBasedRemoteLogMetadataManager")
          .check(non_empty),
      kafka("remote.log.metadata.manager.class.path", T::String, null),
      kafka("remote.log.metadata.manager.impl.prefix", T::String, "rlmm.config.").check(non_empty),
      kafka("remote.log.metadata.manager.listener.name", T::String, null).check(non_empty),
      kafka("remote.log.reader.max.pending.tasks", T::Int, "100").at_least(1),
      kafka("remote.log.reader.threads", T::Int, "10").at_least(1),
      kafka("remote.log.storage.manager.class.name", T::String, null).check(non_empty),
      kafka("remote.log.storage.manager.class.path", T::String, null),
      kafka("remote.log.storage.manager.impl.prefix", T::String, "rsm.config.").check(non_empty),
      kafka("remote.log.storage.system.enable", T::Bool, "false"),
      kafka("replica.alter.log.dirs.io.max.bytes.per.second", T::Long, "9223372036854775807")
          .at_least(0)
          .dynamic(),
      kafka("replica.selector.class", T::String, null),
      kafka("replica.socket.receive.buffer.bytes", T::Int, "65536"),
      kafka("replica.socket.timeout.ms", T::Int, "30000"),
      kafka("replication.quota.window.num", T::Int, "11").at_least(1),
      kafka("replication.quota.window.size.seconds", T::Int, "1").at_least(1),
      kafka("request.timeout.ms", T::Int, "30000"),
      kafka("reserved.broker.max.id", T::Int, "1000").at_least(0),
      kafka("sasl.client.callback.handler.class", T::String, null),
      kafka("sasl.kerberos.kinit.cmd", T::String, "/usr/bin/kinit").per_broker(),
      kafka("sasl.kerberos.min.time.before.relogin", T::Long, "60000").per_broker(),
      kafka("sasl.kerberos.principal.to.local.rules", T::List, "DEFAULT").per_broker(),
      kafka("sasl.kerberos.service.name", T::String, null).per_broker(),
      kafka("sasl.kerberos.ticket.renew.jitter", T::Double, "0.05").per_broker(),
      kafka("sasl.kerberos.ticket.renew.window.factor", T::Double, "0.8").per_broker(),
      kafka("sasl.login.callback.handler.class", T::String, null),
      kafka("sasl.login.class", T::String, null),
      kafka("sasl.login.connect.timeout.ms", T::Int, null),
      kafka("sasl.login.read.timeout.ms", T::Int, null),
      kafka("sasl.login.refresh.buffer.seconds", T::Int, "300").between(-32768, 32767).per_broker(),
      kafka("sasl.login.refresh.min.period.seconds", T::Int, "60").between(-32768, 32767).per_broker(),
      kafka("sasl.login.refresh.window.factor", T::Double, "0.8").per_broker(),
      kafka("sasl.login.refresh.window.jitter", T::Double, "0.05").per_broker(),
      kafka("sasl.login.retry.backoff.max.ms", T::Long, "10000"),
      kafka("sasl.login.retry.backoff.ms", T::Long, "100"),
      kafka("sasl.oauthbearer.clock.skew.seconds", T::Int, "30"),
      kafka("sasl.oauthbearer.expected.audience", T::List, null),
      kafka("sasl.oauthbearer.expected.issuer", T::String, null),
      kafka("sasl.oauthbearer.jwks.endpoint.refresh.ms", T::Long, "3600000"),
      kafka("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", T::Long, "10000"),
      kafka("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", T::Long, "100"),
      kafka("sasl.oauthbearer.jwks.endpoint.url", T::String, null),
      kafka("sasl.oauthbearer.scope.claim.name", T::String, "scope"),
      kafka("sasl.oauthbearer.sub.claim.name", T::String, "sub"),
      kafka("sasl.oauthbearer.token.endpoint.url", T::String, null),
      kafka("sasl.server.callback.handler.class", T::String, null),
      kafka("security.providers", T::String, null),
      kafka("socket.connection.setup.timeout.max.ms", T::Long, "30000"),
      kafka("socket.connection.setup.timeout.ms", T::Long, "10000"),
      kafka("socket.listen.backlog.size", T::Int, "50").at_least(1),
      kafka("ssl.engine.factory.class", T::String, null).per_broker(),
      kafka("ssl.keymanager.algorithm", T::String, "SunX509").per_broker(),
      kafka("ssl.protocol", T::String, "TLSv1.2").per_broker(),
      kafka("ssl.provider", T::String, null).per_broker(),
      kafka("ssl.secure.random.implementation", T::String, null).per_broker(),
      kafka("ssl.trustmanager.algorithm", T::String, "PKIX").per_broker(),
      kafka("telemetry.max.bytes", T::Int, "1048576").at_least(1),
      kafka("transaction.state.log.load.buffer.size", T::Int, "5242880").at_least(1),
      kafka("zookeeper.clientCnxnSocket", T::String, null),
      kafka("zookeeper.connect", T::String, null),
      kafka("zookeeper.connection.timeout.ms", T::Int, null),
      kafka("zookeeper.max.in.flight.requests", T::Int, "10").at_least(1),
      kafka("zookeeper.metadata.migration.enable", T::Bool, "false"),
      kafka("zookeeper.session.timeout.ms", T::Int, "18000"),
      kafka("zookeeper.set.acl", T::Bool, "false"),
      kafka("zookeeper.ssl.cipher.suites", T::List, null),
      kafka("zookeeper.ssl.client.enable", T::Bool, "false"),
      kafka("zookeeper.ssl.crl.enable", T::Bool, "false"),
      kafka("zookeeper.ssl.enabled.protocols", T::List, null),
      kafka("zookeeper.ssl.endpoint.identification.algorithm", T::String, "HTTPS"),
      kafka("zookeeper.ssl.keystore.location", T::String, null),
      kafka("zookeeper.ssl.keystore.password", T::Password, null),
      kafka("zookeeper.ssl.keystore.type", T::String, null),
      kafka("zookeeper.ssl.ocsp.enable", T::Bool, "false"),
      kafka("zookeeper.ssl.protocol", T::String, "TLSv1.2"),
      kafka("zookeeper.ssl.truststore.location", T::String, null),
      kafka("zookeeper.ssl.truststore.password", T::Password, null),
      kafka("zookeeper.ssl.truststore.type", T::String, null),
  };
  return defs;
}

const std::vector<PropertyDef>& compat_topic_properties() {
  using T = Type;
  static const std::vector<PropertyDef> defs = {
      Def("compression.gzip.level", T::Int, "-1",
          "Kafka's gzip level; accepted for compatibility, not used by kbroker (it compresses at the codec's "
          "default level)")
          .check(check_gzip_level)
          .dynamic()
          .topic("compression.gzip.level")
          .not_used(),
      Def("compression.lz4.level", T::Int, "9",
          "Kafka's lz4 level; accepted for compatibility, not used by kbroker (it compresses at the codec's "
          "default level)")
          .between(1, 17)
          .dynamic()
          .topic("compression.lz4.level")
          .not_used(),
      Def("compression.zstd.level", T::Int, "3",
          "Kafka's zstd level; accepted for compatibility, not used by kbroker (it compresses at the codec's "
          "default level)")
          .between(-131072, 22)
          .dynamic()
          .topic("compression.zstd.level")
          .not_used(),
      Def("follower.replication.throttled.replicas", T::List, "",
          "Replicas Kafka throttles on the follower side ('*' or partition:broker pairs); accepted for "
          "compatibility, not used by kbroker (replication is not throttled)")
          .check(check_throttled_replicas)
          .dynamic()
          .not_used(),
      Def("leader.replication.throttled.replicas", T::List, "",
          "Replicas Kafka throttles on the leader side ('*' or partition:broker pairs); accepted for "
          "compatibility, not used by kbroker (replication is not throttled)")
          .check(check_throttled_replicas)
          .dynamic()
          .not_used(),
      Def("message.downconversion.enable", T::Bool, "true",
          "Kafka's switch for down-converting batches for Fetch v0-3; accepted for compatibility, not used "
          "by "
          "kbroker (it always down-converts)")
          .dynamic()
          .topic("log.message.downconversion.enable")
          .not_used(),
      Def("message.format.version", T::String, "3.0-IV1",
          "Deprecated in Kafka 3: ignored under inter.broker.protocol.version 3.0 or later (a warning below "
          "0.11); accepted for compatibility, not used by kbroker (it stores record batches v2)")
          .check(check_metadata_version)
          .dynamic()
          .topic("log.message.format.version")
          .not_used(),
  };
  return defs;
}

}  // namespace kb::config::detail

namespace kb::config {

std::vector<std::string> BrokerConfig::warnings() const {
  std::vector<std::string> out;
  const std::string ibp = get_string("inter.broker.protocol.version");
  if (is_set("inter.broker.protocol.version"))
    out.push_back(
        "inter.broker.protocol.version is deprecated in KRaft mode as of 3.3 and will only be read when "
        "first "
        "upgrading from a KRaft prior to 3.3 (kbroker does not use it)");
  if (is_set("log.message.format.version")) {
    const std::string v = get_string("log.message.format.version");
    auto i = detail::metadata_version_index(v);
    if (i && *i < detail::metadata_version_index_of_record_v2())
      out.push_back(
          "Broker configuration log.message.format.version with value " + v +
          " is ignored because the inter-broker protocol version `" + ibp +
          "` is greater or equal than 3.0. This configuration is deprecated and it will be removed in "
          "Apache Kafka 4.0.");
  }
  return out;
}

std::string ignored_topic_config_warning(std::string_view topic,
                                         const std::map<std::string, std::string>& overrides) {
  auto it = overrides.find("message.format.version");
  if (it == overrides.end()) return "";
  auto v = detail::metadata_version_index(it->second);
  if (!v || *v >= detail::metadata_version_index_of_record_v2()) return "";
  return "Topic configuration message.format.version with value `" + it->second + "` is ignored for `" +
         std::string(topic) +
         "` because the inter-broker protocol version `3.0-IV1` is greater or equal than 3.0. This "
         "configuration "
         "is deprecated and it will be removed in Apache Kafka 4.0.";
}

}  // namespace kb::config
