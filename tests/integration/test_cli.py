"""The command line: --help, --version, config errors that name the key, --set."""
import os
import subprocess

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from kbroker_harness import KBROKER, Broker


def run(*args, timeout=10):
    return subprocess.run([KBROKER, *args], capture_output=True, text=True, timeout=timeout)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    assert "log.retention.hours" in r.stdout and "metrics.listener" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("kbroker ")


def bad_config(tmp_path, text):
    p = tmp_path / "b.yaml"
    p.write_text(text)
    return run("--config", str(p))


def test_bad_configs_stop_the_start_naming_the_key(tmp_path):
    base = f"node.id: 1\nlog.dirs: {tmp_path}/d\nlisteners: PLAINTEXT://127.0.0.1:0\nmetrics.listener: 127.0.0.1:0\n"
    for extra, key in [("no.such.key: 1\n", "no.such.key"), ("num.partitions: -3\n", "num.partitions"),
                       ("num.partitions: abc\n", "num.partitions"), ("log:\n  retention:\n    hours: x\n", "log.retention.hours"),
                       ("auto.create.topics.enable: maybe\n", "auto.create.topics.enable")]:
        r = bad_config(tmp_path, base + extra)
        assert r.returncode != 0
        assert key in r.stderr, r.stderr
    r = bad_config(tmp_path, base.replace("PLAINTEXT://127.0.0.1:0", "127.0.0.1:9092"))
    assert r.returncode != 0 and "listeners" in r.stderr


def test_issue_example_config_starts_and_set_overrides():
    b = Broker()
    try:
        b.extra = {"num.partitions": 3, "auto.create.topics.enable": True}
        b.write_config()
        with open(b.config_path) as f:
            assert "num.partitions: 3" in f.read()
        b.start()
        b.stop()
        b.proc = subprocess.Popen([KBROKER, "--config", b.config_path, "--set", "num.partitions=4"],
                                  stdout=open(b.log_path, "ab"), stderr=subprocess.STDOUT)
        import time, socket
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", b.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        p = Producer({"bootstrap.servers": b.bootstrap})
        p.produce("four", value=b"x")
        assert p.flush(10) == 0
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
        assert len(md.topics["four"].partitions) == 4
        b.stop()
    finally:
        b.cleanup()


def test_embedded_default_config_is_the_shipped_file():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "config", "broker.yaml")) as f:
        text = f.read()
    for line in ["node.id: 1", "listeners: PLAINTEXT://127.0.0.1:9092", "metrics.listener: 127.0.0.1:9644",
                 "log.dirs: ./data"]:
        assert line in text
