"""message.timestamp.difference.max.ms refuses CreateTime records too far from the broker's
clock (INVALID_TIMESTAMP, nothing written); LogAppendTime topics take any timestamp and
stamp the broker's time."""
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from test_produce_consume import create_topic


def produce_one(b, topic, ts):
    p = Producer({"bootstrap.servers": b.bootstrap, "retries": 0})
    out = []
    p.produce(topic, value=b"v", timestamp=ts, on_delivery=lambda err, m: out.append((err, m.offset())))
    p.flush(10)
    return out[0]


def read_timestamps(b, topic, n):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(50):
        got += [m.timestamp() for m in c.consume(10, timeout=0.2) if not m.error()]
        if len(got) >= n:
            break
    c.close()
    return got


def test_create_time_too_far_from_the_broker_clock_is_refused(broker):
    create_topic(broker.bootstrap, "ts", 1, {"message.timestamp.difference.max.ms": "60000"})
    now = int(time.time() * 1000)
    err, _ = produce_one(broker, "ts", now - 3_600_000)
    assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP
    err, _ = produce_one(broker, "ts", now + 3_600_000)
    assert err is not None and err.code() == KafkaError.INVALID_TIMESTAMP
    err, offset = produce_one(broker, "ts", now)
    assert err is None and offset == 0  # the refused ones took no offsets
    assert read_timestamps(broker, "ts", 1) == [(1, now)]  # (TIMESTAMP_CREATE_TIME, ts)


def test_log_append_time_topics_take_any_timestamp_and_stamp_the_broker_time(broker):
    create_topic(broker.bootstrap, "lat", 1, {"message.timestamp.type": "LogAppendTime",
                                               "message.timestamp.difference.max.ms": "60000"})
    before = int(time.time() * 1000)
    err, _ = produce_one(broker, "lat", 1000)
    assert err is None
    (kind, ts), = read_timestamps(broker, "lat", 1)
    assert kind == 2  # TIMESTAMP_LOG_APPEND_TIME
    assert before - 1000 <= ts <= int(time.time() * 1000) + 1000
