"""A three-node cluster (every node a broker and a Raft voter of the metadata quorum) driven by
real clients: it forms, spreads a topic's replicas and leaderships, keeps every acknowledged
record through kill -9 of a leader, elects a new controller, refuses acks=all without enough
in-sync replicas, drops a stalled follower from the ISR and takes it back, moves a group
coordinator, and moves leaderships away before a SIGTERM'd broker exits.

Timings rest on the per-test extras (Kafka's property names): FAST below, unless a test says
otherwise."""
import collections
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

import kafka_wire as kw
from cluster_harness import RDKAFKA_LOG, cluster, group_coordinator_partition  # noqa: F401 (fixture)

FAST = {
    "broker.session.timeout.ms": 3000,       # a silent broker is fenced after 3 s
    "broker.heartbeat.interval.ms": 500,
    "replica.lag.time.max.ms": 3000,         # a follower behind for 3 s leaves the ISR
    "controller.quorum.election.timeout.ms": 1000,
    "controller.quorum.fetch.timeout.ms": 2000,
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.num.partitions": 6,       # fewer replicas to keep in sync on 2 cores
}
# What a producer may see while leadership moves (Kafka's RetriableException codes and
# librdkafka's local time-outs and transport errors); anything else is a refusal.
RETRIABLE = {"NOT_LEADER_FOR_PARTITION", "NOT_LEADER_OR_FOLLOWER", "LEADER_NOT_AVAILABLE",
             "REQUEST_TIMED_OUT", "NETWORK_EXCEPTION", "NOT_ENOUGH_REPLICAS",
             "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "UNKNOWN_TOPIC_OR_PART", "KAFKA_STORAGE_ERROR",
             "FENCED_LEADER_EPOCH", "UNKNOWN_LEADER_EPOCH", "NOT_CONTROLLER",
             "_MSG_TIMED_OUT", "_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN"}


def producer_conf(bootstrap, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": False,
        "retries": 1000000,
        "retry.backoff.ms": 100,
        "linger.ms": 5,
        # a request to a stalled (SIGSTOPped) broker is given up and retried after 5 s
        "request.timeout.ms": 5000,
        "message.timeout.ms": 30000,
        "logger": RDKAFKA_LOG,
    }
    conf.update(extra)
    return conf


class BackgroundProducer:
    """Produces from a thread until stop(): record seq has key k<seq>, value <seq> and goes to
    partition seq % partitions. Remembers when each was produced and how each delivery ended."""

    def __init__(self, bootstrap, topic, partitions, interval=0.002, **conf):
        self.topic, self.partitions, self.interval = topic, partitions, interval
        self.p = Producer(producer_conf(bootstrap, **conf))
        self.produced_at = {}  # seq -> time
        self.acked = {}        # seq -> (partition, offset, time)
        self.failed = {}       # seq -> (partition, error name)
        self.next_seq = 0
        self.remaining = None  # what flush() left undelivered
        self.crash = None
        self.flush_timeout = 40
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _delivered(self, seq, err, msg):
        if err is None:
            self.acked[seq] = (msg.partition(), msg.offset(), time.time())
        else:
            self.failed[seq] = (msg.partition(), err.name())

    def _run(self):
        try:
            while not self._stop.is_set():
                seq = self.next_seq
                try:
                    self.p.produce(self.topic, key=f"k{seq}", value=str(seq), partition=seq % self.partitions,
                                   on_delivery=lambda err, msg, s=seq: self._delivered(s, err, msg))
                except BufferError:
                    self.p.poll(0.05)
                    continue
                self.produced_at[seq] = time.time()
                self.next_seq += 1
                self.p.poll(self.interval)
            self.remaining = self.p.flush(self.flush_timeout)
        except Exception as e:  # noqa: BLE001 (reported by stop())
            self.crash = e

    def abort(self):
        """Stops producing without waiting long for what is in flight (a test that failed)."""
        self.flush_timeout = 1
        self._stop.set()
        self.thread.join(15)

    def stop(self, flush_timeout=40):
        """Stops producing and waits for every delivery report (bounded)."""
        self.flush_timeout = flush_timeout
        self._stop.set()
        self.thread.join(flush_timeout + 15)
        assert not self.thread.is_alive(), "the producer thread did not finish"
        assert self.crash is None, f"the producer thread failed: {self.crash!r}"
        return self

    def acked_since(self, t, partition=None):
        """How many records produced after time t were acknowledged (on partition)."""
        return sum(1 for s, (p, _, _) in list(self.acked.items())
                   if self.produced_at.get(s, 0) > t and (partition is None or p == partition))

    def summary(self):
        errs = collections.Counter(name for _, name in list(self.failed.values()))
        per_partition = collections.Counter(p for p, _, _ in list(self.acked.values()))
        return (f"produced {self.next_seq}, acknowledged {len(self.acked)} (by partition {dict(sorted(per_partition.items()))}), "
                f"failed {len(self.failed)} {dict(errs)}, undelivered after flush {self.remaining}")


