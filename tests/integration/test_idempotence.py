"""Idempotent producers (the first part of exactly-once): InitProducerId hands out producer ids
that are never given twice, also across restarts; the partition leader refuses a sequence gap
(OUT_OF_ORDER_SEQUENCE_NUMBER) and answers a resent batch with its original offset; and a
confluent-kafka producer with enable.idempotence delivers every acknowledged record exactly
once and in order while its requests are retried across a kill -9 of the partition leader in
a three-broker cluster. DescribeProducers shows each partition's producer state. A
transactional id gets its producer id from the transaction coordinator, one epoch more on each
InitProducerId (test_transactions.py has the transactions themselves)."""
import struct
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire as kw
from cluster_harness import cluster  # noqa: F401 (fixture)
from test_cluster import FAST, BackgroundProducer, read_to_high_watermark
from test_cluster_admin import Writer, call

NONE, UNKNOWN_TOPIC_OR_PARTITION, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH = 0, 3, 45, 47
COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS = 14, 15, 16, 51


def init_producer_id(bootstrap, transactional_id=None):
    """InitProducerId v0 -> (error, producer_id, epoch)."""
    conn = kw.Conn(bootstrap)
    try:
        body = kw.string(transactional_id) + struct.pack(">i", 60000)
        resp = conn.request(kw.header(22, 0) + body)
        _, err, pid, epoch = struct.unpack_from(">ihqh", resp, 0)
        return err, pid, epoch
    finally:
        conn.close()


def find_coordinator(bootstrap, key, key_type=0):
    """FindCoordinator v1 (key_type 0 group, 1 transaction) -> (error, node id, host, port)."""
    conn = kw.Conn(bootstrap)
    try:
        resp = conn.request(kw.header(10, 1) + kw.string(key) + struct.pack(">b", key_type))
    finally:
        conn.close()
    _throttle, err, msg_len = struct.unpack_from(">ihh", resp, 0)
    off = 8 + max(msg_len, 0)
    node, host_len = struct.unpack_from(">ih", resp, off)
    host = resp[off + 6:off + 6 + host_len].decode()
    (port,) = struct.unpack_from(">i", resp, off + 6 + host_len)
    return err, node, host, port


def init_transactional_id(bootstrap, transactional_id, timeout=20):
    """InitProducerId v0 for a transactional id, asked again while the coordinator is being
    found or loaded, or still ending an earlier transaction -> (error, producer_id, epoch)."""
    deadline = time.time() + timeout
    while True:
        err = find_coordinator(bootstrap, transactional_id, key_type=1)[0]
        answer = init_producer_id(bootstrap, transactional_id) if err == NONE else (err, -1, -1)
        if answer[0] not in (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
                             CONCURRENT_TRANSACTIONS) or time.time() >= deadline:
            return answer
        time.sleep(0.2)


