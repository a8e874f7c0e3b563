"""Compressed produce: every codec round-trips through kbroker with confluent-kafka and
kafka-python, and the broker decompresses to validate, so a decompression bomb or a batch
whose record count lies is refused with CORRUPT_MESSAGE and nothing is written."""
import zlib

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer

import kafka_wire
from test_produce_consume import create_topic

CODECS = ["gzip", "snappy", "lz4", "zstd"]
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
