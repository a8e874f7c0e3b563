"""Dynamic broker configs (KIP-226) with real clients on real kbroker processes: the cluster-wide
default (BROKER resource "") and one broker's own values (resource "<id>") set through
AlterConfigs / IncrementalAlterConfigs, reported by DescribeConfigs with their source, kept across
a restart, applied to topics without an override (retention deletes their old segments), refused
for static properties and bad values with Kafka's codes, and, in a three-broker cluster, a change
sent to a broker that is not the controller reaches every broker."""
import struct
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource
from kafka.admin import ConfigResource as KafkaConfigResource, ConfigResourceType, KafkaAdminClient

import kafka_wire
from cluster_harness import cluster  # noqa: F401 (fixture)
from test_produce_consume import create_topic

BROKER = 4
INVALID_REQUEST = 42
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


# --- raw requests: the Python clients on this machine (confluent-kafka 1.7, kafka-python 2.0)
# --- have no IncrementalAlterConfigs, and a raw request goes to exactly the broker we name -------

def incremental_alter(bootstrap, name, ops, validate_only=False, resource_type=BROKER):
    """IncrementalAlterConfigs v0 on BROKER resource `name`; ops = [(key, op, value)].
    Returns (error_code, error_message)."""
    body = struct.pack(">i", 1) + struct.pack(">b", resource_type) + kafka_wire.string(name)
    body += struct.pack(">i", len(ops))
    for key, op, value in ops:
        body += kafka_wire.string(key) + struct.pack(">b", op) + kafka_wire.string(value)
    body += struct.pack(">b", 1 if validate_only else 0)
    conn = kafka_wire.Conn(bootstrap)
    try:
        resp = conn.request(kafka_wire.header(44, 0) + body)
    finally:
        conn.close()
    off = 4 + 4  # throttle time, responses count
    (err,) = struct.unpack_from(">h", resp, off)
    msg, _ = kafka_wire.read_string(resp, off + 2)
    return err, msg


def describe_raw(bootstrap, name="", resource_type=BROKER):
    """DescribeConfigs v1 of one resource (BROKER "" by default) with synonyms, answered by the
    broker at `bootstrap` itself (confluent-kafka keeps one synonym per name and picks the broker
    for a topic itself): (error, {key: (value, source, [(name, value, source)])})."""
    body = struct.pack(">i", 1) + struct.pack(">b", resource_type) + kafka_wire.string(name)
    body += struct.pack(">i", -1)
    body += struct.pack(">b", 1)
    conn = kafka_wire.Conn(bootstrap)
    try:
        resp = conn.request(kafka_wire.header(32, 1) + body)
    finally:
        conn.close()
    off = 4 + 4
    (err,) = struct.unpack_from(">h", resp, off)
    _, off = kafka_wire.read_string(resp, off + 2)
    off += 1  # resource type
    _, off = kafka_wire.read_string(resp, off)
    (count,) = struct.unpack_from(">i", resp, off)
    off += 4
    out = {}
    for _ in range(count):
        name, off = kafka_wire.read_string(resp, off)
        value, off = kafka_wire.read_string(resp, off)
        _read_only, source, _sensitive = struct.unpack_from(">bbb", resp, off)
        off += 3
        (nsyn,) = struct.unpack_from(">i", resp, off)
        off += 4
        synonyms = []
        for _ in range(nsyn):
            sname, off = kafka_wire.read_string(resp, off)
            svalue, off = kafka_wire.read_string(resp, off)
            (ssource,) = struct.unpack_from(">b", resp, off)
            off += 1
            synonyms.append((sname, svalue, ssource))
        out[name] = (value, source, synonyms)
    return err, out


def describe_broker(admin, node_id, keys=None):
    res = ConfigResource("broker", str(node_id))
    cfg = admin.describe_configs([res])[res].result(15)
    return {k: v for k, v in cfg.items() if keys is None or k in keys}


def alter_broker(admin, node_id, configs):
    res = ConfigResource("broker", str(node_id), set_config=configs)
    return admin.alter_configs([res])[res].result(15)


def watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    finally:
        c.close()


# --- one broker ------------------------------------------------------------------------------

