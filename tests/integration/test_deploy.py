"""The deployment files agree with each other and with the broker, without Docker.

deploy/docker-compose.yml, deploy/broker-N.yaml and deploy/prometheus.yml are read as YAML and
checked against one set of cluster rules (node ids, quorum voters, listeners, published ports,
volumes, scrape targets); each deploy/broker-N.yaml is fed to the real binary's config loader;
scripts/cluster's generated configs are checked against the same rules, and the script's
start/status/stop/kill are run against a stub broker and against the real binary.
"""
import copy
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import yaml

from kbroker_harness import KBROKER, REPO, free_ports

DEPLOY = os.path.join(REPO, "deploy")
CLUSTER = os.path.join(REPO, "scripts", "cluster")
BROKER_SERVICES = ["kbroker-1", "kbroker-2", "kbroker-3"]
# Keys whose value is one node's own; every other key must be the same on all nodes.
PER_NODE_KEYS = {"node.id", "listeners", "advertised.listeners", "log.dirs", "metrics.listener",
                 "schema.registry.listener"}
# The cluster contract shared by the compose cluster and scripts/cluster.
CLUSTER_SETTINGS = {
    "process.roles": "broker,controller",
    "default.replication.factor": 3,
    "min.insync.replicas": 2,
    "offsets.topic.replication.factor": 3,
    "transaction.state.log.replication.factor": 3,
    "num.partitions": 3,
}
DEFAULT_PROTOCOL_NAMES = {"PLAINTEXT"}  # the only default map entry kbroker serves
SERVED_PROTOCOLS = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}


# ---------------------------------------------------------------------------------------------
# Parsing


def split_list(value):
    return [x.strip() for x in str(value).split(",") if x.strip()]


def parse_listener(item):
    """NAME://host:port -> (NAME, host, port)."""
    name, rest = item.split("://", 1)
    host, port = rest.rsplit(":", 1)
    return name.upper(), host.strip("[]"), int(port)


def parse_listeners(cfg, key):
    return [parse_listener(i) for i in split_list(cfg.get(key, ""))]


def parse_voters(value):
    """id@host:port,... -> [(id, host, port)]."""
    out = []
    for item in split_list(value):
        node, addr = item.split("@", 1)
        host, port = addr.rsplit(":", 1)
        out.append((int(node), host, int(port)))
    return out


def parse_host_port(value):
    host, port = str(value).rsplit(":", 1)
    return host, int(port)


def parse_port_mapping(item):
    """Compose short syntax [ip:]host:container[/proto] -> (host port, container port)."""
    if isinstance(item, dict):
        return int(item["published"]), int(item["target"])
    parts = str(item).split("/")[0].split(":")
    if len(parts) < 2:
        raise ValueError(f"port {item!r} is not published on the host")
    return int(parts[-2]), int(parts[-1])


def parse_mount(item):
    """Compose short syntax source:target[:mode] -> (source, target, mode)."""
    if isinstance(item, dict):
        return item.get("source"), item["target"], "ro" if item.get("read_only") else "rw"
    parts = str(item).split(":")
    return parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"


def try_check(problems, where, fn):
    """Runs fn(); a parse error becomes a problem instead of a crash."""
    try:
        return fn()
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        problems.append(f"{where}: cannot parse: {e!r}")
        return None


# ---------------------------------------------------------------------------------------------
# Validators: each returns a list of problems (empty = consistent).


