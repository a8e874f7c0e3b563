"""Starts real kbroker processes on free loopback ports with their own data directories."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KBROKER = os.environ.get("KBROKER_BIN", os.path.join(REPO, "build", "kbroker"))


def free_ports(n):
    """n distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Broker:
    def __init__(self, extra=None, node_id=1):
        self.dir = tempfile.mkdtemp(prefix="kbroker-test-")
        self.data = os.path.join(self.dir, "data")
        self.port, self.metrics_port, self.registry_port = free_ports(3)
        self.node_id = node_id
        self.extra = dict(extra or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "broker.log")
        self.config_path = os.path.join(self.dir, "broker.yaml")

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    @property
    def registry_url(self):
        """The built-in Schema Registry's REST API."""
        return f"http://127.0.0.1:{self.registry_port}"

    def write_config(self):
        lines = [f"node.id: {self.node_id}", f"metrics.listener: 127.0.0.1:{self.metrics_port}"]
        if "schema.registry.listener" not in self.extra:
            lines.append(f"schema.registry.listener: 127.0.0.1:{self.registry_port}")
        for key in ("listeners", "advertised.listeners"):  # a test may name its own listeners
            if key not in self.extra:
                lines.append(f"{key}: PLAINTEXT://127.0.0.1:{self.port}")
        if "log.dirs" not in self.extra:  # a test may spread the logs over several dirs
            lines.append(f"log.dirs: {self.data}")
        # One broker: the internal topics can only have one replica (as in broker.yaml).
        self.extra.setdefault("offsets.topic.replication.factor", 1)
        self.extra.setdefault("transaction.state.log.replication.factor", 1)
        for k, v in self.extra.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"{k}: {v}")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=15):
        self.write_config()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([KBROKER, "--config", self.config_path], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kbroker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kbroker did not start listening:\n" + self.log())

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("kbroker did not stop within %ss of SIGTERM:\n%s" % (timeout, self.log()))
            assert rc == 0, f"kbroker exited with {rc} after SIGTERM:\n{self.log()}"
        self.proc = None

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.kill9()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def broker_factory(request):
    made = []

    def make(extra=None, start=True):
        b = Broker(extra)
        made.append(b)
        return b.start() if start else b

    yield make
    for b in made:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(f"--- broker log ({b.dir}) ---\n{b.log()}")
        b.cleanup()


@pytest.fixture
def broker(broker_factory):
    return broker_factory()
