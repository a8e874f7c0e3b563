"""Starts a cluster of real kbroker processes (each one broker and controller, one Raft voter)
on free loopback ports, each with its own data directory, and looks at it through Metadata
answers of real clients.

    def test_something(cluster):            # the fixture is a factory, like broker_factory
        c = cluster(extra={"broker.session.timeout.ms": 3000})
        c.create_topic("t", 6, rf=3)
        info = c.wait_topic("t", 6)            # {partition: PartitionInfo(leader, replicas, isrs, error)}
        c.kill9(info[0].leader)
        c.wait_for(lambda: c.partition_info("t")[0].leader in c.live(), 15, "a new leader of t-0")

Node ids are 1..n. kill9/stop/start/pause/resume take a node id; live() lists the nodes whose
process runs and is not paused. Every wait is bounded and fails with the tails of all broker
logs; a failed test prints the logs in full (last 40,000 characters of each)."""
import collections
import logging
import os
import signal
import socket
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kbroker_harness import KBROKER, Broker, free_ports

PartitionInfo = collections.namedtuple("PartitionInfo", "leader replicas isrs error")
# librdkafka's own log lines (connection refused by a killed node, ...) go to this logger, which
# pytest captures, rather than to stderr from the client's threads. Producers and consumers
# hand them over on poll(); an AdminClient never polls, so its lines are dropped.
RDKAFKA_LOG = logging.getLogger("rdkafka")


def java_string_hashcode(s):
    """Java's String.hashCode(): s[0]*31^(n-1) + ... over UTF-16 code units, as a signed int32."""
    h = 0
    data = s.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def group_coordinator_partition(group_id, offsets_partitions=50):
    """The __consumer_offsets partition whose leader coordinates group_id: Kafka's
    Utils.abs(groupId.hashCode) % offsets.topic.num.partitions (Utils.abs(MIN_VALUE) = 0)."""
    h = java_string_hashcode(group_id)
    return (0 if h == -(1 << 31) else abs(h)) % offsets_partitions


def wait_until(predicate, timeout, what, describe=None, interval=0.2, before_try=None, tail=lambda: ""):
    """Calls predicate until it returns something truthy (returned) or timeout passes; an
    exception in predicate counts as "not yet" (before_try's does not). The failure names
    `what`, the last result or exception, describe() if given, and tail()."""
    deadline = time.time() + timeout
    outcome = "never called"
    while True:
        if before_try:
            before_try()
        try:
            last = predicate()
            if last:
                return last
            outcome = f"last result {last!r}"
        except Exception as e:  # noqa: BLE001 (a broker may be down or not ready yet)
            outcome = f"last error {e!r}"
        if time.time() >= deadline:
            break
        time.sleep(interval)
    state = ""
    if describe:
        try:
            state = f"\nstate: {describe()}"
        except Exception as e:  # noqa: BLE001
            state = f"\nstate: ({e!r})"
    raise AssertionError(f"{what}: not within {timeout}s ({outcome}){state}{tail()}")


