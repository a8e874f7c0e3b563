"""A full disk (issue 13, item 1), with log.dirs on a small tmpfs that fills up: produce is
answered KAFKA_STORAGE_ERROR and DescribeLogDirs and /metrics show the dir offline; SIGTERM
exits cleanly; a restart on the still-full disk works and serves every acknowledged record;
DeleteRecords, and deleting a topic, free space so that produce works again.

Mounting the tmpfs needs root: skipped otherwise. The mount goes in teardown, always."""
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KTP

import kafka_wire
from kbroker_harness import Broker
from test_delete_records import delete_records
from test_describe_log_dirs import describe_log_dirs_with_errors
from test_produce_consume import create_topic

NONE = 0
KAFKA_STORAGE_ERROR = 56
VALUE_BYTES = 40_000


@pytest.fixture
def tmpfs():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="kbroker-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], capture_output=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a tmpfs: " + r.stderr.decode())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)


def fill(mnt, leave=0):
    """Grows a filler file until at most `leave` bytes are free."""
    st = os.statvfs(mnt)
    todo = st.f_bavail * st.f_frsize - leave
    chunk = b"\0" * (1 << 20)
    with open(os.path.join(mnt, "filler"), "ab", buffering=0) as f:
        try:
            while todo > 0:
                n = f.write(chunk[: min(todo, len(chunk))])
                todo -= n
            if leave == 0:
                while f.write(b"\0" * 4096):
                    pass
        except OSError:
            pass  # full


def value(i):
    return (b"%08d" % i) * (VALUE_BYTES // 8)


def produce(b, topic, i):
    """Raw Produce v3 of one record, acks=1 -> (error_code, base_offset)."""
    conn = kafka_wire.Conn(b.bootstrap)
    try:
        return kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3(topic, 0, kafka_wire.record_batch([value(i)]))))
    finally:
        conn.close()


def produce_until_refused(b, topic, first):
    acked = []
    for i in range(first, first + 2000):
        err, base = produce(b, topic, i)
        if err != NONE:
            return acked, err
        acked.append((base, i))
    raise AssertionError("the disk never filled up")


def log_dir_errors(b):
    """DescribeLogDirs -> {log_dir: error_code}."""
    return {d: err for d, (err, _) in describe_log_dirs_with_errors(b).items()}


def metric(b, series):
    text = urllib.request.urlopen(f"http://127.0.0.1:{b.metrics_port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def read_all(b, topic, start, n):
    """kafka-python without a group (no coordinator, nothing written): n records from `start`."""
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
                      consumer_timeout_ms=8000, fetch_max_bytes=8 << 20, max_partition_fetch_bytes=4 << 20)
    c.assign([KTP(topic, 0)])
    c.seek(KTP(topic, 0), start)
    got = []
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        for recs in c.poll(timeout_ms=300).values():
            got.extend((r.offset, r.value) for r in recs)
    c.close()
    return got


def eventually(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_a_full_disk_refuses_writes_survives_restarts_and_recovers_when_space_is_freed(tmpfs):
    b = Broker({"log.dirs": tmpfs})
    dir_name = os.path.realpath(tmpfs)
    try:
        b.start()
        create_topic(b.bootstrap, "full", 1, {"segment.bytes": "262144"})
        create_topic(b.bootstrap, "spare", 1)
        assert eventually(lambda: produce(b, "spare", 0)[0] == NONE)
        assert log_dir_errors(b) == {dir_name: NONE}

        fill(tmpfs, leave=3 << 20)
        acked, err = produce_until_refused(b, "full", 0)
        assert err == KAFKA_STORAGE_ERROR
        assert len(acked) > 20
        fill(tmpfs)  # whatever a refused write gave back
        assert produce(b, "full", 99999)[0] == KAFKA_STORAGE_ERROR
        assert log_dir_errors(b) == {dir_name: KAFKA_STORAGE_ERROR}
        assert metric(b, f'kbroker_log_dir_offline{{log_dir="{tmpfs}"}}') == 1
        assert metric(b, "kbroker_offline_log_dirs") == 1

        # SIGTERM on the full disk: a clean exit (stop() asserts exit code 0), no SIGBUS.
        b.stop()
        assert "SIGBUS" not in b.log()
        fill(tmpfs)
        # A restart on the still-full disk: it comes up and serves what was acknowledged.
        b.start()
        expected = [(off, value(i)) for off, i in acked]
        assert read_all(b, "full", 0, len(acked)) == expected
        assert produce(b, "full", 99999)[0] == KAFKA_STORAGE_ERROR
        # A crash on the full disk: the restart recovers every log (CRC scan, index rebuild)
        # without growing a file.
        b.kill9()
        fill(tmpfs)
        logged = os.path.getsize(b.log_path)
        b.start()
        assert read_all(b, "full", 0, len(acked)) == expected
        assert produce(b, "full", 99999)[0] == KAFKA_STORAGE_ERROR
        with open(b.log_path, "rb") as f:
            f.seek(logged)
            assert b"logs are recovered" in f.read()

        # DeleteRecords frees the segments below the new log start: produce works again.
        end = acked[-1][0] + 1
        assert delete_records(b, "full", 0, end) == (NONE, end)
        err, base = produce(b, "full", 100000)
        assert (err, base) == (NONE, end)
        assert eventually(lambda: log_dir_errors(b) == {dir_name: NONE})

        # Full again; deleting the topic (one metadata record, written into the metadata log's
        # reserve) frees its space.
        more, err = produce_until_refused(b, "full", 200000)
        assert err == KAFKA_STORAGE_ERROR
        fill(tmpfs)
        assert produce(b, "spare", 1)[0] == KAFKA_STORAGE_ERROR
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        admin.delete_topics(["full"])["full"].result(30)
        assert eventually(lambda: produce(b, "spare", 2)[0] == NONE)
        assert eventually(lambda: log_dir_errors(b) == {dir_name: NONE})
        assert metric(b, "kbroker_offline_log_dirs") == 0
        b.stop()
    finally:
        b.cleanup()
