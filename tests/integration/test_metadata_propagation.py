"""How fast a new topic reaches the brokers that did not create it (issue 14, point 2): topics
are created one after another through the active controller of a three-node cluster, and right
after each CreateTopics answer the other brokers are polled (Metadata v1 on a connection kept
open) until they list the topic with a leader for every partition. Before the metadata quorum
answered its followers' waiting fetches on every append and commit, about one create in ten
took 500-540 ms (a fetch long-poll) to appear.

KB_PROPAGATION_TOPICS sets how many topics (default 30); the bound is generous so that a busy
2-core machine cannot make it flake, and the measured figures are printed."""
import os
import struct
import time

from cluster_harness import cluster  # noqa: F401 (fixture)
from kafka_wire import Conn, header, read_string
from test_cluster import FAST

TOPICS = int(os.environ.get("KB_PROPAGATION_TOPICS", "30"))
WORST_BOUND_MS = 300


def topics_with_leaders(conn):
    """Metadata v1 for all topics -> {topic: every partition has a leader (>= 0)}."""
    resp = conn.request(header(3, 1) + struct.pack(">i", -1))
    off = 0
    (brokers,) = struct.unpack_from(">i", resp, off)
    off += 4
    for _ in range(brokers):
        off += 4
        _, off = read_string(resp, off)
        off += 4
        _, off = read_string(resp, off)
    off += 4  # controller id
    (count,) = struct.unpack_from(">i", resp, off)
    off += 4
    out = {}
    for _ in range(count):
        (err,) = struct.unpack_from(">h", resp, off)
        name, off = read_string(resp, off + 2)
        off += 1  # is_internal
        (parts,) = struct.unpack_from(">i", resp, off)
        off += 4
        led = err == 0 and parts > 0
        for _ in range(parts):
            perr, _, leader = struct.unpack_from(">hii", resp, off)
            off += 10
            for _ in range(2):  # replicas, isr
                (n,) = struct.unpack_from(">i", resp, off)
                off += 4 + 4 * n
            led = led and perr == 0 and leader >= 0
        out[name] = led
    return out


def test_new_topics_reach_every_broker_within_milliseconds(cluster):
    c = cluster(extra=FAST)
    ctrl = c.wait_ready()
    others = [n for n in c.ids if n != ctrl]
    conns = {n: Conn(c.broker(n).bootstrap) for n in others}
    admin = c.admin(ctrl)
    from confluent_kafka.admin import NewTopic

    delays = []  # (ms, topic, node)
    for i in range(TOPICS):
        name = f"propagate-{i}"
        admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=3)],
                            request_timeout=20)[name].result(25)
        created = time.monotonic()
        pending = set(others)
        while pending:
            for n in list(pending):
                if topics_with_leaders(conns[n]).get(name):
                    delays.append(((time.monotonic() - created) * 1000, name, n))
                    pending.discard(n)
            assert time.monotonic() - created < 10, f"{name} not visible with leaders on {sorted(pending)}"
            if pending:
                time.sleep(0.001)
    for conn in conns.values():
        conn.close()

    ms = sorted(d[0] for d in delays)
    worst = max(delays)
    print(f"\npropagation of {TOPICS} topics to {len(others)} brokers: median {ms[len(ms) // 2]:.1f} ms, "
          f"p90 {ms[int(len(ms) * 0.9)]:.1f} ms, worst {worst[0]:.1f} ms ({worst[1]} on node {worst[2]})")
    assert worst[0] < WORST_BOUND_MS, f"worst propagation {worst[0]:.1f} ms ({worst[1]} on node {worst[2]})"
