"""Retention deletes old segments in the background and moves the log start offset."""
import glob
import os
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from test_produce_consume import create_topic


def test_retention_bytes_and_ms_delete_old_segments(broker_factory):
    b = broker_factory({"log.retention.check.interval.ms": 300})
    create_topic(b.bootstrap, "small", 1, {"segment.bytes": "2000", "retention.bytes": "6000"})
    create_topic(b.bootstrap, "old", 1, {"segment.bytes": "2000", "retention.ms": "60000"})
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    now = int(time.time() * 1000)
    for i in range(300):
        p.produce("small", value=b"x" * 100, partition=0)
        # "old" records carry timestamps two minutes in the past: already expired.
        p.produce("old", value=b"y" * 100, partition=0, timestamp=now - 120_000)
        if i % 10 == 9:
            assert p.flush(15) == 0  # small batches, so segments stay near segment.bytes
    assert p.flush(15) == 0
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused"})

    def small_bytes():
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(b.data, "small-0", "*.log")))

    # A retention pass may already have run while records were still coming (the log start is
    # then past 0 with more segments to go), and a pass removes the files only after it moved
    # the log start: wait for the size too.
    deadline = time.time() + 20
    while time.time() < deadline:
        lo_small, hi_small = c.get_watermark_offsets(TopicPartition("small", 0), timeout=5)
        lo_old, hi_old = c.get_watermark_offsets(TopicPartition("old", 0), timeout=5)
        if lo_small > 0 and lo_old == hi_old and small_bytes() <= 6000 + 2000:
            break
        time.sleep(0.3)
    c.close()
    assert hi_small == 300 and lo_small > 0
    assert hi_old == 300 and lo_old == 300, (lo_old, hi_old)
    assert small_bytes() <= 6000 + 2000
    assert len(glob.glob(os.path.join(b.data, "old-0", "*.log"))) == 1
