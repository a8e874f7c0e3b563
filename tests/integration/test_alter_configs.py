"""AlterConfigs (confluent-kafka and kafka-python admin clients) and IncrementalAlterConfigs
(SET, DELETE, APPEND, SUBTRACT) change a topic's configs through the controller: the change
shows in DescribeConfigs, takes effect on produce, survives a restart, and bad values are
INVALID_CONFIG naming the key."""
import struct

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka.admin import ConfigResource as KafkaConfigResource, ConfigResourceType, KafkaAdminClient

import kafka_wire


def describe(a, topic):
    res = ConfigResource("topic", topic)
    return {k: v.value for k, v in a.describe_configs([res])[res].result(15).items()}


def alter(a, topic, configs):
    res = ConfigResource("topic", topic, set_config=configs)
    return a.alter_configs([res])[res].result(15)


def incremental(b, topic, ops, validate_only=False):
    """Raw IncrementalAlterConfigs v0: ops = [(name, op, value)]; returns (error, message)."""
    body = struct.pack(">i", 1) + struct.pack(">b", 2) + kafka_wire.string(topic) + struct.pack(">i", len(ops))
    for name, op, value in ops:
        body += kafka_wire.string(name) + struct.pack(">b", op) + kafka_wire.string(value)
    body += struct.pack(">b", 1 if validate_only else 0)
    conn = kafka_wire.Conn(b.bootstrap)
    resp = conn.request(kafka_wire.header(44, 0) + body)
    conn.close()
    off = 4 + 4  # throttle, responses count
    (err,) = struct.unpack_from(">h", resp, off)
    (n,) = struct.unpack_from(">h", resp, off + 2)
    msg = resp[off + 4: off + 4 + n].decode() if n > 0 else None
    return err, msg


@pytest.fixture
def topic(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("ac", 1, 1)])["ac"].result(15)
    return broker, a


def test_alter_configs_replaces_the_overrides_and_they_take_effect(topic):
    b, a = topic
    alter(a, "ac", {"retention.ms": "5000", "max.message.bytes": "2000"})
    cfg = describe(a, "ac")
    assert cfg["retention.ms"] == "5000" and cfg["max.message.bytes"] == "2000"
    p = Producer({"bootstrap.servers": b.bootstrap, "retries": 0})
    out = []
    p.produce("ac", value=b"x" * 5000, on_delivery=lambda e, m: out.append(e))
    p.flush(10)
    assert out[0] is not None and out[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
    # AlterConfigs is a full replacement: what is left out returns to its default.
    alter(a, "ac", {"retention.ms": "7000"})
    cfg = describe(a, "ac")
    assert cfg["retention.ms"] == "7000" and cfg["max.message.bytes"] == "1048588"
    # Kept across a restart (the change is in the metadata log).
    b.stop()
    b.start()
    assert describe(AdminClient({"bootstrap.servers": b.bootstrap}), "ac")["retention.ms"] == "7000"


def test_bad_values_and_unknown_topics_are_refused_naming_the_key(topic):
    b, a = topic
    with pytest.raises(Exception) as e:
        alter(a, "ac", {"retention.ms": "soon"})
    assert "retention.ms" in str(e.value)
    with pytest.raises(Exception) as e:
        alter(a, "ac", {"no.such.config": "1"})
    assert "no.such.config" in str(e.value)
    with pytest.raises(Exception):
        alter(a, "missing-topic", {"retention.ms": "1"})
    assert describe(a, "ac")["retention.ms"] == "604800000"


def test_kafka_python_alter_configs(topic):
    b, a = topic
    ka = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        out = ka.alter_configs([KafkaConfigResource(ConfigResourceType.TOPIC, "ac", configs={"segment.ms": "60000"})])
        assert out.resources[0][0] == 0
    finally:
        ka.close()
    assert describe(a, "ac")["segment.ms"] == "60000"


def test_incremental_set_append_subtract_delete(topic):
    b, a = topic
    SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
    assert incremental(b, "ac", [("retention.ms", SET, "9000"), ("cleanup.policy", APPEND, "compact")]) == (0, None)
    cfg = describe(a, "ac")
    assert cfg["retention.ms"] == "9000" and cfg["cleanup.policy"] == "delete,compact"
    assert incremental(b, "ac", [("cleanup.policy", SUBTRACT, "delete")])[0] == 0
    assert describe(a, "ac")["cleanup.policy"] == "compact"
    assert incremental(b, "ac", [("retention.ms", DELETE, None)])[0] == 0
    assert describe(a, "ac")["retention.ms"] == "604800000"
    # validate_only changes nothing; APPEND needs a list; bad values name the key.
    assert incremental(b, "ac", [("retention.ms", SET, "1")], validate_only=True)[0] == 0
    assert describe(a, "ac")["retention.ms"] == "604800000"
    err, msg = incremental(b, "ac", [("retention.ms", APPEND, "1")])
    assert err == 40 and "retention.ms" in msg  # INVALID_CONFIG
    err, msg = incremental(b, "ac", [("min.insync.replicas", SET, "zero")])
    assert err == 40 and "min.insync.replicas" in msg
