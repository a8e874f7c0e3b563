"""/ready and /health on the metrics listener (issue 18, item 2): 503 with a JSON reason while
no controller is known (a voter whose quorum is absent) and while a log dir is full, 200 once
that clears; the compose / Dockerfile healthcheck command run against a real broker."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import yaml

from cluster_harness import Cluster, wait_until
from kbroker_harness import REPO, Broker
from kbctl_util import kbctl
from test_disk_full import KAFKA_STORAGE_ERROR, fill, produce, produce_until_refused, tmpfs  # noqa: F401 (fixture)
from test_produce_consume import create_topic


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path; errors count as answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def ready(port):
    status, body = get(port, "/ready")
    return status, json.loads(body)


def healthcheck(metrics_port):
    """The compose file's healthcheck command, pointed at this broker's metrics port: its exit code."""
    with open(os.path.join(REPO, "deploy", "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    test = compose["x-kbroker"]["healthcheck"]["test"]
    assert test[0] == "CMD" and "/ready" in test[-1] and "9644" in test[-1]
    cmd = [part.replace("9644", str(metrics_port)) for part in test[1:]]
    return subprocess.run(cmd, capture_output=True, timeout=10).returncode


def test_compose_and_dockerfile_healthchecks_ask_ready_on_the_metrics_port():
    with open(os.path.join(REPO, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    check = [line for line in dockerfile.splitlines() if "/dev/tcp/127.0.0.1/9644" in line]
    assert check and "/ready" in check[0] and "HEALTHCHECK" in dockerfile
    assert "kbctl" in dockerfile
    for n in (1, 2, 3):
        with open(os.path.join(REPO, "deploy", f"broker-{n}.yaml")) as f:
            assert yaml.safe_load(f)["metrics.listener"].endswith(":9644")


def test_a_broker_is_ready_and_healthy_once_serving(broker):
    status, body = ready(broker.metrics_port)
    assert status == 200, body
    assert body["status"] == "ready" and body["reasons"] == [] and body["node_id"] == 1
    assert body["controller_id"] == 1 and body["caught_up"] is True and body["fenced"] is False
    assert [d["state"] for d in body["log_dirs"]] == ["online"]
    assert get(broker.metrics_port, "/health") == (200, "ok\n")
    assert healthcheck(broker.metrics_port) == 0


def test_not_ready_without_a_controller_then_ready_when_the_quorum_forms():
    c = Cluster(3)
    try:
        first = c.nodes[1]
        first.launch()
        # Alone, voter 1 of 3 never elects a controller; /health says it is alive, /ready not.
        status, body = wait_until(lambda: (lambda r: r if r[0] == 503 else None)(ready(first.metrics_port)), 30,
                                  "/ready 503 on a voter without its quorum")
        assert body["status"] == "not ready" and body["controller_id"] == -1
        assert "no active controller is known" in body["reasons"]
        assert "not caught up with the metadata log" in body["reasons"]
        assert get(first.metrics_port, "/health")[0] == 200
        assert healthcheck(first.metrics_port) != 0
        # cluster health cannot reach a serving broker either: the Kafka listener waits
        assert kbctl(first.bootstrap, "-X", "timeout.ms=1000", "cluster", "health").rc in (1, 3)

        c.nodes[2].launch()
        c.nodes[3].launch()
        for n in c.ids:
            wait_until(lambda: ready(c.nodes[n].metrics_port)[0] == 200, 60, f"/ready 200 on node {n}",
                       describe=lambda: ready(c.nodes[n].metrics_port))
        status, body = ready(first.metrics_port)
        assert body["controller_id"] in c.ids and body["reasons"] == []
        assert healthcheck(first.metrics_port) == 0
    finally:
        crashed = c.crashed()
        c.cleanup()
        assert not crashed


def test_not_ready_while_a_log_dir_is_full(tmpfs):  # noqa: F811 (the fixture)
    b = Broker({"log.dirs": tmpfs})
    try:
        b.start()
        create_topic(b.bootstrap, "fill", 1, {"segment.bytes": "262144"})
        wait_until(lambda: produce(b, "fill", 0)[0] == 0, 30, "first produce")
        assert ready(b.metrics_port)[0] == 200
        fill(tmpfs, leave=3 << 20)
        _, err = produce_until_refused(b, "fill", 1)
        assert err == KAFKA_STORAGE_ERROR
        status, body = ready(b.metrics_port)
        assert status == 503, body
        assert any(r.startswith("log dir ") and r.endswith(" is full") for r in body["reasons"]), body
        assert body["log_dirs"][0]["state"] == "full"
        assert get(b.metrics_port, "/health")[0] == 200
        assert healthcheck(b.metrics_port) != 0
        os.remove(os.path.join(tmpfs, "filler"))
        # the dir's space is probed every second: online again without a write
        wait_until(lambda: ready(b.metrics_port)[0] == 200, 20, "/ready 200 once space is freed",
                   describe=lambda: ready(b.metrics_port))
        b.stop()
    finally:
        b.cleanup()