def check_nodes(nodes):
    """Rules every cluster of kbroker nodes must satisfy.

    nodes: [(label, host others reach the node by, config dict)]."""
    problems = []
    ids = []
    expected_voters = set()
    voter_lists = []
    for label, reach_host, cfg in nodes:
        where = label
        node_id = cfg.get("node.id")
        if not isinstance(node_id, int):
            problems.append(f"{where}: node.id {node_id!r} is not an integer")
            continue
        ids.append(node_id)
        roles = set(split_list(cfg.get("process.roles", "broker,controller")))
        if not {"broker", "controller"} <= roles:
            problems.append(f"{where}: process.roles {sorted(roles)} is not broker,controller")

        listeners = try_check(problems, f"{where} listeners", lambda: parse_listeners(cfg, "listeners"))
        advertised = try_check(problems, f"{where} advertised.listeners",
                               lambda: parse_listeners(cfg, "advertised.listeners"))
        if listeners is None or advertised is None:
            continue
        names = [n for n, _, _ in listeners]
        ports = [p for _, _, p in listeners]
        if len(set(names)) != len(names):
            problems.append(f"{where}: listener names repeat: {names}")
        if len(set(ports)) != len(ports):
            problems.append(f"{where}: listener ports repeat: {ports}")

        controller_names = [n.upper() for n in split_list(cfg.get("controller.listener.names", ""))]
        if len(controller_names) != 1:
            problems.append(f"{where}: controller.listener.names must name one listener, got "
                            f"{controller_names}")
            continue
        ctl = [(h, p) for n, h, p in listeners if n == controller_names[0]]
        if not ctl:
            problems.append(f"{where}: controller listener {controller_names[0]} is not in listeners")
            continue
        expected_voters.add((node_id, reach_host, ctl[0][1]))

        if "listener.security.protocol.map" in cfg:
            proto = dict(e.split(":", 1) for e in split_list(cfg["listener.security.protocol.map"]))
            proto = {k.upper(): v for k, v in proto.items()}
        else:  # kbroker's default map, plus the controller listeners as PLAINTEXT
            proto = {n: "PLAINTEXT" for n in DEFAULT_PROTOCOL_NAMES | set(controller_names)}
        # kbroker's own connections (replication, the quorum) do not speak TLS or SASL yet: the
        # inter-broker and controller listeners stay PLAINTEXT, clients' may be secured.
        own = set(controller_names) | {str(cfg.get("inter.broker.listener.name", "")).upper()}
        for n in names:
            wanted = {"PLAINTEXT"} if n in own else SERVED_PROTOCOLS
            if proto.get(n) not in wanted:
                problems.append(f"{where}: listener {n} has no {' or '.join(sorted(wanted))} entry in "
                                f"listener.security.protocol.map ({proto.get(n)})")

        if not advertised:
            problems.append(f"{where}: advertised.listeners is empty")
        for n, h, _ in advertised:
            if n not in names:
                problems.append(f"{where}: advertised listener {n} is not one of the listeners {names}")
            if n in controller_names:
                problems.append(f"{where}: the controller listener {n} is advertised")
            if h in ("", "0.0.0.0", "::"):
                problems.append(f"{where}: advertised listener {n} has the non-routable host {h!r}")
        ibl = cfg.get("inter.broker.listener.name")
        if ibl is not None and str(ibl).upper() not in [n for n, _, _ in advertised]:
            problems.append(f"{where}: inter.broker.listener.name {ibl} is not advertised")

        metrics = try_check(problems, f"{where} metrics.listener",
                            lambda: parse_host_port(cfg["metrics.listener"]))
        if metrics and metrics[1] in ports:
            problems.append(f"{where}: metrics.listener port {metrics[1]} is also a listener port")

        voters = try_check(problems, f"{where} controller.quorum.voters",
                           lambda: parse_voters(cfg["controller.quorum.voters"]))
        if voters is not None:
            voter_lists.append((where, voters))

        for key, want in CLUSTER_SETTINGS.items():
            if cfg.get(key) != want:
                problems.append(f"{where}: {key} is {cfg.get(key)!r}, the cluster needs {want!r}")

    if len(set(ids)) != len(ids):
        problems.append(f"node.ids are not distinct: {ids}")
    for where, voters in voter_lists:
        if voters != voter_lists[0][1]:
            problems.append(f"{where}: controller.quorum.voters {voters} differs from "
                            f"{voter_lists[0][0]}'s {voter_lists[0][1]}")
        if set(voters) != expected_voters or len(voters) != len(nodes):
            problems.append(f"{where}: controller.quorum.voters {sorted(voters)} should be exactly the "
                            f"nodes' (id, host, controller port) {sorted(expected_voters)}")
    # Settings other than a node's own must be the same everywhere.
    if nodes:
        first_label, _, first = nodes[0]
        for label, _, cfg in nodes[1:]:
            for key in (set(first) | set(cfg)) - PER_NODE_KEYS:
                if first.get(key) != cfg.get(key):
                    problems.append(f"{label}: {key} is {cfg.get(key)!r} but {first.get(key)!r} in "
                                    f"{first_label}")
    return problems


