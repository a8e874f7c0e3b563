"""Three kbroker processes, each broker and controller (one Raft voter), each in its own network
namespace of a Net, with its own data directory and log under a run directory."""
import os
import signal
import socket
import subprocess
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from workload import CLIENT_LOG

KAFKA_PORT, CONTROLLER_PORT, METRICS_PORT, REGISTRY_PORT = 9092, 9093, 9644, 8081

# Failure detection fast enough that a short run sees failover within its recovery wait, but
# slow enough that a loaded 2-core machine does not fence a healthy broker.
TIMINGS = {
    "broker.session.timeout.ms": 6000,
    "broker.heartbeat.interval.ms": 1000,
    "replica.lag.time.max.ms": 6000,
    "controller.quorum.election.timeout.ms": 2000,
    "controller.quorum.fetch.timeout.ms": 4000,
    "group.initial.rebalance.delay.ms": 0,
}


DISK_MB = 64  # the tmpfs data dirs of small_disks runs (the disk-full nemesis)


class Node:
    def __init__(self, cluster, node_id):
        self.c, self.id = cluster, node_id
        self.data = os.path.join(cluster.dir, f"data-{node_id}")
        self.log_path = os.path.join(cluster.dir, f"broker-{node_id}.log")
        self.config_path = os.path.join(cluster.dir, f"broker-{node_id}.yaml")
        self.proc = None
        self.paused = False

    def write_config(self):
        net, a = self.c.net, self.c.net.addr(self.id)
        voters = ",".join(f"{n}@{net.addr(n)}:{CONTROLLER_PORT}" for n in self.c.ids)
        conf = {
            "node.id": self.id,
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://{a}:{KAFKA_PORT},CONTROLLER://{a}:{CONTROLLER_PORT}",
            "advertised.listeners": f"PLAINTEXT://{a}:{KAFKA_PORT}",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": voters,
            "log.dirs": self.data,
            "metrics.listener": f"{a}:{METRICS_PORT}",
            "schema.registry.listener": f"{a}:{REGISTRY_PORT}",
            "default.replication.factor": 3,
            "min.insync.replicas": 2,
            "offsets.topic.replication.factor": 3,
            "transaction.state.log.replication.factor": 3,
            **TIMINGS,
        }
        with open(self.config_path, "w") as f:
            f.write("".join(f"{k}: {v}\n" for k, v in conf.items()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.alive(), f"broker {self.id} already runs"
        self.write_config()
        with open(self.log_path, "ab") as log:
            log.write(f"===== fault suite: start of broker {self.id} at {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            # `ip netns exec` execs the broker, so the pid is the broker's own.
            self.proc = subprocess.Popen(self.c.net.exec_prefix(self.id) + [self.c.binary, "--config", self.config_path],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.paused = False

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.proc, self.paused = None, False

    def stop(self, timeout=30):
        if not self.alive():
            return
        self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"broker {self.id} did not exit within {timeout}s of SIGTERM")
        self.proc = None

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.alive() and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def listening(self):
        try:
            with socket.create_connection((self.c.net.addr(self.id), KAFKA_PORT), timeout=0.5):
                return True
        except OSError:
            return False


class Cluster:
    def __init__(self, net, run_dir, binary):
        self.net, self.dir, self.binary = net, run_dir, binary
        self.mounts = []
        os.makedirs(run_dir, exist_ok=True)
        self.ids = list(range(1, net.n + 1))
        self.nodes = {i: Node(self, i) for i in self.ids}
        self._admin = None

    @property
    def bootstrap(self):
        return ",".join(f"{self.net.addr(i)}:{KAFKA_PORT}" for i in self.ids)

    def start(self, timeout=60, small_disks=False):
        for n in self.nodes.values():
            if small_disks:
                os.makedirs(n.data, exist_ok=True)
                subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", n.data], check=True)
                self.mounts.append(n.data)
            n.start()
        wait_until(lambda: all(n.listening() for n in self.nodes.values()), timeout, "all brokers listening", self)
        wait_until(self._registered, timeout, "all brokers registered, the controller among them", self)

    def _registered(self):
        # Metadata can name the quorum leader as controller before that broker is in its broker
        # list; librdkafka's admin client then waits for the controller until its next metadata
        # refresh (seen: CreateTopics timing out for 60 s on a fresh cluster).
        md = self.metadata()
        return sorted(md.brokers) == self.ids and md.controller_id in md.brokers

    def shutdown(self):
        self._admin = None
        for n in self.nodes.values():
            n.kill9()
        while self.mounts:
            subprocess.run(["umount", self.mounts.pop()], check=False)

    def admin(self):
        # One client for the whole run: a future outlives only the handle that made it.
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 3000, "logger": CLIENT_LOG})
        return self._admin

    def metadata(self, topic=None):
        return self.admin().list_topics(topic=topic, timeout=4)

    def controller(self):
        return self.metadata().controller_id

    def partitions(self, topic):
        """{partition: (leader, replicas, isrs)}; errors raise so waits retry."""
        t = self.metadata(topic).topics[topic]
        if t.error is not None:
            raise RuntimeError(str(t.error))
        return {p.id: (p.leader, list(p.replicas), list(p.isrs)) for p in t.partitions.values()}

    def create_topic(self, topic, partitions):
        def created():
            fut = self.admin().create_topics([NewTopic(topic, partitions, 3, config={"min.insync.replicas": "2"})])
            try:
                fut[topic].result(10)
            except KafkaException as e:
                if e.args[0].code() == KafkaError._TIMED_OUT:
                    self._admin = None  # a fresh client reads the metadata afresh
                # A retry after an answer that was lost may find the topic there already.
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
            return True
        wait_until(created, 60, f"topic {topic} created (the quorum has a leader)", self)
        wait_until(lambda: self._healthy(topic, partitions), 60, f"topic {topic} fully replicated", self)

    def _healthy(self, topic, partitions):
        info = self.partitions(topic)
        return len(info) == partitions and all(l in self.ids and len(isr) == 3 for l, _, isr in info.values())

    def wait_healthy(self, topic, partitions, timeout):
        """Every broker back in every ISR and a controller known: the recovery a nemesis waits for."""
        wait_until(lambda: self._healthy(topic, partitions) and self.controller() in self.ids, timeout,
                   f"cluster healthy again ({topic} ISRs full)", self)

    def describe(self):
        out = []
        for n in self.nodes.values():
            out.append(f"broker {n.id}: {'paused' if n.paused else 'running' if n.alive() else 'down'}")
        return ", ".join(out)


def wait_until(pred, timeout, what, cluster=None, interval=0.3):
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception as e:  # noqa: BLE001 (brokers come and go during a nemesis)
            last = e
        time.sleep(interval)
    state = f" [{cluster.describe()}]" if cluster else ""
    raise TimeoutError(f"{what}: not within {timeout}s (last error {last!r}){state}")