class BackgroundConsumer:
    """Reads every partition of topic from the beginning in a thread until stop(); keeps the
    values (sequence numbers) it read."""

    def __init__(self, bootstrap, topic, partitions):
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.seen = set()
        self.errors = []
        self.crash = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                          "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000,
                          "logger": RDKAFKA_LOG})
            c.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)])
            try:
                while not self._stop.is_set():
                    for m in c.consume(500, 0.2):
                        if m.error():
                            self.errors.append(m.error().name())
                        else:
                            self.seen.add(int(m.value()))
            finally:
                c.close()
        except Exception as e:  # noqa: BLE001 (reported by stop())
            self.crash = e

    def abort(self):
        self._stop.set()
        self.thread.join(20)

    def stop(self):
        self._stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the consumer thread did not finish"
        assert self.crash is None, f"the consumer thread failed: {self.crash!r}"


def read_to_high_watermark(c, topic, partitions, timeout=30):
    """{partition: [(offset, key, value)]}: everything below each partition's high watermark,
    read by a fresh consumer from the live nodes."""
    cons = Consumer({"bootstrap.servers": c.live_bootstrap(), "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "enable.partition.eof": True, "logger": RDKAFKA_LOG})
    try:
        def high(p):
            h = cons.get_watermark_offsets(TopicPartition(topic, p), timeout=3)[1]
            return (h,) if h >= 0 else None

        highs = {p: c.wait_for(lambda p=p: high(p), 15, f"the high watermark of {topic}-{p}")[0]
                 for p in range(partitions)}
        cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        done = {p for p, h in highs.items() if h == 0}
        deadline = time.time() + timeout
        while len(done) < partitions and time.time() < deadline:
            for m in cons.consume(1000, 0.5):
                if m.error():
                    continue  # (EOF before the high watermark is reached on a slow follower)
                p = m.partition()
                out[p].append((m.offset(), m.key().decode(), m.value().decode()))
                if m.offset() + 1 >= highs[p]:
                    done.add(p)
        assert len(done) == partitions, (
            f"{topic}: read only {[(p, len(out[p]), highs[p]) for p in range(partitions) if p not in done]} "
            f"(partition, records read, high watermark) within {timeout}s")
        return out
    finally:
        cons.close()


def check_acknowledged(acked, logs):
    """acked: {seq: (partition, offset, time)}; logs: {partition: [(offset, key, value)]}.
    Returns (lost, misplaced, disorder): acknowledged records missing from their partition,
    acknowledged offsets holding another record, and acknowledged records out of order (in log
    order with repeats dropped: retries may duplicate records, never reorder them)."""
    lost, misplaced, disorder = [], [], []
    for p, log in logs.items():
        for o, k, v in log:
            assert k == f"k{v}", f"partition {p} offset {o}: key {k} with value {v}"
        at = {o: int(v) for o, _, v in log}
        acked_here = {s: off for s, (part, off, _) in acked.items() if part == p}
        present = set(at.values())
        for s, off in sorted(acked_here.items()):
            if s not in present:
                lost.append((p, s, off))
            elif at.get(off) != s:
                misplaced.append((p, s, off, at.get(off)))
        firsts, seen = [], set()
        for _, _, v in log:
            s = int(v)
            if s in acked_here and s not in seen:
                firsts.append(s)
            seen.add(s)
        disorder += [(p, a, b) for a, b in zip(firsts, firsts[1:]) if b < a]
    return lost, misplaced, disorder


# ---------------------------------------------------------------------------------------------
# The harness itself.


def test_three_processes_start_and_stop(cluster):
    c = cluster(ready=False)
    for n in c.ids:
        node = c.broker(n)
        node.wait_listening(10, ports=[node.port, node.controller_port])
        assert node.alive()
    assert len({c.broker(n).port for n in c.ids} | {c.broker(n).controller_port for n in c.ids}) == 6
    c.stop_all(timeout=30)
    assert c.live() == []


# ---------------------------------------------------------------------------------------------
# 1. Three nodes form one cluster and spread a topic over it.


def test_three_brokers_form_a_cluster_and_spread_a_new_topic(cluster):
    c = cluster()
    ids = set(c.ids)
    controllers = set()
    for n in c.ids:
        md = c.metadata(n)
        assert set(md.brokers) == ids, f"node {n} lists brokers {sorted(md.brokers)}"
        for i, b in md.brokers.items():
            assert (b.host, b.port) == ("127.0.0.1", c.broker(i).port), f"node {n} lists broker {i} at {b}"
        controllers.add(md.controller_id)
    assert len(controllers) == 1 and controllers <= ids, f"controller ids reported: {controllers}"
    ctrl = controllers.pop()

    # through a node that is not the controller: the admin client finds the controller
    via = next(n for n in c.ids if n != ctrl)
    c.create_topic("spread", 6, rf=3, via=via)
    info = c.wait_topic("spread", 6, full_isr=True, timeout=20)
    for p, i in info.items():
        assert sorted(i.replicas) == sorted(ids), f"partition {p}: replicas {i.replicas}"
        assert i.isrs == sorted(ids), f"partition {p}: ISR {i.isrs}"
        assert i.leader in i.replicas and i.error is None, f"partition {p}: {i}"
    led = collections.Counter(i.leader for i in info.values())
    assert led == {1: 2, 2: 2, 3: 2}, f"leaderships per node {dict(led)}: {info}"

    answers = {}

    def same_everywhere():
        answers.clear()
        for n in c.ids:
            answers[n] = c.partition_info("spread", via=n)
        return all(a == answers[1] for a in answers.values())

    c.wait_for(same_everywhere, 5, "the same partitions, leaders, replicas and ISRs from every node",
               describe=lambda: repr(answers))
    assert answers[1] == info

    # CreatePartitions, cluster-wide: the new partitions get three in-sync replicas too.
    from confluent_kafka.admin import NewPartitions
    admin = c.admin(via)  # kept alive until the answer is in
    fs = admin.create_partitions([NewPartitions("spread", 9)], request_timeout=20)
    fs["spread"].result(timeout=25)
    grown = c.wait_topic("spread", 9, full_isr=True, timeout=20)
    assert all(sorted(i.replicas) == sorted(ids) for i in grown.values()), grown


# ---------------------------------------------------------------------------------------------
# 2. acks=all records survive kill -9 of a partition leader; the node comes back into the ISR.


def test_acknowledged_records_survive_kill_9_of_a_leader_which_rejoins_the_isr(cluster):
    c = cluster(extra=FAST)
    topic, parts = "acked", 6
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"})
    before = c.wait_topic(topic, parts)
    victim = before[0].leader
    # one request in flight per connection: retries may duplicate records but not reorder them
    prod = BackgroundProducer(c.bootstrap, topic, parts, **{"max.in.flight.requests.per.connection": 1})
    prod.start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 300, 20, "300 acknowledged records before the kill",
                   describe=prod.summary)
        t_kill = time.time()
        c.kill9(victim)
        c.wait_for(lambda: prod.acked_since(t_kill, partition=0) >= 20, 25,
                   f"records produced to {topic}-0 after kill -9 of its leader (node {victim}) acknowledged",
                   describe=lambda: f"{prod.summary()}; partitions {c.partition_info(topic)}")
        time.sleep(1)
    except BaseException:
        prod.abort()
        raise
    prod.stop()
    assert prod.remaining == 0, prod.summary()
    assert prod.acked_since(t_kill) > 0

    logs = read_to_high_watermark(c, topic, parts)
    lost, misplaced, disorder = check_acknowledged(prod.acked, logs)
    assert not lost, f"{len(lost)} acknowledged records lost, (partition, seq, acked offset): {lost[:20]}"
    assert not misplaced, ("acknowledged offsets now hold other records, (partition, seq, acked offset, "
                           f"seq found there): {misplaced[:20]}")
    assert not disorder, f"acknowledged records out of order, (partition, seq, later seq): {disorder[:20]}"

    c.start(victim)
    c.wait_topic(topic, parts, full_isr=True, timeout=20)  # node `victim` in every ISR again


# ---------------------------------------------------------------------------------------------
# 3. kill -9 of the active controller: another node takes over.


def test_a_new_controller_takes_over_after_kill_9_of_the_active_one(cluster):
    c = cluster(extra=FAST)
    old = c.controller_id()
    c.kill9(old)
    reported = {}

    def new_controller():
        reported.clear()
        reported.update(c.controller_ids())
        ids = set(reported.values())
        new = ids.pop() if len(ids) == 1 else None
        return new if new != old and new in c.live() else None

    new = c.wait_for(new_controller, 15, f"one live controller named by every live node after kill -9 "
                     f"of controller {old}", describe=lambda: f"{{node: controller id}} = {reported}")
    assert reported[new] == new  # the new controller names itself

    c.create_topic("after-failover", 2, rf=2, timeout=15)
    c.wait_topic("after-failover", 2, full_isr=False, timeout=15)
    p = Producer(producer_conf(c.live_bootstrap(), **{"message.timeout.ms": 20000}))
    results = []
    for part in range(2):
        p.produce("after-failover", key=b"k", value=b"v", partition=part,
                  on_delivery=lambda err, msg: results.append(err.name() if err else None))
    assert p.flush(25) == 0
    assert results == [None, None], f"produce to the new topic: {results}"


# ---------------------------------------------------------------------------------------------
# 4. Two of three nodes down: acks=all to a min.insync.replicas=2 topic is refused.


def test_acks_all_is_refused_with_two_of_three_brokers_down(cluster):
    c = cluster(extra=FAST)
    topic = "strict"
    c.create_topic(topic, 3, rf=3, config={"min.insync.replicas": "2"})
    info = c.wait_topic(topic, 3)
    survivor = info[0].leader
    led = [p for p, i in info.items() if i.leader == survivor]
    for n in c.ids:
        if n != survivor:
            c.kill9(n)
    # By now the other replicas are out of sync by any measure (replica.lag.time.max.ms).
    time.sleep(FAST["replica.lag.time.max.ms"] / 1000 + 1)

    p = Producer(producer_conf(c.broker(survivor).bootstrap, **{
        "retries": 0, "request.timeout.ms": 4000, "message.timeout.ms": 6000}))
    results = []
    for i in range(30):
        p.produce(topic, key=f"k{i}", value=str(i), partition=i % 3,
                  on_delivery=lambda err, msg: results.append((msg.partition(), err.name() if err else None)))
    assert p.flush(20) == 0
    assert len(results) == 30
    acked = [r for r in results if r[1] is None]
    assert not acked, f"{len(acked)} records acknowledged with 1 of 3 replicas alive: {results}"
    on_survivor = [name for part, name in results if part in led]
    # Kafka itself would let these time out: with two of three voters down no controller can
    # shrink the ISR. kbroker's leader refuses acks=all at once instead, when fewer than
    # min.insync.replicas members of its ISR have caught up within replica.lag.time.max.ms.
    assert on_survivor and all("NOT_ENOUGH_REPLICAS" in name for name in on_survivor), (
        f"node {survivor} leads {topic} partitions {led}; their delivery errors (retries 0): "
        f"{collections.Counter(on_survivor)}, expected NOT_ENOUGH_REPLICAS")

    # The same on the wire: Produce v3, acks=-1, to the survivor.
    conn = kw.Conn(c.broker(survivor).bootstrap, timeout=15)
    try:
        err, _ = kw.parse_produce_v3(conn.request(kw.produce_v3(topic, led[0], kw.record_batch([b"raw"]), acks=-1)))
    finally:
        conn.close()
    assert err == 19, f"raw acks=-1 produce to {topic}-{led[0]} on node {survivor}: error {err}, not NOT_ENOUGH_REPLICAS (19)"


# ---------------------------------------------------------------------------------------------
# 5. A stalled follower leaves the ISR and comes back after SIGCONT.


def test_a_paused_follower_leaves_the_isr_and_rejoins_after_sigcont(cluster):
    c = cluster(extra=FAST)
    topic, parts = "lagging", 3
    ctrl = c.controller_id()
    follower = next(n for n in c.ids if n != ctrl)
    # The paused node follows every partition and leads none: what is under test is the ISR,
    # not how a client gets its requests back from a frozen leader.
    others = [n for n in c.ids if n != follower]
    assignment = [[others[p % 2], others[(p + 1) % 2], follower] for p in range(parts)]
    c.create_topic(topic, parts, config={"min.insync.replicas": "2"}, assignment=assignment)
    c.wait_topic(topic, parts)
    prod = BackgroundProducer(c.bootstrap, topic, parts).start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 100, 15, "100 acknowledged records", describe=prod.summary)
        c.pause(follower)
        seen = {}

        def out_of_isr():
            seen.clear()
            seen.update(c.partition_info(topic, via=ctrl))
            return all(follower not in i.isrs and i.leader in c.live() for i in seen.values())

        c.wait_for(out_of_isr, 15, f"SIGSTOPped node {follower} out of every ISR of {topic}",
                   describe=lambda: repr(seen))
        t_shrunk = time.time()
        c.wait_for(lambda: all(prod.acked_since(t_shrunk, p) >= 10 for p in range(parts)), 20,
                   "producing goes on to every partition with the follower out of the ISR",
                   describe=lambda: (f"{prod.summary()}; acknowledged since the shrink by partition "
                                     f"{[prod.acked_since(t_shrunk, p) for p in range(parts)]}; "
                                     f"partitions {c.partition_info(topic, via=ctrl)}"))

        c.resume(follower)
        c.wait_topic(topic, parts, full_isr=True, timeout=20)  # node `follower` in every ISR again
    except BaseException:
        c.resume(follower)
        prod.abort()
        raise
    prod.stop()
    assert not prod.failed and prod.remaining == 0, prod.summary()


