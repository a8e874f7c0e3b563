"""Clients older than Kafka 0.11 against kbroker: they produce magic 0/1 message sets (Produce
v0-2, converted to record batches on arrival) and fetch with Fetch v0-3, which kbroker answers
in their format (magic 0 for v0-1, magic 1 for v2-3), down-converting the stored batches as
Kafka does. kafka-python with api_version (0, 8, 2) / (0, 9) / (0, 10) / (0, 10, 1), kcat forced to old
protocol versions, and hand-made Fetch v0-3 requests."""
import struct
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTP

import kafka_wire
from test_produce_consume import create_topic

UNSUPPORTED_COMPRESSION_TYPE = 76
T0 = 1_600_000_000_000
# api_version -> (Fetch version kafka-python sends, message magic it reads)
OLD = {(0, 9): (1, 0), (0, 10): (2, 1), (0, 10, 1): (3, 1)}
OLD_IDS = ["0.9", "0.10", "0.10.1"]


def old_consumer(b, api_version, **extra):
    conf = dict(bootstrap_servers=b.bootstrap, api_version=api_version, auto_offset_reset="earliest",
                enable_auto_commit=False, consumer_timeout_ms=8000)
    conf.update(extra)
    return KafkaConsumer(**conf)


def read_assigned(b, topic, api_version, n, partition=0, **extra):
    """kafka-python at `api_version`, partition assigned by hand, from the beginning."""
    c = old_consumer(b, api_version, **extra)
    c.assign([KTP(topic, partition)])
    c.seek_to_beginning()
    got = []
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        for recs in c.poll(timeout_ms=300, max_records=n - len(got)).values():
            got.extend(recs)
    c.close()
    return got


def read_confluent(b, topic, n, partition=0):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, partition, 0)])
    got = []
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        for m in c.consume(500, timeout=0.2):
            assert not m.error(), m.error()
            got.append(m)
    c.close()
    return got


def produce_confluent(b, topic, n, codec="none", headers=True, value_size=0):
    p = Producer({"bootstrap.servers": b.bootstrap, "compression.type": codec, "linger.ms": 20})
    errors = []
    for i in range(n):
        p.produce(topic, key=None if i % 5 == 0 else f"k{i}", value=f"v{i}-" + "y" * (value_size or i % 40),
                  partition=0, timestamp=T0 + i, headers=[("h", str(i).encode())] if headers else None,
                  on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(20) == 0 and not errors, errors[:3]


def expected(i, value_size=0):
    return (None if i % 5 == 0 else f"k{i}".encode(), (f"v{i}-" + "y" * (value_size or i % 40)).encode())


@pytest.mark.parametrize("api_version", list(OLD), ids=OLD_IDS)
def test_old_kafka_python_produces_and_consumes_in_a_group(broker_factory, api_version):
    b = broker_factory({"group.initial.rebalance.delay.ms": 0})
    topic = "old-group"
    create_topic(b.bootstrap, topic, 2)
    fetch_version, magic = OLD[api_version]
    p = KafkaProducer(bootstrap_servers=b.bootstrap, api_version=api_version, linger_ms=5)
    futures = [p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % 2, timestamp_ms=T0 + i)
               for i in range(400)]
    p.flush(20)
    p.close()
    assert sorted(f.get(timeout=1).offset for f in futures) == sorted(list(range(200)) * 2)

    group = f"old-{magic}-{fetch_version}"
    c = old_consumer(b, api_version, group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500)
    c.subscribe([topic])
    got = []
    deadline = time.time() + 40
    while len(got) < 400 and time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            got.extend(recs)
    c.commit()
    committed = {pt: c.committed(KTP(topic, pt)) for pt in (0, 1)}
    c.close()
    assert len(got) == 400
    for pt in (0, 1):
        mine = [r for r in got if r.partition == pt]
        assert [r.offset for r in mine] == list(range(200))
        assert [(r.key, r.value) for r in mine] == [(f"k{i}".encode(), f"v{i}".encode()) for i in range(pt, 400, 2)]
        # Magic 1 carries the producer's timestamps (CreateTime, type 0); magic 0 has none.
        if magic == 1:
            assert [(r.timestamp, r.timestamp_type) for r in mine] == [(T0 + i, 0) for i in range(pt, 400, 2)]
        else:
            assert {r.timestamp for r in mine} <= {None, -1}
    assert committed == {0: 200, 1: 200}

    # The group resumes at the committed offsets: only new records come.
    p = KafkaProducer(bootstrap_servers=b.bootstrap, api_version=api_version)
    p.send(topic, key=b"late", value=b"late", partition=1).get(timeout=10)
    p.close()
    c = old_consumer(b, api_version, group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=500)
    c.subscribe([topic])
    more = []
    deadline = time.time() + 30
    while not more and time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            more.extend(recs)
    c.close()
    assert [(r.partition, r.offset, r.value) for r in more] == [(1, 200, b"late")]

    # And what the old producer wrote reads back with a current client (record batches).
    new = read_confluent(b, topic, 201, partition=1)
    assert [(m.offset(), m.key(), m.value()) for m in new] == (
        [(i, f"k{2 * i + 1}".encode(), f"v{2 * i + 1}".encode()) for i in range(200)] + [(200, b"late", b"late")])


