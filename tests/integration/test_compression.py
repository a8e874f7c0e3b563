"""Compressed produce: every codec round-trips through kbroker with confluent-kafka and
kafka-python (stored in the codec the producer chose, or the topic's compression.type), the
legacy message formats of Produce v0-2 (kafka-python speaking to "0.9" and "0.10" brokers)
are converted to record batches, and the broker decompresses to validate, so a decompression
bomb or a batch whose record count lies is refused with CORRUPT_MESSAGE and nothing is
written."""
import zlib

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer

import kafka_wire
from test_produce_consume import create_topic

CODECS = ["gzip", "snappy", "lz4", "zstd"]
CODEC_ID = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
N = 2000


def gzip(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip format
    return c.compress(data) + c.flush()


def consume_confluent(b, topic, n):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(200):
        for m in c.consume(500, timeout=0.2):
            assert not m.error(), m.error()
            got.append(m.value().decode())
        if len(got) >= n:
            break
    c.close()
    return got


def consume_kafka_python(b, topic, n):
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=10000)
    c.assign([kafka_tp(topic)])
    c.seek_to_beginning()
    got = []
    for m in c:
        got.append(m.value.decode())
        if len(got) >= n:
            break
    c.close()
    return got


def kafka_tp(topic):
    from kafka import TopicPartition as KTP
    return KTP(topic, 0)


@pytest.mark.parametrize("codec", CODECS)
def test_confluent_kafka_compressed_records_read_back_by_both_clients(broker, codec):
    topic = f"c-{codec}"
    create_topic(broker.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec, "linger.ms": 20})
    errors = []
    for i in range(N):
        p.produce(topic, value=f"{codec}-value-{i}-" + "x" * (i % 50), on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(20) == 0 and not errors, errors[:3]
    want = [f"{codec}-value-{i}-" + "x" * (i % 50) for i in range(N)]
    assert consume_confluent(broker, topic, N) == want
    assert consume_kafka_python(broker, topic, N) == want
    # librdkafka compresses gzip, snappy and lz4 only when the broker advertises Produce v0:
    # the stored batches show it really did (a batch that compression would not shrink, such
    # as a lone first record, it sends uncompressed).
    codecs = stored_codecs(broker, topic)
    assert CODEC_ID[codec] in codecs and set(codecs) <= {0, CODEC_ID[codec]}


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_compressed_records_read_back_by_both_clients(broker, codec):
    topic = f"k-{codec}"
    create_topic(broker.bootstrap, topic, 1)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, linger_ms=20)
    for i in range(N):
        p.send(topic, value=f"kp-{codec}-{i}".encode(), partition=0)
    p.flush(20)
    p.close()
    want = [f"kp-{codec}-{i}" for i in range(N)]
    assert consume_kafka_python(broker, topic, N) == want
    assert consume_confluent(broker, topic, N) == want
    assert set(stored_codecs(broker, topic)) == {CODEC_ID[codec]}


@pytest.mark.parametrize("api_version,magic", [((0, 10), 1), ((0, 9), 0)])
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
def test_legacy_message_formats_from_old_clients_are_converted(broker, api_version, magic, codec):
    topic = f"legacy-{magic}-{codec}"
    create_topic(broker.bootstrap, topic, 1)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=api_version,
                      compression_type=None if codec == "none" else codec, linger_ms=10)
    futures = [p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=0, timestamp_ms=1_000_000 + i)
               for i in range(300)]
    p.flush(20)
    p.close()
    assert [f.get(timeout=1).offset for f in futures] == list(range(300))
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        got += [m for m in c.consume(500, timeout=0.2) if not m.error()]
        if len(got) >= 300:
            break
    c.close()
    assert [(m.key(), m.value()) for m in got] == [(f"k{i}".encode(), f"v{i}".encode()) for i in range(300)]
    # Magic 1 carries the producer's timestamps; magic 0 has none (-1), as Kafka converts it.
    assert [m.timestamp()[1] for m in got] == ([1_000_000 + i for i in range(300)] if magic == 1 else [-1] * 300)
    assert set(stored_codecs(broker, topic)) == {CODEC_ID[codec]}


def test_decompression_bomb_and_lying_record_count_are_refused_and_nothing_is_written(broker):
    create_topic(broker.bootstrap, "bombs", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    # 200 MiB of zeros in about 200 KB: far past what the broker decompresses for one batch.
    bomb = kafka_wire.compressed_batch([b"\0" * (200 << 20)], 1, gzip)
    assert len(bomb) < 1 << 20
    err, base = kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("bombs", 0, bomb)))
    assert err == 2  # CORRUPT_MESSAGE
    liar = kafka_wire.compressed_batch([b"a", b"b", b"c"], 1, gzip, count=4)
    err, base = kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("bombs", 0, liar)))
    assert err == 2
    good = kafka_wire.compressed_batch([b"a", b"b", b"c"], 1, gzip)
    err, base = kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("bombs", 0, good)))
    assert (err, base) == (0, 0)  # nothing before it was written
    conn.close()
    assert consume_confluent(broker, "bombs", 3) == ["a", "b", "c"]
    assert "CORRUPT_MESSAGE" in open(broker.log_path).read()


def stored_codecs(b, topic):
    """The codec of every batch in the partition's first segment, read from the file."""
    import glob
    import struct
    path = sorted(glob.glob(f"{b.data}/{topic}-0/*.log"))[0]
    data = open(path, "rb").read()
    codecs, pos = [], 0
    while pos + 61 <= len(data):
        (length,) = struct.unpack_from(">i", data, pos + 8)
        (attrs,) = struct.unpack_from(">h", data, pos + 21)
        codecs.append(attrs & 7)
        pos += 12 + length
    return codecs


@pytest.mark.parametrize("topic_codec,stored", [("zstd", 4), ("uncompressed", 0), ("lz4", 3), ("producer", 1)])
def test_topic_compression_type_decides_how_batches_are_stored(broker, topic_codec, stored):
    topic = f"t-{topic_codec}"
    create_topic(broker.bootstrap, topic, 1, {"compression.type": topic_codec})
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "gzip", "linger.ms": 20})
    want = [f"r-{i}-" + "x" * 100 for i in range(500)]
    for v in want:
        p.produce(topic, value=v)
    assert p.flush(20) == 0
    assert consume_confluent(broker, topic, 500) == want
    assert consume_kafka_python(broker, topic, 500) == want
    codecs = stored_codecs(broker, topic)
    if topic_codec == "producer":  # librdkafka's own choice: gzip, or none where it would not shrink
        assert stored in codecs and set(codecs) <= {0, stored}
    else:
        assert codecs and set(codecs) == {stored}
