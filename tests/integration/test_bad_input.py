"""Bad input gets Kafka's error code or a closed connection, and the broker keeps serving."""
import socket
import struct

from confluent_kafka import Consumer, TopicPartition

import kafka_wire
from test_produce_consume import create_topic


def latest(b, topic, partition=0):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    c.close()
    return hi


def still_serving(b):
    conn = kafka_wire.Conn(b.bootstrap)
    err, _ = kafka_wire.parse_list_offsets_v1(conn.request(kafka_wire.list_offsets_v1("t", 0, -1)))
    conn.close()
    return err == 0


def test_garbage_and_absurd_frames_close_only_that_connection(broker):
    create_topic(broker.bootstrap, "t", 1)
    cases = [
        b"\x00\x00\x00\x10" + b"\xff" * 16,           # unknown api key 0xffff
        struct.pack(">i", 2**31 - 1) + b"xxxx",        # frame far over socket.request.max.bytes
        struct.pack(">i", -5),                         # negative size
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",            # not Kafka at all
        struct.pack(">i", 3) + b"abc",                 # too short for a request header
        struct.pack(">i", 12) + kafka_wire.header(3, 99)[:12],  # Metadata v99: unsupported version
    ]
    for data in cases:
        conn = kafka_wire.Conn(broker.bootstrap)
        conn.send_raw(data)
        assert conn.closed_by_peer(), data[:16]
        conn.close()
        assert still_serving(broker)
    # a truncated frame, then the client goes away
    s = socket.create_connection(("127.0.0.1", broker.port))
    s.sendall(struct.pack(">i", 100) + b"\x00\x03")
    s.close()
    assert still_serving(broker)
    assert broker.alive()


def test_unsupported_api_versions_version_gets_v0_error_with_ranges(broker):
    conn = kafka_wire.Conn(broker.bootstrap)
    resp = conn.request(kafka_wire.header(18, 42))
    err, n = struct.unpack_from(">hi", resp, 0)
    assert err == 35  # UNSUPPORTED_VERSION
    keys = {struct.unpack_from(">hhh", resp, 6 + 6 * i)[0]: struct.unpack_from(">hhh", resp, 6 + 6 * i)[1:] for i in range(n)}
    assert keys[18] == (0, 3) and keys[0] == (0, 9) and keys[1] == (0, 13)
    conn.close()


def test_corrupt_batch_is_refused_and_nothing_is_written(broker):
    create_topic(broker.bootstrap, "t", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("t", 0, kafka_wire.record_batch([b"ok"])))) == (0, 0)
    bad = bytearray(kafka_wire.record_batch([b"hello", b"world"]))
    bad[-3] ^= 0xFF  # flip a byte covered by the CRC
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("t", 0, bytes(bad))))[0] == 2
    wrong_count = kafka_wire.record_batch([b"a", b"b"], count=3)
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("t", 0, wrong_count)))[0] == 2
    truncated = kafka_wire.record_batch([b"abc"])[:-4]
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("t", 0, truncated)))[0] == 2
    conn.close()
    assert latest(broker, "t") == 1


def test_batch_over_max_message_bytes_is_message_too_large(broker):
    create_topic(broker.bootstrap, "small", 1, {"max.message.bytes": "200"})
    conn = kafka_wire.Conn(broker.bootstrap)
    big = kafka_wire.record_batch([b"z" * 500])
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("small", 0, big)))[0] == 10
    conn.close()
    assert latest(broker, "small") == 0


def test_unknown_topic_or_partition(broker):
    create_topic(broker.bootstrap, "t", 1)
    conn = kafka_wire.Conn(broker.bootstrap)
    batch = kafka_wire.record_batch([b"x"])
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("t", 7, batch)))[0] == 3
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("nope", 0, batch)))[0] == 3
    assert kafka_wire.parse_fetch_v4_error(conn.request(kafka_wire.fetch_v4("nope", 0, 0))) == 3
    conn.close()


def test_acks_all_below_min_insync_replicas_is_not_enough_replicas(broker):
    create_topic(broker.bootstrap, "isr", 1, {"min.insync.replicas": "2"})
    conn = kafka_wire.Conn(broker.bootstrap)
    batch = kafka_wire.record_batch([b"x"])
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("isr", 0, batch, acks=-1)))[0] == 19
    assert kafka_wire.parse_produce_v3(conn.request(kafka_wire.produce_v3("isr", 0, batch, acks=1))) == (0, 0)
    conn.close()
    assert latest(broker, "isr") == 1