# ---------------------------------------------------------------------------------------------
# 6. A consumer group rides through kill -9 of its coordinator; its commits survive.


def test_a_consumer_group_keeps_consuming_across_failover_of_its_coordinator(cluster):
    c = cluster(extra=FAST)
    topic, parts, group = "orders-gf", 3, "failover-group"
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"})
    c.wait_topic(topic, parts)

    def produce(values):
        p = Producer(producer_conf(c.live_bootstrap()))
        results = []
        for i, v in enumerate(values):
            p.produce(topic, key=v, value=v, partition=i % parts,
                      on_delivery=lambda err, msg: results.append(err.name() if err else None))
            p.poll(0)
        return p, results

    p, res = produce([f"a{i}" for i in range(60)])
    assert p.flush(30) == 0 and res == [None] * 60, collections.Counter(res)

    conf = {"bootstrap.servers": c.bootstrap, "group.id": group, "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500, "max.poll.interval.ms": 20000, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000,
            "socket.timeout.ms": 10000,  # bounds close() while a coordinator is unreachable
            "logger": RDKAFKA_LOG}
    cons = Consumer(conf)
    got = []

    def poll_into(seconds):
        for m in cons.consume(500, seconds):
            if not m.error():
                got.append(m.value().decode())

    try:
        cons.subscribe([topic])
        c.wait_for(lambda: poll_into(0.5) or len(got) >= 60, 30, "the consumer reads the first 60 records",
                   describe=lambda: f"read {len(got)}", interval=0)
        done = cons.commit(asynchronous=False)
        assert {tp.partition: tp.offset for tp in done} == {p: 20 for p in range(parts)}, done

        offsets = c.wait_topic("__consumer_offsets", FAST["offsets.topic.num.partitions"])
        coordinator = offsets[group_coordinator_partition(group, FAST["offsets.topic.num.partitions"])].leader
        c.kill9(coordinator)

        # the commit made before the kill is what the new coordinator answers
        def committed():
            probe = Consumer(dict(conf))
            try:
                got_back = probe.committed([TopicPartition(topic, p) for p in range(parts)], timeout=5)
            finally:
                probe.close()
            return [(tp.partition, tp.offset, tp.error) for tp in got_back]

        c.wait_for(lambda: poll_into(0.1) or committed() == [(p, 20, None) for p in range(parts)], 20,
                   f"offsets {group} committed before kill -9 of its coordinator (node {coordinator}) "
                   "answered by the new coordinator", describe=committed)

        # records produced after the kill reach the member
        p, res = produce([f"b{i}" for i in range(60)])
        want = {f"b{i}" for i in range(60)}
        c.wait_for(lambda: poll_into(0.2) or (p.poll(0) is not None and want <= set(got)), 40,
                   "the member reads the 60 records produced after its coordinator was killed",
                   describe=lambda: f"missing {sorted(want - set(got))[:10]}; deliveries {collections.Counter(res)}",
                   interval=0)
        assert p.flush(30) == 0 and res == [None] * 60, collections.Counter(res)
        done = cons.commit(asynchronous=False)
        assert all(tp.error is None for tp in done), done
        assert {tp.partition: tp.offset for tp in done} == {p: 40 for p in range(parts)}, done
    finally:
        cons.close()

    # a new member of the group resumes after the committed offsets, not from the beginning
    p, res = produce([f"c{i}" for i in range(30)])
    assert p.flush(30) == 0 and res == [None] * 30, collections.Counter(res)
    fresh = Consumer(conf)
    later = []
    try:
        fresh.subscribe([topic])

        def read_c():
            for m in fresh.consume(500, 0.5):
                if not m.error():
                    later.append((m.partition(), m.offset(), m.value().decode()))
            return len(later) >= 30

        c.wait_for(read_c, 30, "a new member reads the 30 records after the committed offsets",
                   describe=lambda: f"read {later[:10]}...", interval=0)
    finally:
        fresh.close()
    assert sorted(v for _, _, v in later) == sorted(f"c{i}" for i in range(30)), later
    first = {}
    for part, off, _ in later:
        first.setdefault(part, off)
    assert first == {p: 40 for p in range(parts)}, f"the new member started at {first}"