def check_compose(compose, files):
    """deploy/docker-compose.yml against the files it mounts.

    files: path relative to deploy/ (as the compose file names it, without ./) -> parsed YAML."""
    problems = []
    services = compose.get("services") or {}
    named_volumes = set((compose.get("volumes") or {}).keys())
    brokers = sorted(s for s in services if s.startswith("kbroker"))
    if brokers != BROKER_SERVICES:
        problems.append(f"broker services are {brokers}, expected {BROKER_SERVICES}")

    published = {}  # host port -> service
    nodes = []
    data_volumes = {}
    metrics_targets = set()
    for svc in brokers:
        s = services[svc]
        build = s.get("build") or {}
        context = os.path.normpath(os.path.join(DEPLOY, build.get("context", ".")))
        dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
        if context != REPO or os.path.normpath(dockerfile) != os.path.join(DEPLOY, "Dockerfile"):
            problems.append(f"{svc}: build is {build}, expected context .. and deploy/Dockerfile")
        if s.get("hostname", svc) != svc:
            problems.append(f"{svc}: hostname {s.get('hostname')} differs from the service name")

        mapping = {}
        for item in s.get("ports") or []:
            pm = try_check(problems, f"{svc} ports", lambda: parse_port_mapping(item))
            if pm is None:
                continue
            host_port, container_port = pm
            if host_port in published:
                problems.append(f"{svc}: host port {host_port} is also published by {published[host_port]}")
            published[host_port] = svc
            mapping[host_port] = container_port

        cfg = None
        for item in s.get("volumes") or []:
            source, target, mode = parse_mount(item)
            if target == "/etc/kbroker/broker.yaml":
                rel = os.path.normpath(source)
                if mode != "ro":
                    problems.append(f"{svc}: {source} is mounted read-write")
                if rel not in files:
                    problems.append(f"{svc}: mounted config {source} does not exist")
                else:
                    cfg = files[rel]
            elif target == "/var/lib/kbroker":
                if source not in named_volumes:
                    problems.append(f"{svc}: data volume {source} is not a named volume of the file")
                if source in data_volumes:
                    problems.append(f"{svc}: data volume {source} is also used by {data_volumes[source]}")
                data_volumes[source] = svc
        if svc not in data_volumes.values():
            problems.append(f"{svc}: no named volume mounted at /var/lib/kbroker")
        if cfg is None:
            problems.append(f"{svc}: no config mounted at /etc/kbroker/broker.yaml")
            continue
        nodes.append((svc, svc, cfg))

        for d in split_list(cfg.get("log.dirs", "")):
            if not (d + "/").startswith("/var/lib/kbroker/"):
                problems.append(f"{svc}: log.dirs {d} is not in the volume at /var/lib/kbroker")
        listeners = try_check(problems, f"{svc} listeners", lambda: parse_listeners(cfg, "listeners")) or []
        by_name = {n: p for n, _, p in listeners}
        for n, h, _ in listeners:
            if h not in ("", "0.0.0.0", "::"):
                problems.append(f"{svc}: listener {n} binds {h}, other containers cannot reach it")
        advertised = try_check(problems, f"{svc} advertised.listeners",
                               lambda: parse_listeners(cfg, "advertised.listeners")) or []
        for n, h, p in advertised:
            if h == svc:
                if by_name.get(n) != p:
                    problems.append(f"{svc}: advertised {n} {h}:{p} but the listener is on port "
                                    f"{by_name.get(n)}")
            elif h in ("localhost", "127.0.0.1"):
                if mapping.get(p) is None:
                    problems.append(f"{svc}: advertised {n} {h}:{p} but host port {p} is not published")
                elif mapping[p] != by_name.get(n):
                    problems.append(f"{svc}: host port {p} maps to container port {mapping[p]}, but "
                                    f"listener {n} is on {by_name.get(n)}")
            else:
                problems.append(f"{svc}: advertised {n} host {h} is neither {svc} nor the host's "
                                f"published port")
        metrics = try_check(problems, f"{svc} metrics.listener",
                            lambda: parse_host_port(cfg["metrics.listener"]))
        if metrics:
            if metrics[0] not in ("0.0.0.0", "::"):
                problems.append(f"{svc}: metrics.listener {metrics[0]} is not reachable by Prometheus")
            metrics_targets.add(f"{svc}:{metrics[1]}")

    problems += check_nodes(nodes)

    prom = services.get("prometheus")
    if not prom:
        problems.append("no prometheus service")
        return problems
    if not str(prom.get("image", "")).startswith("prom/prometheus"):
        problems.append(f"prometheus image is {prom.get('image')}")
    prom_cfg = None
    for item in prom.get("volumes") or []:
        source, target, _ = parse_mount(item)
        if target == "/etc/prometheus/prometheus.yml":
            prom_cfg = files.get(os.path.normpath(source))
    if prom_cfg is None:
        problems.append("prometheus: no prometheus.yml mounted at /etc/prometheus/prometheus.yml")
        return problems
    # rule_files are relative to prometheus.yml, in deploy/ as in /etc/prometheus/.
    mounts = {parse_mount(i)[1]: os.path.normpath(parse_mount(i)[0]) for i in prom.get("volumes") or []}
    for rf in prom_cfg.get("rule_files") or []:
        target = os.path.normpath(os.path.join("/etc/prometheus", rf))
        if mounts.get(target) != os.path.normpath(rf):
            problems.append(f"prometheus: rule file {rf} is not mounted from deploy/{rf} at {target}")
    scraped = set()
    for job in prom_cfg.get("scrape_configs") or []:
        if job.get("metrics_path", "/metrics") != "/metrics":
            problems.append(f"prometheus job {job.get('job_name')}: metrics_path {job['metrics_path']}")
        for sc in job.get("static_configs") or []:
            scraped |= set(sc.get("targets") or [])
    if scraped != metrics_targets:
        problems.append(f"prometheus scrapes {sorted(scraped)}, the brokers' metrics listeners are "
                        f"{sorted(metrics_targets)}")
    return problems


