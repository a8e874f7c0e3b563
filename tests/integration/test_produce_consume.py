"""Real clients produce keyed records with headers and timestamps and read them back."""
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

N = 30000
KEYS = 500
T0 = 1_700_000_000_000


def create_topic(bootstrap, name, partitions, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})])
    fs[name].result(timeout=15)


def produce_all(bootstrap, topic, acks):
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 5})
    errors = []
    for i in range(N):
        key = f"key-{i % KEYS}"
        p.produce(topic, key=key, value=f"value-{i}", headers=[("seq", str(i).encode()), ("src", b"test")],
                  timestamp=T0 + i, on_delivery=lambda err, msg: err and errors.append(err))
        if i % 1000 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert not errors, errors[:3]


def consume_partition(bootstrap, topic, partition, expected):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
    out = []
    deadline = time.time() + 30
    while len(out) < expected and time.time() < deadline:
        m = c.poll(1.0)
        if m is None or (m.error() and m.error().code() == -191):  # _PARTITION_EOF
            continue
        assert not m.error(), m.error()
        out.append(m)
    c.close()
    return out


def check_roundtrip(bootstrap, topic):
    msgs = []
    for p in range(6):
        part = consume_partition(bootstrap, topic, p, 1)
        msgs.append(part)
    return msgs


def read_everything(bootstrap, topic, partitions):
    by_partition = {}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    total = 0
    deadline = time.time() + 60
    while total < N and time.time() < deadline:
        for m in c.consume(1000, 1.0):
            assert not m.error(), m.error()
            by_partition.setdefault(m.partition(), []).append(m)
            total += 1
    c.close()
    return by_partition


def verify(by_partition):
    assert sum(len(v) for v in by_partition.values()) == N
    last_seq_per_key = {}
    for p, msgs in by_partition.items():
        assert [m.offset() for m in msgs] == list(range(len(msgs))), f"partition {p} offsets not contiguous"
        for m in msgs:
            key = m.key().decode()
            seq = int(dict(m.headers())["seq"])
            assert m.value().decode() == f"value-{seq}"
            assert f"key-{seq % KEYS}" == key
            assert dict(m.headers())["src"] == b"test"
            assert m.timestamp()[1] == T0 + seq
            assert seq > last_seq_per_key.get(key, -1), f"key {key} out of order"
            last_seq_per_key[key] = seq
    assert len(last_seq_per_key) == KEYS


def test_confluent_kafka_round_trip_acks_all(broker):
    create_topic(broker.bootstrap, "orders", 6)
    produce_all(broker.bootstrap, "orders", "all")
    by_partition = read_everything(broker.bootstrap, "orders", 6)
    assert len(by_partition) == 6
    verify(by_partition)


def test_confluent_kafka_round_trip_acks_1_and_kafka_python_reads_the_same(broker):
    create_topic(broker.bootstrap, "events", 6)
    produce_all(broker.bootstrap, "events", "1")
    by_partition = read_everything(broker.bootstrap, "events", 6)
    verify(by_partition)

    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP
    kc = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                       consumer_timeout_ms=10000)
    tps = [KTP("events", p) for p in range(6)]
    kc.assign(tps)
    kc.seek_to_beginning(*tps)
    got = {}
    count = 0
    for m in kc:
        got.setdefault(m.partition, []).append((m.offset, m.key, m.value, m.timestamp, m.headers))
        count += 1
        if count == N:
            break
    kc.close()
    assert count == N
    for p, msgs in by_partition.items():
        expect = [(m.offset(), m.key(), m.value(), m.timestamp()[1], m.headers()) for m in msgs]
        assert [(o, k, v, t, list(h)) for o, k, v, t, h in got[p]] == [(o, k, v, t, list(h)) for o, k, v, t, h in expect]


def test_kcat_lists_the_topic(broker):
    create_topic(broker.bootstrap, "listed", 6)
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", "listed"], capture_output=True,
                         text=True, timeout=30).stdout
    assert 'topic "listed" with 6 partitions' in out
    assert "broker 1 at 127.0.0.1:%d" % broker.port in out
