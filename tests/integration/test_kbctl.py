"""kbctl (issue 18, item 1) against real brokers: one broker, and a three-broker cluster reached
through broker 1 only (so requests for other leaders and coordinators must find them). Every
command, JSON output parsed, table output checked for what a person reads, exit codes.

One broker and one cluster per module (the fixture is module-scoped and parametrized)."""
import datetime
import json
import os
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as CTP

from cluster_harness import Cluster, wait_until
from kbroker_harness import REPO, Broker, free_ports
from kbctl_util import KBCTL, kbctl, kbctl_json


class Target:
    def __init__(self, kind, brokers, ids, bootstrap, all_bootstrap, rf, cluster=None):
        self.kind, self.brokers, self.ids, self.bootstrap = kind, brokers, ids, bootstrap
        self.all_bootstrap, self.rf, self.cluster = all_bootstrap, rf, cluster


@pytest.fixture(scope="module", params=["one", "three"])
def target(request):
    if request.param == "one":
        b = Broker()
        try:
            b.start()
            yield Target("one", [b], [1], b.bootstrap, b.bootstrap, 1)
        finally:
            b.cleanup()
        return
    c = Cluster(3, {"broker.session.timeout.ms": 4000, "replica.lag.time.max.ms": 4000,
                    "offsets.topic.num.partitions": 6})
    try:
        c.start_all()
        c.wait_ready(60)
        yield Target("three", [c.nodes[i] for i in c.ids], c.ids, c.nodes[1].bootstrap, c.bootstrap, 3, c)
    finally:
        crashed = c.crashed()
        c.cleanup()
        assert not crashed, f"node(s) exited unexpectedly: {crashed}"


def unique(prefix):
    return f"{prefix}-{int(time.time() * 1000) % 10**8}"


def wait_healthy(t, timeout=60):
    return wait_until(lambda: kbctl(t.bootstrap, "--format", "json", "cluster", "health").rc == 0, timeout,
                      "cluster health exit 0", describe=lambda: repr(kbctl(t.bootstrap, "cluster", "health")))


# ---- no broker needed ---------------------------------------------------------------------------


def test_help_on_every_command_and_usage_errors():
    top = kbctl(None, "--help")
    assert top.rc == 0 and "Exit codes" in top.out
    commands = [line.split()[:2] for line in top.out.splitlines()
                if line.startswith("  ") and line.split()[0] in ("cluster", "topic", "group", "config")]
    names = {" ".join(c) for c in commands}
    assert {"cluster info", "cluster health", "topic create", "topic list", "topic describe", "topic alter-config",
            "topic add-partitions", "topic delete", "topic produce", "topic consume", "group list",
            "group describe", "group seek", "group delete", "config get", "config set"} <= names
    for c in commands:
        r = kbctl(None, *c, "--help")
        assert r.rc == 0 and r.out.startswith("Usage: kbctl " + " ".join(c)), r
    assert kbctl(None, "topic", "--help").out.count("topic ") >= 8
    bad = kbctl(None, "nosuch")
    assert bad.rc == 2 and "unknown command" in bad.err
    bad = kbctl("127.0.0.1:1", "topic", "create")
    assert bad.rc == 2 and "expected NAME" in bad.err
    bad = kbctl("127.0.0.1:1", "topic", "list", "--bogus")
    assert bad.rc == 2 and "unknown option --bogus" in bad.err
    bad = kbctl("127.0.0.1:1", "group", "seek", "g", "--to", "yesterday")
    assert bad.rc == 2 and "--to" in bad.err
    assert kbctl("nonsense", "cluster", "info").rc == 2


def test_no_broker_reachable_is_exit_3_and_names_the_address():
    port = free_ports(1)[0]
    r = kbctl(f"127.0.0.1:{port}", "cluster", "info")
    assert r.rc == 3, r
    assert f"127.0.0.1:{port}" in r.err
    # KBCTL_BROKERS is the default for -X brokers
    env = dict(os.environ, KBCTL_BROKERS=f"127.0.0.1:{port}")
    r = kbctl(None, "cluster", "info", env=env)
    assert r.rc == 3 and f"127.0.0.1:{port}" in r.err


