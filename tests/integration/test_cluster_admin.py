"""Cluster admin APIs on a three-node cluster of real processes: partition reassignment
(AlterPartitionReassignments / ListPartitionReassignments) while a producer writes with
acks=all, preferred leader election (ElectLeaders PREFERRED) and unclean leader election
(ElectLeaders UNCLEAN, and unclean.leader.election.enable turned on for a topic).

Neither python3-confluent-kafka 1.7 nor kafka-python 2.0 has these admin calls, so the
requests are encoded here (flexible versions included) and sent to the active controller."""
import os
import socket
import struct
import time

from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource

from cluster_harness import cluster  # noqa: F401 (fixture)
from kafka_wire import recv_exact, uvarint
from test_metrics import scrape, value
from test_cluster import FAST, BackgroundProducer, check_acknowledged, producer_conf, read_to_high_watermark

NO_REBALANCE = dict(FAST, **{"auto.leader.rebalance.enable": False})

NONE, UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER = 0, 3, 41
ELIGIBLE_LEADERS_NOT_AVAILABLE, ELECTION_NOT_NEEDED = 83, 84
PREFERRED, UNCLEAN = 0, 1


# ---------------------------------------------------------------------------------------------
# The wire: just enough of ElectLeaders (43) v0-2, AlterPartitionReassignments (45) v0 and
# ListPartitionReassignments (46) v0.


class Writer:
    def __init__(self, flexible):
        self.flexible, self.buf = flexible, bytearray()

    def int8(self, v):
        self.buf += struct.pack(">b", v)
        return self

    def int32(self, v):
        self.buf += struct.pack(">i", v)
        return self

    def string(self, s):
        b = s.encode()
        self.buf += uvarint(len(b) + 1) if self.flexible else struct.pack(">h", len(b))
        self.buf += b
        return self

    def array(self, items, write_item):
        """items None: a null array."""
        if items is None:
            self.buf += uvarint(0) if self.flexible else struct.pack(">i", -1)
            return self
        self.buf += uvarint(len(items) + 1) if self.flexible else struct.pack(">i", len(items))
        for item in items:
            write_item(item)
            if self.flexible and not isinstance(item, int):
                self.tags()
        return self

    def tags(self):
        self.buf += uvarint(0)
        return self


class Reader:
    def __init__(self, data, flexible):
        self.data, self.off, self.flexible = data, 0, flexible

    def _unpack(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.off)[0]
        self.off += struct.calcsize(fmt)
        return v

    def int16(self):
        return self._unpack(">h")

    def int32(self):
        return self._unpack(">i")

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.data[self.off]
            self.off += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def string(self):
        n = self.uvarint() - 1 if self.flexible else self.int16()
        if n < 0:
            return None
        s = self.data[self.off:self.off + n].decode()
        self.off += n
        return s

    def array(self, read_item):
        n = self.uvarint() - 1 if self.flexible else self.int32()
        out = []
        for _ in range(max(n, 0)):
            out.append(read_item())
        return out

    def tags(self):
        if self.flexible:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.off += self.uvarint()


def call(address, api_key, version, body, flexible):
    """One request (header v1, or v2 when flexible); the response body after its header."""
    header = struct.pack(">hhi", api_key, version, 7) + struct.pack(">h", 7) + b"kb-test"
    if flexible:
        header += uvarint(0)
    payload = header + body
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        data = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    r = Reader(data, flexible)
    assert r.int32() == 7, "correlation id"
    r.tags()
    return r


def elect_leaders(address, election_type, partitions, version=2):
    """partitions: {topic: [partition]} or None (all). Returns (top-level error or None for v0,
    {(topic, partition): (error, message)})."""
    flexible = version >= 2
    w = Writer(flexible)
    if version >= 1:
        w.int8(election_type)
    w.array(None if partitions is None else list(partitions.items()),
            lambda tp: w.string(tp[0]).array(tp[1], w.int32))
    w.int32(30000)
    if flexible:
        w.tags()
    r = call(address, 43, version, bytes(w.buf), flexible)
    r.int32()  # throttle
    top = r.int16() if version >= 1 else None
    results = {}

    def partition(topic):
        p, err, msg = r.int32(), r.int16(), r.string()
        r.tags()
        results[(topic, p)] = (err, msg)

    def topic():
        name = r.string()
        r.array(lambda: partition(name))
        r.tags()

    r.array(topic)
    return top, results