def test_cluster_default_and_per_broker_values_apply_and_survive_a_restart(broker_factory):
    b = broker_factory({"log.retention.check.interval.ms": 300, "log.retention.hours": 168})
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    # No retention override: the topic follows the broker's log.retention.* (a week here).
    create_topic(b.bootstrap, "dyn", 1, {"segment.bytes": "2000"})
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    two_minutes_ago = int(time.time() * 1000) - 120_000
    for i in range(200):
        p.produce("dyn", value=b"y" * 100, partition=0, timestamp=two_minutes_ago)
        if i % 10 == 9:
            assert p.flush(15) == 0
    assert p.flush(15) == 0
    time.sleep(1.5)  # five retention checks: a week's retention keeps everything
    assert watermarks(b.bootstrap, "dyn") == (0, 200)

    before = describe_broker(a, 1, ["log.retention.ms"])["log.retention.ms"]
    assert before.value is None and before.source == ConfigSource.DEFAULT_CONFIG.value

    # The cluster-wide default: one minute. The two-minute-old records go.
    assert incremental_alter(b.bootstrap, "", [("log.retention.ms", SET, "60000")]) == (0, None)
    cfg = describe_broker(a, 1, ["log.retention.ms", "log.retention.hours"])
    assert cfg["log.retention.ms"].value == "60000"
    assert cfg["log.retention.ms"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    assert not cfg["log.retention.ms"].is_read_only
    assert cfg["log.retention.hours"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    err, default = describe_raw(b.bootstrap)
    assert err == 0
    assert set(default) == {"log.retention.ms"}
    assert default["log.retention.ms"][:2] == ("60000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)
    topic = ConfigResource("topic", "dyn")
    tcfg = a.describe_configs([topic])[topic].result(15)
    assert tcfg["retention.ms"].value == "60000"
    assert tcfg["retention.ms"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value

    deadline = time.time() + 20
    while time.time() < deadline:
        lo, hi = watermarks(b.bootstrap, "dyn")
        if lo == hi == 200:
            break
        time.sleep(0.3)
    assert (lo, hi) == (200, 200), "the topic did not follow the dynamic log.retention.ms"

    # This broker's own value beats the cluster default (AlterConfigs: the whole set).
    alter_broker(a, 1, {"log.retention.ms": "3600000", "min.insync.replicas": "1"})
    cfg = describe_broker(a, 1, ["log.retention.ms"])["log.retention.ms"]
    assert cfg.value == "3600000"
    assert cfg.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    err, raw = describe_raw(b.bootstrap, "1")
    assert err == 0
    # Kafka's synonym order: this broker's value, the cluster default, then the built-in default.
    assert raw["log.retention.ms"][2] == [
        ("log.retention.ms", "3600000", ConfigSource.DYNAMIC_BROKER_CONFIG.value),
        ("log.retention.ms", "60000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value),
        ("log.retention.hours", "168", ConfigSource.STATIC_BROKER_CONFIG.value),
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG.value)]

    # Metadata records: both layers are there after a restart.
    b.restart()
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    cfg = describe_broker(a, 1, ["log.retention.ms", "min.insync.replicas"])
    assert cfg["log.retention.ms"].value == "3600000"
    assert cfg["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    assert cfg["min.insync.replicas"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    err, default = describe_raw(b.bootstrap)
    assert err == 0 and default["log.retention.ms"][0] == "60000"

    # DELETE of the per-broker value falls back to the cluster default.
    assert incremental_alter(b.bootstrap, "1", [("log.retention.ms", DELETE, None)]) == (0, None)
    cfg = describe_broker(a, 1, ["log.retention.ms"])["log.retention.ms"]
    assert (cfg.value, cfg.source) == ("60000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)


def test_static_properties_and_bad_values_are_refused(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    with pytest.raises(KafkaException) as e:
        alter_broker(a, 1, {"log.dirs": "/elsewhere"})
    assert e.value.args[0].code() == INVALID_REQUEST
    assert "Cannot update these configs dynamically: [log.dirs]" in str(e.value)

    err, msg = incremental_alter(broker.bootstrap, "", [("log.segment.bytes", SET, "10")])
    assert err == INVALID_REQUEST  # Kafka's code for a bad broker value (KAFKA-13609)
    assert msg == "Invalid value 10 for configuration log.segment.bytes: Value must be at least 14"
    err, msg = incremental_alter(broker.bootstrap, "", [("log.retention.ms", SET, "0")])
    assert err == INVALID_REQUEST and "log.retention.ms" in msg
    err, msg = incremental_alter(broker.bootstrap, "", [("log.retention.ms", APPEND, "1")])
    assert err == 40  # INVALID_CONFIG: not a list
    # Another broker's own configs are that broker's to change (Kafka's message).
    err, msg = incremental_alter(broker.bootstrap, "2", [("log.retention.ms", SET, "1000")])
    assert err == INVALID_REQUEST and msg == "Unexpected broker id, expected 1, but received 2"
    # Log levels (BROKER_LOGGER) are not served: a clear refusal.
    err, msg = incremental_alter(broker.bootstrap, "1", [("kafka.server", SET, "DEBUG")], resource_type=8)
    assert err == INVALID_REQUEST and "BROKER_LOGGER" in msg
    # validate_only checks and changes nothing.
    assert incremental_alter(broker.bootstrap, "", [("log.retention.ms", SET, "1000")], validate_only=True)[0] == 0
    # List properties take APPEND and SUBTRACT.
    assert incremental_alter(broker.bootstrap, "", [("log.cleanup.policy", APPEND, "compact")])[0] == 0
    cfg = describe_broker(a, 1, ["log.retention.ms", "log.cleanup.policy"])
    assert cfg["log.retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["log.cleanup.policy"].value == "delete,compact"
    assert cfg["log.cleanup.policy"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value


def test_kafka_python_alters_and_describes_a_broker(broker):
    ka = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        out = ka.alter_configs([KafkaConfigResource(ConfigResourceType.BROKER, "1",
                                                    configs={"compression.type": "zstd"})])
        assert out.resources[0][0] == 0, out.resources
        out = ka.describe_configs([KafkaConfigResource(ConfigResourceType.BROKER, "1",
                                                       configs={"compression.type": None, "log.dirs": None})])
        entries = {e[0]: e for e in out[0].resources[0][4]}
        assert entries["compression.type"][1] == "zstd"
        assert entries["compression.type"][3] == ConfigSource.DYNAMIC_BROKER_CONFIG.value  # v1+: source
        out = ka.alter_configs([KafkaConfigResource(ConfigResourceType.BROKER, "1",
                                                    configs={"num.partitions": "3"})])
        assert out.resources[0][0] == INVALID_REQUEST
    finally:
        ka.close()


# --- three brokers ---------------------------------------------------------------------------

def test_a_change_sent_to_a_non_controller_broker_reaches_every_broker(cluster):  # noqa: F811
    c = cluster(3)
    ctl = c.controller_id()
    other = next(i for i in c.ids if i != ctl)

    # The cluster-wide default, sent to a broker that must forward it to the controller.
    assert incremental_alter(c.broker(other).bootstrap, "", [("log.retention.ms", SET, "123456")]) == (0, None)

    def everywhere(value, source, nodes):
        def check():
            for n in nodes:
                got = describe_broker(c.admin(n), n, ["log.retention.ms"])["log.retention.ms"]
                if (got.value, got.source) != (value, source):
                    return False
            return True
        return check

    c.wait_for(everywhere("123456", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value, c.ids), 20,
               "the cluster default on all three brokers")

    # One broker's own value (librdkafka sends it to that broker, which forwards it): only that
    # broker takes it.
    alter_broker(c.admin(other), other, {"log.retention.ms": "654321"})
    c.wait_for(everywhere("654321", ConfigSource.DYNAMIC_BROKER_CONFIG.value, [other]), 20,
               f"broker {other}'s own value")
    assert everywhere("123456", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value,
                      [i for i in c.ids if i != other])()

    # A topic without an override: each broker describes it with its own effective default.
    c.create_topic("dyn3", 1, rf=3)
    c.wait_topic("dyn3", 1)
    for n in c.ids:
        err, cfg = describe_raw(c.broker(n).bootstrap, "dyn3", resource_type=2)
        assert err == 0
        value, source, _ = cfg["retention.ms"]
        if n == other:
            assert (value, source) == ("654321", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
        else:
            assert (value, source) == ("123456", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)

    # Refusals come from the broker that received the request, before anything is forwarded.
    err, msg = incremental_alter(c.broker(other).bootstrap, "", [("log.dirs", SET, "/x")])
    assert err == INVALID_REQUEST and "Cannot update these configs dynamically" in msg


def test_a_dynamic_message_max_bytes_limits_existing_topics_at_once(broker):
    create_topic(broker.bootstrap, "limits", 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "message.max.bytes": 100000})
    errors = []

    def produce(size):
        errors.clear()
        p.produce("limits", value=b"z" * size, partition=0, on_delivery=lambda err, msg: errors.append(err))
        assert p.flush(15) == 0
        return errors[0]

    assert produce(5000) is None
    assert incremental_alter(broker.bootstrap, "", [("message.max.bytes", SET, "1000")]) == (0, None)
    err = produce(5000)
    assert err is not None and err.name() == "MSG_SIZE_TOO_LARGE", err
    assert incremental_alter(broker.bootstrap, "", [("message.max.bytes", DELETE, None)]) == (0, None)
    assert produce(5000) is None
