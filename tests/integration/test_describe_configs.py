"""DescribeConfigs through confluent-kafka's and kafka-python's admin clients: a topic's
overrides and Kafka's defaults with their sources and synonyms, this broker's configs with
what the YAML set, read-only flags, and the errors for unknown topics and other brokers."""
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic
from kafka.admin import ConfigResource as KafkaConfigResource, ConfigResourceType, KafkaAdminClient

import struct

import pytest

import kafka_wire


@pytest.fixture
def configured(broker_factory):
    b = broker_factory({"log.retention.hours": 48, "num.partitions": 2})
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    a.create_topics([NewTopic("dc", 1, 1, config={"retention.ms": "1000", "cleanup.policy": "compact"})])["dc"].result(15)
    return b, a


def test_topic_configs_show_overrides_and_defaults_with_their_sources(configured):
    b, a = configured
    cfg = a.describe_configs([ConfigResource("topic", "dc")])[ConfigResource("topic", "dc")].result(15)
    assert cfg["retention.ms"].value == "1000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["cleanup.policy"].value == "compact"
    # Kafka's defaults, and a default the broker's YAML changed.
    assert cfg["segment.bytes"].value == "1073741824"
    assert cfg["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["segment.bytes"].is_default
    assert cfg["max.message.bytes"].value == "1048588"
    assert cfg["compression.type"].value == "producer"
    assert not cfg["retention.ms"].is_read_only
    assert "log.retention.hours" in cfg["retention.ms"].synonyms


def test_broker_configs_show_what_the_yaml_set_and_what_is_read_only(configured):
    b, a = configured
    res = ConfigResource("broker", "1")
    cfg = a.describe_configs([res])[res].result(15)
    assert cfg["log.retention.hours"].value == "48"
    assert cfg["log.retention.hours"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert cfg["num.partitions"].value == "2"
    assert cfg["default.replication.factor"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["node.id"].is_read_only  # not dynamic in Kafka
    assert not cfg["log.retention.ms"].is_read_only  # dynamic in Kafka


def test_unknown_topic_and_other_broker_are_refused(configured):
    b, a = configured
    missing = ConfigResource("topic", "no-such-topic")
    with pytest.raises(Exception) as e:
        a.describe_configs([missing])[missing].result(15)
    assert "UNKNOWN_TOPIC_OR_PART" in str(e.value) or "does not exist" in str(e.value)
    # Another broker's configs are that broker's to answer (clients send there): here it is
    # INVALID_REQUEST with Kafka's message. Sent raw, since clients route it elsewhere.
    body = struct.pack(">i", 1) + struct.pack(">b", 4) + kafka_wire.string("7") + struct.pack(">i", -1)
    conn = kafka_wire.Conn(b.bootstrap)
    resp = conn.request(kafka_wire.header(32, 0) + body)
    conn.close()
    off = 4 + 4  # throttle time, results count
    (err,) = struct.unpack_from(">h", resp, off)
    assert err == 42  # INVALID_REQUEST
    assert b"Unexpected broker id" in resp


def test_kafka_python_describes_topic_configs(configured):
    b, _ = configured
    ka = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        out = ka.describe_configs([KafkaConfigResource(ConfigResourceType.TOPIC, "dc")])
        resources = out[0].resources
        assert resources[0][0] == 0  # error_code
        entries = {e[0]: e[1] for e in resources[0][4]}
        assert entries["retention.ms"] == "1000"
        assert entries["cleanup.policy"] == "compact"
        assert entries["segment.bytes"] == "1073741824"
    finally:
        ka.close()
