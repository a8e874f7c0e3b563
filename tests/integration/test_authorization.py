"""Authorization (issue 17): a broker with authorizer.class.name and its checks in every API,
seen by confluent-kafka's clients and by raw requests.

- With no ACL, an anonymous client may do nothing: Metadata lists no topics, produce answers
  TOPIC_AUTHORIZATION_FAILED, fetch too, a consumer group GROUP_AUTHORIZATION_FAILED, topic
  creation TOPIC_AUTHORIZATION_FAILED, transactions TRANSACTIONAL_ID_AUTHORIZATION_FAILED, an
  idempotent producer CLUSTER_AUTHORIZATION_FAILED, configs TOPIC_/CLUSTER_AUTHORIZATION_FAILED;
  each denial is logged.
- super.users: User:ANONYMOUS allows everything (also the forwarded CreateTopics, which the
  controller checks with the principal the Envelope carries).
- allow.everyone.if.no.acl.found: true allows everything while no ACL exists."""
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import kafka_wire as kw
from test_idempotence import find_coordinator, init_producer_id

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53

AUTHORIZER = {"authorizer.class.name": "kbroker"}


def produce_and_consume(bootstrap, topic, group):
    """Creates `topic`, writes one record, reads it back in `group`; raises on any error."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors = []
    p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(15) == 0
    assert errors == [None], errors
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        deadline = time.time() + 20
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            assert m.value() == b"v"
            c.commit(m, asynchronous=False)
            return
        raise AssertionError("no record consumed")
    finally:
        c.close()


def test_super_user_may_do_everything_then_no_acl_denies_everyone(broker_factory):
    b = broker_factory(dict(AUTHORIZER, **{"super.users": "User:admin; User:ANONYMOUS"}))
    produce_and_consume(b.bootstrap, "orders", "g1")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert "orders" in admin.list_topics(timeout=10).topics

    # The same broker without the super user: ANONYMOUS holds no ACL, so nothing is allowed.
    b.stop()
    b.extra.pop("super.users")
    b.start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert admin.list_topics(timeout=10).topics == {}  # unauthorized topics are left out

    # Produce: what the producer's delivery report says.
    p = Producer({"bootstrap.servers": b.bootstrap, "message.timeout.ms": 10000})
    reports = []
    p.produce("orders", b"x", on_delivery=lambda err, msg: reports.append(err))
    p.flush(15)
    assert [e.code() for e in reports] == [KafkaError.TOPIC_AUTHORIZATION_FAILED], reports
    # The same produce, fetch and list offsets raw: the partitions' own errors.
    conn = kw.Conn(b.bootstrap)
    try:
        err, _ = kw.parse_produce_v3(conn.request(kw.produce_v3("orders", 0, kw.record_batch([b"x"]))))
        assert err == TOPIC_AUTHORIZATION_FAILED
        assert kw.parse_fetch_v4_error(conn.request(kw.fetch_v4("orders", 0, 0))) == TOPIC_AUTHORIZATION_FAILED
        assert kw.parse_list_offsets_v1(conn.request(kw.list_offsets_v1("orders", 0, -1)))[0] == \
            TOPIC_AUTHORIZATION_FAILED
    finally:
        conn.close()

    # A consumer group: its coordinator is not even found.
    assert find_coordinator(b.bootstrap, "g1")[0] == GROUP_AUTHORIZATION_FAILED
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g1", "auto.offset.reset": "earliest"})
    try:
        c.subscribe(["orders"])
        seen = set()
        deadline = time.time() + 10
        while GROUP_AUTHORIZATION_FAILED not in seen and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is not None:
                seen.add(m.error().code())
        assert KafkaError.GROUP_AUTHORIZATION_FAILED in seen, seen
    finally:
        c.close()

    # Topic creation (CREATE on the cluster or the topic, checked by the controller).
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic("new-topic", 1, 1)])["new-topic"].result(15)
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # Transactions and idempotence.
    assert find_coordinator(b.bootstrap, "tx-1", key_type=1)[0] == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert init_producer_id(b.bootstrap, "tx-1")[0] == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert init_producer_id(b.bootstrap)[0] == CLUSTER_AUTHORIZATION_FAILED
    tp = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "tx-1"})
    with pytest.raises(KafkaException) as e:
        tp.init_transactions(10)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED

    # Configs: a topic's (TOPIC_...) and the broker's (CLUSTER_...).
    for resource, code in ((ConfigResource("topic", "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED),
                           (ConfigResource("broker", "1"), KafkaError.CLUSTER_AUTHORIZATION_FAILED)):
        with pytest.raises(KafkaException) as e:
            admin.describe_configs([resource])[resource].result(15)
        assert e.value.args[0].code() == code, (resource, e.value)
    alter = ConfigResource("topic", "orders", set_config={"retention.ms": "1000"})
    with pytest.raises(KafkaException) as e:
        admin.alter_configs([alter])[alter].result(15)
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Logged, rate-limited per principal (the built-in Schema Registry's own reads of _schemas,
    # as User:ANONYMOUS too, may be the first).
    assert "authorization denied: User:ANONYMOUS from 127.0.0.1 may not " in b.log()


def test_allow_everyone_if_no_acl_found_allows_all_without_acls(broker_factory):
    b = broker_factory(dict(AUTHORIZER, **{"allow.everyone.if.no.acl.found": True}))
    produce_and_consume(b.bootstrap, "open", "g-open")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert "open" in admin.list_topics(timeout=10).topics
    res = ConfigResource("broker", "1")
    assert admin.describe_configs([res])[res].result(15)["log.retention.hours"].value == "168"
    # A transaction from start to commit, the coordinator's markers included.
    tp = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "tx-open"})
    tp.init_transactions(15)
    tp.begin_transaction()
    tp.produce("open", b"t")
    tp.commit_transaction(15)