def cluster_ports(base, n):
    """scripts/cluster's port scheme (see its header comment)."""
    return {"kafka": base + n - 1, "controller": base + 100 + n - 1, "metrics": base + 552 + n - 1}


def check_local_cluster(configs, state_dir, base):
    """The configs scripts/cluster wrote: configs[n] for n = 1..3."""
    problems = check_nodes([(f"broker-{n}", "127.0.0.1", configs[n]) for n in sorted(configs)])
    if sorted(configs) != [1, 2, 3]:
        problems.append(f"configs for brokers {sorted(configs)}, expected 1..3")
    for n, cfg in configs.items():
        ports = cluster_ports(base, n)
        want = {
            "node.id": n,
            "listeners": f"PLAINTEXT://127.0.0.1:{ports['kafka']},CONTROLLER://127.0.0.1:{ports['controller']}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{ports['kafka']}",
            "controller.listener.names": "CONTROLLER",
            "metrics.listener": f"127.0.0.1:{ports['metrics']}",
            "log.dirs": os.path.join(state_dir, f"data-{n}"),
        }
        for key, value in want.items():
            if cfg.get(key) != value:
                problems.append(f"broker-{n}: {key} is {cfg.get(key)!r}, expected {value!r}")
    return problems


def load_deploy():
    with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    files = {}
    for s in (compose.get("services") or {}).values():
        for item in s.get("volumes") or []:
            source = parse_mount(item)[0]
            path = os.path.join(DEPLOY, source)
            if source.startswith(".") and os.path.isfile(path):
                with open(path) as f:
                    files[os.path.normpath(source)] = yaml.safe_load(f)
    return compose, files


# ---------------------------------------------------------------------------------------------
# (a) the compose cluster is consistent


def test_compose_services_configs_and_prometheus_agree():
    compose, files = load_deploy()
    assert sorted(files) == ["broker-1.yaml", "broker-2.yaml", "broker-3.yaml", "prometheus.yml",
                             "prometheus/alerts.yml"]
    assert check_compose(compose, files) == []


def _mutations():
    """(description, function changing (compose, files) in place, text the problem must contain)."""
    def cfg(n):
        return lambda c, f: f[f"broker-{n}.yaml"]

    def set_key(n, key, fn):
        def apply(c, f):
            f[f"broker-{n}.yaml"][key] = fn(f[f"broker-{n}.yaml"][key])
        return apply

    return [
        ("a voter's controller port differs in one config",
         set_key(2, "controller.quorum.voters", lambda v: v.replace("3@kbroker-3:9093", "3@kbroker-3:9094")),
         "controller.quorum.voters"),
        ("a broker's controller listener moves off the voters' port",
         set_key(3, "listeners", lambda v: v.replace("CONTROLLER://0.0.0.0:9093", "CONTROLLER://0.0.0.0:9095")),
         "controller.quorum.voters"),
        ("the voters name a host that is no service",
         lambda c, f: [f[k].__setitem__("controller.quorum.voters",
                                         f[k]["controller.quorum.voters"].replace("kbroker-2:", "broker2:"))
                       for k in ("broker-1.yaml", "broker-2.yaml", "broker-3.yaml")],
         "controller.quorum.voters"),
        ("two brokers share a node.id",
         set_key(3, "node.id", lambda v: 2), "node.ids are not distinct"),
        ("prometheus scrapes the wrong metrics port",
         lambda c, f: f["prometheus.yml"]["scrape_configs"][0]["static_configs"][0]["targets"].__setitem__(
             1, "kbroker-2:9645"),
         "prometheus scrapes"),
        ("a broker's metrics port differs from what prometheus scrapes",
         set_key(1, "metrics.listener", lambda v: "0.0.0.0:9645"), "prometheus scrapes"),
        ("the published port does not lead to the advertised listener",
         lambda c, f: c["services"]["kbroker-2"].__setitem__("ports", ["19093:19092", "19645:9644"]),
         "maps to container port"),
        ("a broker advertises another broker's name",
         set_key(3, "advertised.listeners", lambda v: v.replace("kbroker-3:", "kbroker-2:")),
         "neither kbroker-3"),
        ("two brokers share a data volume",
         lambda c, f: c["services"]["kbroker-3"].__setitem__(
             "volumes", ["./broker-3.yaml:/etc/kbroker/broker.yaml:ro", "kbroker-2-data:/var/lib/kbroker"]),
         "also used by"),
        ("a listener has no security protocol",
         set_key(1, "listener.security.protocol.map", lambda v: v.replace("EXTERNAL:PLAINTEXT,", "")),
         "listener.security.protocol.map"),
        ("a replication setting differs between brokers",
         set_key(2, "min.insync.replicas", lambda v: 1), "min.insync.replicas"),
    ]


