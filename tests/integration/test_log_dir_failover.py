"""A failed log dir in a cluster (issue 13, item 1; Kafka 3.7+'s JBOD in KRaft, KIP-858): node 1
has two log dirs, the second on a small tmpfs. Once the tmpfs is full, node 1's heartbeat names
that dir offline and the controller moves the leadership of the partitions placed there to
other in-sync replicas and takes node 1 out of their ISRs; producing with acks=all to them goes
on without losing an acknowledged record, and the partitions in node 1's healthy dir stay led
by it.

Mounting the tmpfs needs root: skipped otherwise (the fixture comes from test_disk_full)."""
import os
import re
import time

from confluent_kafka import Producer
from kafka import KafkaConsumer
from kafka import TopicPartition as KTP

from cluster_harness import cluster  # noqa: F401 (fixture)
from test_describe_log_dirs import describe_log_dirs_with_errors
from test_disk_full import fill, tmpfs  # noqa: F401 (fixture)

TOPIC = "jbod"
PARTITIONS = 6
VALUE = b"v" * 20_000


def placed_replicas(c, broker):
    """Replicas of `broker` the active controllers logged as placed in a log dir (AssignReplicasToDirs)."""
    pattern = re.compile(rf"broker {broker} placed (\d+) replica\(s\) in its log dirs")
    return sum(int(n) for i in c.ids for n in pattern.findall(c.nodes[i].log()))


def produce(c, partitions, start, count, acked, failed):
    """acks=all, idempotent: `count` records to each partition; delivered ones go to acked."""
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "enable.idempotence": True,
                  "message.timeout.ms": 40000, "retry.backoff.ms": 200, "linger.ms": 5})

    def done(err, msg):
        if err is None:
            acked[(msg.partition(), msg.offset())] = msg.key()
        else:
            failed.append((msg.partition(), err.name()))

    for i in range(start, start + count):
        for part in partitions:
            p.produce(TOPIC, key=b"%d-%d" % (part, i), value=VALUE, partition=part, on_delivery=done)
            p.poll(0)
    assert p.flush(60) == 0, "records still undelivered after 60 s"


def read_back(c, partitions):
    """{(partition, offset): key} of every record in `partitions`, from offset 0 (kafka-python
    without a group: no __consumer_offsets is created on the way)."""
    consumer = KafkaConsumer(bootstrap_servers=c.bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_bytes=8 << 20, max_partition_fetch_bytes=4 << 20)
    tps = [KTP(TOPIC, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    got = {}
    deadline = time.time() + 30
    while time.time() < deadline and any(consumer.position(tp) < ends[tp] for tp in tps):
        for recs in consumer.poll(timeout_ms=300).values():
            for r in recs:
                got[(r.partition, r.offset)] = r.key
    consumer.close()
    return got


def test_a_full_log_dir_moves_its_partitions_away_and_the_healthy_dir_keeps_serving(cluster, tmpfs):  # noqa: F811
    c = cluster(start=False, extra={"broker.heartbeat.interval.ms": 500})
    node = c.nodes[1]
    # The first dir (the metadata log's: a new log goes to the dir with fewest logs, the first
    # on a tie) is on the ordinary disk; the second is the tmpfs.
    node.extra = {**node.extra, "log.dirs": f"{node.data},{tmpfs}"}
    c.start_all()
    c.wait_ready()
    c.create_topic(TOPIC, PARTITIONS, assignment=[[1, 2, 3]] * PARTITIONS)
    c.wait_topic(TOPIC, PARTITIONS)

    dirs = describe_log_dirs_with_errors(node)
    on_tmpfs = sorted(p for (t, p) in dirs[os.path.realpath(tmpfs)][1] if t == TOPIC)
    healthy = sorted(p for (t, p) in dirs[os.path.realpath(node.data)][1] if t == TOPIC)
    assert on_tmpfs and healthy, f"node 1 put {TOPIC}'s partitions in one dir only: {dirs}"
    # Node 1 tells the controller where each of its replicas is.
    c.wait_for(lambda: placed_replicas(c, 1) >= PARTITIONS, 15, "node 1's replicas placed in its dirs",
               describe=lambda: placed_replicas(c, 1))

    acked, failed = {}, []
    produce(c, range(PARTITIONS), 0, 20, acked, failed)
    assert not failed

    # The tmpfs fills up: the next writes of node 1 there fail, the dir goes offline, and the
    # controller moves those partitions' leadership while the producer keeps going.
    fill(tmpfs)
    produce(c, on_tmpfs, 20, 40, acked, failed)
    assert not failed, f"records refused after the dir failed: {failed[:5]}"

    def moved():
        info = c.partition_info(TOPIC, via=2)
        return all(info[p].leader in (2, 3) and 1 not in info[p].isrs for p in on_tmpfs) and info
    info = c.wait_for(moved, 15, "the tmpfs partitions led by nodes 2/3 without node 1 in the ISR",
                      describe=lambda: c.partition_info(TOPIC, via=2))
    for p in healthy:
        assert info[p].leader == 1 and info[p].isrs == [1, 2, 3], (p, info[p])
    assert any(re.search(r"log dir \S+ of broker 1 is offline", c.nodes[i].log()) for i in c.ids)

    # The healthy dir's partitions still take acks=all writes led by node 1.
    produce(c, healthy, 60, 10, acked, failed)
    assert not failed
    assert c.partition_info(TOPIC, via=3)[healthy[0]].leader == 1

    # Nothing acknowledged is lost.
    got = read_back(c, range(PARTITIONS))
    missing = {k: v for k, v in acked.items() if got.get(k) != v}
    assert not missing, f"{len(missing)} acknowledged records missing or different, e.g. {list(missing)[:5]}"
    c.stop_all()
