"""DeleteRecords moves the log start offset: ListOffsets earliest follows, consumers start
there, fetching below it is OFFSET_OUT_OF_RANGE, and it holds across a kill -9."""
import struct

from confluent_kafka import Consumer, Producer, TopicPartition

import kafka_wire
from test_produce_consume import create_topic


def delete_records(b, topic, partition, offset):
    """Raw DeleteRecords v0 -> (error_code, low_watermark)."""
    body = struct.pack(">i", 1) + kafka_wire.string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iq", partition, offset) + struct.pack(">i", 5000)
    conn = kafka_wire.Conn(b.bootstrap)
    resp = conn.request(kafka_wire.header(21, 0) + body)
    conn.close()
    off = 4 + 4  # throttle, topics count
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4  # name, partitions count
    _, low, err = struct.unpack_from(">iqh", resp, off)
    return err, low


def watermarks(b, topic):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "unused"})
    lo_hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    return lo_hi


def first_offset_read(b, topic):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "fresh", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])  # asks for offset 0, below the log start
    for _ in range(50):
        msgs = [m for m in c.consume(10, timeout=0.2) if not m.error()]
        if msgs:
            c.close()
            return msgs[0].offset()
    c.close()
    return None


def test_delete_records_moves_the_log_start_for_every_reader_and_survives_kill_9(broker):
    create_topic(broker.bootstrap, "dr", 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    for i in range(100):
        p.produce("dr", value=f"v{i}", partition=0)
        p.poll(0)
    assert p.flush(10) == 0
    assert delete_records(broker, "dr", 0, 40) == (0, 40)
    assert watermarks(broker, "dr") == (40, 100)
    assert first_offset_read(broker, "dr") == 40
    # Past the high watermark, or negative: refused; -1 means up to the high watermark.
    assert delete_records(broker, "dr", 0, 101)[0] == 1  # OFFSET_OUT_OF_RANGE
    assert delete_records(broker, "dr", 0, 30) == (0, 40)  # never backwards
    assert delete_records(broker, "dr", 7, 1)[0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    broker.kill9()
    broker.start()
    assert watermarks(broker, "dr") == (40, 100)
    assert delete_records(broker, "dr", 0, -1) == (0, 100)
    assert watermarks(broker, "dr") == (100, 100)