def alter_reassignments(address, targets):
    """targets: {(topic, partition): [replicas] or None (cancel)}. Returns (top-level error,
    {(topic, partition): error})."""
    by_topic = {}
    for (t, p), replicas in targets.items():
        by_topic.setdefault(t, []).append((p, replicas))
    w = Writer(True).int32(30000)
    w.array(list(by_topic.items()),
            lambda t: w.string(t[0]).array(t[1], lambda pr: w.int32(pr[0]).array(pr[1], w.int32)))
    w.tags()
    r = call(address, 45, 0, bytes(w.buf), True)
    r.int32()
    top = r.int16()
    r.string()
    results = {}

    def partition(topic):
        p, err = r.int32(), r.int16()
        r.string()
        r.tags()
        results[(topic, p)] = err

    def topic():
        name = r.string()
        r.array(lambda: partition(name))
        r.tags()

    r.array(topic)
    return top, results


def list_reassignments(address, partitions=None):
    """-> (top-level error, {(topic, partition): (replicas, adding, removing)})."""
    w = Writer(True).int32(30000)
    w.array(None if partitions is None else list(partitions.items()),
            lambda tp: w.string(tp[0]).array(tp[1], w.int32))
    w.tags()
    r = call(address, 46, 0, bytes(w.buf), True)
    r.int32()
    top = r.int16()
    r.string()
    out = {}

    def partition(topic):
        p = r.int32()
        out[(topic, p)] = (r.array(r.int32), r.array(r.int32), r.array(r.int32))
        r.tags()

    def topic():
        name = r.string()
        r.array(lambda: partition(name))
        r.tags()

    r.array(topic)
    return top, out


def at_controller(c, request, what, timeout=20):
    """request(address) against the active controller, retried while the answer is
    NOT_CONTROLLER (the controller moved) or the node does not answer."""
    answer = {}

    def attempt():
        ctrl = c.controller_id()
        top, results = request(c.broker(ctrl).bootstrap)
        answer["last"] = (ctrl, top, results)
        codes = {top} | {v[0] if isinstance(v, tuple) else v for v in results.values()}
        return None if NOT_CONTROLLER in codes else (top, results)

    return c.wait_for(attempt, timeout, what, describe=lambda: repr(answer.get("last")))


def partition_dirs(node, topic):
    return sorted(d for d in os.listdir(node.data) if d.startswith(topic + "-"))


# ---------------------------------------------------------------------------------------------
# (a) Reassignment while producing with acks=all.


