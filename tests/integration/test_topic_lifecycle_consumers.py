"""Sequences where Kafka's and kbroker's answers were compared for subscribed consumers
(issue 14 item 6): a topic deleted and re-created under the same name while a group consumes
it, and a consumer subscribing, through another broker, to a topic a producer has just auto-created.

Kafka removes a deleted topic's committed offsets from every group (its coordinators'
onPartitionsDeleted), so a consumer of the re-created topic starts where auto.offset.reset
says, not at the old topic's positions."""
import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition
from cluster_harness import cluster  # noqa: F401 (fixture)
from confluent_kafka.admin import AdminClient

from test_groups import Member, consumer_conf, group_broker, poll_until, produce
from test_produce_consume import create_topic


def committed(b, group, topic):
    c = Consumer(consumer_conf(b, group))
    try:
        (tp,) = c.committed([TopicPartition(topic, 0)], timeout=15)
    finally:
        c.close()
    return tp.offset


def topic_exists(b, topic):
    return topic in AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10).topics


# The subscribed consumer runs in a child process: librdkafka 2.0.2's close (and destroy) of a
# consumer whose subscribed topic was deleted can hang for ever (a client bug, e.g.
# confluentinc/librdkafka#3470), so the test ends it with SIGKILL. It prints one line per event.
CONSUMER = r"""
import sys
from confluent_kafka import Consumer
conf = dict(arg.split("=", 1) for arg in sys.argv[2:])
c = Consumer(conf)
say = lambda *words: print(*words, flush=True)
c.subscribe([sys.argv[1]], on_assign=lambda c, ps: say("assigned", len(ps)),
            on_revoke=lambda c, ps: say("revoked", len(ps)))
while True:
    m = c.poll(0.1)
    if m is None or m.error():
        continue
    say("record", m.value().decode())
    if m.value() == b"old-9":
        c.commit(asynchronous=False)
        say("committed")
"""


class ChildConsumer:
    def __init__(self, b, group, topic):
        conf = consumer_conf(b, group, **{"topic.metadata.refresh.interval.ms": 500})
        self.proc = subprocess.Popen([sys.executable, "-c", CONSUMER, topic] + [f"{k}={v}" for k, v in conf.items()],
                                     stdout=subprocess.PIPE, text=True)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n").split(maxsplit=1))

    def wait(self, what, cond, timeout=40):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond(self.lines):
                return
            assert self.proc.poll() is None, f"the consumer exited with {self.proc.returncode}"
            time.sleep(0.05)
        raise AssertionError(f"{what}: not within {timeout}s; the consumer said {self.lines[-20:]}")

    def records(self):
        return [words[1] for words in self.lines if words[0] == "record"]

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def test_a_re_created_topic_is_read_from_its_start_by_the_group_that_consumed_the_old_one(broker_factory):
    b = group_broker(broker_factory)
    create_topic(b.bootstrap, "reborn", 1)
    produce(b, "reborn", [(0, None, f"old-{i}") for i in range(10)])
    m = ChildConsumer(b, "g-reborn", "reborn")
    try:
        m.wait("the old topic's 10 records committed", lambda lines: ["committed"] in lines)
        assert m.records() == [f"old-{i}" for i in range(10)]
        assert committed(b, "g-reborn", "reborn") == 10

        admin = AdminClient({"bootstrap.servers": b.bootstrap})  # kept: its futures die with it
        admin.delete_topics(["reborn"])["reborn"].result(15)
        # The member notices (its metadata no longer has the topic) and gives the partition up.
        m.wait("the member giving up the deleted topic", lambda lines: lines and lines[-1] == ["revoked", "1"])
        assert committed(b, "g-reborn", "reborn") < 0, "a deleted topic's offsets stay committed"

        create_topic(b.bootstrap, "reborn", 1)
        produce(b, "reborn", [(0, None, f"new-{i}") for i in range(30)])
        m.wait("the re-created topic's 30 records", lambda lines: len([w for w in lines if w[0] == "record"]) >= 40)
        time.sleep(0.5)
        assert m.records()[10:] == [f"new-{i}" for i in range(30)]
    finally:
        m.kill()


def test_a_consumer_subscribing_right_after_auto_creation_through_another_broker_gets_every_record(cluster):
    c = cluster(extra={"group.initial.rebalance.delay.ms": 0, "num.partitions": 4, "default.replication.factor": 3})
    p1, p2 = c.broker(1), c.broker(2)
    assert not topic_exists(p1, "born")
    produce(p1, "born", [(None, None, "v0")])  # the producer's Metadata request creates it
    # At once, through a broker the creation did not go through.
    m = Member(p2, "g-born", ["born"], "m", **{"topic.metadata.refresh.interval.ms": 500})
    try:
        poll_until([m], lambda: len(m.assignment()) == 4, 30, "all 4 partitions of the new topic assigned")
        produce(p1, "born", [(None, None, f"v{i}") for i in range(1, 20)])
        poll_until([m], lambda: len(m.msgs) == 20, 30, "the 20 records")
        # librdkafka reports a subscribed topic its broker does not know as an error event
        # ("Subscribed topic not available"); Kafka's brokers know a created topic within
        # milliseconds, so a consumer subscribing after the creation never sees one.
        unknown = [e for e in m.errors if e.code() == KafkaError.UNKNOWN_TOPIC_OR_PART]
        assert not unknown, unknown
        assert sorted(v for _, _, v in m.msgs) == sorted(f"v{i}" for i in range(20))
    finally:
        m.close()
