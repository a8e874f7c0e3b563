"""Client quotas (issue 17 item 4, issue 13's controller.mutation.rate) on a real kbroker, with
raw requests (Debian's kafka-python and confluent-kafka have no quota admin API) and a real
producer: AlterClientQuotas / DescribeClientQuotas with Kafka's validation and filters; a
producer over its producer_byte_rate held near it with the throttle reported, while another
client-id is not; CreatePartitions over controller_mutation_rate refused with
THROTTLING_QUOTA_EXCEEDED; the per-entity series in /metrics."""
import json
import struct
import threading
import time
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire
from kafka_wire import compact_string, header, header_v2, read_string, string, uvarint

INVALID_REQUEST = 42
UNSUPPORTED_VERSION = 35
THROTTLING_QUOTA_EXCEEDED = 89


def alter_quotas(conn, entries, validate_only=False, client_id="kb-test"):
    """AlterClientQuotas v0. entries: [([(type, name|None)], [(key, value|None)])] (None removes).
    -> [(error_code, message)] per entry."""
    body = struct.pack(">i", len(entries))
    for entity, ops in entries:
        body += struct.pack(">i", len(entity))
        for t, n in entity:
            body += string(t) + string(n)
        body += struct.pack(">i", len(ops))
        for key, value in ops:
            body += string(key) + struct.pack(">d?", value or 0.0, value is None)
    body += struct.pack(">?", validate_only)
    resp = conn.request(header(49, 0, client_id=client_id) + body)
    off = 4  # throttle
    (n,) = struct.unpack_from(">i", resp, off)
    off += 4
    out = []
    for _ in range(n):
        (err,) = struct.unpack_from(">h", resp, off)
        msg, off = read_string(resp, off + 2)
        (m,) = struct.unpack_from(">i", resp, off)
        off += 4
        for _ in range(m):
            _, off = read_string(resp, off)
            _, off = read_string(resp, off)
        out.append((err, msg))
    return out


def describe_quotas(conn, components, strict=False):
    """DescribeClientQuotas v0. components: [(type, match_type, match|None)].
    -> (error_code, {frozenset(entity): {key: value}})."""
    body = struct.pack(">i", len(components))
    for t, mt, m in components:
        body += string(t) + struct.pack(">b", mt) + string(m)
    body += struct.pack(">?", strict)
    resp = conn.request(header(48, 0) + body)
    off = 4
    (err,) = struct.unpack_from(">h", resp, off)
    _, off = read_string(resp, off + 2)
    (n,) = struct.unpack_from(">i", resp, off)
    off += 4
    found = {}
    for _ in range(max(n, 0)):
        (m,) = struct.unpack_from(">i", resp, off)
        off += 4
        entity = []
        for _ in range(m):
            t, off = read_string(resp, off)
            name, off = read_string(resp, off)
            entity.append((t, name))
        (k,) = struct.unpack_from(">i", resp, off)
        off += 4
        values = {}
        for _ in range(k):
            key, off = read_string(resp, off)
            (v,) = struct.unpack_from(">d", resp, off)
            off += 8
            values[key] = v
        found[frozenset(entity)] = values
    return err, found


def create_partitions_v3(conn, topic, count, client_id):
    """CreatePartitions v3 (flexible). -> (throttle_time_ms, error_code)."""
    body = uvarint(2) + compact_string(topic) + struct.pack(">i", count) + uvarint(0) + uvarint(0)
    body += struct.pack(">i?", 10000, False) + uvarint(0)
    conn.send(header_v2(37, 3, client_id=client_id) + body)
    _, resp = conn.read_response_with_id()
    resp = resp[1:]  # response header v1: an empty tagged-field section after the correlation id
    (throttle,) = struct.unpack_from(">i", resp, 0)
    off = 4 + 1  # results: one element
    (nlen,) = struct.unpack_from(">B", resp, off)
    off += 1 + nlen - 1
    (err,) = struct.unpack_from(">h", resp, off)
    return throttle, err


def metrics(broker):
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=10) as r:
        return r.read().decode()


