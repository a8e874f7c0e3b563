"""What an operator reads and scripts against: exit status 78 for configuration errors, the
start-up line (version, configuration file, log dirs), KBROKER_<PROPERTY> variables and their
precedence, a periodic line while no controller is known, no index warnings for empty
segments after a clean shutdown, and scripts/run passing its arguments through."""
import os
import subprocess
import time

from confluent_kafka.admin import AdminClient, NewTopic

from kbroker_harness import KBROKER, REPO, Broker, broker_factory, free_ports  # noqa: F401 (fixture)

EX_CONFIG = 78


def run(*args, env=None, timeout=10):
    e = {k: v for k, v in os.environ.items() if not k.startswith("KBROKER_") or k == "KBROKER_BIN"}
    e.update(env or {})
    return subprocess.run([KBROKER, *args], capture_output=True, text=True, timeout=timeout, env=e)


def write_config(tmp_path, extra=""):
    p = tmp_path / "b.yaml"
    p.write_text(f"node.id: 1\nlog.dirs: {tmp_path}/d\nlisteners: PLAINTEXT://127.0.0.1:0\n"
                 f"metrics.listener: 127.0.0.1:0\nschema.registry.enable: false\n" + extra)
    return str(p)


def test_configuration_errors_exit_78_and_a_bad_command_line_2(tmp_path):
    r = run("--config", write_config(tmp_path, "num.partitions: 0\n"))
    assert r.returncode == EX_CONFIG and "num.partitions" in r.stderr, r.stderr
    r = run("--config", str(tmp_path / "absent.yaml"))
    assert r.returncode == EX_CONFIG and "absent.yaml" in r.stderr, r.stderr
    r = run("--set", "no.such.key=1")
    assert r.returncode == EX_CONFIG and "no.such.key" in r.stderr
    r = run("--no-such-option")
    assert r.returncode == 2


def test_unknown_or_bad_kbroker_variables_are_configuration_errors_naming_the_variable(tmp_path):
    cfg = write_config(tmp_path)
    r = run("--config", cfg, env={"KBROKER_NUM_PARTITION": "3"})
    assert r.returncode == EX_CONFIG and "KBROKER_NUM_PARTITION" in r.stderr, r.stderr
    r = run("--config", cfg, env={"KBROKER_NUM_PARTITIONS": "zero"})
    assert r.returncode == EX_CONFIG, r.stderr
    assert "KBROKER_NUM_PARTITIONS" in r.stderr and "num.partitions" in r.stderr, r.stderr


def described(b, name):
    from confluent_kafka.admin import ConfigResource
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    return admin.describe_configs([res])[res].result(10)[name].value


def test_environment_sets_properties_below_set_and_above_the_file(broker_factory, monkeypatch):
    b = broker_factory({"num.partitions": 2, "default.replication.factor": 1, "log.retention.hours": 10}, start=False)
    monkeypatch.setenv("KBROKER_NUM_PARTITIONS", "5")
    monkeypatch.setenv("KBROKER_LOG_RETENTION_HOURS", "20")
    monkeypatch.setenv("KBROKER_MESSAGE_MAX_BYTES", "2000000")
    b.start()
    assert described(b, "num.partitions") == "5"          # environment over the file
    assert described(b, "message.max.bytes") == "2000000"  # environment over the default
    log = b.log()
    assert "num.partitions from the environment (KBROKER_NUM_PARTITIONS)" in log
    assert "2000000" not in log  # values are not logged (a variable may carry a password)
    b.stop()
    # --set over the environment: the harness has no --set, so run the binary alone.
    r = run("--config", b.config_path, "--set", "num.partitions=0", env={"KBROKER_NUM_PARTITIONS": "5"})
    assert r.returncode == EX_CONFIG and "num.partitions" in r.stderr  # --set's value is the one checked


def test_start_up_names_version_configuration_and_log_dirs_and_empty_segments_reopen_quietly(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("empty", 3, 1)])["empty"].result(10)
    time.sleep(0.5)
    broker.restart()
    log = broker.log()
    version = run("--version").stdout.split()[1]
    assert f"kbroker {version} starting: node.id 1, configuration {broker.config_path}, log.dirs {broker.data}" in log
    second_start = log[log.rfind("starting: node.id"):]
    assert "rebuilding" not in second_start and "missing" not in second_start, second_start


def test_a_voter_without_quorum_says_every_10_s_that_no_controller_is_known(tmp_path):
    port, cport, mport = free_ports(3)
    others = free_ports(2)
    cfg = tmp_path / "b.yaml"
    cfg.write_text(
        f"node.id: 1\nlog.dirs: {tmp_path}/d\nprocess.roles: broker,controller\n"
        f"listeners: PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}\n"
        f"advertised.listeners: PLAINTEXT://127.0.0.1:{port}\ncontroller.listener.names: CONTROLLER\n"
        f"controller.quorum.voters: 1@127.0.0.1:{cport},2@127.0.0.1:{others[0]},3@127.0.0.1:{others[1]}\n"
        f"metrics.listener: 127.0.0.1:{mport}\nschema.registry.enable: false\n")
    logf = open(tmp_path / "log", "wb")
    p = subprocess.Popen([KBROKER, "--config", str(cfg)], stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 25
        text = ""
        while time.time() < deadline and text.count("no active controller known") < 2:
            time.sleep(0.5)
            text = (tmp_path / "log").read_text(errors="replace")
        assert text.count("no active controller known for") >= 2, text[-3000:]
        assert f"controller.quorum.voters: 1@127.0.0.1:{cport}" in text
    finally:
        p.kill()
        p.wait()
        logf.close()


def test_scripts_run_passes_its_arguments_through(tmp_path):
    """scripts/run adds --config config/broker.yaml only when no configuration is named."""
    script = os.path.join(REPO, "scripts", "run")
    with open(script) as f:
        text = f.read()
    # Run the script's dispatch with a fake kbroker that prints its arguments.
    fake = tmp_path / "build"
    fake.mkdir()
    (fake / "kbroker").write_text("#!/bin/sh\necho \"$@\"\n")
    os.chmod(fake / "kbroker", 0o755)
    tail = text[text.index("for a in"):]
    for args, want in [(["--config", "x.yaml"], "--config x.yaml"), (["--config=x.yaml"], "--config=x.yaml"),
                       (["-c", "x.yaml"], "-c x.yaml"), (["--set", "num.partitions=6"],
                                                          "--config config/broker.yaml --set num.partitions=6"),
                       ([], "--config config/broker.yaml")]:
        r = subprocess.run(["bash", "-c", tail, "run", *args], cwd=tmp_path, capture_output=True, text=True)
        assert r.stdout.strip() == want, (args, r.stdout, r.stderr)