@pytest.mark.parametrize("what,mutate,expect", _mutations(), ids=[m[0] for m in _mutations()])
def test_compose_validator_catches_a_mismatch(what, mutate, expect):
    compose, files = load_deploy()
    compose, files = copy.deepcopy(compose), copy.deepcopy(files)
    mutate(compose, files)
    problems = check_compose(compose, files)
    assert any(expect in p for p in problems), f"{what}: not caught; problems: {problems}"


# ---------------------------------------------------------------------------------------------
# (b) the real binary's config loader accepts each deploy/broker-N.yaml


def run_until_settled(args, timeout_exit=2.0, env=None):
    """Starts kbroker; returns (exit code or None if still running after timeout_exit, output).
    A running process is stopped with SIGTERM and must exit with 0."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([KBROKER] + args, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))
        try:
            rc = proc.wait(timeout_exit)
        except subprocess.TimeoutExpired:
            rc = None
            proc.send_signal(signal.SIGTERM)
            try:
                stop_rc = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                stop_rc = "no exit within 20 s"
        out.seek(0)
        text = out.read().decode(errors="replace")
    if rc is None:
        assert stop_rc == 0, f"kbroker did not stop cleanly on SIGTERM ({stop_rc}):\n{text}"
    return rc, text


def local_overrides(cfg, tmp):
    """--set overrides that move a compose config onto this machine: every bound or dialled
    address becomes a free loopback port and log.dirs a temp dir. Listener names, the
    advertised addresses and every other key stay as in the file."""
    listeners = parse_listeners(cfg, "listeners")
    voters = parse_voters(cfg["controller.quorum.voters"])
    ports = free_ports(len(listeners) + len(voters) + 1)
    ctl_name = split_list(cfg["controller.listener.names"])[0].upper()
    new_listeners, own_ctl_port = [], None
    for (name, _, _), port in zip(listeners, ports):
        new_listeners.append(f"{name}://127.0.0.1:{port}")
        if name == ctl_name:
            own_ctl_port = port
    voter_ports = ports[len(listeners):len(listeners) + len(voters)]
    new_voters = [f"{vid}@127.0.0.1:{own_ctl_port if vid == cfg['node.id'] else port}"
                  for (vid, _, _), port in zip(voters, voter_ports)]
    return ["--set", "listeners=" + ",".join(new_listeners),
            "--set", "controller.quorum.voters=" + ",".join(new_voters),
            "--set", f"log.dirs={tmp}",
            "--set", f"metrics.listener=127.0.0.1:{ports[-1]}"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_deploy_config_is_accepted_by_the_broker(n, tmp_path):
    path = os.path.join(DEPLOY, f"broker-{n}.yaml")
    with open(path) as f:
        cfg = yaml.safe_load(f)
    rc, out = run_until_settled(["--config", path] + local_overrides(cfg, tmp_path / "data"))
    assert "configuration error" not in out, f"kbroker rejected {path}:\n{out}"
    # Loaded: either it runs (stopped cleanly above) or it failed later, at start, for a
    # reason other than the file (today: a quorum of several voters is not served yet).
    assert rc in (None, 1), f"kbroker exited with {rc}:\n{out}"
    if rc == 1:
        assert "could not start" in out, out


def test_the_broker_check_fails_on_a_broken_config(tmp_path):
    """The loader check above has teeth: a listener missing from the protocol map is refused."""
    with open(os.path.join(DEPLOY, "broker-1.yaml")) as f:
        cfg = yaml.safe_load(f)
    cfg["listener.security.protocol.map"] = "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rc, out = run_until_settled(["--config", str(path)] + local_overrides(cfg, tmp_path / "data"))
    assert rc == 78 and "configuration error" in out and "EXTERNAL" in out, out  # EX_CONFIG


# ---------------------------------------------------------------------------------------------
# (b2) the secured profile: deploy/docker-compose.secure.yml over the base file


def merge_compose(base, override):
    """Compose's merge of an override file, for what these files use: a service's volumes by
    their target path, its environment by name, other keys replaced."""
    merged = copy.deepcopy(base)
    for name, svc in (override.get("services") or {}).items():
        into = merged.setdefault("services", {}).setdefault(name, {})
        for key, value in svc.items():
            if key == "volumes":
                mounts = {parse_mount(v)[1]: v for v in into.get("volumes") or []}
                mounts.update({parse_mount(v)[1]: v for v in value})
                into["volumes"] = list(mounts.values())
            elif key == "environment":
                into["environment"] = dict(into.get("environment") or {}, **value)
            else:
                into[key] = value
    return merged


def load_secure_deploy():
    compose, files = load_deploy()
    with open(os.path.join(DEPLOY, "docker-compose.secure.yml")) as f:
        merged = merge_compose(compose, yaml.safe_load(f))
    for s in merged["services"].values():
        for item in s.get("volumes") or []:
            source = os.path.normpath(parse_mount(item)[0])
            if source.endswith(".yaml") and source not in files:
                with open(os.path.join(DEPLOY, source)) as f:
                    files[source] = yaml.safe_load(f)
    return merged, files


def check_secure_profile(compose, files):
    """The secured profile: the rules of the base cluster, plus clients' listener SASL_SSL and
    each broker's own key store mounted where its config reads it."""
    problems = check_compose(compose, files)
    for svc in BROKER_SERVICES:
        s = compose["services"][svc]
        mounts = {parse_mount(v)[1]: parse_mount(v) for v in s.get("volumes") or []}
        cfg = files.get(os.path.normpath(mounts["/etc/kbroker/broker.yaml"][0]), {})
        proto = dict(e.split(":", 1) for e in split_list(cfg.get("listener.security.protocol.map", "")))
        if proto.get("EXTERNAL") != "SASL_SSL":
            problems.append(f"{svc}: EXTERNAL is {proto.get('EXTERNAL')}, expected SASL_SSL")
        store = mounts.get(cfg.get("ssl.keystore.location"))
        if not store or store[0] != f"./secure/certs/{svc}-keystore.pem" or store[2] != "ro":
            problems.append(f"{svc}: ssl.keystore.location {cfg.get('ssl.keystore.location')} is not its own "
                            f"key store mounted read-only ({store})")
        if "KBROKER_BOOTSTRAP_SCRAM_USERS" not in (s.get("environment") or {}):
            problems.append(f"{svc}: no first SCRAM user (KBROKER_BOOTSTRAP_SCRAM_USERS)")
    return problems