def test_profile_file_and_its_precedence(tmp_path):
    p1, p2, p3 = free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBCTL_")}
    env["HOME"] = str(tmp_path)
    env.pop("XDG_CONFIG_HOME", None)
    home_profile = tmp_path / ".config" / "kbctl" / "kbctl.yaml"
    home_profile.parent.mkdir(parents=True)
    home_profile.write_text(f"brokers: [127.0.0.1:{p1}]\ntimeout.ms: 3000\n")
    # ~/.config/kbctl/kbctl.yaml is read by default...
    r = kbctl(None, "cluster", "info", env=env)
    assert r.rc == 3 and f"127.0.0.1:{p1}" in r.err, r
    # ...KBCTL_CONFIG names another file...
    named = tmp_path / "other.yaml"
    named.write_text(f"brokers: 127.0.0.1:{p2}\n")
    r = kbctl(None, "cluster", "info", env=dict(env, KBCTL_CONFIG=str(named)))
    assert r.rc == 3 and f"127.0.0.1:{p2}" in r.err, r
    # ...the environment beats the profile, a flag beats both.
    r = kbctl(None, "cluster", "info", env=dict(env, KBCTL_BROKERS=f"127.0.0.1:{p3}"))
    assert r.rc == 3 and f"127.0.0.1:{p3}" in r.err, r
    r = kbctl(f"127.0.0.1:{p2}", "cluster", "info", env=dict(env, KBCTL_BROKERS=f"127.0.0.1:{p3}"))
    assert r.rc == 3 and f"127.0.0.1:{p2}" in r.err, r
    # Mistakes name the file and the key.
    r = kbctl(None, "cluster", "info", env=dict(env, KBCTL_CONFIG=str(tmp_path / "missing.yaml")))
    assert r.rc == 2 and "missing.yaml" in r.err, r
    named.write_text("brokers: x:1\nformat: xml\n")
    r = kbctl(None, "cluster", "info", env=dict(env, KBCTL_CONFIG=str(named)))
    assert r.rc == 2 and "other.yaml: format" in r.err, r
    named.write_text("bootstrap: x:1\n")
    r = kbctl(None, "cluster", "info", env=dict(env, KBCTL_CONFIG=str(named)))
    assert r.rc == 2 and "unknown key 'bootstrap'" in r.err, r
    help_text = kbctl(None, "--help", env=env).out
    assert "kbctl.yaml" in help_text and "flag > environment" in help_text


# ---- cluster ------------------------------------------------------------------------------------


def test_cluster_info(target):
    info = kbctl_json(target.bootstrap, "cluster", "info")
    assert sorted(b["id"] for b in info["brokers"]) == target.ids
    assert info["controller_id"] in target.ids
    assert info["cluster_id"]
    assert {b["port"] for b in info["brokers"]} == {b.port for b in target.brokers}
    table = kbctl(target.bootstrap, "cluster", "info")
    assert table.rc == 0
    assert "CONTROLLER" in table.out and info["cluster_id"] in table.out
    for b in target.brokers:
        assert str(b.port) in table.out


def test_cluster_health_when_healthy(target):
    wait_healthy(target)
    h = kbctl_json(target.bootstrap, "cluster", "health")
    assert h["healthy"] is True and h["unhealthy_reasons"] == []
    assert h["brokers"] == target.ids and h["under_replicated_partitions"] == []
    table = kbctl(target.bootstrap, "cluster", "health")
    assert table.rc == 0 and "HEALTHY" in table.out and "yes" in table.out


# ---- topics -------------------------------------------------------------------------------------


