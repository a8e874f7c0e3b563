"""Transactions end to end (issue 6): real kbroker processes, the transaction coordinator and
confluent-kafka's transactional producer (librdkafka 2.0).

- A committed transaction's records reach read_committed consumers, an aborted one's never; a
  read_uncommitted consumer sees both and never a control record; an open transaction holds
  back read_committed (the last stable offset) also for other producers' records after it.
- Consume-transform-produce with send_offsets_to_transaction: a processor process killed with
  SIGKILL inside a transaction and started again (same transactional.id) leaves every input
  record exactly once in the output, on one broker, and on three where the processor's
  transaction coordinator is killed (kill -9) while the restarted processor works.
- A second producer with the same transactional.id fences the first: its commit fails for
  good, its records are never committed.
- The coordinator aborts a transaction left open past transaction.timeout.ms and bumps the
  epoch; DescribeTransactions shows it.
- kill -9 of the transaction coordinator in a three-broker cluster, before the commit (the
  producer finds the new one, which knows the transaction from the replicated
  __transaction_state, and commits) and right after it (the new one completes the prepared
  commit): every record exactly once. Only the coordinator describes and lists the id.
- DescribeTransactions and ListTransactions (raw requests: confluent-kafka 1.7 has neither).
- transaction.max.timeout.ms refuses longer transaction timeouts; transactional.id.expiration.ms
  forgets idle ids.

Raw requests are encoded here (flexible versions, read with test_cluster_admin's Reader)."""
import queue
import signal
import struct
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from cluster_harness import RDKAFKA_LOG, cluster, java_string_hashcode, wait_until  # noqa: F401 (fixture)
from test_cluster import FAST
from test_cluster_admin import call, uvarint
from test_idempotence import create_topic, find_coordinator
from test_transaction_markers import READ_COMMITTED, READ_UNCOMMITTED, list_latest, metric

NONE, NOT_COORDINATOR, INVALID_TRANSACTION_TIMEOUT, TRANSACTIONAL_ID_NOT_FOUND = 0, 16, 50, 105
TXN_PARTITIONS = 5  # __transaction_state partitions: fewer to create and replicate on 2 cores

# One broker: no waiting for a first rebalance, short sessions so a killed member leaves fast.
SINGLE = {
    "transaction.state.log.num.partitions": TXN_PARTITIONS,
    "offsets.topic.num.partitions": 5,
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
}
CLUSTER = dict(FAST, **{"transaction.state.log.num.partitions": TXN_PARTITIONS,
                        "group.min.session.timeout.ms": 1000})
# What a fenced producer's calls fail with (librdkafka 2.0 turns PRODUCER_FENCED and
# INVALID_PRODUCER_EPOCH from the coordinator into a fatal _FENCED).
FENCED_CODES = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


# ---------------------------------------------------------------------------------------------
# The wire: DescribeTransactions (65) v0 and ListTransactions (66) v0-1, both flexible.


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def describe_transactions(address, transactional_ids):
    """-> {transactional id: (error, state, timeout ms, start time ms, producer id, epoch,
    {topic: sorted partitions})}."""
    body = uvarint(len(transactional_ids) + 1) + b"".join(compact_string(t) for t in transactional_ids)
    body += uvarint(0)  # tagged fields
    r = call(address, 65, 0, body, True)
    r.int32()  # throttle
    out = {}

    def topic(topics):
        name = r.string()
        topics[name] = sorted(r.array(r.int32))
        r.tags()

    def state():
        err, tid, st = r.int16(), r.string(), r.string()
        timeout, start, pid, epoch = r.int32(), r._unpack(">q"), r._unpack(">q"), r.int16()
        topics = {}
        r.array(lambda: topic(topics))
        r.tags()
        out[tid] = (err, st, timeout, start, pid, epoch, topics)

    r.array(state)
    return out


def list_transactions(address, states=(), producer_ids=(), duration_ms=None, version=None):
    """ListTransactions (v1 when duration_ms is given, else v0) -> (error, unknown state
    filters, sorted [(transactional id, producer id, state)])."""
    version = (0 if duration_ms is None else 1) if version is None else version
    body = uvarint(len(states) + 1) + b"".join(compact_string(s) for s in states)
    body += uvarint(len(producer_ids) + 1) + b"".join(struct.pack(">q", p) for p in producer_ids)
    if version >= 1:
        body += struct.pack(">q", -1 if duration_ms is None else duration_ms)
    body += uvarint(0)
    r = call(address, 66, version, body, True)
    r.int32()  # throttle
    err = r.int16()
    unknown = r.array(r.string)

    def state():
        tid, pid, st = r.string(), r._unpack(">q"), r.string()
        r.tags()
        return tid, pid, st

    return err, unknown, sorted(r.array(state))


