"""Creating, validating, auto-creating and deleting topics with the admin clients."""
import os
import time

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic


def admin(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def error_of(future):
    with pytest.raises(KafkaException) as e:
        future.result(timeout=15)
    return e.value.args[0]


def topics(b):
    return admin(b).list_topics(timeout=10).topics


def test_create_with_defaults_configs_and_validate_only(broker_factory):
    b = broker_factory({"num.partitions": 4})
    a = admin(b)
    a.create_topics([NewTopic("dflt", num_partitions=-1, replication_factor=-1)])["dflt"].result(15)
    a.create_topics([NewTopic("cfg", 2, 1, config={"retention.ms": "1234", "segment.bytes": "100000"})])["cfg"].result(15)
    a.create_topics([NewTopic("dry", 3, 1)], validate_only=True)["dry"].result(15)
    t = topics(b)
    assert len(t["dflt"].partitions) == 4
    assert len(t["cfg"].partitions) == 2
    assert "dry" not in t
    assert not os.path.exists(os.path.join(b.data, "dry-0"))
    assert os.path.isdir(os.path.join(b.data, "cfg-1"))


def test_create_errors(broker):
    a = admin(broker)
    a.create_topics([NewTopic("dup", 1, 1)])["dup"].result(15)
    assert error_of(a.create_topics([NewTopic("dup", 1, 1)])["dup"]).name() == "TOPIC_ALREADY_EXISTS"
    for bad in ["bad name", "a" * 250, "..", "tab\tname"]:
        assert error_of(a.create_topics([NewTopic(bad, 1, 1)])[bad]).name() == "TOPIC_EXCEPTION"
    assert error_of(a.create_topics([NewTopic("rf", 1, 3)])["rf"]).name() == "INVALID_REPLICATION_FACTOR"
    assert error_of(a.create_topics([NewTopic("badcfg", 1, 1, config={"retention.ms": "soon"})])["badcfg"]).name() == "INVALID_CONFIG"
    assert error_of(a.create_topics([NewTopic("nocfg", 1, 1, config={"no.such.thing": "1"})])["nocfg"]).name() == "INVALID_CONFIG"


def test_delete_removes_topic_and_files(broker):
    a = admin(broker)
    a.create_topics([NewTopic("gone", 3, 1)])["gone"].result(15)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    p.produce("gone", value=b"x", partition=1)
    assert p.flush(10) == 0
    assert os.path.isdir(os.path.join(broker.data, "gone-1"))
    a.delete_topics(["gone"])["gone"].result(15)
    assert "gone" not in topics(broker)
    for i in range(3):
        assert not os.path.exists(os.path.join(broker.data, f"gone-{i}"))
    assert error_of(a.delete_topics(["gone"])["gone"]).name() == "UNKNOWN_TOPIC_OR_PART"


def test_auto_creation_follows_the_broker_setting(broker_factory):
    on = broker_factory({"num.partitions": 5})
    p = Producer({"bootstrap.servers": on.bootstrap})
    p.produce("auto", value=b"x")
    assert p.flush(15) == 0
    assert len(topics(on)["auto"].partitions) == 5

    off = broker_factory({"auto.create.topics.enable": False})
    md = admin(off).list_topics(topic="missing", timeout=10)
    assert md.topics["missing"].error.name() == "UNKNOWN_TOPIC_OR_PART"
    assert "missing" not in topics(off)


def test_kafka_python_admin_creates_lists_and_deletes(broker):
    ka = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    ka.create_topics([KNewTopic("kp", num_partitions=2, replication_factor=1)])
    assert "kp" in ka.list_topics()
    ka.delete_topics(["kp"])
    deadline = time.time() + 10
    while "kp" in ka.list_topics() and time.time() < deadline:
        time.sleep(0.2)
    assert "kp" not in ka.list_topics()
    ka.close()