def test_alter_and_describe_client_quotas_with_kafkas_validation(broker):
    conn = kafka_wire.Conn(broker.bootstrap)
    ok = alter_quotas(conn, [
        ([("client-id", "slow")], [("producer_byte_rate", 1024.0)]),
        ([("user", "alice"), ("client-id", None)], [("consumer_byte_rate", 2048.0), ("request_percentage", 12.5)]),
        ([("user", None)], [("producer_byte_rate", 4096.0)]),
    ])
    assert ok == [(0, None)] * 3
    bad = alter_quotas(conn, [
        ([("client-id", "x")], [("bytes_per_second", 1.0)]),
        ([("group", "g")], [("producer_byte_rate", 1.0)]),
        ([("user", "bob")], [("producer_byte_rate", -5.0)]),
        ([("user", "bob")], [("producer_byte_rate", 10.5)]),
        ([("ip", "10.0.0.1"), ("user", "bob")], [("connection_creation_rate", 5.0)]),
    ])
    assert [e for e, _ in bad] == [INVALID_REQUEST, UNSUPPORTED_VERSION, INVALID_REQUEST, INVALID_REQUEST,
                                   INVALID_REQUEST]
    assert bad[0][1] == "Invalid configuration key bytes_per_second"
    assert alter_quotas(conn, [([("client-id", "dry")], [("producer_byte_rate", 1.0)])], validate_only=True) == [(0, None)]

    err, found = describe_quotas(conn, [])
    assert err == 0
    assert found == {
        frozenset({("client-id", "slow")}): {"producer_byte_rate": 1024.0},
        frozenset({("user", "alice"), ("client-id", None)}): {"consumer_byte_rate": 2048.0, "request_percentage": 12.5},
        frozenset({("user", None)}): {"producer_byte_rate": 4096.0},
    }
    _, found = describe_quotas(conn, [("user", 0, "alice")])
    assert list(found) == [frozenset({("user", "alice"), ("client-id", None)})]
    _, found = describe_quotas(conn, [("user", 0, "alice")], strict=True)
    assert found == {}
    _, found = describe_quotas(conn, [("user", 1, None)], strict=True)
    assert list(found) == [frozenset({("user", None)})]
    _, found = describe_quotas(conn, [("client-id", 2, None)])
    assert list(found) == [frozenset({("client-id", "slow")})]
    assert describe_quotas(conn, [("user", 0, None)])[0] == INVALID_REQUEST
    assert describe_quotas(conn, [("topic", 2, None)])[0] == UNSUPPORTED_VERSION

    # Removing the last value removes the entity; the quotas survive a restart.
    assert alter_quotas(conn, [([("user", None)], [("producer_byte_rate", None)])]) == [(0, None)]
    conn.close()
    broker.restart()
    conn = kafka_wire.Conn(broker.bootstrap)
    _, found = describe_quotas(conn, [])
    assert set(found) == {frozenset({("client-id", "slow")}), frozenset({("user", "alice"), ("client-id", None)})}
    conn.close()


def produce_for(bootstrap, client_id, topic, seconds, stats):
    """Produces 10 KB messages as fast as the broker lets a confluent-kafka producer for
    `seconds`; -> bytes acknowledged."""
    acked = [0]

    def delivered(err, msg):
        if err is None:
            acked[0] += len(msg.value())

    def on_stats(s):
        for b in json.loads(s).get("brokers", {}).values():
            stats["throttle_max"] = max(stats.get("throttle_max", 0), b.get("throttle", {}).get("max", 0))

    # Small batches and a small queue: the throttle acts per request, and the flush at the end
    # is short.
    p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5, "batch.size": 65536,
                  "statistics.interval.ms": 500, "stats_cb": on_stats, "queue.buffering.max.kbytes": 512})
    value = b"x" * 10000
    end = time.time() + seconds
    while time.time() < end:
        try:
            p.produce(topic, value, on_delivery=delivered)
        except BufferError:
            p.poll(0.05)
        p.poll(0)
    p.flush(30)
    p.poll(1)
    return acked[0]