def idempotent_batch(values, pid, epoch, seq, timestamp=1_700_000_000_000):
    """One uncompressed v2 batch of `values` with producer fields (kafka_wire's layout)."""
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + kw.varint(0) + kw.varint(i) + kw.varint(-1) + kw.varint(len(v)) + v + kw.varint(0)
        recs += kw.varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp, timestamp, pid, epoch, seq,
                            len(values)) + recs
    after_len = struct.pack(">ibI", -1, 2, kw.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def produce(bootstrap, topic, batch, partition=0, transactional_id=None):
    """Produce v3, acks=1 -> (error, base offset)."""
    conn = kw.Conn(bootstrap)
    try:
        return kw.parse_produce_v3(conn.request(kw.produce_v3(topic, partition, batch,
                                                              transactional_id=transactional_id)))
    finally:
        conn.close()


def describe_producers(bootstrap, topic, partitions):
    """DescribeProducers v0 (flexible) -> {partition: (error, {producer_id: (epoch, last_sequence,
    last_timestamp, coordinator_epoch, current_txn_start_offset)})}."""
    w = Writer(True)
    w.array([(topic, partitions)], lambda t: w.string(t[0]).array(t[1], w.int32))
    w.tags()
    r = call(bootstrap, 61, 0, bytes(w.buf), True)
    r.int32()  # throttle
    out = {}

    def producer():
        fields = (r._unpack(">q"), r.int32(), r.int32(), r._unpack(">q"), r.int32(), r._unpack(">q"))
        r.tags()
        return fields

    def partition():
        index, err, _message = r.int32(), r.int16(), r.string()
        out[index] = (err, {f[0]: f[1:] for f in r.array(producer)})
        r.tags()

    def topic_entry():
        assert r.string() == topic
        r.array(partition)
        r.tags()

    r.array(topic_entry)
    return out


def create_topic(bootstrap, topic, partitions=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def test_init_producer_id_gives_distinct_ids_never_reused_after_restarts(broker):
    first = [init_producer_id(broker.bootstrap) for _ in range(3)]
    assert all(err == NONE and epoch == 0 for err, _, epoch in first), first
    ids = [pid for _, pid, _ in first]
    assert len(set(ids)) == 3 and min(ids) >= 0, ids
    # A transactional id: the coordinator (this broker) gives a new id at epoch 0, then the same
    # id one epoch on (fencing the previous producer with that transactional id).
    assert find_coordinator(broker.bootstrap, "txn-1", key_type=1)[0] in (NONE, COORDINATOR_NOT_AVAILABLE)
    err, txn_pid, epoch = init_transactional_id(broker.bootstrap, "txn-1")
    assert (err, epoch) == (NONE, 0) and txn_pid >= 0 and txn_pid not in ids, (err, txn_pid, epoch, ids)
    assert init_transactional_id(broker.bootstrap, "txn-1") == (NONE, txn_pid, 1)
    assert find_coordinator(broker.bootstrap, "txn-1", key_type=1)[:2] == (NONE, broker.node_id)
    ids.append(txn_pid)

    broker.restart()  # clean
    err, pid, _ = init_producer_id(broker.bootstrap)
    assert err == NONE and pid not in ids, (pid, ids)
    ids.append(pid)
    # The transactional id's producer id and epoch live in __transaction_state.
    assert init_transactional_id(broker.bootstrap, "txn-1") == (NONE, txn_pid, 2)
    broker.kill9()
    broker.start()
    err, pid, _ = init_producer_id(broker.bootstrap)
    assert err == NONE and pid not in ids, (pid, ids)
    assert init_transactional_id(broker.bootstrap, "txn-1") == (NONE, txn_pid, 3)


def test_a_sequence_gap_is_refused_and_a_resent_batch_gets_its_original_offset(broker):
    create_topic(broker.bootstrap, "idem")
    err, pid, epoch = init_producer_id(broker.bootstrap)
    assert err == NONE
    b0 = idempotent_batch([b"a", b"b", b"c"], pid, epoch, 0)
    assert produce(broker.bootstrap, "idem", b0) == (NONE, 0)
    assert produce(broker.bootstrap, "idem", b0) == (NONE, 0)  # the retry: no second copy
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"x"], pid, epoch, 5))[0] == \
        OUT_OF_ORDER_SEQUENCE_NUMBER
    b1 = idempotent_batch([b"d", b"e"], pid, epoch, 3)
    assert produce(broker.bootstrap, "idem", b1) == (NONE, 3)
    # Another producer's records in between do not disturb this one's.
    err, other, _ = init_producer_id(broker.bootstrap)
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"o"], other, 0, 0)) == (NONE, 5)
    # A new epoch starts at 0 and fences the old one.
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"f"], pid, epoch + 1, 0)) == (NONE, 6)
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"g"], pid, epoch, 5))[0] == INVALID_PRODUCER_EPOCH

    # The state survives a clean restart (snapshot) and a kill -9 (rebuilt from the log).
    b2 = idempotent_batch([b"h"], pid, epoch + 1, 1)
    assert produce(broker.bootstrap, "idem", b2) == (NONE, 7)
    broker.restart()
    assert produce(broker.bootstrap, "idem", b2) == (NONE, 7)
    broker.kill9()
    broker.start()
    assert produce(broker.bootstrap, "idem", b2) == (NONE, 7)
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"i"], pid, epoch + 1, 3))[0] == \
        OUT_OF_ORDER_SEQUENCE_NUMBER
    assert produce(broker.bootstrap, "idem", idempotent_batch([b"i"], pid, epoch + 1, 2)) == (NONE, 8)