def test_topic_create_list_describe_alter_grow_delete(target):
    t = unique("orders")
    r = kbctl_json(target.bootstrap, "topic", "create", t, "-p", "3", "-r", str(target.rf),
                   "-c", "retention.ms=86400000", "-c", "max.message.bytes=200000")
    assert len(r) == 1 and r[0]["error"] is None and r[0]["error_message"] is None
    assert (r[0]["name"], r[0]["partitions"], r[0]["replication_factor"]) == (t, 3, target.rf)
    again = kbctl(target.bootstrap, "topic", "create", t, "-p", "3")
    assert again.rc == 1 and "TOPIC_ALREADY_EXISTS" in again.err and "broker" in again.err

    listed = wait_until(lambda: [x for x in kbctl_json(target.bootstrap, "topic", "list") if x["name"] == t], 20,
                        "the topic listed")
    assert listed[0]["partitions"] == 3 and listed[0]["replication_factor"] == target.rf
    assert "__consumer_offsets" not in [x["name"] for x in kbctl_json(target.bootstrap, "topic", "list")]
    table = kbctl(target.bootstrap, "topic", "list")
    assert t in table.out and "PARTITIONS" in table.out

    def described():
        d = kbctl_json(target.bootstrap, "topic", "describe", t)
        return d if all(p["high_watermark"] == 0 and len(p["isr"]) == target.rf for p in d["partitions"]) else None
    d = wait_until(described, 30, "describe with every partition's offsets and full ISR")
    assert d["partition_count"] == 3 and d["replication_factor"] == target.rf and d["internal"] is False
    configs = {c["name"]: c for c in d["configs"]}
    assert configs["retention.ms"]["value"] == "86400000"
    assert configs["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    assert set(configs) == {"retention.ms", "max.message.bytes"}  # overrides only by default
    assert [p["partition"] for p in d["partitions"]] == [0, 1, 2]
    for p in d["partitions"]:
        assert p["leader"] in target.ids and sorted(p["replicas"]) == sorted(p["isr"])
        assert p["log_start_offset"] == 0
    every = kbctl_json(target.bootstrap, "topic", "describe", t, "--all-configs")
    sources = {c["name"]: c["source"] for c in every["configs"]}
    assert sources["cleanup.policy"] == "DEFAULT_CONFIG" and sources["retention.ms"] == "DYNAMIC_TOPIC_CONFIG"
    table = kbctl(target.bootstrap, "topic", "describe", t)
    assert table.rc == 0
    for word in ("retention.ms", "86400000", "LEADER", "ISR", "HIGH-WATERMARK", "PARTITIONS"):
        assert word in table.out, table

    r = kbctl(target.bootstrap, "topic", "alter-config", t, "-s", "cleanup.policy=compact", "-d", "retention.ms")
    assert r.rc == 0, r
    assert "cleanup.policy" in r.out

    def altered():
        cfg = {c["name"]: c["value"] for c in kbctl_json(target.bootstrap, "topic", "describe", t)["configs"]}
        return cfg == {"cleanup.policy": "compact", "max.message.bytes": "200000"}
    wait_until(altered, 20, "alter-config visible in describe")
    bad = kbctl(target.bootstrap, "topic", "alter-config", t, "-s", "cleanup.policy=sideways")
    assert bad.rc == 1 and "INVALID_CONFIG" in bad.err and "cleanup.policy" in bad.err

    assert kbctl_json(target.bootstrap, "topic", "add-partitions", t, "5")[0]["partitions"] == 5
    wait_until(lambda: kbctl_json(target.bootstrap, "topic", "describe", t)["partition_count"] == 5, 20, "5 partitions")
    assert kbctl(target.bootstrap, "topic", "add-partitions", t, "+1").rc == 0
    wait_until(lambda: kbctl_json(target.bootstrap, "topic", "describe", t)["partition_count"] == 6, 20, "6 partitions")
    shrink = kbctl(target.bootstrap, "topic", "add-partitions", t, "2")
    assert shrink.rc == 1 and "INVALID_PARTITIONS" in shrink.err

    assert kbctl_json(target.bootstrap, "topic", "delete", t) == [{"name": t, "error": None, "error_message": None}]
    gone = wait_until(lambda: (lambda r: r if r.rc == 4 else None)(kbctl(target.bootstrap, "topic", "describe", t)),
                      20, "describe of a deleted topic: exit 4")
    assert "does not exist" in gone.err
    missing = kbctl(target.bootstrap, "topic", "delete", t)
    assert missing.rc == 4 and "UNKNOWN_TOPIC_OR_PARTITION" in missing.err


# ---- records ------------------------------------------------------------------------------------


def make_topic(target, partitions):
    t = unique("rec")
    assert kbctl(target.bootstrap, "topic", "create", t, "-p", str(partitions), "-r", str(target.rf)).rc == 0
    wait_until(lambda: all(p["high_watermark"] == 0 for p in kbctl_json(target.bootstrap, "topic", "describe", t)["partitions"]),
               30, f"topic {t} ready on its leaders")
    return t


def test_produce_and_consume(target):
    t = make_topic(target, 3)
    lines = "".join(f"key{i}:value {i}\n" for i in range(30))
    r = kbctl(target.bootstrap, "--format", "json", "topic", "produce", t, "-K", ":", "-H", "source=kbctl", stdin=lines)
    out = r.json()
    assert out["records"] == 30 and sum(p["records"] for p in out["partitions"]) == 30

    got = kbctl(target.bootstrap, "--format", "json", "topic", "consume", t, "-e")
    assert got.rc == 0, got
    records = [json.loads(line) for line in got.out.splitlines()]
    assert sorted((x["key"], x["value"]) for x in records) == sorted((f"key{i}", f"value {i}") for i in range(30))
    assert all(x["headers"] == [{"key": "source", "value": "kbctl"}] for x in records)
    # Kafka's default partitioner: the partition a murmur2 producer picks for the same key
    placed = {}
    p = Producer({"bootstrap.servers": target.all_bootstrap, "partitioner": "murmur2_random"})
    for i in (0, 7, 19):
        p.produce(t, key=f"key{i}", value=b"check", on_delivery=lambda err, msg: placed.__setitem__(msg.key().decode(), msg.partition()))
    p.flush(30)
    by_key = {x["key"]: x["partition"] for x in records}
    assert {k: by_key[k] for k in placed} == placed

    # -n, -f, -p and --offset
    fmt = kbctl(target.bootstrap, "topic", "consume", t, "-p", "0", "-o", "start", "-n", "2", "-f", "%p|%o|%k|%v|%h\\n")
    assert fmt.rc == 0, fmt
    rows = fmt.out.splitlines()
    assert len(rows) == 2 and all(row.startswith("0|") and row.endswith("|source=kbctl") for row in rows)
    assert [row.split("|")[1] for row in rows] == ["0", "1"]
    tail = kbctl(target.bootstrap, "topic", "consume", t, "-p", "0", "-o", "1", "-e", "-f", "%o\\n")
    assert tail.out.splitlines()[0] == "1"
    values = kbctl(target.bootstrap, "topic", "consume", t, "-e")
    assert sorted(v for v in values.out.splitlines() if v != "check") == sorted(f"value {i}" for i in range(30))
    # unkeyed lines round-robin; a fixed partition
    r = kbctl(target.bootstrap, "topic", "produce", t, "-p", "2", stdin="a\nb\n")
    assert r.rc == 0 and "produced 2 records" in r.out
    assert kbctl(target.bootstrap, "topic", "produce", t, "-p", "9", stdin="a\n").rc == 4
    assert kbctl(target.bootstrap, "topic", "consume", unique("nosuch"), "-e").rc == 4


# ---- groups -------------------------------------------------------------------------------------


def test_group_describe_lag_seek_and_delete(target):
    t = make_topic(target, 2)
    group = unique("app")
    assert kbctl(target.bootstrap, "topic", "produce", t, "-p", "0", "-q", stdin="".join(f"a{i}\n" for i in range(6))).rc == 0
    assert kbctl(target.bootstrap, "topic", "produce", t, "-p", "1", "-q", stdin="".join(f"b{i}\n" for i in range(4))).rc == 0

    c = Consumer({"bootstrap.servers": target.all_bootstrap, "group.id": group, "client.id": "lag-checker",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.subscribe([t])
        seen = 0
        deadline = time.time() + 60
        while seen < 10 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                seen += 1
        assert seen == 10
        c.commit(offsets=[CTP(t, 0, 3), CTP(t, 1, 4)], asynchronous=False)

        def stable():
            d = kbctl_json(target.bootstrap, "group", "describe", group)
            return d if d["state"] == "Stable" and len(d["partitions"]) == 2 else None
        d = wait_until(stable, 30, "group Stable with both partitions")
        assert d["coordinator"] in target.ids and d["protocol_type"] == "consumer"
        assert len(d["members"]) == 1 and d["members"][0]["client_id"] == "lag-checker"
        assert sorted((a["topic"], a["partition"]) for a in d["members"][0]["assignment"]) == [(t, 0), (t, 1)]
        lag = {p["partition"]: (p["committed_offset"], p["log_end_offset"], p["lag"]) for p in d["partitions"]}
        assert lag == {0: (3, 6, 3), 1: (4, 4, 0)}
        assert d["total_lag"] == 3
        table = kbctl(target.bootstrap, "group", "describe", group)
        for word in ("LAG", "CURRENT-OFFSET", "LOG-END-OFFSET", "lag-checker", "Stable", "TOTAL-LAG"):
            assert word in table.out, table
        assert group in [g["group"] for g in kbctl_json(target.bootstrap, "group", "list")]

        busy = kbctl(target.bootstrap, "group", "seek", group, "--to", "start")
        assert busy.rc == 1 and "active member" in busy.err
    finally:
        c.close()

    def offsets():
        d = kbctl_json(target.bootstrap, "group", "describe", group)
        return {p["partition"]: p["committed_offset"] for p in d["partitions"]}

    wait_until(lambda: kbctl_json(target.bootstrap, "group", "describe", group)["members"] == [], 30, "no members")
    listed = {g["group"]: g for g in kbctl_json(target.bootstrap, "group", "list")}
    assert listed[group]["state"] == "Empty" and listed[group]["coordinator"] in target.ids
    r = kbctl_json(target.bootstrap, "group", "seek", group, "--to", "start")
    assert {p["partition"]: (p["old_offset"], p["new_offset"]) for p in r["partitions"]} == {0: (3, 0), 1: (4, 0)}
    assert offsets() == {0: 0, 1: 0}
    assert kbctl_json(target.bootstrap, "group", "describe", group)["total_lag"] == 10
    kbctl_json(target.bootstrap, "group", "seek", group, "--to", "end")
    assert offsets() == {0: 6, 1: 4}
    kbctl_json(target.bootstrap, "group", "seek", group, "--to", "5")  # 5 on p0; p1 has 4: clamped
    assert offsets() == {0: 5, 1: 4}
    dry = kbctl(target.bootstrap, "group", "seek", group, "--to", "start", "--dry-run")
    assert dry.rc == 0 and "dry run" in dry.out and offsets() == {0: 5, 1: 4}

    # by time: records after `cut` start at offset 6 of partition 0
    time.sleep(0.05)
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    assert kbctl(target.bootstrap, "topic", "produce", t, "-p", "0", "-q", stdin="late1\nlate2\n").rc == 0
    r = kbctl_json(target.bootstrap, "group", "seek", group, "--to", f"@{cut}", "--topics", t)
    assert {p["partition"]: p["new_offset"] for p in r["partitions"]} == {0: 6, 1: 4}  # p1: no later record -> end
    kbctl_json(target.bootstrap, "group", "seek", group, "--to", "start")
    iso = datetime.datetime.fromtimestamp(cut / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    r = kbctl_json(target.bootstrap, "group", "seek", group, "--to", iso)
    assert {p["partition"]: p["new_offset"] for p in r["partitions"]} == {0: 6, 1: 4}

    # consume -g: starts at the committed offsets, commits its position
    got = kbctl(target.bootstrap, "topic", "consume", t, "-g", group, "-e", "-f", "%p:%v\\n")
    assert sorted(got.out.splitlines()) == ["0:late1", "0:late2"], got
    assert offsets() == {0: 8, 1: 4}

    d = kbctl_json(target.bootstrap, "group", "delete", group)
    assert d == [{"group": group, "error": None, "error_message": None}]
    missing = kbctl(target.bootstrap, "group", "describe", group)
    assert missing.rc == 4 and "does not exist" in missing.err
    again = kbctl(target.bootstrap, "group", "delete", group)
    assert again.rc == 4 and "GROUP_ID_NOT_FOUND" in again.err


def test_consume_with_a_group_joins_it_and_commits_what_it_printed(target, tmp_path):
    import signal
    import threading
    t = make_topic(target, 2)
    group = unique("member")
    for p in (0, 1):
        assert kbctl(target.bootstrap, "topic", "produce", t, "-p", str(p), "-q",
                     stdin="".join(f"v{p}-{i}\n" for i in range(5))).rc == 0
    # A profile gives the brokers and the format (json) this time.
    profile = tmp_path / "kbctl.yaml"
    profile.write_text(f"brokers: [{target.bootstrap}]\nformat: json\ntimeout.ms: 15000\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBCTL_")}
    env["KBCTL_CONFIG"] = str(profile)
    proc = subprocess.Popen([KBCTL, "topic", "consume", t, "-g", group], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        def member():
            d = kbctl_json(target.bootstrap, "group", "describe", group)
            return d if d["state"] == "Stable" and len(d["members"]) == 1 else None
        d = wait_until(member, 40, "kbctl a member of its group")
        assert d["protocol_type"] == "consumer" and d["protocol"] == "range"
        assert d["members"][0]["client_id"] == "kbctl"
        assert sorted((a["topic"], a["partition"]) for a in d["members"][0]["assignment"]) == [(t, 0), (t, 1)]
        wait_until(lambda: len(lines) >= 10, 30, "kbctl printing the ten records")
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        reader.join(5)
    assert rc == 0, proc.stderr.read()
    assert sorted(json.loads(x)["value"] for x in lines) == sorted(f"v{p}-{i}" for p in (0, 1) for i in range(5))
    # It committed what it printed and left: no member, no lag.
    d = wait_until(lambda: (lambda d: d if d["members"] == [] else None)(
        kbctl_json(target.bootstrap, "group", "describe", group)), 30, "kbctl gone from the group")
    assert {p["partition"]: p["committed_offset"] for p in d["partitions"]} == {0: 5, 1: 5}
    assert d["total_lag"] == 0
    # More records: lag, until the next `consume -g` prints them.
    assert kbctl(target.bootstrap, "topic", "produce", t, "-p", "1", "-q", stdin="late\n").rc == 0
    assert kbctl_json(target.bootstrap, "group", "describe", group)["total_lag"] == 1
    got = kbctl(target.bootstrap, "topic", "consume", t, "-g", group, "-e")
    assert got.out.splitlines() == ["late"], got
    assert kbctl_json(target.bootstrap, "group", "describe", group)["total_lag"] == 0
    assert kbctl(target.bootstrap, "topic", "consume", t, "-g", group, "-p", "0").rc == 2


# ---- broker configs -----------------------------------------------------------------------------


def test_config_get_and_set(target):
    node = target.ids[-1]
    got = kbctl_json(target.bootstrap, "config", "get", "log.retention.ms", "num.partitions", "--broker", str(node))
    assert got["broker"] == node
    assert {c["name"] for c in got["configs"]} == {"log.retention.ms", "num.partitions"}
    everything = kbctl_json(target.bootstrap, "config", "get")
    assert len(everything["configs"]) > 50
    assert kbctl(target.bootstrap, "config", "get", "no.such.config").rc == 4
    table = kbctl(target.bootstrap, "config", "get", "log.retention.ms")
    assert "log.retention.ms" in table.out and "SOURCE" in table.out

    def value_and_source(n):
        c = kbctl_json(target.bootstrap, "config", "get", "log.retention.ms", "--broker", str(n))["configs"][0]
        return c["value"], c["source"]

    assert kbctl(target.bootstrap, "config", "set", "log.retention.ms=3600000").rc == 0
    for n in target.ids:
        wait_until(lambda: value_and_source(n) == ("3600000", "DYNAMIC_DEFAULT_BROKER_CONFIG"), 20,
                   f"cluster-wide default on broker {n}")
    assert kbctl(target.bootstrap, "config", "set", "log.retention.ms=7200000", "--broker", str(node)).rc == 0
    wait_until(lambda: value_and_source(node) == ("7200000", "DYNAMIC_BROKER_CONFIG"), 20, "per-broker value")
    assert kbctl(target.bootstrap, "config", "set", "-d", "log.retention.ms", "--broker", str(node)).rc == 0
    assert kbctl(target.bootstrap, "config", "set", "-d", "log.retention.ms").rc == 0
    wait_until(lambda: value_and_source(node)[1] != "DYNAMIC_BROKER_CONFIG" and value_and_source(node)[0] != "3600000",
               20, "dynamic values removed")
    bad = kbctl(target.bootstrap, "config", "set", "log.retention.ms=soon")
    assert bad.rc == 1 and ("INVALID_REQUEST" in bad.err or "INVALID_CONFIG" in bad.err) and "log.retention.ms" in bad.err


# ---- last: a broker down ------------------------------------------------------------------------


def test_cluster_health_reports_a_dead_broker(target):
    if target.kind != "three":
        pytest.skip("needs a cluster")
    t = make_topic(target, 3)
    target.cluster.kill9(3)

    def unhealthy():
        r = kbctl(target.bootstrap, "--format", "json", "cluster", "health")
        h = json.loads(r.out) if r.out else {}
        return r if r.rc == 1 and h["under_replicated_partitions"] and 3 in h["brokers_down"] else None
    r = wait_until(unhealthy, 30, "cluster health exit 1 after kill -9 of broker 3")
    h = json.loads(r.out)
    assert h["healthy"] is False and "under-replicated partitions" in h["unhealthy_reasons"]
    assert any(p.startswith(t + "-") for p in h["under_replicated_partitions"])
    assert 3 in h["brokers_down"]
    table = kbctl(target.bootstrap, "cluster", "health")
    assert table.rc == 1 and "no (" in table.out and t + "-0" in table.out
    # records still go to and come from the remaining leaders
    assert kbctl(target.bootstrap, "topic", "produce", t, "-q", stdin="x\ny\nz\n").rc == 0
    got = kbctl(target.bootstrap, "topic", "consume", t, "-e")
    assert sorted(got.out.splitlines()) == ["x", "y", "z"], got


def complete(*words, brokers=None):
    """What tools/kbctl/kbctl.bash-completion offers after `kbctl words...` (the last word is
    the one being completed), with build/kbctl on PATH for topic and group names."""
    line = ["kbctl"] + (["-X", f"brokers={brokers}"] if brokers else []) + list(words)
    script = (f"source {REPO}/tools/kbctl/kbctl.bash-completion; COMP_WORDS=({' '.join(repr(w) for w in line)}); "
              f"COMP_CWORD={len(line) - 1}; _kbctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    env = dict(os.environ, PATH=os.path.dirname(KBCTL) + ":" + os.environ["PATH"])
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    return sorted(out.stdout.split())


def test_bash_completion_offers_commands_options_and_topic_names(target):
    if target.kind != "one":
        pytest.skip("one broker is enough")
    assert complete("") == sorted(["cluster", "topic", "group", "config", "help", "-X", "-b", "--brokers",
                                   "--format", "--help", "--version"])
    assert complete("topic", "de") == ["delete", "describe"]
    assert "--partitions" in complete("topic", "create", "--")
    assert complete("group", "seek", "g", "--to", "") == ["end", "start"]
    t = make_topic(target, 1)
    assert t in complete("topic", "describe", "", brokers=target.bootstrap)
