"""The built-in Schema Registry on a three-broker cluster: every broker is a registry node over
one replicated `_schemas` topic. The notes' JSON workflow registers through one broker and
reads through another; 200 registrations racing through all three brokers, while the
`_schemas` leader is killed with -9, give 200 distinct ids, no subject two schemas at one
version, and the same content through every broker. One cluster for the whole module."""
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from cluster_harness import Cluster, wait_until
from schema_registry_util import Rest, unframe

FAST = {
    "broker.session.timeout.ms": 3000,
    "broker.heartbeat.interval.ms": 500,
    "replica.lag.time.max.ms": 3000,
    "controller.quorum.election.timeout.ms": 1000,
    "controller.quorum.fetch.timeout.ms": 2000,
    "offsets.topic.num.partitions": 3,
    "transaction.state.log.num.partitions": 3,
}
TOPIC = "_schemas"


@pytest.fixture(scope="module")
def cluster(request):
    c = Cluster(3, FAST)
    try:
        c.start_all()
        c.wait_ready(60)
        for n in c.ids:
            Rest(c.nodes[n].registry_url).wait_ready(60)
        yield c
        if request.session.testsfailed:
            print(c.all_logs())
    finally:
        c.cleanup()


def rest(cluster, n):
    return Rest(cluster.nodes[n].registry_url)


def test_schemas_topic_is_replicated_on_every_broker(cluster):
    info = cluster.wait_topic(TOPIC, 1)
    assert sorted(info[0].replicas) == [1, 2, 3]


def test_notes_example_registered_through_one_broker_read_through_another(cluster):
    topic = f"users-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(topic, 1, rf=3)
    cluster.wait_topic(topic, 1)
    schema_str = json.dumps({"title": "User", "type": "object",
                             "properties": {"name": {"type": "string"}, "favorite_number": {"type": "number"}},
                             "required": ["name", "favorite_number"]})
    writer = SchemaRegistryClient({"url": cluster.nodes[1].registry_url, "basic.auth.user.info": "user:password"})
    serializer = JSONSerializer(schema_str, writer, to_dict=lambda u, ctx: u)
    producer = Producer({"bootstrap.servers": cluster.bootstrap})
    for i in range(3):
        producer.produce(topic=topic, key=StringSerializer("utf_8")(str(uuid.uuid4()), SerializationContext(topic, MessageField.KEY)),
                         value=serializer({"name": f"user{i}", "favorite_number": i + 1},
                                          SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": f"g-{topic}"})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    msgs = []
    deadline = time.time() + 30
    while len(msgs) < 3 and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is not None and m.error() is None:
            msgs.append(m)
    consumer.close()
    assert len(msgs) == 3
    reader = SchemaRegistryClient({"url": cluster.nodes[2].registry_url})
    schema_id, _ = unframe(msgs[0].value())
    # Another broker's view has it within the time it takes to read the topic.
    schema = wait_until(lambda: reader.get_schema(schema_id), 10, f"schema {schema_id} through broker 2")
    deserializer = JSONDeserializer(schema.schema_str, from_dict=lambda d, ctx: d)
    got = [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in msgs]
    assert got == [{"name": f"user{i}", "favorite_number": i + 1} for i in range(3)]
    for n in cluster.ids:
        assert rest(cluster, n).get(f"/subjects/{topic}-value/versions")[1] == [1]


def avro_schema(i):
    return json.dumps({"type": "record", "name": f"R{i}", "namespace": "kbtest.concurrent",
                       "fields": [{"name": f"f{i}", "type": "string"}]})


def register_until_done(cluster, first_node, subject, schema, deadline):
    """Registers through `first_node`, then through the others in turn when a broker is down or
    answers a store error or time-out (as a client with several registry URLs would)."""
    last = None
    attempt = 0
    while time.time() < deadline:
        node = cluster.ids[(first_node - 1 + attempt) % len(cluster.ids)]
        attempt += 1
        if node not in cluster.live():
            continue
        try:
            status, answer = rest(cluster, node).post(f"/subjects/{subject}/versions", {"schema": schema}, timeout=40)
        except requests.RequestException as e:
            last = e
            time.sleep(0.2)
            continue
        if status == 200:
            return answer["id"], answer["version"]
        last = (node, status, answer)
        assert status >= 500, last  # only the store's own failures may be retried
        time.sleep(0.2)
    raise AssertionError(f"registering {subject} did not succeed: {last!r}")


def test_200_concurrent_registrations_with_the_schemas_leader_killed(cluster):
    subjects = [f"conc-{uuid.uuid4().hex[:6]}-{k}" for k in range(20)]
    for s in subjects:  # different records under one subject: no compatibility between them
        assert rest(cluster, 1).put(f"/config/{s}", {"compatibility": "NONE"})[0] == 200
    leader = cluster.partition_info(TOPIC)[0].leader
    done = []
    lock = threading.Lock()
    killed = threading.Event()
    deadline = time.time() + 120

    def one(i):
        result = register_until_done(cluster, 1 + i % 3, subjects[i % 20], avro_schema(i), deadline)
        with lock:
            done.append(i)
            if len(done) == 50 and not killed.is_set():
                killed.set()
                cluster.kill9(leader)
        return i, result

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = dict(pool.map(one, range(200)))
    assert killed.is_set()
    ids = [results[i][0] for i in range(200)]
    assert len(set(ids)) == 200, "two schemas got one id"
    versions = {}
    for i in range(200):
        versions.setdefault(subjects[i % 20], []).append(results[i][1])
    for s, vs in versions.items():
        assert sorted(vs) == list(range(1, 11)), f"{s} has versions {sorted(vs)}"

    cluster.start(leader)
    rest(cluster, leader).wait_ready(60)

    def content(n):
        status, schemas = rest(cluster, n).get("/schemas?deleted=true")
        assert status == 200
        return sorted((s["subject"], s["version"], s["id"], s["schema"]) for s in schemas)

    wait_until(lambda: len({json.dumps(content(n)) for n in cluster.ids}) == 1, 30,
               "the same registry content through every broker", describe=lambda: {n: len(content(n)) for n in cluster.ids})
    stored = {(s, v, i): json.loads(text) for s, v, i, text in content(1)}
    for i in range(200):
        assert stored.get((subjects[i % 20], results[i][1], results[i][0])) == json.loads(avro_schema(i))