def test_secure_profile_agrees_with_the_cluster_rules():
    compose, files = load_secure_deploy()
    assert sorted(f for f in files if f.startswith("secure/")) == [f"secure/broker-{n}.yaml" for n in (1, 2, 3)]
    assert check_secure_profile(compose, files) == []
    # The check has teeth: another broker's key store, or a PLAINTEXT client listener.
    bad = copy.deepcopy(compose)
    bad["services"]["kbroker-2"]["volumes"] = [v.replace("kbroker-2-keystore", "kbroker-1-keystore")
                                               for v in bad["services"]["kbroker-2"]["volumes"]]
    assert any("kbroker-2: ssl.keystore.location" in p for p in check_secure_profile(bad, files))
    files = copy.deepcopy(files)
    files["secure/broker-3.yaml"]["listener.security.protocol.map"] = "INTERNAL:SASL_SSL,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    problems = check_secure_profile(compose, files)
    assert any("kbroker-3: EXTERNAL is PLAINTEXT" in p for p in problems), problems
    assert any("listener INTERNAL has no PLAINTEXT entry" in p for p in problems), problems


@pytest.fixture(scope="module")
def secure_certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("deploy-certs")
    subprocess.run([os.path.join(DEPLOY, "secure", "make-certs"), str(d)], check=True, capture_output=True)
    return d


@pytest.mark.parametrize("n", [1, 2, 3])
def test_secure_profile_config_is_accepted_by_the_broker(n, tmp_path, secure_certs):
    compose, _ = load_secure_deploy()
    env_value = compose["services"][f"kbroker-{n}"]["environment"]["KBROKER_BOOTSTRAP_SCRAM_USERS"]
    env = {"KBROKER_BOOTSTRAP_SCRAM_USERS": re.sub(r"\$\{KBROKER_ADMIN_PASSWORD[^}]*\}", "s3cret", env_value)}
    path = os.path.join(DEPLOY, "secure", f"broker-{n}.yaml")
    with open(path) as f:
        cfg = yaml.safe_load(f)
    store = str(secure_certs / f"kbroker-{n}-keystore.pem")
    rc, out = run_until_settled(["--config", path, "--set", f"ssl.keystore.location={store}"]
                                + local_overrides(cfg, tmp_path / "data"), env=env)
    assert "configuration error" not in out, f"kbroker rejected {path}:\n{out}"
    assert rc in (None, 1), f"kbroker exited with {rc}:\n{out}"
    if rc == 1:
        assert "could not start" in out, out
    # The certificate names the broker as containers and the host reach it.
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", store], capture_output=True, text=True,
                          check=True).stdout
    assert f"DNS:kbroker-{n}" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text


# ---------------------------------------------------------------------------------------------
# (c) scripts/cluster


def free_base_port():
    """A base port whose nine cluster ports are all free on 127.0.0.1."""
    for _ in range(100):
        base = random.randint(20000, 60000)
        socks = []
        try:
            for n in (1, 2, 3):
                for port in cluster_ports(base, n).values():
                    s = socket.socket()
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free base port")


