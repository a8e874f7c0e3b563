"""Kafka's 32767-byte string limit (issue 13, item 6). A request carrying a longer string —
possible only in the compact form of flexible versions — is malformed, as in Kafka's decoder,
so a 1,000,000-character group id never becomes a group that ListGroups v0-2 cannot encode
(kafka-python then listed 3 of 8 groups); and an error message longer than the limit is cut to
fit instead of being written with a wrapped int16 length."""
import struct
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient

import kafka_wire

HUGE = "g" * 1_000_000
GROUPS = [f"group-{i}" for i in range(8)]
RETRIABLE = {14, 15, 16}  # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR


class Buf:
    def __init__(self, data):
        self.data, self.off = data, 0

    def take(self, fmt):
        vals = struct.unpack_from(fmt, self.data, self.off)
        self.off += struct.calcsize(fmt)
        return vals[0] if len(vals) == 1 else vals

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.off:self.off + n]
        assert len(s) == n, "string runs past the end of the frame"
        self.off += n
        return s.decode("utf-8")  # strict, as kafka-python decodes

    def done(self):
        return self.off == len(self.data)


def offset_commit_v2(group, topic):
    body = kafka_wire.string(group) + struct.pack(">i", -1) + kafka_wire.string("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + kafka_wire.string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", 0, 5) + kafka_wire.string("")
    return kafka_wire.header(8, 2) + body


def join_group_v6(group):
    body = kafka_wire.compact_string(group) + struct.pack(">ii", 10000, 30000) + kafka_wire.compact_string("")
    body += kafka_wire.compact_string(None) + kafka_wire.compact_string("consumer")
    body += kafka_wire.uvarint(2) + kafka_wire.compact_string("range") + kafka_wire.uvarint(1) + kafka_wire.uvarint(0)
    return kafka_wire.header_v2(11, 6) + body + kafka_wire.uvarint(0)


def offset_commit_v8(group, topic="ls"):
    body = kafka_wire.compact_string(group) + struct.pack(">i", -1) + kafka_wire.compact_string("")
    body += kafka_wire.compact_string(None)
    body += kafka_wire.uvarint(2) + kafka_wire.compact_string(topic)
    body += kafka_wire.uvarint(2) + struct.pack(">iqi", 0, 5, -1) + kafka_wire.compact_string("") + kafka_wire.uvarint(0)
    body += kafka_wire.uvarint(0)
    return kafka_wire.header_v2(8, 8) + body + kafka_wire.uvarint(0)


def find_coordinator_v4(group):
    body = struct.pack(">b", 0) + kafka_wire.uvarint(2) + kafka_wire.compact_string(group)
    return kafka_wire.header_v2(10, 4) + body + kafka_wire.uvarint(0)


def list_groups(b, version):
    conn = kafka_wire.Conn(b.bootstrap)
    buf = Buf(conn.request(kafka_wire.header(16, version)))
    conn.close()
    if version >= 1:
        buf.take(">i")  # throttle_time_ms
    err = buf.take(">h")
    groups = [(buf.string(), buf.string()) for _ in range(buf.take(">i"))]
    assert buf.done(), f"ListGroups v{version}: {len(buf.data) - buf.off} stray bytes after the groups"
    return err, [g for g, _ in groups]


@pytest.fixture(scope="module")
def groups_broker():
    from kbroker_harness import Broker
    b = Broker().start()
    try:
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        a.create_topics([NewTopic("ls", 1, 1)])["ls"].result(15)
        conn = kafka_wire.Conn(b.bootstrap)
        for g in GROUPS:
            # FindCoordinator creates __consumer_offsets; commits answer NOT_COORDINATOR until
            # its partitions are loaded.
            conn.request(kafka_wire.header(10, 0) + kafka_wire.string(g))
            deadline = time.time() + 20
            while True:
                resp = Buf(conn.request(offset_commit_v2(g, "ls")))
                resp.take(">i")
                resp.string()
                resp.take(">i")
                err = resp.take(">ih")[1]
                if err == 0:
                    break
                assert err in RETRIABLE and time.time() < deadline, f"offset commit for {g}: error {err}"
                time.sleep(0.1)
        conn.close()
        yield b
    finally:
        b.stop()
        b.cleanup()


@pytest.mark.parametrize("request_for", [join_group_v6, offset_commit_v8, find_coordinator_v4],
                         ids=["JoinGroup v6", "OffsetCommit v8", "FindCoordinator v4"])
def test_a_million_character_group_id_is_a_malformed_request(groups_broker, request_for):
    b = groups_broker
    conn = kafka_wire.Conn(b.bootstrap)
    conn.send(request_for(HUGE))
    assert conn.closed_by_peer(), "the broker answered a request with a 1,000,000-byte string"
    conn.close()
    assert "malformed" in b.log()
    # The same request with an id that fits is served (the connection is not closed).
    conn = kafka_wire.Conn(b.bootstrap)
    assert conn.request(request_for("g" * 32767)) is not None
    conn.close()


def test_list_groups_stays_well_formed_for_kafka_python(groups_broker):
    b = groups_broker
    conn = kafka_wire.Conn(b.bootstrap)
    conn.send(offset_commit_v8(HUGE))
    assert conn.closed_by_peer()
    conn.close()
    for version in (0, 1, 2):
        err, listed = list_groups(b, version)
        assert err == 0
        assert set(GROUPS) <= set(listed)
        assert all(len(g.encode()) <= 32767 for g in listed)
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        listed = {g for g, _ in admin.list_consumer_groups()}
    finally:
        admin.close()
    assert set(GROUPS) <= listed
    assert HUGE not in listed


def test_an_error_message_over_the_limit_is_cut_not_wrapped(groups_broker):
    b = groups_broker
    # The longest name a classic string holds: Kafka's "too long" message quotes it, so the
    # message is longer than any string may be (32,848 bytes before the fix).
    name = "t" * 32767
    body = struct.pack(">i", 1) + kafka_wire.string(name) + struct.pack(">ih", 1, 1)
    body += struct.pack(">i", 0) + struct.pack(">i", 0)  # assignments, configs
    body += struct.pack(">ib", 5000, 0)  # timeout_ms, validate_only
    conn = kafka_wire.Conn(b.bootstrap)
    buf = Buf(conn.request(kafka_wire.header(19, 4) + body))
    buf.take(">i")  # throttle_time_ms
    assert buf.take(">i") == 1
    assert buf.string() == name
    assert buf.take(">h") == 17  # INVALID_TOPIC_EXCEPTION
    message = buf.string()
    assert buf.done(), "stray bytes after the CreateTopics answer"
    assert 32000 < len(message.encode()) <= 32767
    assert message.startswith("Topic name is invalid")
    # The connection still works: the next answer is read in step.
    assert list_groups(b, 0)[0] == 0
    conn.close()
    assert "cut to fit" in b.log()