def test_kafka_python_as_0_8_2_produces_consumes_and_commits_without_group_membership(broker):
    """0.8.2 had no group membership: partitions assigned by hand, offsets committed to the
    broker (Produce v0, Fetch v0, Metadata v0, ListOffsets v0, OffsetCommit/OffsetFetch v1)."""
    from kafka.structs import OffsetAndMetadata
    create_topic(broker.bootstrap, "old-082", 1)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=(0, 8, 2))
    futures = [p.send("old-082", key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0) for i in range(100)]
    p.flush(20)
    p.close()
    assert [f.get(timeout=1).offset for f in futures] == list(range(100))
    tp = KTP("old-082", 0)
    c = old_consumer(broker, (0, 8, 2), group_id="g082")
    c.assign([tp])
    got = []
    deadline = time.time() + 30
    while len(got) < 60 and time.time() < deadline:
        for recs in c.poll(timeout_ms=300, max_records=60 - len(got)).values():
            got.extend(recs)
    c.commit({tp: OffsetAndMetadata(60, "")})
    c.close()
    assert [(r.offset, r.key, r.value) for r in got] == [(i, f"k{i}".encode(), f"v{i}".encode()) for i in range(60)]
    # A new consumer of the group starts at the committed offset.
    c = old_consumer(broker, (0, 8, 2), group_id="g082")
    c.assign([tp])
    assert c.committed(tp) == 60
    rest = []
    deadline = time.time() + 30
    while len(rest) < 40 and time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            rest.extend(recs)
    c.close()
    assert [r.offset for r in rest] == list(range(60, 100))


@pytest.mark.parametrize("api_version", list(OLD), ids=OLD_IDS)
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
def test_record_batches_from_confluent_kafka_read_by_old_kafka_python(broker, api_version, codec):
    topic = f"new-{codec}"
    create_topic(broker.bootstrap, topic, 1)
    produce_confluent(broker, topic, 1500, codec)  # with headers, which old formats drop
    got = read_assigned(broker, topic, api_version, 1500)
    assert [r.offset for r in got] == list(range(1500))
    assert [(r.key, r.value) for r in got] == [expected(i) for i in range(1500)]
    if OLD[api_version][1] == 1:
        assert [r.timestamp for r in got] == [T0 + i for i in range(1500)]
        assert {r.timestamp_type for r in got} == {0}


@pytest.mark.parametrize("api_version", [(0, 9), (0, 10)], ids=["0.9", "0.10"])
def test_old_clients_resume_from_the_middle_of_a_compressed_or_plain_batch(broker, api_version):
    for codec in ("none", "gzip"):
        topic = f"mid-{codec}"
        create_topic(broker.bootstrap, topic, 1)
        produce_confluent(broker, topic, 300, codec, headers=False)
        c = old_consumer(broker, api_version)
        c.assign([KTP(topic, 0)])
        c.seek(KTP(topic, 0), 137)
        got = []
        deadline = time.time() + 30
        while len(got) < 163 and time.time() < deadline:
            for recs in c.poll(timeout_ms=300).values():
                got.extend(recs)
        c.close()
        assert [r.offset for r in got] == list(range(137, 300)), codec


@pytest.mark.parametrize("api_version", [(0, 9), (0, 10)], ids=["0.9", "0.10"])
def test_small_partition_fetch_size_pages_through_and_a_bigger_first_record_still_comes(broker, api_version):
    topic = "paged"
    create_topic(broker.bootstrap, topic, 1)
    produce_confluent(broker, topic, 50, "none", headers=False, value_size=3000)  # ~3 KB each
    produce_confluent(broker, topic, 50, "gzip", headers=False, value_size=3000)
    # 1 KiB per partition and fetch: every answer is one message (or one wrapper) past the limit.
    got = read_assigned(broker, topic, api_version, 100, max_partition_fetch_bytes=1024)
    assert [r.offset for r in got] == list(range(100))
    assert [r.value for r in got] == [expected(i % 50, 3000)[1] for i in range(100)]
    # 16 KiB: several records per answer, never split.
    got = read_assigned(broker, topic, api_version, 100, max_partition_fetch_bytes=16384)
    assert [r.offset for r in got] == list(range(100))