class ClusterNode(Broker):
    """One kbroker process of a cluster: a Broker with a CONTROLLER listener and the quorum."""

    def __init__(self, node_id, port, controller_port, metrics_port, voters, extra, registry_port=None):
        super().__init__(extra, node_id=node_id)
        self.port, self.controller_port, self.metrics_port = port, controller_port, metrics_port
        if registry_port is not None:
            self.registry_port = registry_port
        self.voters = voters
        self.paused = False
        self.logf = None
        self.starts = 0

    def config(self):
        conf = collections.OrderedDict([
            ("node.id", self.node_id),
            ("process.roles", "broker,controller"),
            ("listeners", f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"),
            ("advertised.listeners", f"PLAINTEXT://127.0.0.1:{self.port}"),
            ("controller.listener.names", "CONTROLLER"),
            ("controller.quorum.voters", self.voters),
            ("log.dirs", self.data),
            ("metrics.listener", f"127.0.0.1:{self.metrics_port}"),
            ("schema.registry.listener", f"127.0.0.1:{self.registry_port}"),
            ("offsets.topic.replication.factor", 3),
            ("transaction.state.log.replication.factor", 3),
        ])
        conf.update(self.extra)
        return conf

    def write_config(self):
        lines = []
        for k, v in self.config().items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"{k}: {v}")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def launch(self):
        """Starts the process without waiting for it to listen (a node of a cluster may wait
        for the quorum before it serves)."""
        assert not self.alive(), f"node {self.node_id} is already running"
        self.write_config()
        if self.logf:
            self.logf.close()
        self.logf = open(self.log_path, "ab")
        self.starts += 1
        self.logf.write(f"===== harness: start #{self.starts} of node {self.node_id} at "
                        f"{time.strftime('%H:%M:%S')} =====\n".encode())
        self.logf.flush()
        self.paused = False
        self.proc = subprocess.Popen([KBROKER, "--config", self.config_path], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        return self

    def wait_listening(self, timeout=30, ports=None):
        deadline = time.time() + timeout
        for port in ports or [self.port]:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    rc = None if self.proc is None else self.proc.returncode
                    raise RuntimeError(f"kbroker node {self.node_id} exited with {rc}:\n{self.log_tail()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.time() >= deadline:
                        raise RuntimeError(f"kbroker node {self.node_id} did not listen on port {port} "
                                           f"within {timeout}s:\n{self.log_tail()}")
                    time.sleep(0.05)
        return self

    def start(self, timeout=30):
        return self.launch().wait_listening(timeout)

    def pause(self):
        assert self.alive(), f"node {self.node_id} is not running"
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, timeout=30):
        """SIGTERM; asserts that the process was running and exits with rc 0 within timeout.
        Returns how long it took to exit."""
        assert self.proc is not None, f"node {self.node_id} was not started"
        rc = self.proc.poll()
        assert rc is None, f"node {self.node_id} had already exited with {rc} before SIGTERM:\n{self.log_tail()}"
        if self.paused:
            self.resume()
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise AssertionError(f"node {self.node_id} did not exit within {timeout}s of SIGTERM:\n"
                                 f"{self.log_tail()}")
        self.proc = None
        assert rc == 0, f"node {self.node_id} exited with {rc} after SIGTERM:\n{self.log_tail()}"
        return time.time() - t0

    def kill9(self):
        super().kill9()
        self.paused = False

    def log_tail(self, chars=8000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - chars * 2))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        if len(text) <= chars:
            return text
        text = text[-chars:]
        return "[...]" + text[text.find("\n"):] if "\n" in text else text

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()  # SIGKILL also ends a stopped (SIGSTOP) process
                self.proc.wait()
            self.proc = None
        finally:
            if self.logf:
                self.logf.close()
                self.logf = None
            super().cleanup()


