"""Transactions on the partition side (issue 6, scope 3), driven with raw requests in place of
the transaction coordinator: transactional batches stay invisible to read_committed consumers
(confluent-kafka, isolation.level=read_committed) while read_uncommitted ones see them; the
WriteTxnMarkers COMMIT of one partition makes its records visible, the ABORT of another hides
them for good (the aborted-transaction index tells the consumer), control records are never
handed to applications; ListOffsets read_committed answers the last stable offset; markers
are fenced by producer and coordinator epochs. All of it holds after a clean restart, a kill -9
(producer state and transaction index recovered), and in a three-broker cluster after the
partition leader is killed."""
import re
import struct
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

import kafka_wire as kw
from cluster_harness import cluster  # noqa: F401 (fixture)
from test_cluster import FAST
from test_idempotence import create_topic, idempotent_batch, init_producer_id
from test_idempotence import produce as produce_once


NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH = 0, 3, 47
INVALID_TXN_STATE, TRANSACTION_COORDINATOR_FENCED, INVALID_RECORD = 48, 52, 87
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
COORDINATOR_EPOCH = 5
# These tests stand in for the transaction coordinator, which never heard of their
# transactions: the brokers must not ask it (KIP-890 verification off, as in a Kafka before 3.6).
UNVERIFIED = {"transaction.partition.verification.enable": False}
TRANSACTIONAL_ID = "written-by-hand"  # transactional batches need one in the request


def produce(bootstrap, topic, batch, partition=0):
    return produce_once(bootstrap, topic, batch, partition, transactional_id=TRANSACTIONAL_ID)


def txn_batch(values, pid, epoch, seq, control=False):
    """A transactional (attribute bit 4) v2 batch; with `control`, a control batch too."""
    b = bytearray(idempotent_batch(values, pid, epoch, seq))
    attributes = 0x10 | (0x20 if control else 0)
    struct.pack_into(">h", b, 21, attributes)  # base offset 8, length 4, epoch 4, magic 1, crc 4
    struct.pack_into(">I", b, 17, kw.crc32c(bytes(b[21:])))
    return bytes(b)


def write_txn_markers(bootstrap, markers):
    """WriteTxnMarkers v0. markers: [(pid, epoch, commit, {topic: [partitions]}, coordinator
    epoch)] -> {(pid, topic, partition): error}."""
    body = struct.pack(">i", len(markers))
    for pid, epoch, commit, topics, coordinator_epoch in markers:
        body += struct.pack(">qhbi", pid, epoch, 1 if commit else 0, len(topics))
        for topic, parts in topics.items():
            body += kw.string(topic) + struct.pack(">i", len(parts)) + b"".join(struct.pack(">i", p) for p in parts)
        body += struct.pack(">i", coordinator_epoch)
    conn = kw.Conn(bootstrap, timeout=40)
    try:
        resp = conn.request(kw.header(27, 0) + body)
    finally:
        conn.close()
    out, off = {}, 0
    (n,) = struct.unpack_from(">i", resp, off)
    off += 4
    for _ in range(n):
        pid, topics = struct.unpack_from(">qi", resp, off)
        off += 12
        for _ in range(topics):
            (ln,) = struct.unpack_from(">h", resp, off)
            topic = resp[off + 2:off + 2 + ln].decode()
            off += 2 + ln
            (parts,) = struct.unpack_from(">i", resp, off)
            off += 4
            for _ in range(parts):
                p, err = struct.unpack_from(">ih", resp, off)
                off += 6
                out[(pid, topic, p)] = err
    return out


def marker(bootstrap, pid, epoch, commit, topic, partition, coordinator_epoch=COORDINATOR_EPOCH):
    return write_txn_markers(bootstrap, [(pid, epoch, commit, {topic: [partition]}, coordinator_epoch)])[
        (pid, topic, partition)]


def list_latest(bootstrap, topic, partition, isolation):
    """ListOffsets v2 latest (-1) -> (error, offset)."""
    body = struct.pack(">ib", -1, isolation) + struct.pack(">i", 1) + kw.string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", partition, -1)
    conn = kw.Conn(bootstrap)
    try:
        resp = conn.request(kw.header(2, 2) + body)
    finally:
        conn.close()
    off = 4 + 4  # throttle, topics count
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4
    _, err, _ts, offset = struct.unpack_from(">ihqq", resp, off)
    return err, offset