def test_log_append_time_topics_give_old_clients_the_broker_timestamp(broker):
    create_topic(broker.bootstrap, "lat", 1, {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    produce_confluent(broker, "lat", 20, "none")
    produce_confluent(broker, "lat", 20, "snappy")
    got = read_assigned(broker, "lat", (0, 10), 40)
    assert [r.offset for r in got] == list(range(40))
    assert {r.timestamp_type for r in got} == {1}  # LogAppendTime
    assert all(before - 1000 <= r.timestamp <= int(time.time() * 1000) + 1000 for r in got)


# librdkafka without ApiVersions and a 0.8.2 / 0.9.0 broker assumed: Produce and Fetch v0 / v1,
# magic 0. (With 0.10.0 it asks ApiVersions anyway and speaks current versions.)
@pytest.mark.parametrize("fallback", ["0.8.2", "0.9.0"])
def test_kcat_forced_to_old_versions_reads_and_writes(broker, fallback):
    topic = f"kcat-{fallback}"
    create_topic(broker.bootstrap, topic, 1)
    old = ["-X", "api.version.request=false", "-X", f"broker.version.fallback={fallback}"]
    produce_confluent(broker, topic, 100, "lz4")
    r = subprocess.run(["kcat", "-b", broker.bootstrap, *old, "-P", "-t", topic, "-p", "0", "-z", "gzip"],
                       input="".join(f"old-{i}\n" for i in range(100)), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["kcat", "-b", broker.bootstrap, *old, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                        "-e", "-q", "-f", "%o %s\n"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines == [f"{i} {expected(i)[1].decode()}" for i in range(100)] + [f"{100 + i} old-{i}" for i in range(100)]
    assert [m.value() for m in read_confluent(broker, topic, 200)][100:] == [f"old-{i}".encode() for i in range(100)]


# ---------------------------------------------------------------------------------------------
# Hand-made Fetch v0-3


def fetch_request(version, topic, partition, offset, max_bytes=1 << 20):
    body = struct.pack(">iii", -1, 0, 1)  # replica id, max wait, min bytes
    if version >= 3:
        body += struct.pack(">i", 64 << 20)
    body += struct.pack(">i", 1) + kafka_wire.string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", partition, offset, max_bytes)
    return kafka_wire.header(1, version) + body


def parse_fetch(version, resp):
    """-> (error_code, high_watermark, records bytes) of the single partition."""
    off = 4 if version >= 1 else 0  # throttle_time_ms from v1
    off += 4
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4
    _, err, hw, size = struct.unpack_from(">ihqi", resp, off)
    off += 18
    return err, hw, resp[off:off + max(size, 0)]


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_raw_fetch_v0_to_v3_answers_in_magic_0_or_1(broker, version):
    create_topic(broker.bootstrap, "raw", 1)
    produce_confluent(broker, "raw", 10, "none")
    conn = kafka_wire.Conn(broker.bootstrap)
    err, hw, records = parse_fetch(version, conn.request(fetch_request(version, "raw", 0, 3)))
    conn.close()
    assert (err, hw) == (0, 10)
    offsets, pos = [], 0
    while pos < len(records):
        offset, size = struct.unpack_from(">qi", records, pos)
        assert records[pos + 16] == (0 if version <= 1 else 1)  # the magic byte
        offsets.append(offset)
        pos += 12 + size
    assert offsets == list(range(3, 10))


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_raw_fetch_v0_to_v3_of_zstd_records_is_unsupported_compression_type(broker, version):
    create_topic(broker.bootstrap, "zstd", 1, {"compression.type": "zstd"})
    produce_confluent(broker, "zstd", 10, "none")
    conn = kafka_wire.Conn(broker.bootstrap)
    err, _, records = parse_fetch(version, conn.request(fetch_request(version, "zstd", 0, 0)))
    assert (err, records) == (UNSUPPORTED_COMPRESSION_TYPE, b"")
    # Fetch v4 and later get the batches as stored.
    assert kafka_wire.parse_fetch_v4_error(conn.request(kafka_wire.fetch_v4("zstd", 0, 0))) == 0
    conn.close()
