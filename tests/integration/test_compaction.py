"""Log compaction: a topic with cleanup.policy=compact ends up with the newest value of each key
at the offset it was produced at, tombstoned keys disappear after delete.retention.ms, and the
group coordinator still finds the last committed offsets in a compacted __consumer_offsets
after a restart."""
import glob
import os
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING

from test_produce_consume import create_topic

CLEANER = {
    "log.cleaner.backoff.ms": 200,
    "log.cleaner.min.cleanable.ratio": 0.01,
    "offsets.topic.num.partitions": 1,
    "offsets.topic.segment.bytes": 2048,
}


def read_from_beginning(bootstrap, topic, idle_polls=4):
    """Every record of partition 0 as (offset, key, value), read until the log has been idle
    for a few polls (a compacted log may end in a gap, so the high watermark is not reached)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False,
                  "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out, idle = [], 0
        while idle < idle_polls:
            m = c.poll(0.3)
            if m is None:
                idle += 1
                continue
            assert m.error() is None, m.error()
            idle = 0
            out.append((m.offset(), m.key().decode(), None if m.value() is None else m.value().decode()))
        return out
    finally:
        c.close()


def wait_for(what, check, deadline_s):
    deadline = time.time() + deadline_s
    last = None
    while time.time() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last}")


def test_compacted_topic_keeps_the_newest_value_per_key_at_its_offset(broker_factory):
    b = broker_factory(CLEANER)
    create_topic(b.bootstrap, "compacted", 1, {
        "cleanup.policy": "compact",
        "segment.bytes": "1500",
        "segment.ms": "500",  # the active segment rolls soon, so every record becomes cleanable
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "3000",
    })
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "compression.type": "lz4"})
    produced = {}  # key -> (offset, value) of its newest record

    def delivered(err, msg):
        assert err is None, err
        key = msg.key().decode()
        value = None if msg.value() is None else msg.value().decode()
        if key not in produced or produced[key][0] < msg.offset():
            produced[key] = (msg.offset(), value)

    keys = [f"key-{k}" for k in range(5)]
    for i in range(600):
        p.produce("compacted", key=keys[i % 5], value=f"value-{i}-" + "x" * 20, partition=0, on_delivery=delivered)
        if i % 50 == 49:
            assert p.flush(15) == 0  # several batches, so several segments
    # Tombstones for two keys.
    for k in keys[3:]:
        p.produce("compacted", key=k, value=None, partition=0, on_delivery=delivered)
    assert p.flush(15) == 0
    assert len(produced) == 5

    expected = sorted((off, k, v) for k, (off, v) in produced.items())
    alive = [e for e in expected if e[2] is not None]

    def only_newest():
        seen = read_from_beginning(b.bootstrap, "compacted")
        # The tombstones themselves may already be gone when the check is slow.
        return set(alive) <= set(seen) <= set(expected) and len(seen) == len(set(seen)), seen

    # First the newest value of every key, each at the offset it was produced at, and nothing
    # older (a slow machine may see the tombstones go before this check ran).
    wait_for("one record per key", only_newest, 20)
    # Then, delete.retention.ms later, the tombstoned keys are gone altogether.

    def tombstones_gone():
        seen = read_from_beginning(b.bootstrap, "compacted")
        return seen == alive, seen

    wait_for("tombstones removed", tombstones_gone, 15)
    # The log end did not move: new records continue after the old offsets.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "wm"})
    lo, hi = c.get_watermark_offsets(TopicPartition("compacted", 0), timeout=10)
    c.close()
    assert (lo, hi) == (0, 602)
    # Cleaning left no temporary files, and wrote Kafka's cleaner checkpoint.
    part = os.path.join(b.data, "compacted-0")
    assert not glob.glob(os.path.join(part, "*.cleaned")) and not glob.glob(os.path.join(part, "*.swap"))
    with open(os.path.join(b.data, "cleaner-offset-checkpoint")) as f:
        lines = f.read().split("\n")
    assert lines[0] == "0" and any(line.startswith("compacted 0 ") for line in lines)
    # A restart reads the compacted log as it was.
    b.restart()
    assert read_from_beginning(b.bootstrap, "compacted") == alive


def test_committed_offsets_survive_compaction_of_consumer_offsets_and_a_restart(broker_factory):
    b = broker_factory(CLEANER)
    create_topic(b.bootstrap, "data", 1)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(10):
        p.produce("data", value=f"v{i}", partition=0)
    assert p.flush(15) == 0
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g-compact", "enable.auto.commit": False})
    try:
        for i in range(300):  # the same key over and over: one record left after compaction
            c.commit(offsets=[TopicPartition("data", 0, i % 10 + 1), ], asynchronous=False)
        c.commit(offsets=[TopicPartition("data", 0, 7)], asynchronous=False)
    finally:
        c.close()
    part = os.path.join(b.data, "__consumer_offsets-0")

    def log_bytes():
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(part, "*.log")))

    def compacted():
        size = log_bytes()
        return size < 8000, size  # 300 commits take well over 20 kB before compaction

    wait_for("__consumer_offsets compacted", compacted, 20)
    b.restart()
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "g-compact"})
    try:
        got = c.committed([TopicPartition("data", 0)], timeout=15)
    finally:
        c.close()
    assert got[0].error is None and got[0].offset == 7, got


def test_cleaner_threads_and_backoff_change_live(broker_factory):
    """log.cleaner.threads and log.cleaner.backoff.ms are dynamic broker configs: a cleaner
    started with no threads starts one when told, and a thread asleep for an hour wakes when
    the backoff becomes short."""
    from test_dynamic_broker_configs import SET, incremental_alter

    b = broker_factory({"log.cleaner.threads": 0, "log.cleaner.backoff.ms": 3600000,
                        "log.cleaner.min.cleanable.ratio": 0.01})
    config = {"cleanup.policy": "compact", "segment.bytes": "1500", "segment.ms": "300",
              "min.cleanable.dirty.ratio": "0.01"}

    def fill(topic):
        create_topic(b.bootstrap, topic, 1, config)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        for i in range(300):
            p.produce(topic, key=f"key-{i % 3}", value=f"value-{i}-" + "x" * 20, partition=0)
            if i % 50 == 49:
                assert p.flush(15) == 0
        assert p.flush(15) == 0
        # One more record after segment.ms, so the segments before it roll and are cleanable.
        time.sleep(0.5)
        p.produce(topic, key="key-0", value="last", partition=0)
        assert p.flush(15) == 0

    def compacted(topic):
        seen = read_from_beginning(b.bootstrap, topic)
        return len(seen) < 100, len(seen)

    fill("no-threads")
    time.sleep(2)
    assert not compacted("no-threads")[0], "compacted without a cleaner thread"
    assert incremental_alter(b.bootstrap, "", [("log.cleaner.threads", SET, "1")]) == (0, None)
    wait_for("compaction by the thread started live", lambda: compacted("no-threads"), 20)

    # That thread found nothing more to do and sleeps log.cleaner.backoff.ms (an hour).
    fill("asleep")
    time.sleep(2)
    assert not compacted("asleep")[0], "compacted although the cleaner should be asleep"
    assert incremental_alter(b.bootstrap, "", [("log.cleaner.backoff.ms", SET, "200")]) == (0, None)
    wait_for("compaction after the backoff became short", lambda: compacted("asleep"), 20)