# ---------------------------------------------------------------------------------------------
# 7. SIGTERM: the broker hands its leaderships over, then exits with rc 0.


def test_sigterm_moves_leaderships_away_before_the_broker_exits(cluster):
    # A long session timeout: within the few seconds after the exit checked below only a
    # controlled shutdown, not fencing of a silent broker, can have moved the leaderships.
    c = cluster(extra=dict(FAST, **{"broker.session.timeout.ms": 10000}))
    topic, parts = "graceful", 6
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"})
    info = c.wait_topic(topic, parts)
    ctrl = c.controller_id()
    leaders = collections.Counter(i.leader for i in info.values())
    candidates = [n for n in c.ids if n != ctrl and leaders[n] > 0]
    assert candidates, f"no node but the controller ({ctrl}) leads a partition of {topic}: {info}"
    victim = candidates[0]
    prod = BackgroundProducer(c.bootstrap, topic, parts).start()
    cons = BackgroundConsumer(c.bootstrap, topic, parts).start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 200 and len(cons.seen) >= 100, 20,
                   "records acknowledged and consumed before the SIGTERM",
                   describe=lambda: f"{prod.summary()}; consumed {len(cons.seen)}")
        took = c.stop(victim, timeout=30)  # rc 0 within 30 s
        seen = {}

        def moved():
            seen.clear()
            for n in c.live():
                seen[n] = c.partition_info(topic, via=n)
            return all(i.leader in c.live() for info in seen.values() for i in info.values())

        c.wait_for(moved, 2, f"no partition of {topic} led by node {victim} right after it exited "
                   f"(SIGTERM to exit {took:.1f}s)", describe=lambda: repr(seen))
        t_exit = time.time()
        c.wait_for(lambda: all(prod.acked_since(t_exit, p) >= 5 for p in range(parts)), 15,
                   "records acknowledged on every partition after the exit", describe=prod.summary)
        prod.stop()
        acked = set(prod.acked)
        c.wait_for(lambda: acked <= cons.seen, 20, "the consumer reads every acknowledged record",
                   describe=lambda: f"missing {sorted(acked - cons.seen)[:20]}")
    except BaseException:
        prod.abort()
        cons.abort()
        raise
    cons.stop()
    refused = {name for _, name in prod.failed.values() if name not in RETRIABLE}
    assert not refused, f"non-retriable delivery errors {refused}: {prod.summary()}"
    assert prod.remaining == 0, prod.summary()