def txn_partition(transactional_id, partitions=TXN_PARTITIONS):
    """The __transaction_state partition of transactional_id (Kafka: Utils.abs(hashCode) % n)."""
    h = java_string_hashcode(transactional_id)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


# ---------------------------------------------------------------------------------------------
# Helpers




def coordinator_of(bootstrap, transactional_id, timeout=30):
    """The node id FindCoordinator (key type 1) names for transactional_id, asked until it
    answers without error (__transaction_state is created by the first lookup)."""
    seen = {}

    def found():
        seen["last"] = find_coordinator(bootstrap, transactional_id, key_type=1)
        err, node = seen["last"][0], seen["last"][1]
        return node if err == NONE else None

    return wait_until(found, timeout, f"FindCoordinator(transaction, {transactional_id!r}) answers a node",
                      describe=lambda: f"(error, node, host, port) = {seen.get('last')}")


def txn_producer(bootstrap, transactional_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5,
            "logger": RDKAFKA_LOG}
    conf.update(extra)
    return Producer(conf)


def plain_produce(bootstrap, topic, records):
    """records: [(partition, value)], acks=all, not transactional. Returns [(partition, offset)]."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "logger": RDKAFKA_LOG})
    out, errors = [], []

    def done(err, msg):
        (errors.append(err.name()) if err else out.append((msg.partition(), msg.offset())))

    for part, value in records:
        p.produce(topic, value=value, partition=part, on_delivery=done)
        p.poll(0)
    assert p.flush(30) == 0 and not errors, f"plain produce: {errors}"
    return out


def send_and_flush(producer, topic, records):
    """Produces records ([(partition, value)]) inside the producer's transaction and waits until
    each is written (acknowledged by its partition's leader, not yet committed)."""
    errors = []
    for part, value in records:
        producer.produce(topic, value=value, partition=part,
                         on_delivery=lambda err, msg: err and errors.append(err.name()))
    assert producer.flush(30) == 0 and not errors, f"transactional produce to {topic}: {errors}"


def read(bootstrap, topic, partitions, isolation, expect=None, timeout=20.0, quiet=1.5):
    """{partition: [values]} from the beginning. With expect: until that many records (then
    `quiet` more seconds for anything extra: a duplicate, a control record shown); without:
    until nothing new came for `quiet` seconds (at least 3 s of reading)."""
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": f"rd-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "isolation.level": isolation, "fetch.wait.max.ms": 100,
                     "topic.metadata.refresh.interval.ms": 1000, "logger": RDKAFKA_LOG})
    got = {p: [] for p in partitions}
    try:
        cons.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        start = last_new = time.time()
        reached = None
        while True:
            now = time.time()
            n = sum(len(v) for v in got.values())
            if expect is not None and reached is None and n >= expect:
                reached = now
            if reached is not None and now - reached >= quiet:
                break
            if expect is None and now - start >= 3.0 and now - last_new >= quiet:
                break
            if now - start >= timeout:
                break
            for m in cons.consume(500, 0.2):
                if m.error():
                    # transport errors of a killed broker are not the test's business here
                    assert not m.error().fatal(), m.error()
                    continue
                got[m.partition()].append(m.value().decode())
                last_new = time.time()
    finally:
        cons.close()
    return got


def flat(got):
    return sorted(v for vs in got.values() for v in vs)


