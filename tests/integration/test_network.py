"""Connections: pipelined answers keep request order, long polls wake on new data, idle
connections close, SIGTERM finishes in-flight work and exits cleanly."""
import time

import kafka_wire
from test_produce_consume import create_topic


def test_pipelined_requests_are_answered_in_order(broker):
    create_topic(broker.bootstrap, "p", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    # A fetch that long-polls for 700 ms, then two quick requests behind it.
    conn.send(kafka_wire.fetch_v4("p", 0, 0, max_wait=700, correlation_id=11))
    conn.send(kafka_wire.header(18, 0, 12))
    conn.send(kafka_wire.list_offsets_v1("p", 0, -1)[:4] + struct_corr(13) + kafka_wire.list_offsets_v1("p", 0, -1)[8:])
    ids = [conn.read_response_with_id()[0] for _ in range(3)]
    assert ids == [11, 12, 13]
    conn.close()


def struct_corr(n):
    import struct
    return struct.pack(">i", n)


def test_long_poll_fetch_returns_as_soon_as_data_arrives(broker):
    create_topic(broker.bootstrap, "lp", 1)
    waiting = kafka_wire.Conn(broker.bootstrap)
    start = time.time()
    waiting.send(kafka_wire.fetch_v4("lp", 0, 0, max_wait=10000))
    time.sleep(0.3)
    producer = kafka_wire.Conn(broker.bootstrap)
    assert kafka_wire.parse_produce_v3(producer.request(kafka_wire.produce_v3("lp", 0, kafka_wire.record_batch([b"wake"]))))[0] == 0
    resp = waiting.read_response()
    elapsed = time.time() - start
    assert kafka_wire.parse_fetch_v4_error(resp) == 0
    assert b"wake" in resp
    assert elapsed < 5, elapsed  # far below max.wait.ms: woken by the append, not the timer
    waiting.close()
    producer.close()


def test_idle_connections_are_closed(broker_factory):
    b = broker_factory({"connections.max.idle.ms": 500})
    conn = kafka_wire.Conn(b.bootstrap)
    conn.request(kafka_wire.header(18, 0, 5))
    assert conn.closed_by_peer(timeout=10)


def test_sigterm_answers_a_waiting_fetch_and_exits_cleanly(broker):
    create_topic(broker.bootstrap, "st", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    conn.send(kafka_wire.fetch_v4("st", 0, 0, max_wait=30000))
    time.sleep(0.3)
    start = time.time()
    broker.stop(timeout=15)  # asserts exit code 0
    assert time.time() - start < 10
    # The controlled shutdown takes the leadership away first (a lone broker is a cluster of
    # one, as in KRaft): the fetch ends empty or with NOT_LEADER_OR_FOLLOWER, never unanswered.
    assert kafka_wire.parse_fetch_v4_error(conn.read_response()) in (0, 6)
    conn.close()


def test_acks_zero_records_land_without_answers(broker):
    from confluent_kafka import Consumer, Producer, TopicPartition
    create_topic(broker.bootstrap, "fire", 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 0})
    for i in range(500):
        p.produce("fire", value=str(i).encode(), partition=0)
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused"})
    deadline = time.time() + 10
    hi = 0
    while hi < 500 and time.time() < deadline:
        hi = c.get_watermark_offsets(TopicPartition("fire", 0), timeout=5)[1]
        time.sleep(0.1)
    c.close()
    assert hi == 500


def test_acks_zero_error_closes_the_connection(broker):
    create_topic(broker.bootstrap, "fire0", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    bad = bytearray(kafka_wire.record_batch([b"x"]))
    bad[-2] ^= 1
    conn.send(kafka_wire.produce_v3("fire0", 0, bytes(bad), acks=0))
    assert conn.closed_by_peer()
