"""Two brokers on one data directory (issue 13, item 2): the second kbroker started on a live
broker's log.dirs refuses to start, naming the dir and the holder's pid, with a non-zero exit
code, and changes nothing the first one wrote."""
import os
import subprocess

from confluent_kafka import Producer

from kbroker_harness import KBROKER, Broker
from test_produce_consume import create_topic


def test_a_second_broker_on_the_same_log_dirs_refuses_to_start(broker_factory):
    first = broker_factory()
    create_topic(first.bootstrap, "mine", 1)
    p = Producer({"bootstrap.servers": first.bootstrap})
    for i in range(10):
        p.produce("mine", value=b"v%d" % i)
    assert p.flush(15) == 0
    before = {f: os.path.getsize(os.path.join(first.data, "__cluster_metadata-0", f))
              for f in os.listdir(os.path.join(first.data, "__cluster_metadata-0")) if f.endswith(".log")}

    second = Broker({"log.dirs": first.data})  # its own ports and config dir
    try:
        second.write_config()
        r = subprocess.run([KBROKER, "--config", second.config_path], capture_output=True, timeout=30)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode != 0, out
        assert first.data in out, out
        assert f"pid {first.proc.pid}" in out, out
    finally:
        second.cleanup()

    # The first broker is untouched: same metadata log, still serving, and its own clean
    # shutdown writes the marker (the refused one wrote none and removed none).
    after = {f: os.path.getsize(os.path.join(first.data, "__cluster_metadata-0", f))
             for f in os.listdir(os.path.join(first.data, "__cluster_metadata-0")) if f.endswith(".log")}
    assert after == before
    p.produce("mine", value=b"after")
    assert p.flush(15) == 0
    first.stop()
    assert os.path.exists(os.path.join(first.data, ".kafka_cleanshutdown"))
    logged = os.path.getsize(first.log_path)
    first.start()
    with open(first.log_path, "rb") as f:
        f.seek(logged)
        assert b"no clean-shutdown marker" not in f.read()
