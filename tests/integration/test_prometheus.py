"""deploy/prometheus/alerts.yml and deploy/grafana/ against a real three-broker cluster scraped
by Debian's prometheus: promtool accepts the configuration and the rules, every dashboard
panel's query and every alert's query returns series, and the under-replicated alert fires
after kill -9 of a broker. The rules run from a test copy with `for: 0s` and a 1 s evaluation
interval; the expressions are the deployed ones."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

from cluster_harness import cluster, wait_until  # noqa: F401 (fixture)
from kbroker_harness import free_ports
from test_metrics import scrape, value
from test_cluster import FAST  # a silent broker fenced after 3 s, a lagging follower out of the ISR after 3 s

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy")
PROMETHEUS_YML = os.path.join(DEPLOY, "prometheus.yml")
ALERTS_YML = os.path.join(DEPLOY, "prometheus", "alerts.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "dashboards", "kbroker.json")

# "<query> <comparison> <threshold>", the form alerts.yml keeps to.
THRESHOLD = re.compile(r"^(?P<query>.*?)\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$", re.S)


def alert_rules():
    with open(ALERTS_YML) as f:
        return [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


def panel_queries():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        assert p.get("targets"), f"panel {p['title']} has no query"
        out += [(p["title"], t["expr"]) for t in p["targets"]]
    return out


def test_promtool_accepts_the_deployed_config_and_rules():
    r = subprocess.run(["promtool", "check", "config", PROMETHEUS_YML], capture_output=True, text=True)
    assert r.returncode == 0 and "1 rule files found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["promtool", "check", "rules", ALERTS_YML], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    names = {r["alert"] for r in alert_rules()}
    for wanted in ("KbrokerBrokerDown", "KbrokerUnderReplicatedPartitions", "KbrokerOfflinePartitions",
                   "KbrokerNoActiveController", "KbrokerMoreThanOneActiveController", "KbrokerConsumerLagGrowing",
                   "KbrokerDiskAlmostFull", "KbrokerHighErrorRate"):
        assert wanted in names
    for rule in alert_rules():
        assert THRESHOLD.match(rule["expr"]), f"{rule['alert']}: not '<query> <comparison> <threshold>'"


class Prometheus:
    def __init__(self, targets, workdir):
        self.port = free_ports(1)[0]
        rules = alert_rules()
        for r in rules:
            r["for"] = "0s"
        with open(os.path.join(workdir, "alerts.yml"), "w") as f:
            yaml.safe_dump({"groups": [{"name": "kbroker", "interval": "1s", "rules": rules}]}, f)
        with open(os.path.join(workdir, "prometheus.yml"), "w") as f:
            yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                            "rule_files": ["alerts.yml"],
                            "scrape_configs": [{"job_name": "kbroker", "metrics_path": "/metrics",
                                                "static_configs": [{"targets": targets}]}]}, f)
        self.log = open(os.path.join(workdir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={workdir}/prometheus.yml", f"--storage.tsdb.path={workdir}/tsdb",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def test_dashboard_and_alert_queries_return_series_and_under_replication_fires(cluster):  # noqa: F811
    c = cluster(extra=FAST)
    work = tempfile.mkdtemp(prefix="kb-prometheus-")
    prom = Prometheus([f"127.0.0.1:{c.broker(i).metrics_port}" for i in c.ids], work)
    try:
        c.create_topic("orders", 3, rf=3)
        c.wait_topic("orders", 3)
        p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
        for i in range(30):
            p.produce("orders", key=str(i % 3), value=f"v{i}")
        assert p.flush(15) == 0
        consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "app", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        consumer.subscribe(["orders"])
        got = 0
        deadline = time.time() + 20
        while got < 10 and time.time() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got += 1
        assert got >= 10
        consumer.commit(asynchronous=False)
        consumer.close()
        # One refused request: the error series of the dashboard and the error-rate alert.
        futures = c.admin().create_topics([NewTopic("orders", 3, 3)], operation_timeout=5)
        with pytest.raises(Exception):
            futures["orders"].result(10)

        queries = [(f"panel {title}", expr) for title, expr in panel_queries()]
        queries += [(f"alert {r['alert']}", THRESHOLD.match(r["expr"]).group("query")) for r in alert_rules()]
        missing = {}

        def all_return_series():
            missing.clear()
            for what, expr in queries:
                if not prom.query(expr):
                    missing[what] = expr
            return not missing

        wait_until(all_return_series, 30, "every dashboard and alert query returning series",
                   describe=lambda: json.dumps(missing, indent=1), interval=1)
        assert prom.query('ALERTS{alertname="KbrokerUnderReplicatedPartitions"}') == []
        # Every broker sees the same cluster counts and follows the "orders" partitions it does
        # not lead: a follower lag series each, 3 x 3 replicas - 3 leaders in all.
        followed = 0
        for i in c.ids:
            text = scrape(c.broker(i))
            assert value(text, "kbroker_online_brokers") == 3
            assert value(text, "kbroker_partitions") == value(scrape(c.broker(c.ids[0])), "kbroker_partitions")
            lags = [line for line in text.splitlines()
                    if line.startswith("kbroker_follower_lag_records{") and 'topic="orders"' in line]
            followed += len(lags)
            assert all(float(line.rsplit(" ", 1)[1]) >= 0 for line in lags)
        assert followed == 6
        elections_before = value(scrape(c.broker(c.controller_id())), "kbroker_leader_elections_total")

        victim = c.controller_id() % 3 + 1  # not the controller, so the quorum keeps its leader
        c.kill9(victim)

        def firing():
            return {a["labels"]["alertname"] for a in prom.api("alerts")["alerts"] if a["state"] == "firing"}

        wait_until(lambda: {"KbrokerUnderReplicatedPartitions", "KbrokerBrokerDown"} <= firing(), 30,
                   "the under-replicated and broker-down alerts firing after kill -9",
                   describe=lambda: str(firing()), interval=0.5)
        assert "KbrokerNoActiveController" not in firing()
        # The controller moved the victim's leaderships: elections, none unclean, one broker less.
        ctl = c.broker(c.controller_id())
        wait_until(lambda: value(scrape(ctl), "kbroker_online_brokers") == 2
                   and value(scrape(ctl), "kbroker_leader_elections_total") > elections_before, 15,
                   "the controller counting the victim's partitions' elections")
        assert value(scrape(ctl), "kbroker_unclean_leader_elections_total") == 0
        # The leaders say so in their logs too (Kafka's "Shrinking ISR from ... to ...").
        wait_until(lambda: any("ISR shrunk from" in c.broker(i).log_tail(400000) for i in c.live()), 10,
                   "an ISR shrink logged by a leader")
    finally:
        prom.stop()
        shutil.rmtree(work, ignore_errors=True)
