"""Acknowledged records survive kill -9 and clean restarts; a torn tail is repaired."""
import glob
import os
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING

from test_produce_consume import create_topic


def produce(b, topic, start, n, acks="1"):
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": acks, "linger.ms": 2})
    acked = []
    for i in range(start, start + n):
        p.produce(topic, key=str(i), value=f"payload-{i}" * 3, partition=i % 2,
                  on_delivery=lambda err, m: acked.append(m.value()) if err is None else None)
        if i % 100 == 99:
            assert p.flush(20) == 0  # many batches, so a torn tail loses only the last one
    assert p.flush(20) == 0
    return acked


def read_all(b, topic, partitions=2, expect=None):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out, eof = [], set()
    deadline = time.time() + 20
    while len(eof) < partitions and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:
                eof.add(m.partition())
            continue
        out.append(m)
    c.close()
    return out


def test_kill9_loses_no_acknowledged_record(broker):
    create_topic(broker.bootstrap, "dur", 2)
    acked = produce(broker, "dur", 0, 5000)
    assert len(acked) == 5000
    broker.kill9()
    broker.start()
    got = read_all(broker, "dur")
    assert sorted(m.value() for m in got) == sorted(acked)
    # and the log keeps going at the right offsets
    more = produce(broker, "dur", 5000, 100)
    got = read_all(broker, "dur")
    assert len(got) == 5100 and len(more) == 100
    for p in (0, 1):
        offs = [m.offset() for m in got if m.partition() == p]
        assert offs == list(range(len(offs)))


def test_clean_restart_keeps_everything_and_skips_recovery(broker):
    create_topic(broker.bootstrap, "clean", 2)
    acked = produce(broker, "clean", 0, 2000, acks="all")
    broker.stop()
    assert os.path.exists(os.path.join(broker.data, ".kafka_cleanshutdown"))
    broker.start()
    assert "recovered" not in broker.log().split("serving Kafka")[-1]
    assert sorted(m.value() for m in read_all(broker, "clean")) == sorted(acked)


def test_torn_tail_is_truncated_at_start_up(broker):
    create_topic(broker.bootstrap, "torn", 2)
    acked = produce(broker, "torn", 0, 1000)
    broker.kill9()
    seg = sorted(glob.glob(os.path.join(broker.data, "torn-0", "*.log")))[-1]
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.truncate(size - 7)  # the last batch is now incomplete
    broker.start()
    assert "truncating torn tail" in broker.log()
    got = read_all(broker, "torn")
    p0 = [m for m in got if m.partition() == 0]
    p1 = [m for m in got if m.partition() == 1]
    assert len(p1) == 500
    assert 0 < len(p0) < 500
    assert [m.offset() for m in p0] == list(range(len(p0)))
    assert all(m.value() in acked for m in p0)
    before = len(p0)
    produce(broker, "torn", 0, 2)  # one record lands in each partition
    p0 = [m for m in read_all(broker, "torn") if m.partition() == 0]
    assert [m.offset() for m in p0] == list(range(before + 1))