class Cluster:
    def __init__(self, n=3, extra=None):
        ports = free_ports(4 * n)
        self.ids = list(range(1, n + 1))
        voters = ",".join(f"{i}@127.0.0.1:{ports[4 * (i - 1) + 1]}" for i in self.ids)
        self.voters = voters
        self.nodes = {}
        for i in self.ids:
            port, cport, mport, rport = ports[4 * (i - 1):4 * i]
            self.nodes[i] = ClusterNode(i, port, cport, mport, voters, extra, registry_port=rport)

    # --- processes -------------------------------------------------------------------------

    def broker(self, n):
        return self.nodes[n]

    @property
    def bootstrap(self):
        """Every node's address (librdkafka skips the ones that are down)."""
        return ",".join(self.nodes[i].bootstrap for i in self.ids)

    def live_bootstrap(self):
        return ",".join(self.nodes[i].bootstrap for i in self.live())

    def crashed(self):
        """{node: rc} of the nodes that exited without kill9/stop asking them to."""
        return {i: self.nodes[i].proc.returncode for i in self.ids
                if self.nodes[i].proc is not None and self.nodes[i].proc.poll() is not None}

    def live(self):
        """Ids of the nodes whose process runs and is not paused."""
        return [i for i in self.ids if self.nodes[i].alive() and not self.nodes[i].paused]

    def start_all(self, timeout=30):
        for i in self.ids:  # all at once: a node may wait for the quorum before it listens
            self.nodes[i].launch()
        for i in self.ids:
            self.nodes[i].wait_listening(timeout)
        return self

    def start(self, n, timeout=30):
        """(Re)starts node n with the same ports, config and data directory."""
        return self.nodes[n].start(timeout)

    def kill9(self, n):
        self.nodes[n].kill9()

    def stop(self, n, timeout=30):
        """SIGTERM; asserts the process exits with rc 0 within timeout; returns the seconds it took."""
        return self.nodes[n].stop(timeout)

    def stop_all(self, timeout=30):
        """SIGTERM to every running node at once; asserts each exits with rc 0 within timeout."""
        running = [i for i in self.ids if self.nodes[i].alive()]
        for i in running:
            if self.nodes[i].paused:
                self.nodes[i].resume()
            self.nodes[i].proc.send_signal(signal.SIGTERM)
        deadline = time.time() + timeout
        bad = []
        for i in running:
            node = self.nodes[i]
            try:
                rc = node.proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
                rc = "no exit"
            node.proc = None
            if rc != 0:
                bad.append((i, rc))
        assert not bad, (f"after SIGTERM to all nodes, (node, rc) {bad} within {timeout}s:\n"
                         + self.log_tails(4000))

    def pause(self, n):
        self.nodes[n].pause()

    def resume(self, n):
        self.nodes[n].resume()

    def cleanup(self):
        for i in self.ids:
            self.nodes[i].cleanup()

    # --- what the brokers say --------------------------------------------------------------

    def admin(self, n=None):
        """An AdminClient on node n, or on every live node."""
        return AdminClient({"bootstrap.servers": self.nodes[n].bootstrap if n else self.live_bootstrap(),
                            "logger": RDKAFKA_LOG})

    def metadata(self, n, timeout=5):
        """The Metadata answer of node n itself (a fresh client with n as its only bootstrap)."""
        md = self.admin(n).list_topics(timeout=timeout)
        # orig_broker_name is "host:port/<id>", or "host:port/bootstrap" (id -1) when the answer
        # came on the bootstrap connection
        if md.orig_broker_id != n and md.orig_broker_name.rsplit("/", 1)[0] != self.nodes[n].bootstrap:
            raise RuntimeError(f"asked node {n}, answered by {md.orig_broker_id} ({md.orig_broker_name})")
        return md

    def any_live(self):
        live = self.live()
        if not live:
            raise RuntimeError("no node is running")
        return live[0]

    def controller_id(self, via=None):
        """The controller id in node via's Metadata answer (default: the first live node)."""
        return self.metadata(via or self.any_live()).controller_id

    def controller_ids(self):
        """{node: controller id it reports} over the live nodes."""
        return {n: self.metadata(n).controller_id for n in self.live()}

    def partition_info(self, topic, via=None):
        """{partition: PartitionInfo(leader, replicas, isrs, error name or None)} as node via
        (default: the first live node) reports it; replicas in the broker's order, isrs sorted."""
        md = self.metadata(via or self.any_live())
        t = md.topics.get(topic)
        if t is None:
            raise LookupError(f"node {md.orig_broker_id} does not list topic {topic}")
        if t.error is not None and not t.partitions:
            raise LookupError(f"node {md.orig_broker_id}: topic {topic}: {t.error}")
        return {p: PartitionInfo(pm.leader, list(pm.replicas), sorted(pm.isrs),
                                 pm.error.name() if pm.error is not None else None)
                for p, pm in sorted(t.partitions.items())}

    def leaders(self, topic, via=None):
        return {p: i.leader for p, i in self.partition_info(topic, via).items()}

    # --- waiting ---------------------------------------------------------------------------

    def log_tails(self, chars=3000):
        out = []
        for i in self.ids:
            node = self.nodes[i]
            state = "paused" if node.paused else ("running" if node.alive() else "down")
            out.append(f"--- node {i} ({state}, {node.dir}) log tail ---\n{node.log_tail(chars)}")
        return "\n".join(out)

    def wait_for(self, predicate, timeout, what, describe=None, interval=0.2):
        """Calls predicate until it returns something truthy (returned) or timeout passes; an
        exception in predicate counts as "not yet". The failure names `what`, the last result
        or exception, describe() if given, and the tails of all broker logs."""
        def no_crash():
            crashed = self.crashed()
            if crashed:
                raise AssertionError(f"{what}: node(s) exited unexpectedly, {{node: rc}} = {crashed}\n"
                                     + self.log_tails())

        return wait_until(predicate, timeout, what, describe, interval, before_try=no_crash,
                          tail=lambda: f"\nlive nodes: {self.live()}\n{self.log_tails()}")

    def wait_ready(self, timeout=30):
        """Every live node lists every live node in its Metadata answer, and all of them name
        the same live controller. Returns the controller id."""
        seen = {}

        def ready():
            live = self.live()
            seen.clear()
            for n in live:
                md = self.metadata(n, timeout=3)
                seen[n] = (sorted(md.brokers), md.controller_id)
            if not all(set(live) <= set(brokers) for brokers, _ in seen.values()):
                return False
            ctrl = {c for _, c in seen.values()}
            return len(ctrl) == 1 and next(iter(ctrl)) in live and next(iter(ctrl))

        return self.wait_for(ready, timeout, "cluster ready (each live node lists all live nodes and "
                             "names one live controller)",
                             describe=lambda: "{node: (brokers listed, controller id)} = %r" % seen)

    def create_topic(self, name, partitions, rf=3, config=None, via=None, timeout=20, assignment=None):
        """CreateTopics through node via (default: every live node; the client routes it to
        the controller). `assignment`: the replicas of each partition, preferred leader first."""
        a = self.admin(via)
        if assignment:
            topic = NewTopic(name, num_partitions=len(assignment), replica_assignment=assignment, config=config or {})
        else:
            topic = NewTopic(name, num_partitions=partitions, replication_factor=rf, config=config or {})
        fs = a.create_topics([topic], request_timeout=timeout)
        fs[name].result(timeout=timeout + 5)

    def wait_topic(self, topic, partitions, full_isr=True, timeout=20):
        """Waits until every live node reports `partitions` partitions of topic, each led by a
        live node (and, if full_isr, with every replica in the ISR). Returns partition_info."""
        seen = {}

        def settled():
            live = self.live()
            seen.clear()
            for n in live:
                info = self.partition_info(topic, via=n)
                seen[n] = info
                if len(info) != partitions:
                    return False
                for i in info.values():
                    if i.leader not in live:
                        return False
                    if full_isr and sorted(i.replicas) != i.isrs:
                        return False
            return seen[live[0]]

        return self.wait_for(settled, timeout, f"topic {topic}: {partitions} partitions with live leaders"
                             + (" and full ISRs" if full_isr else "") + " on every live node",
                             describe=lambda: repr(seen))

    def all_logs(self, chars=40000):
        return self.log_tails(chars)


@pytest.fixture
def cluster(request):
    """A factory: cluster(n=3, extra=None, start=True, ready=True, ready_timeout=30) -> Cluster.
    With start, all nodes are launched and listening; with ready, wait_ready() has passed.
    Every process is killed (SIGKILL) and every data directory removed after the test."""
    made = []

    def make(n=3, extra=None, start=True, ready=True, ready_timeout=30):
        c = Cluster(n, extra)
        made.append(c)
        if start:
            c.start_all()
            if ready:
                c.wait_ready(ready_timeout)
        return c

    yield make
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else False
    crashes = [c.crashed() for c in made]
    for c, crashed in zip(made, crashes):
        if failed or crashed:
            print(f"===== cluster of {len(c.ids)} nodes, voters {c.voters} =====")
            print(c.all_logs())
        c.cleanup()
    # a node that died on its own is an error even when the test's checks passed
    assert not any(crashes), f"node(s) exited unexpectedly during the test, {{node: rc}}: {crashes}"
