"""DescribeLogDirs: each configured log dir with the partitions it holds and their sizes."""
import struct

from confluent_kafka import Producer

import kafka_wire
from test_produce_consume import create_topic


def describe_log_dirs_with_errors(b, topics=None):
    """Raw DescribeLogDirs v1 -> {log_dir: (error_code, {(topic, partition): size})}."""
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics))
        for t, parts in topics.items():
            body += kafka_wire.string(t) + struct.pack(">i", len(parts)) + b"".join(struct.pack(">i", p) for p in parts)
    conn = kafka_wire.Conn(b.bootstrap)
    resp = conn.request(kafka_wire.header(35, 1) + body)
    conn.close()
    off = 4
    (n,) = struct.unpack_from(">i", resp, off)
    off += 4
    out = {}

    def string():
        nonlocal off
        (ln,) = struct.unpack_from(">h", resp, off)
        s = resp[off + 2: off + 2 + ln].decode()
        off += 2 + ln
        return s

    for _ in range(n):
        (err,) = struct.unpack_from(">h", resp, off)
        off += 2
        name = string()
        d = {}
        (nt,) = struct.unpack_from(">i", resp, off)
        off += 4
        for _ in range(nt):
            topic = string()
            (np_,) = struct.unpack_from(">i", resp, off)
            off += 4
            for _ in range(np_):
                p, size, lag, future = struct.unpack_from(">iqqb", resp, off)
                off += 21
                d[(topic, p)] = size
        out[name] = (err, d)
    return out


def describe_log_dirs(b, topics=None):
    """Raw DescribeLogDirs v1 -> {log_dir: {(topic, partition): size}}; every dir online."""
    out = {}
    for name, (err, sizes) in describe_log_dirs_with_errors(b, topics).items():
        assert err == 0
        out[name] = sizes
    return out


def test_log_dirs_list_partitions_with_their_sizes(broker_factory, tmp_path):
    b = broker_factory({"log.dirs": f"{tmp_path / 'first'},{tmp_path / 'second'}"})
    create_topic(b.bootstrap, "ld", 4)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(400):
        p.produce("ld", value=b"v" * 100, partition=i % 4)
    assert p.flush(10) == 0
    dirs = describe_log_dirs(b)
    assert len(dirs) == 2
    parts = {k: v for d in dirs.values() for k, v in d.items() if k[0] == "ld"}
    assert sorted(parts) == [("ld", i) for i in range(4)]
    assert all(size > 100 * 100 for size in parts.values())
    # Partitions spread over both dirs.
    assert all(any(k[0] == "ld" for k in d) for d in dirs.values())
    only = describe_log_dirs(b, {"ld": [1]})
    assert [k for d in only.values() for k in d] == [("ld", 1)]
