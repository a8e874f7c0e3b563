"""Prometheus metrics at /metrics describe what the broker did."""
import re
import socket
import struct
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


def test_operator_series_on_one_broker(broker):
    """The series issue 18 asks for, with values a single broker can show."""
    import time
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient
    from cluster_harness import wait_until
    from kbctl_util import kbctl

    text = scrape(broker)
    # Cluster counts exist with one broker too (never absent).
    assert value(text, "kbroker_online_brokers") == 1
    topics_before, partitions_before = value(text, "kbroker_topics"), value(text, "kbroker_partitions")
    assert topics_before is not None and partitions_before is not None
    assert value(text, "kbroker_leader_elections_total") is not None
    assert value(text, "kbroker_unclean_leader_elections_total") == 0
    # Standard process collector names and the build's version.
    assert value(text, "process_cpu_seconds_total") > 0
    assert value(text, "process_resident_memory_bytes") > 1 << 20
    assert value(text, "process_open_fds") >= 3
    assert value(text, "process_max_fds") >= value(text, "process_open_fds")
    assert time.time() - 600 < value(text, "process_start_time_seconds") <= time.time() + 1
    assert re.search(r'^kbroker_build_info\{version="[0-9][^"]*"\} 1$', text, re.M), "kbroker_build_info missing"
    assert 0 <= value(text, "kbroker_network_thread_idle_ratio", thread="kb-network-0") <= 1
    assert value(text, "kbroker_network_thread_busy_seconds_total", thread="kb-network-0") >= 0

    # An RF=1 topic whose min.insync.replicas is 2: every partition is under its min ISR.
    create_topic(broker.bootstrap, "short", 3, {"min.insync.replicas": "2"})
    create_topic(broker.bootstrap, "gone", 1)
    text = scrape(broker)
    assert value(text, "kbroker_under_min_isr_partitions") == 3
    assert value(text, "kbroker_topics") == topics_before + 2
    assert value(text, "kbroker_partitions") == partitions_before + 4

    # Request time split, for client APIs only.
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce("gone", value=b"x")
    assert p.flush(10) == 0
    text = scrape(broker)
    assert value(text, "kbroker_request_processing_seconds_count", api="Produce") >= 1
    assert value(text, "kbroker_request_response_queue_seconds_count", api="Produce") >= 1
    assert value(text, "kbroker_request_processing_seconds_count", api="BrokerHeartbeat") is None

    # A consumer long-polling at the end of "gone" waits in the fetch purgatory.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "leaving", "auto.offset.reset": "earliest",
                  "fetch.wait.max.ms": 5000, "enable.auto.commit": False})
    c.subscribe(["gone"])
    got = 0
    deadline = time.time() + 20
    while got < 10 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    assert got == 10
    c.commit(asynchronous=False)
    assert value(scrape(broker), "kbroker_purgatory_size", delayed_operation="Produce") == 0
    wait_until(lambda: value(scrape(broker), "kbroker_purgatory_size", delayed_operation="Fetch") >= 1, 15,
               "a long-polling fetch in the fetch purgatory", interval=0.2)
    c.close()

    # A request being read counts its buffer as queued (what queued.max.request.bytes limits):
    # a client that declared 60,000 bytes and sent ten holds that much until it goes.
    raw = socket.create_connection(("127.0.0.1", broker.port))
    raw.sendall(struct.pack(">i", 60000) + b"x" * 10)
    wait_until(lambda: value(scrape(broker), "kbroker_network_queued_request_bytes") >= 60000, 15,
               "a half-read request's bytes queued", interval=0.2)
    raw.close()
    wait_until(lambda: value(scrape(broker), "kbroker_network_queued_request_bytes") < 60000, 15,
               "its bytes given back when its connection closed", interval=0.2)

    # A deleted topic's and a deleted group's series go away.
    text = scrape(broker)
    assert value(text, "kbroker_topic_records_in_total", topic="gone") == 10
    assert value(text, "kbroker_consumer_group_committed_offset", group="leaving", topic="gone") == 10
    topics_now = value(text, "kbroker_topics")  # __consumer_offsets came with the group
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert kbctl(broker.bootstrap, "group", "delete", "leaving").rc == 0  # this client has no DeleteGroups
    admin.delete_topics(["gone"])["gone"].result(15)

    def gone():
        t = scrape(broker)
        return (value(t, "kbroker_topic_records_in_total", topic="gone") is None
                and value(t, "kbroker_partition_log_end_offset", topic="gone") is None
                and value(t, "kbroker_consumer_group_committed_offset", group="leaving") is None
                and value(t, "kbroker_consumer_group_members", group="leaving") is None)

    wait_until(gone, 15, "the series of the deleted topic and group gone")
    assert value(scrape(broker), "kbroker_topics") == topics_now - 1