class Cluster:
    def __init__(self, state_dir, base, binary):
        self.dir, self.base, self.binary = str(state_dir), base, binary

    def run(self, *args, env=None, timeout=60):
        e = dict(os.environ, KB_CLUSTER_BASE_PORT=str(self.base), KBROKER_BIN=self.binary)
        e.update(env or {})
        return subprocess.run([CLUSTER, *args, "--dir", self.dir], env=e, capture_output=True,
                              text=True, timeout=timeout)

    def pids(self):
        """broker number -> pid, from status."""
        r = self.run("status")
        return {int(n): int(p) for n, p in re.findall(r"^broker-(\d) running pid (\d+)", r.stdout, re.M)}

    def configs(self):
        out = {}
        for n in (1, 2, 3):
            with open(os.path.join(self.dir, f"broker-{n}.yaml")) as f:
                out[n] = yaml.safe_load(f)
        return out

    def log(self, n):
        try:
            with open(os.path.join(self.dir, f"broker-{n}.log")) as f:
                return f.read()
        except OSError:
            return ""


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(binary):
        c = Cluster(tmp_path / f"cluster-{len(made)}", free_base_port(), binary)
        made.append(c)
        return c

    yield make
    for c in made:  # whatever a test left running
        c.run("kill")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_cluster_script_writes_consistent_configs(cluster_factory):
    c = cluster_factory(KBROKER)
    r = c.run("configs")
    assert r.returncode == 0, r.stderr
    assert check_local_cluster(c.configs(), c.dir, c.base) == []