def test_a_producer_over_its_byte_rate_is_held_near_it_and_others_are_not(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("quota-produce", 1, 1)])["quota-produce"].result(15)
    quota = 200_000  # bytes/s
    conn = kafka_wire.Conn(broker.bootstrap)
    assert alter_quotas(conn, [([("client-id", "slow")], [("producer_byte_rate", float(quota))])]) == [(0, None)]
    conn.close()
    time.sleep(0.5)  # the metadata reaches the broker's quota manager

    slow_stats, fast_stats, results = {}, {}, {}
    seconds = 12
    threads = [
        threading.Thread(target=lambda: results.update(slow=produce_for(broker.bootstrap, "slow", "quota-produce",
                                                                        seconds, slow_stats))),
        threading.Thread(target=lambda: results.update(fast=produce_for(broker.bootstrap, "fast", "quota-produce",
                                                                        4, fast_stats))),
    ]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.time() - start
    slow_rate = results["slow"] / elapsed
    # The first quota window takes a burst of up to ~10 s worth of quota, so over ~12 s the
    # producer stays within a small multiple of the quota (unthrottled it does 10x and more).
    assert slow_rate < 2.0 * quota, (slow_rate, results)
    assert slow_rate > 0.3 * quota, (slow_rate, results)
    assert slow_stats.get("throttle_max", 0) > 0
    assert results["fast"] / 4 > 3 * quota, results
    assert fast_stats.get("throttle_max", 0) == 0

    text = metrics(broker)

    def series(name):
        return [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                if l.startswith(name + "{") and 'client_id="slow"' in l and 'quota="producer_byte_rate"' in l]

    assert series("kbroker_quota_bound") == [quota], text[-3000:]
    assert series("kbroker_quota_throttle_time_ms_total")[0] > 0
    assert series("kbroker_quota_throttled_requests_total")[0] > 0


def test_controller_mutation_rate_refuses_a_burst_of_create_partitions(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("quota-grow", 1, 1)])["quota-grow"].result(15)
    conn = kafka_wire.Conn(broker.bootstrap)
    assert alter_quotas(conn, [([("client-id", "admin")], [("controller_mutation_rate", 1.0)])]) == [(0, None)]
    time.sleep(0.5)
    # A burst of 11 (rate x quota.window.num x 1 s) is allowed: the first 20 partitions pass and
    # leave the bucket 9 short, so the next request is refused for ~9 s.
    assert create_partitions_v3(conn, "quota-grow", 21, "admin") == (0, 0)
    throttle, err = create_partitions_v3(conn, "quota-grow", 22, "admin")
    assert err == THROTTLING_QUOTA_EXCEEDED
    assert 7000 <= throttle <= 9500
    # Another client is not held by admin's quota.
    assert create_partitions_v3(conn, "quota-grow", 22, "other") == (0, 0)
    md = admin.list_topics("quota-grow", timeout=10)
    assert len(md.topics["quota-grow"].partitions) == 22
    conn.close()


def consume_for(bootstrap, client_id, topic, seconds, stats, want=None):
    """Reads `topic` from the start with a confluent-kafka consumer for at most `seconds`;
    -> (bytes read, seconds taken)."""
    def on_stats(s):
        for b in json.loads(s).get("brokers", {}).values():
            stats["throttle_max"] = max(stats.get("throttle_max", 0), b.get("throttle", {}).get("max", 0))

    c = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id, "group.id": "g-" + client_id,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "max.partition.fetch.bytes": 100000, "statistics.interval.ms": 500, "stats_cb": on_stats})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = 0
    start = time.time()
    first = None
    while time.time() - start < seconds and (want is None or got < want):
        for m in c.consume(100, 0.2):
            if m.error() is None:
                first = first or time.time()
                got += len(m.value())
    taken = time.time() - (first or start)
    c.close()
    return got, taken


def test_a_consumer_over_its_byte_rate_is_held_near_it(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("quota-fetch", 1, 1)])["quota-fetch"].result(15)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    value = b"y" * 10000
    for _ in range(600):  # 6 MB
        p.produce("quota-fetch", value)
        p.poll(0)
    p.flush(30)
    quota = 300_000
    conn = kafka_wire.Conn(broker.bootstrap)
    assert alter_quotas(conn, [([("client-id", "slowc")], [("consumer_byte_rate", float(quota))])]) == [(0, None)]
    conn.close()
    time.sleep(0.5)
    slow, fast = {}, {}
    got, taken = consume_for(broker.bootstrap, "slowc", "quota-fetch", 10, slow)
    assert got / taken < 2.0 * quota, (got, taken)
    assert got > 0
    assert slow.get("throttle_max", 0) > 0
    got_fast, _ = consume_for(broker.bootstrap, "fastc", "quota-fetch", 15, fast, want=6_000_000)
    assert got_fast == 6_000_000
    assert fast.get("throttle_max", 0) == 0
