"""The transactional part of the workload: one transactional producer writes transactions of a
few sequential values (spread over the partitions of its own topic) and aborts about one in
three on purpose. Each transaction ends as
  committed      commit_transaction() returned: every value must be read, once
  aborted        abort_transaction() returned: no value may ever be read (read_committed)
  indeterminate  the outcome was lost with a fault: all of its values or none (atomicity)
The final read uses read_committed."""
import random
import threading

from confluent_kafka import KafkaException, Producer

from workload import CLIENT_LOG

TXN_SIZE = 4


class TxnWorkload:
    def __init__(self, bootstrap, topic, partitions, seed):
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.rng = random.Random(seed)
        self.outcome = {}  # transaction number -> "committed" / "aborted" / "indeterminate"
        self.errors = []
        self.stop_flag = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(150)
        if self.thread.is_alive():
            self.errors.append("the transactional producer did not finish within 150 s")

    def _producer(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "transactional.id": f"{self.topic}-tx",
                      "transaction.timeout.ms": 30000, "message.timeout.ms": 30000,
                      "socket.timeout.ms": 10000, "logger": CLIENT_LOG})
        p.init_transactions(30)
        return p

    def _run(self):
        p, n = None, 0
        while not self.stop_flag.is_set():
            try:
                if p is None:
                    p = self._producer()
            except KafkaException:
                p = None  # no coordinator yet (a fault is on): try again
                self.stop_flag.wait(1)
                continue
            abort = self.rng.random() < 1 / 3
            try:
                p.begin_transaction()
                for i in range(TXN_SIZE):
                    p.produce(self.topic, value=f"{n}:{i}".encode(), partition=(n + i) % self.partitions)
                if abort:
                    p.abort_transaction(30)
                    self.outcome[n] = "aborted"
                else:
                    p.commit_transaction(30)
                    self.outcome[n] = "committed"
            except KafkaException as e:
                self.outcome[n] = "indeterminate"
                err = e.args[0]
                if err.txn_requires_abort():
                    try:
                        p.abort_transaction(30)
                        self.outcome[n] = "aborted"
                    except KafkaException:
                        p = None
                else:
                    # Fatal or timed out: a new producer with the same transactional.id fences
                    # this one, and the coordinator settles the open transaction either way.
                    p = None
            n += 1
            self.stop_flag.wait(0.05)


def check_txn(w, log):
    """log: {partition: [(offset, "n:i")]} read with read_committed. Counts and violation lines."""
    seen = {}
    for p, records in log.items():
        for offset, value in records:
            seen.setdefault(value, []).append((p, offset))
    lines = []
    by_txn = {}
    for value in seen:
        n, _ = value.split(":")
        by_txn.setdefault(int(n), set()).add(value)
    dup = [v for v, where in seen.items() if len(where) > 1]
    lines += [f"txn duplicated: {v} at {seen[v]}" for v in dup[:10]]
    aborted_seen = [n for n in by_txn if w.outcome.get(n) == "aborted"]
    lines += [f"txn aborted but read: transaction {n} values {sorted(by_txn[n])}" for n in aborted_seen[:10]]
    partial = [n for n, vals in by_txn.items() if len(vals) != TXN_SIZE]
    lines += [f"txn partly visible: transaction {n} ({w.outcome.get(n)}) shows only {sorted(by_txn[n])}"
              for n in partial[:10]]
    lost = [n for n, o in w.outcome.items() if o == "committed" and n not in by_txn]
    lines += [f"txn committed but not read: transaction {n}" for n in lost[:10]]
    lines += [f"txn workload: {e}" for e in w.errors]
    if not any(o == "committed" for o in w.outcome.values()):
        lines.append("txn workload: no transaction committed at all")
    counts = {"txn_committed": sum(o == "committed" for o in w.outcome.values()),
              "txn_aborted": sum(o == "aborted" for o in w.outcome.values()),
              "txn_unknown": sum(o == "indeterminate" for o in w.outcome.values()),
              "txn_bad": len(dup) + len(aborted_seen) + len(partial) + len(lost)}
    return counts, lines