def test_describe_producers_shows_each_partitions_producers_also_after_a_restart(broker):
    create_topic(broker.bootstrap, "described", partitions=2)
    assert describe_producers(broker.bootstrap, "described", [0, 1]) == {0: (NONE, {}), 1: (NONE, {})}
    _, a, _ = init_producer_id(broker.bootstrap)
    _, b, _ = init_producer_id(broker.bootstrap)
    t0, t1 = 1_700_000_000_000, 1_700_000_050_000
    assert produce(broker.bootstrap, "described", idempotent_batch([b"1", b"2", b"3"], a, 0, 0, t0)) == (NONE, 0)
    assert produce(broker.bootstrap, "described", idempotent_batch([b"4", b"5"], a, 0, 3, t1)) == (NONE, 3)
    assert produce(broker.bootstrap, "described", idempotent_batch([b"x"], b, 0, 0, t0), partition=1) == (NONE, 0)
    assert produce(broker.bootstrap, "described", idempotent_batch([b"y"], b, 0, 0, t1)) == (NONE, 5)
    expected = {
        0: (NONE, {a: (0, 4, t1, -1, -1), b: (0, 0, t1, -1, -1)}),
        1: (NONE, {b: (0, 0, t0, -1, -1)}),
    }
    assert describe_producers(broker.bootstrap, "described", [0, 1]) == expected
    assert describe_producers(broker.bootstrap, "described", [7]) == {7: (UNKNOWN_TOPIC_OR_PARTITION, {})}
    assert describe_producers(broker.bootstrap, "no-such-topic", [0]) == {0: (UNKNOWN_TOPIC_OR_PARTITION, {})}
    broker.restart()  # from the producer snapshots
    assert describe_producers(broker.bootstrap, "described", [0, 1]) == expected
    broker.kill9()
    broker.start()  # rebuilt from the log
    assert describe_producers(broker.bootstrap, "described", [0, 1]) == expected


def test_idempotent_producer_delivers_exactly_once_in_order_across_kill_9_of_the_leader(cluster):
    c = cluster(extra=FAST)
    topic, parts = "exactly-once", 3
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"})
    before = c.wait_topic(topic, parts)
    victim = before[0].leader
    # Every broker hands out ids from its own block, which the active controller allocated
    # (AllocateProducerIds from the others): never the same id twice.
    given = [init_producer_id(c.broker(n).bootstrap) for n in c.ids for _ in range(2)]
    assert all(err == NONE for err, _, _ in given), given
    assert len({pid for _, pid, _ in given}) == len(given), given
    # Five requests in flight and retries across the failover: only the broker's
    # deduplication keeps a resent batch from being written twice.
    prod = BackgroundProducer(c.bootstrap, topic, parts, interval=0.001,
                              **{"enable.idempotence": True, "max.in.flight.requests.per.connection": 5,
                                 "linger.ms": 20, "message.timeout.ms": 40000})
    prod.start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 300, 20, "300 acknowledged records before the kill",
                   describe=prod.summary)
        t_kill = time.time()
        c.kill9(victim)
        c.wait_for(lambda: prod.acked_since(t_kill, partition=0) >= 50, 25,
                   f"records produced to {topic}-0 after kill -9 of its leader (node {victim}) acknowledged",
                   describe=lambda: f"{prod.summary()}; partitions {c.partition_info(topic)}")
    except BaseException:
        prod.abort()
        raise
    prod.stop()
    assert prod.remaining == 0, prod.summary()
    assert not prod.failed, f"deliveries failed: {list(prod.failed.items())[:20]}"

    logs = read_to_high_watermark(c, topic, parts)
    for p, log in logs.items():
        seqs = [int(v) for _, _, v in log]
        dups = sorted({s for s in seqs if seqs.count(s) > 1})
        assert not dups, f"partition {p}: records written twice: {dups[:20]}"
        assert seqs == sorted(seqs), f"partition {p}: records out of order"
        at = {o: int(v) for o, _, v in log}
        for s, (part, off, _) in prod.acked.items():
            if part == p:
                assert at.get(off) == s, f"partition {p}: acknowledged record {s} at offset {off}, found {at.get(off)}"
    assert sum(len(log) for log in logs.values()) == len(prod.acked)