def test_reassignment_moves_a_partition_to_new_brokers_without_losing_acknowledged_records(cluster):
    c = cluster(extra=FAST)
    ctrl = c.controller_id()
    # `new` joins, `old` leaves, `kept` stays; `new` is not the controller, so pausing it (to
    # hold the reassignment open for a moment) leaves the controller alone.
    new = next(n for n in reversed(c.ids) if n != ctrl)
    old, kept = [n for n in c.ids if n != new]
    topic, parts = "moving", 2
    c.create_topic(topic, parts, assignment=[[old, kept], [kept, old]], config={"min.insync.replicas": "2"})
    c.wait_topic(topic, parts)
    assert partition_dirs(c.broker(new), topic) == []

    prod = BackgroundProducer(c.bootstrap, topic, parts, **{"max.in.flight.requests.per.connection": 1}).start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 200, 20, "200 acknowledged records before the move",
                   describe=prod.summary)
        c.pause(new)  # the new replica cannot catch up: the reassignment stays open
        try:
            top, results = at_controller(c, lambda a: alter_reassignments(
                a, {(topic, 0): [kept, new], (topic, 1): [new, kept]}), "AlterPartitionReassignments accepted")
            assert top == NONE and results == {(topic, 0): NONE, (topic, 1): NONE}, (top, results)
            # The controller's image has the change as soon as it answered.
            at = c.broker(c.controller_id()).bootstrap
            top, ongoing = list_reassignments(at)
            assert top == NONE
            assert ongoing == {(topic, 0): ([kept, new, old], [new], [old]),
                               (topic, 1): ([new, kept, old], [new], [old])}, ongoing
            # only the partitions asked about
            assert set(list_reassignments(at, {topic: [1, 7]})[1]) == {(topic, 1)}
        finally:
            c.resume(new)
        seen = {}

        def moved():
            seen["list"] = list_reassignments(c.broker(kept).bootstrap)[1]
            seen["info"] = info = c.partition_info(topic, via=kept)
            return not seen["list"] and all(sorted(i.replicas) == sorted([kept, new]) and i.isrs == sorted([kept, new])
                                            for i in info.values())

        c.wait_for(moved, 30, f"{topic} moved from nodes {old},{kept} to {kept},{new}", describe=lambda: repr(seen))
        assert c.partition_info(topic, via=kept)[1].replicas == [new, kept]  # the target's order
        t_moved = time.time()
        c.wait_for(lambda: all(prod.acked_since(t_moved, p) >= 20 for p in range(parts)), 20,
                   "records acknowledged on both partitions after the move", describe=prod.summary)
    except BaseException:
        prod.abort()
        raise
    prod.stop()
    assert prod.remaining == 0 and not prod.failed, prod.summary()

    logs = read_to_high_watermark(c, topic, parts)
    lost, misplaced, disorder = check_acknowledged(prod.acked, logs)
    assert not lost, f"{len(lost)} acknowledged records lost, (partition, seq, acked offset): {lost[:20]}"
    assert not misplaced and not disorder, (misplaced[:20], disorder[:20])

    # The old replica's logs are deleted; the new broker holds both partitions.
    c.wait_for(lambda: partition_dirs(c.broker(old), topic) == [], 10,
               f"the partition directories of {topic} gone from node {old}",
               describe=lambda: repr(partition_dirs(c.broker(old), topic)))
    assert partition_dirs(c.broker(new), topic) == [f"{topic}-0", f"{topic}-1"]

    # Errors: cancelling when nothing moves, an unregistered broker, an unknown partition.
    top, results = at_controller(c, lambda a: alter_reassignments(
        a, {(topic, 0): None, (topic, 1): [kept, 99], ("no-such-topic", 0): [1]}), "AlterPartitionReassignments errors")
    assert results == {(topic, 0): 85, (topic, 1): 39, ("no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION}, results


# ---------------------------------------------------------------------------------------------
# (b) Preferred leader election.


def test_elect_leaders_preferred_returns_leadership_to_the_first_replica(cluster):
    c = cluster(extra=NO_REBALANCE)
    ctrl = c.controller_id()
    preferred = next(n for n in c.ids if n != ctrl)
    others = [n for n in c.ids if n != preferred]
    topic = "pref"
    c.create_topic(topic, 1, assignment=[[preferred] + others])
    assert c.wait_topic(topic, 1)[0].leader == preferred

    c.stop(preferred)  # controlled shutdown: the leadership moves to another in-sync replica
    c.start(preferred)
    info = c.wait_topic(topic, 1, full_isr=True, timeout=30)  # back in the ISR
    assert info[0].leader != preferred, info  # auto.leader.rebalance.enable is off

    top, results = at_controller(c, lambda a: elect_leaders(a, PREFERRED, {topic: [0, 9]}),
                                 "ElectLeaders PREFERRED")
    assert top == NONE
    assert results == {(topic, 0): (NONE, None),
                       (topic, 9): (UNKNOWN_TOPIC_OR_PARTITION, f"No such partition as {topic}-9")}, results
    c.wait_for(lambda: all(c.partition_info(topic, via=n)[0].leader == preferred for n in c.ids), 10,
               f"node {preferred} leads {topic}-0 again, on every node")

    # Nothing left to do: v1 says so per partition; v0 (no top-level error) too; with all
    # partitions, the ones that need nothing are left out.
    _, again = at_controller(c, lambda a: elect_leaders(a, PREFERRED, {topic: [0]}, version=1), "ElectLeaders v1")
    assert again == {(topic, 0): (ELECTION_NOT_NEEDED, "Leader election not needed for topic partition.")}
    top0, again0 = at_controller(c, lambda a: elect_leaders(a, PREFERRED, {topic: [0]}, version=0), "ElectLeaders v0")
    assert top0 is None and again0[(topic, 0)][0] == ELECTION_NOT_NEEDED
    _, everything = at_controller(c, lambda a: elect_leaders(a, PREFERRED, None), "ElectLeaders for all partitions")
    assert (topic, 0) not in everything, everything

    # A node that is not the controller forwards the request to it (KIP-590) and relays the
    # controller's own answer: never NOT_CONTROLLER.
    standby = next(n for n in c.ids if n != c.controller_id())
    top, results = elect_leaders(c.broker(standby).bootstrap, PREFERRED, {topic: [0]})
    assert top == NONE and results == {(topic, 0): (ELECTION_NOT_NEEDED,
                                                     "Leader election not needed for topic partition.")}


# ---------------------------------------------------------------------------------------------
# (c) Unclean leader election.


def test_unclean_election_makes_a_stale_replica_leader_only_when_asked(cluster):
    c = cluster(extra=NO_REBALANCE)
    ctrl = c.controller_id()
    leader, follower = [n for n in c.ids if n != ctrl]
    topics = ["unclean-elect", "unclean-config"]
    for t in topics:
        c.create_topic(t, 1, assignment=[[leader, follower]])
        c.wait_topic(t, 1)

    def produce(values):
        p = Producer(producer_conf(c.live_bootstrap(), **{"message.timeout.ms": 15000}))
        results = []
        for t in topics:
            for v in values:
                p.produce(t, key=v, value=v, partition=0, on_delivery=lambda err, msg: results.append(err))
        assert p.flush(20) == 0 and results == [None] * len(results), results

    produce([b"both-1", b"both-2"])
    c.stop(follower)  # out of the ISR
    produce([b"leader-only"])
    c.stop(leader)    # the last in-sync replica: the partitions have no leader
    c.start(follower)
    c.wait_ready()

    def leaders():
        return {t: c.partition_info(t, via=follower)[0].leader for t in topics}

    c.wait_for(lambda: c.partition_info(topics[0], via=follower)[0].isrs == [leader], 15,
               "the stopped leader is the ISR")
    time.sleep(2)  # time enough for an election that must not happen
    assert leaders() == {t: -1 for t in topics}, "unclean.leader.election.enable is off: no leader"

    top, results = at_controller(c, lambda a: elect_leaders(a, UNCLEAN, {topics[0]: [0]}), "ElectLeaders UNCLEAN")
    assert top == NONE and results == {(topics[0], 0): (NONE, None)}, results
    c.wait_for(lambda: leaders()[topics[0]] == follower, 10, f"node {follower} leads {topics[0]}")
    assert c.partition_info(topics[0], via=follower)[0].isrs == [follower]
    assert leaders()[topics[1]] == -1

    # The same through the topic config: the controller elects at its next round.
    def alter():
        a = c.admin(c.controller_id())
        res = ConfigResource("topic", topics[1], set_config={"unclean.leader.election.enable": "true"})
        a.alter_configs([res])[res].result(10)
        return True

    c.wait_for(alter, 20, f"unclean.leader.election.enable=true on {topics[1]}")
    c.wait_for(lambda: leaders()[topics[1]] == follower, 10, f"node {follower} leads {topics[1]}")

    # A second unclean election is not needed; the partitions serve what the follower had.
    _, again = at_controller(c, lambda a: elect_leaders(a, UNCLEAN, {topics[0]: [0]}), "ElectLeaders UNCLEAN again")
    assert again[(topics[0], 0)][0] == ELECTION_NOT_NEEDED
    # Both were unclean elections, counted by the controller that decided them (the stopped
    # leader decided neither).
    assert sum(value(scrape(c.broker(n)), "kbroker_unclean_leader_elections_total") for n in c.live()) == 2
    produce([b"after"])
    for t in topics:
        got = [v for _, _, v in read_to_high_watermark(c, t, 1)[0]]
        assert got == ["both-1", "both-2", "after"], f"{t}: {got}"