def test_cluster_script_default_ports(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KB_CLUSTER_BASE_PORT"}
    r = subprocess.run([CLUSTER, "configs", "--dir", str(tmp_path)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    configs = {}
    for n in (1, 2, 3):
        with open(tmp_path / f"broker-{n}.yaml") as f:
            configs[n] = yaml.safe_load(f)
    assert check_local_cluster(configs, str(tmp_path), 19092) == []
    assert [cluster_ports(19092, n)["metrics"] for n in (1, 2, 3)] == [19644, 19645, 19646]
    # Status, in a directory with no brokers: the ports, and exit status 3.
    r = subprocess.run([CLUSTER, "status", "--dir", str(tmp_path)], env=env, capture_output=True, text=True)
    assert r.returncode == 3 and r.stdout.count("not running") == 3, r.stdout + r.stderr
    assert "kafka 127.0.0.1:19094  controller 127.0.0.1:19194  metrics 127.0.0.1:19646" in r.stdout


def test_local_cluster_validator_catches_a_mismatch(cluster_factory):
    c = cluster_factory(KBROKER)
    assert c.run("configs").returncode == 0
    configs = c.configs()
    configs[2]["listeners"] = configs[2]["listeners"].replace(
        str(cluster_ports(c.base, 2)["controller"]), str(c.base + 300))
    problems = check_local_cluster(configs, c.dir, c.base)
    assert any("controller.quorum.voters" in p for p in problems), problems
    assert any("broker-2: listeners" in p for p in problems), problems


STUB_BROKER = r'''#!/usr/bin/python3
# A stand-in for kbroker: binds the configured listeners and serves /metrics. STUB_MODE:
# fail = exit 1 at once, deaf = never listen, ignore-term = survive SIGTERM.
import http.server, os, signal, socket, sys, threading, yaml
cfg = yaml.safe_load(open(sys.argv[sys.argv.index("--config") + 1]))
mode = os.environ.get("STUB_MODE", "")
if mode == "fail":
    print("stub: cannot start: no reason", flush=True)
    sys.exit(1)
def term(*_):
    print("stub: SIGTERM, stopping", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "ignore-term" else term)
socks = []
if mode != "deaf":
    for item in cfg["listeners"].split(","):
        host, port = item.split("://")[1].rsplit(":", 1)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen()
        socks.append(s)
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"kbroker_uptime_seconds 1\nkbroker_controller_active 1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *_):
        pass
host, port = cfg["metrics.listener"].rsplit(":", 1)
srv = http.server.HTTPServer((host, int(port)), Metrics)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("stub: node", cfg["node.id"], "listening", flush=True)
while True:
    signal.pause()
'''


@pytest.fixture
def stub_broker(tmp_path):
    path = tmp_path / "stub-kbroker"
    path.write_text(STUB_BROKER)
    path.chmod(0o755)
    return str(path)


def test_cluster_script_lifecycle(cluster_factory, stub_broker):
    c = cluster_factory(stub_broker)
    r = c.run("start")
    assert r.returncode == 0, r.stdout + r.stderr
    bootstrap = ",".join(f"127.0.0.1:{cluster_ports(c.base, n)['kafka']}" for n in (1, 2, 3))
    assert f"bootstrap servers: {bootstrap}" in r.stdout
    assert check_local_cluster(c.configs(), c.dir, c.base) == []

    r = c.run("status")
    assert r.returncode == 0, r.stdout + r.stderr
    pids = c.pids()
    assert sorted(pids) == [1, 2, 3] and all(alive(p) for p in pids.values())
    assert "kbroker_controller_active 1" in r.stdout  # the controller lines of /metrics
    assert "kbroker_uptime_seconds" not in r.stdout

    r = c.run("start")  # idempotent
    assert r.returncode == 0 and r.stdout.count("already running") == 3, r.stdout + r.stderr
    assert c.pids() == pids

    # Later commands without KB_CLUSTER_BASE_PORT use the cluster's base port.
    env = {k: v for k, v in os.environ.items() if k != "KB_CLUSTER_BASE_PORT"}
    r = subprocess.run([CLUSTER, "status", "--dir", c.dir], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and bootstrap in r.stdout, r.stdout + r.stderr
    # ... and another base port is refused while brokers run.
    r = c.run("start", env={"KB_CLUSTER_BASE_PORT": str(c.base + 1)})
    assert r.returncode == 1 and "stop them" in r.stderr, r.stdout + r.stderr

    r = c.run("kill", "2")
    assert r.returncode == 0, r.stderr
    assert not alive(pids[2])
    r = c.run("status")
    assert r.returncode == 3 and "broker-2 not running" in r.stdout, r.stdout
    assert sorted(c.pids()) == [1, 3]

    r = c.run("start", "2")
    assert r.returncode == 0 and "broker-2 started" in r.stdout, r.stdout + r.stderr
    new = c.pids()
    assert new[1] == pids[1] and new[3] == pids[3] and new[2] != pids[2]

    r = c.run("stop", "1")
    assert r.returncode == 0 and "broker-1 stopped" in r.stdout, r.stdout + r.stderr
    assert not alive(new[1]) and "stub: SIGTERM" in c.log(1)
    assert sorted(c.pids()) == [2, 3]

    r = c.run("stop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broker-1 is not running" in r.stdout and r.stdout.count("stopped") == 2
    assert not any(alive(p) for p in new.values())
    assert not any(f.endswith(".pid") for f in os.listdir(c.dir))
    assert c.run("status").returncode == 3


def test_cluster_script_kills_a_broker_that_ignores_sigterm(cluster_factory, stub_broker):
    c = cluster_factory(stub_broker)
    r = c.run("start", "1", env={"STUB_MODE": "ignore-term"})
    assert r.returncode == 0, r.stdout + r.stderr
    pid = c.pids()[1]
    t = time.monotonic()
    r = c.run("stop", env={"KB_CLUSTER_STOP_TIMEOUT": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" in r.stderr and "SIGKILL" in r.stderr and "broker-1 killed" in r.stdout
    assert not alive(pid) and time.monotonic() - t < 10


def test_cluster_script_reports_a_broker_that_exits(cluster_factory, stub_broker):
    c = cluster_factory(stub_broker)
    r = c.run("start", env={"STUB_MODE": "fail"})
    assert r.returncode == 1
    assert "broker-1 exited during start" in r.stderr and "stub: cannot start" in r.stderr, r.stderr
    assert c.pids() == {}


def test_cluster_script_times_out_on_a_broker_that_does_not_listen(cluster_factory, stub_broker):
    c = cluster_factory(stub_broker)
    r = c.run("start", "3", env={"STUB_MODE": "deaf", "KB_CLUSTER_START_TIMEOUT": "1"})
    assert r.returncode == 1
    assert "broker-3" in r.stderr and "not listening" in r.stderr, r.stderr
    assert "last lines of" in r.stderr and "scripts/cluster start ===" in r.stderr  # the log tail
    assert c.run("stop").returncode == 0
    assert c.pids() == {}


def test_cluster_script_refuses_a_kafka_port_in_use(cluster_factory, stub_broker):
    c = cluster_factory(stub_broker)
    with socket.socket() as s:
        s.bind(("127.0.0.1", cluster_ports(c.base, 2)["kafka"]))
        s.listen()
        r = c.run("start", "2")
    assert r.returncode == 1 and "in use by another process" in r.stderr, r.stdout + r.stderr
    assert c.pids() == {}


def test_cluster_script_runs_the_real_broker(cluster_factory):
    """Processes start, listen and stop cleanly; cluster behaviour is not asserted here."""
    c = cluster_factory(KBROKER)
    r = c.run("start")
    if r.returncode != 0 and "does not replicate the metadata log yet" in r.stderr:
        c.run("stop")
        pytest.skip("this kbroker serves no multi-voter quorum yet: " + r.stderr.splitlines()[0])
    assert r.returncode == 0, r.stdout + r.stderr
    pids = c.pids()
    assert sorted(pids) == [1, 2, 3]
    r = c.run("status")
    assert r.returncode == 0 and r.stdout.count(" running pid ") == 3, r.stdout + r.stderr
    r = c.run("stop")
    assert r.returncode == 0 and r.stdout.count("stopped") == 3, r.stdout + r.stderr
    assert "warning" not in r.stderr
    for n in (1, 2, 3):
        assert not alive(pids[n])
        assert "shutdown complete" in c.log(n), c.log(n)
