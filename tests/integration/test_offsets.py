"""ListOffsets (earliest, latest, by timestamp) and positioned reads."""
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import kafka_wire
from test_produce_consume import create_topic

T0 = 1_800_000_000_000


def fill(bootstrap, topic, n=100):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 7})
    for i in range(n):
        p.produce(topic, partition=0, value=f"v{i}", timestamp=T0 + 10 * i)
    assert p.flush(15) == 0


def consumer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    conf.update(extra)
    return Consumer(conf)


def test_offsets_for_times_finds_the_first_record_at_or_after_the_timestamp(broker):
    create_topic(broker.bootstrap, "ts", 1)
    fill(broker.bootstrap, "ts")
    c = consumer(broker.bootstrap)
    for ts, want in [(0, 0), (T0, 0), (T0 + 1, 1), (T0 + 495, 50), (T0 + 990, 99), (T0 + 991, -1)]:
        got = c.offsets_for_times([TopicPartition("ts", 0, ts)], timeout=10)[0]
        assert got.error is None
        assert got.offset == want, (ts, got.offset)
    lo, hi = c.get_watermark_offsets(TopicPartition("ts", 0), timeout=10)
    assert (lo, hi) == (0, 100)
    c.close()


def test_consumer_positioned_in_the_middle_reads_from_exactly_there(broker):
    create_topic(broker.bootstrap, "mid", 1)
    fill(broker.bootstrap, "mid")
    c = consumer(broker.bootstrap)
    c.assign([TopicPartition("mid", 0, 37)])
    got = []
    deadline = time.time() + 15
    while len(got) < 63 and time.time() < deadline:
        got += [m for m in c.consume(100, 1.0) if not m.error()]
    c.close()
    assert [m.offset() for m in got] == list(range(37, 100))
    assert got[0].value() == b"v37"


def test_fetch_beyond_the_end_is_offset_out_of_range(broker):
    create_topic(broker.bootstrap, "oor", 1)
    fill(broker.bootstrap, "oor", 10)
    conn = kafka_wire.Conn(broker.bootstrap)
    assert kafka_wire.parse_fetch_v4_error(conn.request(kafka_wire.fetch_v4("oor", 0, 11))) == 1
    assert kafka_wire.parse_fetch_v4_error(conn.request(kafka_wire.fetch_v4("oor", 0, 10))) == 0
    conn.close()
    c = consumer(broker.bootstrap, **{"auto.offset.reset": "error"})
    c.assign([TopicPartition("oor", 0, 500)])
    err = None
    deadline = time.time() + 15
    while err is None and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error():
            err = m.error()
    c.close()
    assert err is not None and err.code() == KafkaError._AUTO_OFFSET_RESET


def test_list_offsets_v1_earliest_and_latest(broker):
    create_topic(broker.bootstrap, "lo", 1)
    fill(broker.bootstrap, "lo", 25)
    conn = kafka_wire.Conn(broker.bootstrap)
    assert kafka_wire.parse_list_offsets_v1(conn.request(kafka_wire.list_offsets_v1("lo", 0, -2))) == (0, 0)
    assert kafka_wire.parse_list_offsets_v1(conn.request(kafka_wire.list_offsets_v1("lo", 0, -1))) == (0, 25)
    conn.close()