# ---------------------------------------------------------------------------------------------
# 8. Metadata snapshots: the metadata log is cut behind a snapshot of the image, and a broker
#    that was down while that happened catches up by installing the controller's snapshot.


def metadata_snapshots(node):
    """{Raft end offset: path} of the snapshot files in node's metadata log directory."""
    import glob
    import os
    out = {}
    for path in glob.glob(os.path.join(node.data, "__cluster_metadata-0", "*.checkpoint")):
        out[int(os.path.basename(path).split("-")[0])] = path
    return out


def test_a_broker_behind_the_metadata_snapshot_installs_it_and_drops_stray_logs(cluster):
    import os
    c = cluster(extra={**FAST, "metadata.log.max.record.bytes.between.snapshots": 1024})
    c.create_topic("doomed", 2, rf=3)
    c.wait_topic("doomed", 2)
    controller = c.controller_id()
    behind = next(i for i in c.ids if i != controller)
    c.kill9(behind)
    before = metadata_snapshots(c.broker(controller))

    # While it is down: enough metadata for several snapshots, and a deleted topic it holds.
    names = [f"snap-{i}" for i in range(10)]
    for name in names:
        c.create_topic(name, 2, rf=2, timeout=15)
    admin = c.admin()
    admin.delete_topics(["doomed"], operation_timeout=15)["doomed"].result(20)

    def cut():
        snaps = metadata_snapshots(c.broker(controller))
        return max(snaps) if snaps and max(snaps) > max(before, default=0) else None
    end = c.wait_for(cut, 20, "a newer metadata snapshot on the controller",
                     describe=lambda: f"snapshots {metadata_snapshots(c.broker(controller))}")
    assert end > 5

    c.start(behind)

    def caught_up():
        topics = set(c.metadata(behind).topics)
        return set(names) <= topics and "doomed" not in topics
    c.wait_for(caught_up, 30, f"node {behind} lists the new topics and not the deleted one",
               describe=lambda: f"node {behind} lists {sorted(c.metadata(behind).topics)}")
    # It took the controller's snapshot (its own log never reached that far) ...
    assert max(metadata_snapshots(c.broker(behind)), default=0) >= end, \
        f"node {behind} has snapshots {metadata_snapshots(c.broker(behind))}, the controller's ends at {end}"
    assert "loaded from a snapshot" in c.broker(behind).log_tail(200000)
    # ... and deleted the logs of the topic that went while it was away.
    data = c.broker(behind).data
    c.wait_for(lambda: not [d for d in os.listdir(data) if d.startswith("doomed-")], 15,
               f"no doomed-* directory left on node {behind}", describe=lambda: sorted(os.listdir(data)))
    for name in names[:3]:
        c.wait_topic(name, 2, timeout=20)

    # A restart from its own snapshot rebuilds the same image.
    c.stop(behind)
    c.start(behind)
    c.wait_for(caught_up, 30, f"node {behind} after a restart from its snapshot")
    assert not c.crashed(), c.log_tails()
