"""Prometheus metrics at /metrics describe what the broker did."""
import re
import urllib.request

from confluent_kafka import Producer

from test_produce_consume import create_topic


def scrape(b):
    with urllib.request.urlopen(f"http://127.0.0.1:{b.metrics_port}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def value(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_follow_produce_and_requests(broker):
    create_topic(broker.bootstrap, "m", 2)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(120):
        p.produce("m", value=b"v" * 50, partition=i % 2)
    assert p.flush(10) == 0
    text = scrape(broker)
    assert value(text, "kbroker_requests_total", api="Produce") >= 1
    assert value(text, "kbroker_requests_total", api="Metadata") >= 1
    assert value(text, "kbroker_request_duration_seconds_count", api="Produce") >= 1
    assert value(text, "kbroker_topic_records_in_total", topic="m") == 120
    assert value(text, "kbroker_topic_bytes_in_total", topic="m") > 120 * 50
    assert value(text, "kbroker_partition_log_end_offset", topic="m", partition="0") == 60
    assert value(text, "kbroker_partition_log_end_offset", topic="m", partition="1") == 60
    assert value(text, "kbroker_partition_log_size_bytes", topic="m", partition="0") > 0
    assert value(text, "kbroker_connections_open") >= 1
    assert value(text, "kbroker_uptime_seconds") > 0

    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition("m", p, OFFSET_BEGINNING) for p in (0, 1)])
    got = 0
    import time
    deadline = time.time() + 15
    while got < 120 and time.time() < deadline:
        got += len([m for m in c.consume(200, 0.5) if not m.error()])
    c.close()
    assert got == 120
    text = scrape(broker)
    assert value(text, "kbroker_topic_records_out_total", topic="m") == 120
    assert value(text, "kbroker_topic_bytes_out_total", topic="m") > 120 * 50
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}/health", timeout=5) as r:
        assert r.status == 200
