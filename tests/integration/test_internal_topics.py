"""The internal topics belong to the coordinators (issue 13, item 3). A client's gzip Produce
to __consumer_offsets is refused with Kafka's INVALID_TOPIC_EXCEPTION and nothing is written,
so a group's committed offset is still there after a restart; DeleteTopics, CreatePartitions
and DeleteRecords of an internal topic are refused (INVALID_TOPIC_EXCEPTION); CreateTopics of
one is refused (INVALID_REQUEST, Kafka's answer for its own metadata topic) before it exists,
TOPIC_ALREADY_EXISTS after, while the other topics of the same request are created; asking for
__transaction_state by auto-creation gets it with its own settings. (_schemas, the Schema
Registry's, stays an ordinary topic, as in Confluent's.)"""
import struct
import zlib

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

import kafka_wire as kw
from cluster_harness import wait_until
from test_delete_records import delete_records
from test_idempotence import find_coordinator

NONE, INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS, INVALID_REQUEST = 0, 17, 36, 42
OFFSETS = "__consumer_offsets"
TXN_STATE = "__transaction_state"
CONFIG = {"offsets.topic.num.partitions": 3, "transaction.state.log.num.partitions": 2,
          "group.initial.rebalance.delay.ms": 0}


def gzip(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def admin_errors(futures):
    """{name: Kafka error code (0 when it succeeded)} of an AdminClient call's futures."""
    out = {}
    for name, f in futures.items():
        try:
            f.result(15)
            out[name] = NONE
        except Exception as e:  # KafkaException carrying the broker's KafkaError
            out[name] = e.args[0].code()
    return out


def committed(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=15)[0].offset
    finally:
        c.close()


def commit(bootstrap, group, topic, offset):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, offset)], asynchronous=False)
    finally:
        c.close()


def end_offsets(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    finally:
        c.close()


def test_clients_cannot_write_delete_or_reshape_internal_topics(broker_factory):
    b = broker_factory(CONFIG)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert admin_errors(admin.create_topics([NewTopic("data", 1, 1)])) == {"data": NONE}
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce("data", value=b"x")
    assert p.flush(10) == 0
    commit(b.bootstrap, "g", "data", 1)  # creates __consumer_offsets (3 partitions)
    assert committed(b.bootstrap, "g", "data") == 1
    before = end_offsets(b.bootstrap, OFFSETS, 3)

    # A gzip batch of garbage "offset commits", to every partition: refused, nothing written.
    junk = kw.compressed_batch([b"\x00\x01junk", b"more junk"], 1, gzip)
    conn = kw.Conn(b.bootstrap)
    for partition in range(3):
        assert kw.parse_produce_v3(conn.request(kw.produce_v3(OFFSETS, partition, junk)))[0] == \
            INVALID_TOPIC_EXCEPTION
    conn.close()
    assert end_offsets(b.bootstrap, OFFSETS, 3) == before
    assert "Cannot append to internal topic __consumer_offsets" in b.log()

    assert admin_errors(admin.delete_topics([OFFSETS])) == {OFFSETS: INVALID_TOPIC_EXCEPTION}
    assert admin_errors(admin.create_partitions([NewPartitions(OFFSETS, 6)])) == {OFFSETS: INVALID_TOPIC_EXCEPTION}
    assert delete_records(b, OFFSETS, 0, -1)[0] == INVALID_TOPIC_EXCEPTION
    # Existing already: Kafka's answer to any topic that exists. The other topic is created.
    assert admin_errors(admin.create_topics([NewTopic(OFFSETS, 1, 1, config={"cleanup.policy": "delete"}),
                                             NewTopic("more", 2, 1)])) == \
        {OFFSETS: TOPIC_ALREADY_EXISTS, "more": NONE}

    b.restart()
    assert committed(b.bootstrap, "g", "data") == 1
    assert end_offsets(b.bootstrap, OFFSETS, 3) == before
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert len(md.topics[OFFSETS].partitions) == 3 and len(md.topics["more"].partitions) == 2


def metadata_auto_create(bootstrap, topic):
    """Metadata v4 naming `topic` with allow_auto_topic_creation."""
    conn = kw.Conn(bootstrap)
    try:
        conn.request(kw.header(3, 4) + struct.pack(">i", 1) + kw.string(topic) + struct.pack(">b", 1))
    finally:
        conn.close()


def test_internal_topics_cannot_be_pre_created_by_clients_and_come_with_their_own_settings(broker_factory):
    b = broker_factory(CONFIG)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    # One partition and delete retention would lose offsets: refused; the ordinary topic of
    # the same request is made.
    assert admin_errors(admin.create_topics([NewTopic(TXN_STATE, 1, 1, config={"cleanup.policy": "delete"}),
                                             NewTopic(OFFSETS, 1, 1), NewTopic("plain", 1, 1)])) == \
        {TXN_STATE: INVALID_REQUEST, OFFSETS: INVALID_REQUEST, "plain": NONE}
    assert TXN_STATE not in admin.list_topics(timeout=10).topics
    assert "create topic __transaction_state from 127.0.0.1" in b.log()  # said once, with who asked
    # Asked for by name with auto-creation (a Metadata request), it is made as the broker makes
    # it, not with an ordinary topic's defaults.
    metadata_auto_create(b.bootstrap, TXN_STATE)
    wait_until(lambda: TXN_STATE in admin.list_topics(timeout=5).topics, 20, "__transaction_state created")
    assert len(admin.list_topics(timeout=10).topics[TXN_STATE].partitions) == 2
    entries = admin.describe_configs([ConfigResource("topic", TXN_STATE)])
    assert list(entries.values())[0].result(10)["cleanup.policy"].value == "compact"
    wait_until(lambda: find_coordinator(b.bootstrap, "t-1", key_type=1)[0] == NONE, 20,
               "the transaction coordinator answers")


def test_a_produce_to_an_internal_topic_in_a_request_with_others_refuses_only_that_partition(broker_factory):
    b = broker_factory(CONFIG)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert admin_errors(admin.create_topics([NewTopic("ok", 1, 1)])) == {"ok": NONE}
    commit(b.bootstrap, "g", "ok", 0)  # creates __consumer_offsets
    batch = kw.record_batch([b"v"])
    body = kw.string(None) + struct.pack(">hii", 1, 5000, 2)
    for topic in (OFFSETS, "ok"):
        body += kw.string(topic) + struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
    conn = kw.Conn(b.bootstrap)
    resp = conn.request(kw.header(0, 3) + body)
    conn.close()
    errors, off = {}, 0
    (topics,) = struct.unpack_from(">i", resp, off)
    off += 4
    for _ in range(topics):
        (n,) = struct.unpack_from(">h", resp, off)
        name = resp[off + 2:off + 2 + n].decode()
        off += 2 + n + 4
        _, err, _base = struct.unpack_from(">ihq", resp, off)
        off += 14 + 8  # index, error, base offset, log append time
        errors[name] = err
    assert errors == {OFFSETS: INVALID_TOPIC_EXCEPTION, "ok": NONE}