class Script:
    """A Python script of this file run with /usr/bin/python3 (which sees confluent-kafka);
    its stdout lines arrive in a queue, its stderr (librdkafka's log) goes to a file."""

    def __init__(self, tmp_path, name, source, args):
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        self.err_path = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.stderr"
        self.errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(["/usr/bin/python3", str(path)] + [str(a) for a in args],
                                     stdout=subprocess.PIPE, stderr=self.errf, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait_line(self, prefix, timeout):
        """The first stdout line starting with prefix (bounded; fails with the script's output)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line {prefix!r} from the script within {timeout}s (rc {self.proc.poll()})"
                             f"\n{self.output()}")

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the script did not finish within {timeout}s\n{self.output()}") from None
        time.sleep(0.1)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return rc

    def output(self):
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        self.errf.flush()
        err = self.err_path.read_bytes().decode(errors="replace")[-6000:]
        return "stdout (last 30 lines):\n" + "\n".join(self.seen[-30:]) + "\nstderr:\n" + err

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self):
        self.kill9()
        self.errf.close()


# ---------------------------------------------------------------------------------------------
# 1. Commit and abort as consumers see them.


def test_committed_records_are_visible_to_read_committed_aborted_ones_never(broker_factory):
    broker = broker_factory(SINGLE)
    b, topic = broker.bootstrap, "tx-vis"
    create_topic(b, topic, partitions=3)
    p = txn_producer(b, "vis-1")
    p.init_transactions(60)

    p.begin_transaction()
    for i in range(9):
        p.produce(topic, value=f"c{i}", partition=i % 3)
    p.commit_transaction(30)

    p.begin_transaction()
    send_and_flush(p, topic, [(i % 3, f"a{i}") for i in range(6)])  # written before the abort
    p.abort_transaction(30)

    # Committed first, aborted after: on partition 0, c0 c3 c6 (0-2), COMMIT (3), a0 a3 (4-5),
    # ABORT (6). Control records take offsets and are never handed out.
    committed = {0: ["c0", "c3", "c6"], 1: ["c1", "c4", "c7"], 2: ["c2", "c5", "c8"]}
    assert read(b, topic, [0, 1, 2], "read_committed", expect=9) == committed
    assert read(b, topic, [0, 1, 2], "read_uncommitted", expect=15) == {
        0: ["c0", "c3", "c6", "a0", "a3"], 1: ["c1", "c4", "c7", "a1", "a4"], 2: ["c2", "c5", "c8", "a2", "a5"]}

    # An open transaction (o0 at offset 7 of partition 0) holds back a plain producer's record
    # after it from read_committed until it commits.
    p.begin_transaction()
    send_and_flush(p, topic, [(i, f"o{i}") for i in range(3)])
    assert plain_produce(b, topic, [(0, "plain")]) == [(0, 8)]
    assert read(b, topic, [0, 1, 2], "read_committed") == committed
    assert read(b, topic, [0, 1, 2], "read_uncommitted", expect=19)[0] == \
        ["c0", "c3", "c6", "a0", "a3", "o0", "plain"]
    assert list_latest(b, topic, 0, READ_COMMITTED) == (NONE, 7)  # the last stable offset
    assert list_latest(b, topic, 0, READ_UNCOMMITTED) == (NONE, 9)  # the high watermark

    p.commit_transaction(30)
    assert read(b, topic, [0, 1, 2], "read_committed", expect=13) == {
        0: ["c0", "c3", "c6", "o0", "plain"], 1: ["c1", "c4", "c7", "o1"], 2: ["c2", "c5", "c8", "o2"]}
    wait_until(lambda: list_latest(b, topic, 0, READ_COMMITTED) == (NONE, 10), 10,
               "the last stable offset of partition 0 past the COMMIT marker (10)",
               describe=lambda: list_latest(b, topic, 0, READ_COMMITTED))
    # The same id in a new producer (a restart of the application) goes on from here.
    del p
    p2 = txn_producer(b, "vis-1")
    p2.init_transactions(60)
    p2.begin_transaction()
    p2.produce(topic, value="later", partition=1)
    p2.commit_transaction(30)
    assert read(b, topic, [1], "read_committed", expect=5) == {1: ["c1", "c4", "c7", "o1", "later"]}
    # The coordinator counts the transactions it ended.
    wait_until(lambda: (metric(broker, "kbroker_transactions_total", '{result="commit"}'),
                        metric(broker, "kbroker_transactions_total", '{result="abort"}')) == (3, 1), 10,
               "kbroker_transactions_total: 3 commits and 1 abort",
               describe=lambda: [line for line in urllib.request.urlopen(
                   f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=10).read().decode().splitlines()
                   if line.startswith("kbroker_transaction")])


# ---------------------------------------------------------------------------------------------
# 2. Consume-transform-produce, the processor killed inside a transaction.

PROCESSOR = r'''
import sys, time
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING

bootstrap, group, txn_id, src, dst, partitions, pause_after = sys.argv[1:8]
partitions, pause_after = int(partitions), int(pause_after)


def say(*a):
    print(*a, flush=True)


producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5})
producer.init_transactions(60)
say("initialized")
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 3000, "heartbeat.interval.ms": 500,
                     "max.poll.interval.ms": 20000, "fetch.wait.max.ms": 100})
consumer.subscribe([src])


def rewind():
    """After an aborted transaction: back to the offsets the group has committed."""
    assignment = consumer.assignment()
    for tp in consumer.committed(assignment, timeout=20):
        consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))


def at_end():
    """Every input partition is ours and read to its end (a partition with nothing left to
    read after the restart has no position yet: its committed offset counts)."""
    assignment = consumer.assignment()
    if len(assignment) != partitions:
        return False
    positions = consumer.position(assignment)
    unknown = [tp for tp in positions if tp.offset < 0]
    committed = {tp.partition: tp.offset for tp in consumer.committed(unknown, timeout=10)} if unknown else {}
    for tp in positions:
        offset = tp.offset if tp.offset >= 0 else committed.get(tp.partition, -1)
        high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10, cached=False)[1]
        if offset < high:
            return False
    return True


committed = txns = aborted = 0
while True:
    msgs = []
    for m in consumer.consume(200, 0.5):
        if m.error():
            say("consumer-error", m.error().name())
            if m.error().fatal():
                sys.exit(4)
        else:
            msgs.append(m)
    if not msgs:
        if at_end():
            break
        continue
    producer.begin_transaction()
    for m in msgs:
        producer.produce(dst, key=m.key(), value=b"out-" + m.value(), partition=m.partition())
    try:
        if pause_after and committed >= pause_after:
            # Stop inside the transaction, its records and offsets sent: the test kills us here.
            producer.flush(30)
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            say("paused", committed, len(msgs))
            time.sleep(3600)
        producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                             consumer.consumer_group_metadata(), 30)
        while True:
            try:
                producer.commit_transaction(30)
                break
            except KafkaException as e:
                if not e.args[0].retriable():
                    raise
                say("commit-retry", e.args[0].name())
    except KafkaException as e:
        err = e.args[0]
        if not err.txn_requires_abort():
            say("fatal", err.name(), err.str())
            sys.exit(3)
        say("abort", err.name(), err.str())
        producer.abort_transaction(30)
        rewind()
        aborted += 1
        continue
    committed += len(msgs)
    txns += 1
    say("committed", committed, txns)
consumer.close()
say("done", committed, txns, aborted)
'''


def consume_transform_produce(tmp_path, bootstrap, live_bootstrap, admin_create, n=2000, parts=3, meanwhile=None):
    """The input (n records over `parts` partitions) through two processor processes, the
    first killed inside a transaction. meanwhile(transactional id), if given, is called once
    the second has committed its first transaction (the processor goes on after it)."""
    src, dst, group, txn_id = "ctp-in", "ctp-out", "ctp-group", "ctp-processor"
    admin_create(src, parts)
    admin_create(dst, parts)
    plain_produce(bootstrap, src, [(i % parts, str(i)) for i in range(n)])

    args = [bootstrap, group, txn_id, src, dst, parts]
    first = Script(tmp_path, "processor", PROCESSOR, args + [600])
    second = None
    try:
        line = first.wait_line("paused", 60)
        in_flight = int(line.split()[2])
        so_far = read(live_bootstrap(), dst, list(range(parts)), "read_committed")
        assert 600 <= len(flat(so_far)) < n, f"committed output before the kill: {len(flat(so_far))} records"
        first.kill9()  # inside a transaction with records and offsets sent

        second = Script(tmp_path, "processor", PROCESSOR, args + [0])
        if meanwhile:
            second.wait_line("committed", 60)
            meanwhile(txn_id)
            seen_before = len(second.seen)
        rc = second.wait_exit(90)
        assert rc == 0, f"the restarted processor exited with {rc}\n{second.output()}"
        assert any(s.startswith("done") for s in second.seen), second.output()
        if meanwhile:
            after = [s for s in second.seen[seen_before:] if s.startswith("committed")]
            assert after, f"the processor committed nothing after meanwhile()\n{second.output()}"
    finally:
        first.cleanup()
        if second:
            second.cleanup()

    out = read(live_bootstrap(), dst, list(range(parts)), "read_committed", expect=n, timeout=40)
    values = flat(out)
    dups = sorted({v for v in values if values.count(v) > 1}, key=lambda v: int(v[4:]))
    missing = sorted(set(f"out-{i}" for i in range(n)) - set(values), key=lambda v: int(v[4:]))
    assert not dups and not missing, (f"read_committed output: {len(values)} records, duplicates "
                                      f"{dups[:20]}, missing {missing[:20]}")
    for p, vs in out.items():
        seq = [int(v[4:]) for v in vs]
        assert seq == sorted(seq) and all(s % parts == p for s in seq), f"output partition {p} out of order"
    # The killed processor's open transaction was aborted by the restart: its records are in
    # the log (read_uncommitted) and nowhere in read_committed.
    everything = flat(read(live_bootstrap(), dst, list(range(parts)), "read_uncommitted", expect=n + in_flight,
                           timeout=40))
    assert len(everything) >= n + in_flight, (len(everything), n, in_flight)
    # The group's offsets went with the transactions: committed at the end of the input.
    probe = Consumer({"bootstrap.servers": live_bootstrap(), "group.id": group, "logger": RDKAFKA_LOG})
    try:
        got = probe.committed([TopicPartition(src, p) for p in range(parts)], timeout=15)
    finally:
        probe.close()
    assert {tp.partition: tp.offset for tp in got} == {p: len(range(p, n, parts)) for p in range(parts)}, got


def test_consume_transform_produce_is_exactly_once_across_sigkill_of_the_processor(broker_factory, tmp_path):
    broker = broker_factory(SINGLE)
    consume_transform_produce(tmp_path, broker.bootstrap, lambda: broker.bootstrap,
                              lambda t, n: create_topic(broker.bootstrap, t, partitions=n))


# ---------------------------------------------------------------------------------------------
# 3. Fencing.


def test_a_second_producer_with_the_same_transactional_id_fences_the_first(broker_factory):
    broker = broker_factory(SINGLE)
    b, topic, tid = broker.bootstrap, "tx-fence", "fence-me"
    create_topic(b, topic, partitions=2)
    a = txn_producer(b, tid)
    a.init_transactions(60)
    a.begin_transaction()
    send_and_flush(a, topic, [(0, "a1"), (1, "a2")])
    coordinator = coordinator_of(b, tid)
    assert coordinator == broker.node_id
    before = describe_transactions(b, [tid])[tid]
    assert before[0] == NONE and before[1] == "Ongoing", before
    pid, epoch = before[4], before[5]

    bb = txn_producer(b, tid)
    bb.init_transactions(60)  # aborts a's transaction and bumps the epoch
    after = describe_transactions(b, [tid])[tid]
    assert after[0] == NONE and after[4] == pid and after[5] > epoch, (before, after)
    assert after[1] in ("CompleteAbort", "Empty"), after

    with pytest.raises(KafkaException) as failed:
        a.commit_transaction(30)
    err = failed.value.args[0]
    assert err.fatal() or err.code() in FENCED_CODES, f"commit of the fenced producer: {err.name()} {err.str()}"
    assert not err.retriable(), err
    # A fenced producer stays fenced: it cannot start again.
    with pytest.raises(KafkaException):
        a.begin_transaction()
        a.produce(topic, value="a3", partition=0)
        a.commit_transaction(10)

    bb.begin_transaction()
    bb.produce(topic, value="b1", partition=0)
    bb.produce(topic, value="b2", partition=1)
    bb.commit_transaction(30)
    assert read(b, topic, [0, 1], "read_committed", expect=2) == {0: ["b1"], 1: ["b2"]}
    got = read(b, topic, [0, 1], "read_uncommitted", expect=4)
    assert got[0][-1] == "b1" and got[1][-1] == "b2" and "a1" in got[0] and "a3" not in got[0], got
    final = describe_transactions(b, [tid])[tid]
    assert final[:2] == (NONE, "CompleteCommit") and final[5] == after[5], final


# ---------------------------------------------------------------------------------------------
# 4. A transaction left open past its timeout is aborted by the coordinator.

ABANDONED = r'''
import sys, time
from confluent_kafka import Producer

bootstrap, txn_id, topic, timeout_ms = sys.argv[1:5]
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 0,
              "transaction.timeout.ms": int(timeout_ms)})
p.init_transactions(60)
p.begin_transaction()
failed = []
for i in range(3):
    p.produce(topic, value="abandoned-%d" % i, partition=0,
              on_delivery=lambda err, msg: err and failed.append(err.str()))
if p.flush(30) or failed:
    print("failed", failed, flush=True)
    sys.exit(2)
print("ready", flush=True)
time.sleep(3600)
'''


def test_a_transaction_open_past_its_timeout_is_aborted_and_the_lso_moves_on(broker_factory, tmp_path):
    broker = broker_factory(dict(SINGLE, **{"transaction.abort.timed.out.transaction.cleanup.interval.ms": 500}))
    b, topic, tid = broker.bootstrap, "tx-timeout", "abandoned-1"
    create_topic(b, topic, partitions=1)
    coordinator_of(b, tid)
    script = Script(tmp_path, "abandoned", ABANDONED, [b, tid, topic, 4000])
    try:
        script.wait_line("ready", 60)
        t_ready = time.time()
        plain_produce(b, topic, [(0, "after-0"), (0, "after-1")])
        desc = describe_transactions(b, [tid])[tid]
        # (a slow start may let the timeout pass already)
        assert desc[0] == NONE and desc[1] in ("Ongoing", "PrepareAbort", "CompleteAbort"), desc
        assert desc[2] == 4000, f"transaction timeout {desc[2]}, asked for 4000"
        if desc[1] == "Ongoing":
            assert desc[6] == {topic: [0]}, desc
            assert list_latest(b, topic, 0, READ_COMMITTED) == (NONE, 0)
        script.kill9()  # gone for good: nothing will end the transaction but the coordinator

        # Abort marker at 5: the last stable offset moves past it.
        wait_until(lambda: list_latest(b, topic, 0, READ_COMMITTED) == (NONE, 6), 15,
                   "the timed-out transaction aborted (last stable offset 6)",
                   describe=lambda: (list_latest(b, topic, 0, READ_COMMITTED), describe_transactions(b, [tid])))
        took = time.time() - t_ready
        assert took < 12, f"aborted {took:.1f}s after the producer was ready (timeout 4 s, checked every 0.5 s)"
    finally:
        script.cleanup()
    assert read(b, topic, [0], "read_committed", expect=2) == {0: ["after-0", "after-1"]}
    assert read(b, topic, [0], "read_uncommitted", expect=5) == {
        0: ["abandoned-0", "abandoned-1", "abandoned-2", "after-0", "after-1"]}
    final = describe_transactions(b, [tid])[tid]
    assert final[0] == NONE and final[1] in ("CompleteAbort", "Empty"), final
    # The coordinator bumped the epoch to fence the abandoned producer (a new id starts at 0).
    assert final[5] >= 1 and (desc[1] != "Ongoing" or final[5] > desc[5]), (desc, final)
    assert final[6] == {}, final

    # A new producer with the id works from there.
    p = txn_producer(b, tid)
    p.init_transactions(60)
    p.begin_transaction()
    p.produce(topic, value="new", partition=0)
    p.commit_transaction(30)
    assert read(b, topic, [0], "read_committed", expect=3) == {0: ["after-0", "after-1", "new"]}
    assert describe_transactions(b, [tid])[tid][5] > final[5]


# ---------------------------------------------------------------------------------------------
# 5. kill -9 of the transaction coordinator.


def test_a_transaction_commits_exactly_once_across_kill_9_of_its_coordinator(cluster):
    c = cluster(extra=CLUSTER)
    topic, parts, tid = "tx-failover", 3, "failover-txn"
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"})
    c.wait_topic(topic, parts)
    coordinator = c.wait_for(lambda: (lambda r: r[1] if r[0] == NONE else None)(
        find_coordinator(c.live_bootstrap().split(",")[0], tid, key_type=1)), 30,
        f"FindCoordinator(transaction, {tid}) answers")
    state = c.wait_topic("__transaction_state", TXN_PARTITIONS)
    assert state[txn_partition(tid)].leader == coordinator, (coordinator, state)

    p = txn_producer(c.bootstrap, tid, **{"request.timeout.ms": 5000, "retry.backoff.ms": 100})
    p.init_transactions(60)
    # a first transaction before the kill
    p.begin_transaction()
    for i in range(30):
        p.produce(topic, value=f"first-{i}", partition=i % parts)
    p.commit_transaction(60)
    p.begin_transaction()
    send_and_flush(p, topic, [(i % parts, f"second-{i}") for i in range(60)])
    desc = describe_transactions(c.broker(coordinator).bootstrap, [tid])[tid]
    assert desc[:2] == (NONE, "Ongoing") and desc[6] == {topic: [0, 1, 2]}, desc
    # Only the coordinator answers for the id; each broker lists the ids it coordinates.
    other = next(n for n in c.ids if n != coordinator)
    assert describe_transactions(c.broker(other).bootstrap, [tid])[tid][0] == NOT_COORDINATOR
    assert list_transactions(c.broker(coordinator).bootstrap) == (NONE, [], [(tid, desc[4], "Ongoing")])
    assert list_transactions(c.broker(other).bootstrap) == (NONE, [], [])

    c.kill9(coordinator)
    t0 = time.time()
    p.commit_transaction(60)  # finds the new coordinator, which knows the transaction
    took = time.time() - t0

    new = c.wait_for(lambda: (lambda r: r[1] if r[0] == NONE and r[1] != coordinator else None)(
        find_coordinator(c.live_bootstrap().split(",")[0], tid, key_type=1)), 20,
        "FindCoordinator names a new coordinator")
    final = c.wait_for(lambda: (lambda d: d if d[1] == "CompleteCommit" else None)(
        describe_transactions(c.broker(new).bootstrap, [tid])[tid]), 20,
        f"the new coordinator (node {new}) has the transaction CompleteCommit")
    assert final[4] == desc[4] and final[5] >= desc[5], (desc, final)

    p.begin_transaction()
    for i in range(30):
        p.produce(topic, value=f"third-{i}", partition=i % parts)
    p.commit_transaction(60)

    want = [f"first-{i}" for i in range(30)] + [f"second-{i}" for i in range(60)] + [f"third-{i}" for i in range(30)]
    got = read(c.live_bootstrap(), topic, list(range(parts)), "read_committed", expect=len(want), timeout=40)
    assert flat(got) == sorted(want), (f"commit took {took:.1f}s; read {len(flat(got))} records, duplicates "
                                       f"{len(flat(got)) - len(set(flat(got)))}, missing "
                                       f"{sorted(set(want) - set(flat(got)))[:20]}")

    c.start(coordinator)  # back in the cluster
    c.wait_ready()
    c.wait_topic("__transaction_state", TXN_PARTITIONS)
    c.wait_topic(topic, parts)

    # Now the coordinator dies right after answering the commit: EndTxn is answered once
    # PrepareCommit is written, the markers may still be on their way. The new coordinator
    # finds the transaction prepared and completes it: visible exactly once.
    current = c.wait_for(lambda: (lambda r: r[1] if r[0] == NONE else None)(
        find_coordinator(c.live_bootstrap().split(",")[0], tid, key_type=1)), 20, "FindCoordinator answers")
    p.begin_transaction()
    send_and_flush(p, topic, [(i % parts, f"fourth-{i}") for i in range(60)])
    p.commit_transaction(60)
    c.kill9(current)
    newer = c.wait_for(lambda: (lambda r: r[1] if r[0] == NONE and r[1] != current else None)(
        find_coordinator(c.live_bootstrap().split(",")[0], tid, key_type=1)), 20,
        "FindCoordinator names a new coordinator")
    c.wait_for(lambda: describe_transactions(c.broker(newer).bootstrap, [tid])[tid][1] == "CompleteCommit", 20,
               f"the new coordinator (node {newer}) has the transaction CompleteCommit",
               describe=lambda: describe_transactions(c.broker(newer).bootstrap, [tid]))
    want += [f"fourth-{i}" for i in range(60)]
    got = read(c.live_bootstrap(), topic, list(range(parts)), "read_committed", expect=len(want), timeout=40)
    assert flat(got) == sorted(want), (f"read {len(flat(got))} records, duplicates "
                                       f"{len(flat(got)) - len(set(flat(got)))}, missing "
                                       f"{sorted(set(want) - set(flat(got)))[:20]}")
    c.start(current)
    c.wait_ready()


# ---------------------------------------------------------------------------------------------
# 6. DescribeTransactions and ListTransactions.


def test_describe_and_list_transactions_show_ongoing_and_completed_ones(broker_factory):
    broker = broker_factory(SINGLE)
    b = broker.bootstrap
    create_topic(b, "tx-desc-a", partitions=3)
    create_topic(b, "tx-desc-b", partitions=1)
    coordinator_of(b, "desc-open")

    done = txn_producer(b, "desc-done")
    done.init_transactions(60)
    done.begin_transaction()
    done.produce("tx-desc-b", value="x", partition=0)
    done.commit_transaction(30)

    t_begin = time.time()
    p = txn_producer(b, "desc-open", **{"transaction.timeout.ms": 45000})
    p.init_transactions(60)
    p.begin_transaction()
    send_and_flush(p, "tx-desc-a", [(0, "1"), (2, "2")])
    send_and_flush(p, "tx-desc-b", [(0, "3")])

    got = describe_transactions(b, ["desc-open", "desc-done", "no-such-id"])
    err, state, timeout, start, pid, epoch, topics = got["desc-open"]
    assert (err, state, timeout, epoch) == (NONE, "Ongoing", 45000, 0), got["desc-open"]
    assert topics == {"tx-desc-a": [0, 2], "tx-desc-b": [0]}, topics
    assert t_begin * 1000 - 2000 <= start <= time.time() * 1000 + 2000, (start, t_begin)
    assert pid >= 0
    d = got["desc-done"]
    assert d[:2] == (NONE, "CompleteCommit") and d[4] >= 0 and d[4] != pid and d[6] == {}, d
    assert got["no-such-id"][0] == TRANSACTIONAL_ID_NOT_FOUND, got["no-such-id"]
    assert describe_transactions(b, []) == {}

    everything = [("desc-done", d[4], "CompleteCommit"), ("desc-open", pid, "Ongoing")]
    assert list_transactions(b) == (NONE, [], everything)
    assert list_transactions(b, states=["Ongoing"]) == (NONE, [], [everything[1]])
    assert list_transactions(b, states=["CompleteCommit", "Ongoing"]) == (NONE, [], everything)
    assert list_transactions(b, states=["PrepareCommit"]) == (NONE, [], [])
    assert list_transactions(b, producer_ids=[d[4]]) == (NONE, [], [everything[0]])
    assert list_transactions(b, producer_ids=[pid + 1000]) == (NONE, [], [])
    assert list_transactions(b, states=["Ongoing"], duration_ms=3_600_000) == (NONE, [], [])
    time.sleep(0.2)
    assert list_transactions(b, states=["Ongoing"], duration_ms=100) == (NONE, [], [everything[1]])
    assert list_transactions(b, states=["Bogus", "Ongoing"]) == (NONE, ["Bogus"], [everything[1]])

    p.abort_transaction(30)
    wait_until(lambda: describe_transactions(b, ["desc-open"])["desc-open"][1] == "CompleteAbort", 10,
               "desc-open CompleteAbort after abort_transaction",
               describe=lambda: describe_transactions(b, ["desc-open"]))
    after = describe_transactions(b, ["desc-open"])["desc-open"]
    assert after[4] == pid and after[6] == {}, after
    assert list_transactions(b, states=["CompleteAbort"]) == (NONE, [], [("desc-open", pid, "CompleteAbort")])
    assert list_transactions(b, states=["Ongoing"]) == (NONE, [], [])


# ---------------------------------------------------------------------------------------------
# 7. transaction.max.timeout.ms and transactional.id.expiration.ms.


def init_producer_id_with_timeout(bootstrap, transactional_id, timeout_ms):
    """InitProducerId v0 -> (error, producer id, epoch)."""
    body = struct.pack(">h", len(transactional_id)) + transactional_id.encode() + struct.pack(">i", timeout_ms)
    r = call(bootstrap, 22, 0, body, False)
    r.int32()  # throttle
    return r.int16(), r._unpack(">q"), r.int16()


def test_a_timeout_above_the_maximum_is_refused_and_an_idle_transactional_id_expires(broker_factory):
    broker = broker_factory(dict(SINGLE, **{"transaction.max.timeout.ms": 10000,
                                            "transactional.id.expiration.ms": 2000,
                                            "transaction.remove.expired.transaction.cleanup.interval.ms": 500}))
    b, topic = broker.bootstrap, "tx-expire"
    create_topic(b, topic, partitions=1)
    coordinator_of(b, "too-long")
    assert init_producer_id_with_timeout(b, "too-long", 10001)[0] == INVALID_TRANSACTION_TIMEOUT
    p = txn_producer(b, "too-long", **{"transaction.timeout.ms": 20000})
    with pytest.raises(KafkaException) as refused:
        p.init_transactions(30)
    assert refused.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT, refused.value.args[0]
    assert describe_transactions(b, ["too-long"])["too-long"][0] == TRANSACTIONAL_ID_NOT_FOUND

    err, pid, epoch = init_producer_id_with_timeout(b, "short-lived", 10000)
    assert (err, epoch) == (NONE, 0) and pid >= 0, (err, pid, epoch)
    p = txn_producer(b, "short-lived", **{"transaction.timeout.ms": 10000})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, value="x", partition=0)
    p.commit_transaction(30)
    # Idle (CompleteCommit) for longer than transactional.id.expiration.ms: forgotten.
    wait_until(lambda: describe_transactions(b, ["short-lived"])["short-lived"][0] == TRANSACTIONAL_ID_NOT_FOUND,
               10, "short-lived forgotten 2 s after its last transaction",
               describe=lambda: describe_transactions(b, ["short-lived"]))
    assert list_transactions(b) == (NONE, [], [])
    # It starts afresh: a new producer id at epoch 0.
    err, new_pid, epoch = init_producer_id_with_timeout(b, "short-lived", 10000)
    assert (err, epoch) == (NONE, 0) and new_pid != pid, (err, new_pid, epoch, pid)


# ---------------------------------------------------------------------------------------------
# 2b. Consume-transform-produce on three brokers, the transaction coordinator killed too.


def test_consume_transform_produce_is_exactly_once_on_three_brokers_across_kill_9_of_its_coordinator(cluster, tmp_path):
    c = cluster(extra=CLUSTER)

    def create(t, n):
        c.create_topic(t, n, rf=3, config={"min.insync.replicas": "2"})
        c.wait_topic(t, n)

    killed = []

    def kill_transaction_coordinator(txn_id):
        node = c.wait_for(lambda: (lambda r: r[1] if r[0] == NONE else None)(
            find_coordinator(c.live_bootstrap().split(",")[0], txn_id, key_type=1)), 20, "FindCoordinator answers")
        c.kill9(node)
        killed.append(node)

    # The processor's transaction coordinator is killed (kill -9) while the restarted
    # processor works: its transactions go on at the new coordinator.
    consume_transform_produce(tmp_path, c.bootstrap, c.live_bootstrap, create, meanwhile=kill_transaction_coordinator)
    assert len(killed) == 1
    c.start(killed[0])
    c.wait_ready()
