"""The workload and its checker.

Producer: idempotent, acks=all, writes the unique sequential values 0, 1, 2, ... with value n
going to partition n % P, so each partition's values must read back increasing. Every delivery
report is kept: acknowledged (partition, offset, value) or failed (indeterminate: the record may
or may not have been written, but at most once).

Group consumer: manual synchronous commits; every commit's answer and a periodic committed()
look-up are kept per partition, to check that no committed offset ever goes backwards.

Checker (after the faults are healed): a fresh consumer reads every partition from the start to
its high watermark, then
  lost        an acknowledged value absent, or not at the offset its acknowledgement named
  duplicated  a value read more than once
  reordered   a partition whose values do not increase with the offset
  unexpected  a value read that was never produced
  backwards   a committed offset smaller than one seen before for the same partition
  max unavail the longest gap between two acknowledgements while the workload ran"""
import logging
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


# librdkafka's lines (connection refused by a killed broker, ...) are expected under faults: the
# driver sends this logger to a file in the run's directory instead of the terminal.
CLIENT_LOG = logging.getLogger("rdkafka")
CLIENT_LOG.propagate = False
CLIENT_LOG.addHandler(logging.NullHandler())


class Workload:
    def __init__(self, bootstrap, topic, partitions, rate=150):
        self.bootstrap, self.topic, self.partitions, self.rate = bootstrap, topic, partitions, rate
        self.acked = {}  # value -> (partition, offset)
        self.failed = {}  # value -> error text
        self.sent = 0
        self.ack_times = []
        self.commit_seen = {p: [] for p in range(partitions)}  # (source, offset) in order observed
        self.consumed = 0
        self.errors = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = []

    def start(self):
        self.threads = [threading.Thread(target=self._produce, daemon=True),
                        threading.Thread(target=self._consume, daemon=True)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(120)
            if t.is_alive():
                self.errors.append("a workload thread did not finish within 120 s")

    def _on_delivery(self, err, msg):
        value = int(msg.value())
        with self.lock:
            if err is None:
                self.acked[value] = (msg.partition(), msg.offset())
                self.ack_times.append(time.monotonic())
            else:
                self.failed[value] = str(err)

    def _produce(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 60000, "request.timeout.ms": 10000,
                      "socket.timeout.ms": 10000, "logger": CLIENT_LOG})
        n, interval = 0, 1.0 / self.rate
        while not self.stop_flag.is_set():
            try:
                p.produce(self.topic, value=str(n).encode(), partition=n % self.partitions, on_delivery=self._on_delivery)
                n += 1
            except BufferError:
                p.poll(0.1)
                continue
            p.poll(0)
            time.sleep(interval)
        self.sent = n
        left = p.flush(90)
        if left:
            self.errors.append(f"{left} records still unacknowledged 90 s after the workload stopped")

    def _note_commit(self, source, tps):
        for tp in tps or []:
            if tp.topic == self.topic and tp.error is None and tp.offset >= 0:
                self.commit_seen[tp.partition].append((source, tp.offset))

    def _consume(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"{self.topic}-group",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed", "session.timeout.ms": 10000,
                      "socket.timeout.ms": 10000, "logger": CLIENT_LOG})
        c.subscribe([self.topic])
        mine = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        last_commit = last_lookup = time.monotonic()
        pending = 0
        while not self.stop_flag.is_set():
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                self.consumed += 1
                pending += 1
            now = time.monotonic()
            if pending and (pending >= 100 or now - last_commit > 1.0):
                try:
                    self._note_commit("commit", c.commit(asynchronous=False))
                    pending = 0
                except KafkaException:
                    pass  # a commit may fail while the coordinator moves; the next one retries
                last_commit = now
            if now - last_lookup > 2.0:
                try:
                    self._note_commit("committed()", c.committed(mine, timeout=5))
                except KafkaException:
                    pass
                last_lookup = now
        try:
            self._note_commit("committed()", c.committed(mine, timeout=10))
        except KafkaException:
            pass
        c.close()


def read_all(bootstrap, topic, partitions, decode=int, timeout=60):
    """{partition: [(offset, decode(value))]} of everything up to the high watermark. With
    read_committed the last offsets may be transaction markers or aborted records, which are
    never delivered: a partition is done when its end-of-partition event is at or past the high
    watermark (that waits for any transaction still open to be settled)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-checker", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "logger": CLIENT_LOG})
    out, ends = {}, {}
    for p in range(partitions):
        _, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
        ends[p] = hi
        out[p] = []
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    deadline = time.time() + timeout
    done = set()
    while len(done) < partitions:
        if time.time() > deadline:
            c.close()
            raise TimeoutError(f"final read: not at the high watermarks {ends} within {timeout}s "
                               f"(read {[len(v) for v in out.values()]})")
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF and msg.offset() >= ends[msg.partition()]:
                done.add(msg.partition())
            continue
        out[msg.partition()].append((msg.offset(), decode(msg.value())))
    c.close()
    return out


def check(w, log):
    """The checker's counts, and a list of lines naming each violation (first few of a kind)."""
    where, seen_twice, unexpected, reordered = {}, [], [], []
    for p, records in log.items():
        prev = -1
        for offset, value in records:
            if value in where:
                seen_twice.append((value, where[value], (p, offset)))
            where[value] = (p, offset)
            if value not in w.acked and value not in w.failed:
                unexpected.append((p, offset, value))
            if value <= prev:
                reordered.append((p, offset, prev, value))
            prev = value
    lost = [(v, pos, where.get(v)) for v, pos in sorted(w.acked.items()) if where.get(v) != pos]
    backwards = []
    for p, seq in w.commit_seen.items():
        high = -1
        for source, offset in seq:
            if offset < high:
                backwards.append((p, source, offset, high))
            high = max(high, offset)
    times = sorted(w.ack_times)
    gaps = [b - a for a, b in zip(times, times[1:])]
    counts = {"sent": w.sent, "acked": len(w.acked), "failed": len(w.failed),
              "read": sum(len(v) for v in log.values()), "consumed": w.consumed,
              "lost": len(lost), "duplicated": len(seen_twice), "reordered": len(reordered),
              "unexpected": len(unexpected), "backwards": len(backwards),
              "max_unavail_s": round(max(gaps), 1) if gaps else None}
    lines = []
    lines += [f"lost: value {v} acknowledged at partition/offset {pos}, read at {got}" for v, pos, got in lost[:10]]
    lines += [f"duplicated: value {v} at {a} and {b}" for v, a, b in seen_twice[:10]]
    lines += [f"reordered: partition {p} offset {o}: {v} after {pv}" for p, o, pv, v in reordered[:10]]
    lines += [f"unexpected: partition {p} offset {o}: value {v} never produced" for p, o, v in unexpected[:10]]
    lines += [f"committed offset backwards: partition {p} {src} gave {o} after {h}" for p, src, o, h in backwards[:10]]
    lines += [f"workload: {e}" for e in w.errors]
    if not w.acked:
        lines.append("workload: nothing was acknowledged at all")
    return counts, lines