def metric(broker, name, labels=""):
    """The value of one series of the broker's /metrics (None when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def consume(bootstrap, topic, partitions, isolation, expect, timeout=15.0):
    """{partition: [values]} read from the beginning until `expect` records or the timeout
    (with expect=0: a few seconds of polling, to show nothing comes)."""
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": f"txn-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "isolation.level": isolation,
                     "fetch.wait.max.ms": 100, "topic.metadata.refresh.interval.ms": 1000})
    got = {p: [] for p in partitions}
    try:
        cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.time() + (timeout if expect else 4.0)
        while time.time() < deadline:
            m = cons.poll(0.2)
            if m is None:
                continue
            assert not m.error(), m.error()
            got[m.partition()].append(m.value())
            if expect and sum(len(v) for v in got.values()) >= expect:
                time.sleep(1.0)  # anything extra (a control record shown, a duplicate) shows up too
                while (m := cons.poll(0.2)) is not None:
                    if not m.error():
                        got[m.partition()].append(m.value())
                break
    finally:
        cons.close()
    return got


def check_after_markers(bootstrap, topic, committed_end):
    """After COMMIT on partition 0 and ABORT on partition 1 (and an open transaction on 1)."""
    assert consume(bootstrap, topic, [0, 1], "read_committed", 3) == {0: [b"c1", b"c2", b"plain"], 1: []}
    assert consume(bootstrap, topic, [0, 1], "read_uncommitted", 7) == {
        0: [b"c1", b"c2", b"plain"], 1: [b"a1", b"a2", b"a3", b"open"]}
    assert list_latest(bootstrap, topic, 0, READ_COMMITTED) == (NONE, 4)
    # Partition 1: a1..a3 (0-2), ABORT (3), the open transaction from 4.
    assert list_latest(bootstrap, topic, 1, READ_COMMITTED) == (NONE, committed_end)
    assert list_latest(bootstrap, topic, 1, READ_UNCOMMITTED) == (NONE, 5)


def test_markers_make_transactions_visible_or_drop_them_also_after_restarts(broker_factory):
    broker = broker_factory(UNVERIFIED)
    topic = "txn"
    create_topic(broker.bootstrap, topic, partitions=2)
    err, pid, epoch = init_producer_id(broker.bootstrap)
    assert err == NONE
    assert produce(broker.bootstrap, topic, txn_batch([b"c1", b"c2"], pid, epoch, 0), 0) == (NONE, 0)
    assert produce(broker.bootstrap, topic, txn_batch([b"a1", b"a2", b"a3"], pid, epoch, 0), 1) == (NONE, 0)
    # Records of another producer after an open transaction wait for it too.
    assert produce(broker.bootstrap, topic, kw.record_batch([b"plain"]), 0) == (NONE, 2)
    # A plain batch from a producer inside a transaction; a control batch from a client.
    assert produce(broker.bootstrap, topic, idempotent_batch([b"x"], pid, epoch, 2), 0)[0] == INVALID_TXN_STATE
    assert produce(broker.bootstrap, topic, txn_batch([b"m"], pid, epoch, 2, control=True), 0)[0] == INVALID_RECORD

    assert consume(broker.bootstrap, topic, [0, 1], "read_committed", 0) == {0: [], 1: []}
    assert consume(broker.bootstrap, topic, [0, 1], "read_uncommitted", 6) == {
        0: [b"c1", b"c2", b"plain"], 1: [b"a1", b"a2", b"a3"]}
    assert list_latest(broker.bootstrap, topic, 0, READ_COMMITTED) == (NONE, 0)
    assert list_latest(broker.bootstrap, topic, 0, READ_UNCOMMITTED) == (NONE, 3)
    assert metric(broker, "kbroker_ongoing_transactions") == 2
    assert metric(broker, "kbroker_partition_last_stable_offset_lag", '{partition="0",topic="txn"}') == 3

    assert marker(broker.bootstrap, pid, epoch, True, topic, 0) == NONE
    assert marker(broker.bootstrap, pid, epoch, False, topic, 1) == NONE
    # Fencing: an older coordinator epoch, an unknown partition.
    assert marker(broker.bootstrap, pid, epoch, True, topic, 0, COORDINATOR_EPOCH - 1) == \
        TRANSACTION_COORDINATOR_FENCED
    assert marker(broker.bootstrap, pid, epoch, True, topic, 9) == UNKNOWN_TOPIC_OR_PARTITION
    assert marker(broker.bootstrap, pid, epoch, True, "no-such-topic", 0) == UNKNOWN_TOPIC_OR_PARTITION
    # A transaction left open on partition 1 (offset 4) holds read_committed back from there.
    assert produce(broker.bootstrap, topic, txn_batch([b"open"], pid, epoch, 3), 1) == (NONE, 4)
    check_after_markers(broker.bootstrap, topic, 4)
    assert metric(broker, "kbroker_ongoing_transactions") == 1
    assert metric(broker, "kbroker_partition_last_stable_offset_lag", '{partition="0",topic="txn"}') == 0
    assert metric(broker, "kbroker_transaction_markers_total", '{result="commit"}') == 1
    assert metric(broker, "kbroker_transaction_markers_total", '{result="abort"}') == 1

    broker.restart()  # clean: producer snapshot and transaction index files
    check_after_markers(broker.bootstrap, topic, 4)
    broker.kill9()
    broker.start()  # producer state and transaction index rebuilt from the log
    check_after_markers(broker.bootstrap, topic, 4)

    # A newer producer epoch fences markers of the old one.
    assert produce(broker.bootstrap, topic, txn_batch([b"z"], pid, epoch + 1, 0), 0) == (NONE, 4)
    assert marker(broker.bootstrap, pid, epoch, False, topic, 0) == INVALID_PRODUCER_EPOCH
    assert marker(broker.bootstrap, pid, epoch + 1, False, topic, 0) == NONE
    assert marker(broker.bootstrap, pid, epoch, True, topic, 1) == NONE  # ends the open one
    assert consume(broker.bootstrap, topic, [0, 1], "read_committed", 4) == {
        0: [b"c1", b"c2", b"plain"], 1: [b"open"]}
    broker.kill9()
    broker.start()
    assert consume(broker.bootstrap, topic, [0, 1], "read_committed", 4) == {
        0: [b"c1", b"c2", b"plain"], 1: [b"open"]}
    assert list_latest(broker.bootstrap, topic, 1, READ_COMMITTED) == (NONE, 6)


def test_markers_replicate_and_a_new_leader_serves_read_committed(cluster):
    c = cluster(extra=dict(FAST, **UNVERIFIED))
    topic = "txn-replicated"
    c.create_topic(topic, 2, rf=3, config={"min.insync.replicas": "2"})
    info = c.wait_topic(topic, 2)
    leader = {p: c.broker(i.leader).bootstrap for p, i in info.items()}
    err, pid, epoch = init_producer_id(leader[0])
    assert err == NONE
    assert produce(leader[0], topic, txn_batch([b"c1", b"c2"], pid, epoch, 0), 0) == (NONE, 0)
    assert produce(leader[1], topic, txn_batch([b"a1"], pid, epoch, 0), 1) == (NONE, 0)
    assert write_txn_markers(leader[0], [(pid, epoch, True, {topic: [0]}, COORDINATOR_EPOCH)]) == \
        {(pid, topic, 0): NONE}
    assert write_txn_markers(leader[1], [(pid, epoch, False, {topic: [1]}, COORDINATOR_EPOCH)]) == \
        {(pid, topic, 1): NONE}
    # Open on partition 0 when its leader dies: the followers kept the transaction state.
    assert produce(leader[0], topic, txn_batch([b"open"], pid, epoch, 2), 0) == (NONE, 3)
    deadline = time.time() + 20
    while time.time() < deadline and any(
            list_latest(leader[p], topic, p, READ_UNCOMMITTED) != (NONE, end) for p, end in ((0, 4), (1, 2))):
        time.sleep(0.2)  # every replica has everything (acks=1 produce of "open")
    time.sleep(1.0)  # followers fetch once more and learn the high watermark
    assert consume(c.bootstrap, topic, [0, 1], "read_committed", 2) == {0: [b"c1", b"c2"], 1: []}

    victim = info[0].leader
    c.kill9(victim)
    c.wait_for(lambda: c.partition_info(topic)[0].leader not in (victim, -1), 30,
               f"a new leader of {topic}-0 after kill -9 of node {victim}")
    new_leader = c.broker(c.partition_info(topic)[0].leader).bootstrap
    assert list_latest(new_leader, topic, 0, READ_COMMITTED) == (NONE, 3)
    assert consume(c.live_bootstrap(), topic, [0, 1], "read_committed", 2) == {0: [b"c1", b"c2"], 1: []}
    assert consume(c.live_bootstrap(), topic, [0, 1], "read_uncommitted", 4) == {
        0: [b"c1", b"c2", b"open"], 1: [b"a1"]}
    assert write_txn_markers(new_leader, [(pid, epoch, True, {topic: [0]}, COORDINATOR_EPOCH)]) == \
        {(pid, topic, 0): NONE}
    assert consume(c.live_bootstrap(), topic, [0, 1], "read_committed", 3) == {0: [b"c1", b"c2", b"open"], 1: []}
