"""Configs Kafka 3.9 accepts although kbroker has no use for them (issue 14, items 3 and 5):
the deprecated topic configs message.format.version and message.downconversion.enable, and
broker properties such as sasl.kerberos.min.time.before.relogin. confluent-kafka's
AdminClient sets them with AlterConfigs and CreateTopics and reads them back with
DescribeConfigs; what Kafka refuses (a per-broker property at the cluster default, a bad
version) is still refused with Kafka's words."""
import struct

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import kafka_wire
from kbroker_harness import Broker


@pytest.fixture(scope="module")
def b():
    broker = Broker({"log.message.format.version": "0.10.2", "sasl.kerberos.kinit.cmd": "/opt/kinit",
                     "log.message.downconversion.enable": True}).start()
    try:
        yield broker
    finally:
        broker.stop()
        broker.cleanup()


def admin(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def describe(b, kind, name):
    a, res = admin(b), ConfigResource(kind, name)  # the client must outlive the call
    return a.describe_configs([res])[res].result(15)


def alter(b, kind, name, configs):
    a, res = admin(b), ConfigResource(kind, name, set_config=configs)
    return a.alter_configs([res])[res].result(15)


TOPIC, BROKER = 2, 4


def incremental_set(b, resource, name, value, resource_type=TOPIC):
    """Raw IncrementalAlterConfigs v0 SET of one config (confluent-kafka 1.7 has no such call,
    and refuses the cluster-default broker resource ""); returns (error_code, message)."""
    body = struct.pack(">ib", 1, resource_type) + kafka_wire.string(resource) + struct.pack(">i", 1)
    body += kafka_wire.string(name) + struct.pack(">b", 0) + kafka_wire.string(value) + struct.pack(">b", 0)
    conn = kafka_wire.Conn(b.bootstrap)
    resp = conn.request(kafka_wire.header(44, 0) + body)
    conn.close()
    err, n = struct.unpack_from(">hh", resp, 8)
    return err, resp[12:12 + n].decode() if n > 0 else None


def test_deprecated_topic_configs_are_accepted_and_described(b):
    a = admin(b)
    a.create_topics([NewTopic("old-format", 1, 1, config={"message.format.version": "2.8"})])["old-format"].result(15)
    cfg = describe(b, "topic", "old-format")
    assert cfg["message.format.version"].value == "2.8"
    assert cfg["message.format.version"].source == 1  # DYNAMIC_TOPIC_CONFIG
    # Unset, the broker's log.message.format.version is the default, as in Kafka.
    assert cfg["message.downconversion.enable"].value == "true"
    assert cfg["message.downconversion.enable"].source == 4  # STATIC_BROKER_CONFIG

    alter(b, "topic", "old-format", {"message.format.version": "0.10.2", "message.downconversion.enable": "false"})
    cfg = describe(b, "topic", "old-format")
    assert cfg["message.format.version"].value == "0.10.2"
    assert cfg["message.downconversion.enable"].value == "false"
    # Kafka 3.x ignores a format below 0.11 and says so.
    assert "Topic configuration message.format.version with value `0.10.2` is ignored for `old-format`" in b.log()
    assert incremental_set(b, "old-format", "message.format.version", "3.0-IV1") == (0, None)
    assert describe(b, "topic", "old-format")["message.format.version"].value == "3.0-IV1"

    err, msg = incremental_set(b, "old-format", "message.format.version", "1.5")
    assert err == 40  # INVALID_CONFIG
    assert msg == "Invalid value 1.5 for configuration message.format.version: Version 1.5 is not a valid version"


def test_a_broker_property_kafka_knows_is_accepted_and_described(b):
    alter(b, "broker", "1", {"sasl.kerberos.min.time.before.relogin": "30000"})
    cfg = describe(b, "broker", "1")
    e = cfg["sasl.kerberos.min.time.before.relogin"]
    assert e.value == "30000"
    assert e.source == 2  # DYNAMIC_BROKER_CONFIG
    assert not e.is_read_only
    assert cfg["sasl.kerberos.kinit.cmd"].value == "/opt/kinit"
    assert cfg["log.message.format.version"].value == "0.10.2"
    assert cfg["log.message.format.version"].is_read_only
    assert "Broker configuration log.message.format.version with value 0.10.2 is ignored" in b.log()
    # Secrets stay hidden even for properties kbroker does not use.
    assert cfg["ssl.keystore.password"].is_sensitive and cfg["ssl.keystore.password"].value is None

    # Kafka's per-broker properties cannot be set at the cluster-wide default.
    assert incremental_set(b, "", "sasl.kerberos.min.time.before.relogin", "30000", BROKER) == (
        42, "Cannot update these configs at default cluster level, broker id must be specified: "
            "[sasl.kerberos.min.time.before.relogin]")  # INVALID_REQUEST
    assert incremental_set(b, "", "background.threads", "4", BROKER) == (0, None)
    # Names Kafka does not know are still refused.
    with pytest.raises(KafkaException) as e:
        alter(b, "broker", "1", {"sasl.kerberos.min.time.before.relogin.typo": "1"})
    assert "Unknown broker config name" in str(e.value)
