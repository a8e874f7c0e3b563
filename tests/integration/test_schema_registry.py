"""The built-in Schema Registry on one broker, driven as users drive Confluent's: the project
notes' JSONSerializer/JSONDeserializer workflow through confluent-kafka's SchemaRegistryClient,
Protobuf and Avro records in Confluent's framing, compatibility levels, references, deletes,
modes and configs through the REST API, malformed requests, broker-side schema validation,
the /metrics series, and the schemas surviving a kill -9. One broker for the whole module."""
import io
import json
import socket
import time
import uuid

import avro.io
import avro.schema
import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer, StringSerializer

from kbroker_harness import Broker
from schema_registry_util import Rest, frame, protobuf_message_class, unframe

MAX_BODY = 65536


@pytest.fixture(scope="module")
def broker(request):
    b = Broker({"schema.registry.max.request.bytes": MAX_BODY})
    b.start()
    try:
        Rest(b.registry_url).wait_ready()
        yield b
        if request.session.testsfailed:
            print(f"--- broker log ({b.dir}) ---\n{b.log()}")
        b.stop()
    finally:
        b.cleanup()


@pytest.fixture
def rest(broker):
    return Rest(broker.registry_url)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap, name, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, 1, 1, config=config or {})]).values():
        f.result(15)


def produce(bootstrap, topic, records):
    """Produces (key, value) pairs; returns each one's delivery error (None when written)."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    results = [Ellipsis] * len(records)

    def on_delivery(i):
        return lambda err, msg: results.__setitem__(i, err)

    for i, (key, value) in enumerate(records):
        p.produce(topic, key=key, value=value, on_delivery=on_delivery(i))
    assert p.flush(30) == 0
    return results


def consume(bootstrap, topic, n, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"), "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.time() + timeout
    try:
        while len(out) < n and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            out.append(m)
    finally:
        c.close()
    assert len(out) == n, f"consumed {len(out)} of {n} records of {topic}"
    return out


# ---------------------------------------------------------------------------------------------
# The project notes' workflow, and the other two schema types


class User:
    def __init__(self, name, favorite_number, favorite_color):
        self.name, self.favorite_number, self.favorite_color = name, favorite_number, favorite_color


USER_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "User",
    "description": "A Confluent Kafka Python User",
    "type": "object",
    "properties": {
        "name": {"description": "User's name", "type": "string"},
        "favorite_number": {"description": "User's favorite number", "type": "number", "exclusiveMinimum": 0},
        "favorite_color": {"description": "User's favorite color", "type": "string"},
    },
    "required": ["name", "favorite_number", "favorite_color"],
})


def user_to_dict(user, ctx):
    return dict(name=user.name, favorite_number=user.favorite_number, favorite_color=user.favorite_color)


def dict_to_user(obj, ctx):
    return None if obj is None else User(obj["name"], obj["favorite_number"], obj["favorite_color"])


def test_notes_example_json_serializer_end_to_end(broker, rest):
    topic = unique("users")
    create_topic(broker.bootstrap, topic)
    # As in the notes, with credentials: the authentication seam lets every request in today.
    sr_client = SchemaRegistryClient({"url": broker.registry_url, "basic.auth.user.info": "user:password"})
    string_serializer = StringSerializer("utf_8")
    serializer = JSONSerializer(USER_SCHEMA, sr_client, to_dict=user_to_dict)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    users = [User("alice", 7, "blue"), User("bob", 42, "green")]
    for user in users:
        producer.produce(topic=topic, key=string_serializer(str(uuid.uuid4()), SerializationContext(topic, MessageField.KEY)),
                         value=serializer(user, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0

    deserializer = JSONDeserializer(USER_SCHEMA, from_dict=dict_to_user)
    got = []
    for msg in consume(broker.bootstrap, topic, 2):
        schema_id, _ = unframe(msg.value())
        assert sr_client.get_schema(schema_id).schema_type == "JSON"
        obj = deserializer(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE))
        got.append((obj.name, obj.favorite_number, obj.favorite_color))
        assert StringDeserializer("utf_8")(msg.key(), None)
    assert got == [("alice", 7, "blue"), ("bob", 42, "green")]
    status, versions = rest.get(f"/subjects/{topic}-value/versions")
    assert (status, versions) == (200, [1])
    # The same schema again is the same id and version.
    again = rest.register(f"{topic}-value", USER_SCHEMA, "JSON")
    assert again["id"] == schema_id


def test_protobuf_serializer_round_trip(broker, rest):
    topic = unique("pb")
    create_topic(broker.bootstrap, topic)
    Event = protobuf_message_class("kbtest.events", "Event", [("id", 1, "TYPE_INT64"), ("what", 2, "TYPE_STRING")])
    client = SchemaRegistryClient({"url": broker.registry_url})
    serializer = ProtobufSerializer(Event, client)
    ctx = SerializationContext(topic, MessageField.VALUE)
    errors = produce(broker.bootstrap, topic, [(None, serializer(Event(id=i, what=f"event {i}"), ctx)) for i in range(3)])
    assert errors == [None] * 3
    deserializer = ProtobufDeserializer(Event)
    got = [deserializer(m.value(), ctx) for m in consume(broker.bootstrap, topic, 3)]
    assert [(e.id, e.what) for e in got] == [(i, f"event {i}") for i in range(3)]
    status, latest = rest.get(f"/subjects/{topic}-value/versions/latest")
    assert status == 200 and latest["schemaType"] == "PROTOBUF"
    assert "message Event" in latest["schema"] and "package kbtest.events" in latest["schema"]


def test_avro_registration_lookup_and_framed_records(broker, rest):
    topic = unique("avro")
    subject = f"{topic}-value"
    create_topic(broker.bootstrap, topic)
    schema_text = json.dumps({"type": "record", "name": "Payment", "namespace": "kbtest",
                              "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]})
    registered = rest.register(subject, schema_text)
    status, found = rest.post(f"/subjects/{subject}", {"schema": schema_text})
    assert status == 200 and found["id"] == registered["id"] and found["version"] == 1
    status, by_id = rest.get(f"/schemas/ids/{registered['id']}")
    assert status == 200 and json.loads(by_id["schema"]) == json.loads(schema_text)

    writer = avro.io.DatumWriter(avro.schema.parse(schema_text))
    records = []
    for i in range(3):
        buf = io.BytesIO()
        writer.write({"id": f"p{i}", "amount": i * 1.5}, avro.io.BinaryEncoder(buf))
        records.append((None, frame(registered["id"], buf.getvalue())))
    assert produce(broker.bootstrap, topic, records) == [None] * 3
    got = []
    for m in consume(broker.bootstrap, topic, 3):
        schema_id, payload = unframe(m.value())
        status, schema = rest.get(f"/schemas/ids/{schema_id}")  # what a consumer does
        reader = avro.io.DatumReader(avro.schema.parse(schema["schema"]))
        got.append(reader.read(avro.io.BinaryDecoder(io.BytesIO(payload))))
    assert got == [{"id": f"p{i}", "amount": i * 1.5} for i in range(3)]


def test_schema_registry_client_api(broker):
    """confluent-kafka's SchemaRegistryClient itself: its requests, and its parsing of our
    answers and error bodies."""
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    client = SchemaRegistryClient({"url": broker.registry_url})
    subject = unique("client") + "-value"
    tag = subject.replace("-", "_")
    v1 = Schema(avro_record((tag, "string")), "AVRO")
    v2 = Schema(avro_record((tag, "string"), ("n", "int", 0)), "AVRO")
    id1 = client.register_schema(subject, v1)
    assert client.register_schema(subject, v1) == id1  # the same schema: the same id
    assert json.loads(client.get_schema(id1).schema_str) == json.loads(v1.schema_str)
    assert client.lookup_schema(subject, v1).version == 1
    client.set_compatibility(subject, "FULL")
    assert client.get_compatibility(subject) == "FULL"
    assert client.test_compatibility(subject, v2) is True
    id2 = client.register_schema(subject, v2)
    assert id2 != id1 and client.get_versions(subject) == [1, 2]
    latest = client.get_latest_version(subject)
    assert (latest.schema_id, latest.version, latest.subject) == (id2, 2, subject)
    assert client.get_version(subject, 1).schema_id == id1
    assert subject in client.get_subjects()
    # FULL refuses a field without a default: 409, with Confluent's error body.
    bad = Schema(avro_record((tag, "string"), ("m", "int")), "AVRO")
    assert client.test_compatibility(subject, bad) is False
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, bad)
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_latest_version(unique("nobody"))
    assert (missing.value.http_status_code, missing.value.error_code) == (404, 40401)
    assert "not found" in missing.value.error_message
    with pytest.raises(SchemaRegistryError) as no_version:
        client.get_version(subject, 7)
    assert (no_version.value.http_status_code, no_version.value.error_code) == (404, 40402)
    with pytest.raises(SchemaRegistryError) as no_id:
        SchemaRegistryClient({"url": broker.registry_url}).get_schema(987654)
    assert (no_id.value.http_status_code, no_id.value.error_code) == (404, 40403)
    assert client.delete_version(subject, 1) == 1
    # The client soft-deletes, then deletes permanently (this client version's two requests).
    assert client.delete_subject(subject, permanent=True) == [2]
    assert subject not in SchemaRegistryClient({"url": broker.registry_url}).get_subjects()


# ---------------------------------------------------------------------------------------------
# Compatibility: Confluent's documented evolutions, a few per level and type


def avro_record(*fields):
    """fields: (name, type) or (name, type, default)."""
    out = []
    for f in fields:
        field = {"name": f[0], "type": f[1]}
        if len(f) > 2:
            field["default"] = f[2]
        out.append(field)
    return json.dumps({"type": "record", "name": "R", "namespace": "kbtest", "fields": out})


def json_object(props, closed=False, required=()):
    s = {"type": "object", "properties": {k: {"type": t} for k, t in props.items()}}
    if closed:
        s["additionalProperties"] = False
    if required:
        s["required"] = list(required)
    return json.dumps(s)


def proto(body):
    return 'syntax = "proto3";\npackage kbtest;\n' + body


A1 = avro_record(("a", "string"))
JSON_NAME = {"name": "string"}
JSON_NAME_AGE = {"name": "string", "age": "integer"}

# (type, level, earlier versions, new schema, compatible, what the verbose reason names)
COMPATIBILITY_CASES = [
    ("AVRO", "BACKWARD", [A1], avro_record(("a", "string"), ("b", "int", 0)), True, None),
    ("AVRO", "BACKWARD", [A1], avro_record(("a", "string"), ("b", "int")), False, "READER_FIELD_MISSING_DEFAULT_VALUE"),
    ("AVRO", "BACKWARD", [avro_record(("a", "string"), ("b", "int"))], A1, True, None),
    ("AVRO", "BACKWARD", [avro_record(("a", "int"))], avro_record(("a", "long")), True, None),
    ("AVRO", "BACKWARD", [avro_record(("a", "long"))], avro_record(("a", "int")), False, "TYPE_MISMATCH"),
    ("AVRO", "FORWARD", [A1], avro_record(("a", "string"), ("b", "int")), True, None),
    ("AVRO", "FORWARD", [avro_record(("a", "string"), ("b", "int"))], A1, False, "READER_FIELD_MISSING_DEFAULT_VALUE"),
    ("AVRO", "FULL", [A1], avro_record(("a", "string"), ("b", "int", 0)), True, None),
    ("AVRO", "FULL", [A1], avro_record(("a", "string"), ("b", "int")), False, "READER_FIELD_MISSING_DEFAULT_VALUE"),
    ("AVRO", "NONE", [A1], avro_record(("a", "int")), True, None),
    # Transitive levels: compatible with the latest version, not with the first.
    ("AVRO", "BACKWARD", [avro_record(("a", "int")), avro_record()], avro_record(("a", "string", "")), True, None),
    ("AVRO", "BACKWARD_TRANSITIVE", [avro_record(("a", "int")), avro_record()], avro_record(("a", "string", "")),
     False, "TYPE_MISMATCH"),
    ("AVRO", "FORWARD", [avro_record(("a", "int")), avro_record(("a", "int", 0))], avro_record(), True, None),
    ("AVRO", "FORWARD_TRANSITIVE", [avro_record(("a", "int")), avro_record(("a", "int", 0))], avro_record(), False,
     "READER_FIELD_MISSING_DEFAULT_VALUE"),
    ("AVRO", "FULL_TRANSITIVE", [avro_record(("a", "int")), avro_record(("a", "int", 0))], avro_record(), False,
     "READER_FIELD_MISSING_DEFAULT_VALUE"),
    ("JSON", "BACKWARD", [json_object(JSON_NAME_AGE)], json_object(JSON_NAME), True, None),
    ("JSON", "BACKWARD", [json_object(JSON_NAME)], json_object(JSON_NAME_AGE), False,
     "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"),
    ("JSON", "FORWARD", [json_object(JSON_NAME)], json_object(JSON_NAME_AGE), True, None),
    ("JSON", "BACKWARD", [json_object(JSON_NAME, True)], json_object(JSON_NAME_AGE, True), True, None),
    ("JSON", "BACKWARD", [json_object(JSON_NAME, True)], json_object(JSON_NAME_AGE, True, ["age"]), False,
     "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"),
    ("JSON", "FULL", [json_object(JSON_NAME, True)], json_object(JSON_NAME_AGE, True), False,
     "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
    ("JSON", "BACKWARD", ['{"type":"integer"}'], '{"type":"number"}', True, None),
    ("JSON", "FORWARD", ['{"type":"integer"}'], '{"type":"number"}', False, "TYPE_NARROWED"),
    ("JSON", "NONE", ['{"type":"string"}'], '{"type":"integer"}', True, None),
    ("JSON", "BACKWARD_TRANSITIVE", ['{"type":"integer"}', '{"type":"number"}'],
     '{"type":"number","description":"v3"}', True, None),
    ("JSON", "FORWARD_TRANSITIVE", ['{"type":"integer"}', '{"type":"number"}'],
     '{"type":"number","description":"v3"}', False,
     "TYPE_NARROWED"),
    ("PROTOBUF", "BACKWARD", [proto("message A { int32 x = 1; }")], proto("message A { int32 x = 1; string y = 2; }"),
     True, None),
    ("PROTOBUF", "BACKWARD", [proto("message A {} message B {}")], proto("message A {}"), False, "MESSAGE_REMOVED"),
    ("PROTOBUF", "FORWARD", [proto("message A {} message B {}")], proto("message A {}"), True, None),
    ("PROTOBUF", "FORWARD", [proto("message A {}")], proto("message A {} message B {}"), False, "MESSAGE_REMOVED"),
    ("PROTOBUF", "FULL", [proto("message A { int32 x = 1; }")], proto("message A { int64 x = 1; }"), True, None),
    ("PROTOBUF", "FULL", [proto("message A { int32 x = 1; }")], proto("message A { string x = 1; }"), False,
     "FIELD_SCALAR_KIND_CHANGED"),
    ("PROTOBUF", "NONE", [proto("message A { int32 x = 1; }")], proto("message A { string x = 1; }"), True, None),
    ("PROTOBUF", "BACKWARD", [proto("message A {} message B {}"), proto("message A {}")],
     proto("message A {} message C {}"), True, None),
    ("PROTOBUF", "BACKWARD_TRANSITIVE", [proto("message A {} message B {}"), proto("message A {}")],
     proto("message A {} message C {}"), False, "MESSAGE_REMOVED"),
]


@pytest.mark.parametrize("schema_type,level,history,new,compatible,reason", COMPATIBILITY_CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(COMPATIBILITY_CASES)])
def test_compatibility_levels(rest, schema_type, level, history, new, compatible, reason):
    subject = unique("compat")
    # The history goes in under NONE; the level under test applies to the new schema only.
    assert rest.put(f"/config/{subject}", {"compatibility": "NONE"})[0] == 200
    for old in history:
        rest.register(subject, old, schema_type)
    status, answer = rest.put(f"/config/{subject}", {"compatibility": level})
    assert (status, answer) == (200, {"compatibility": level})
    body = {"schema": new, "schemaType": schema_type}
    status, check = rest.post(f"/compatibility/subjects/{subject}/versions?verbose=true", body)
    assert status == 200, check
    assert check["is_compatible"] is compatible, check
    if compatible:
        rest.register(subject, new, schema_type)
    else:
        assert any(reason in m for m in check["messages"]), check["messages"]
        assert any(f"{{compatibility: '{level}'}}" == m for m in check["messages"]), check["messages"]
        status, refused = rest.post(f"/subjects/{subject}/versions", body)
        assert status == 409 and refused["error_code"] == 409, refused
        assert reason in refused["message"]
    # Against one version only, the latest; as Confluent, verbose=false gives no messages.
    status, latest = rest.post(f"/compatibility/subjects/{subject}/versions/latest", body)
    assert status == 200 and latest.get("messages", []) == [], latest


# ---------------------------------------------------------------------------------------------
# References, deletes, modes, configs


def test_references_between_subjects_for_all_three_types(rest):
    tag = uuid.uuid4().hex[:8]
    # AVRO: a named type from another subject.
    address = json.dumps({"type": "record", "name": "Address", "namespace": "kb" + tag,
                          "fields": [{"name": "city", "type": "string"}]})
    addr = rest.register(f"addr-{tag}", address)
    person = json.dumps({"type": "record", "name": "Person", "namespace": "kb" + tag,
                         "fields": [{"name": "home", "type": f"kb{tag}.Address"}]})
    refs = [{"name": f"kb{tag}.Address", "subject": f"addr-{tag}", "version": 1}]
    assert rest.post(f"/subjects/person-{tag}/versions", {"schema": person})[0] == 422  # unresolved name
    p = rest.register(f"person-{tag}", person, references=refs)
    status, got = rest.get(f"/subjects/person-{tag}/versions/1")
    assert status == 200 and got["references"] == refs
    assert rest.get(f"/subjects/addr-{tag}/versions/1/referencedby") == (200, [p["id"]])
    status, refused = rest.delete(f"/subjects/addr-{tag}/versions/1")
    assert status == 422 and refused["error_code"] == 42206, refused
    # JSON: a $ref to another subject's schema, by the name it is referenced with.
    rest.register(f"jaddr-{tag}", json_object({"city": "string"}), "JSON")
    jperson = json.dumps({"type": "object", "properties": {"home": {"$ref": "address.json"}}})
    j = rest.register(f"jperson-{tag}", jperson, "JSON",
                      references=[{"name": "address.json", "subject": f"jaddr-{tag}", "version": 1}])
    assert rest.get(f"/subjects/jaddr-{tag}/versions/1/referencedby") == (200, [j["id"]])
    # PROTOBUF: an import of another subject's file.
    rest.register(f"paddr-{tag}", proto("message Address { string city = 1; }"), "PROTOBUF")
    pperson = 'syntax = "proto3";\npackage kbtest;\nimport "kbtest/address.proto";\n' \
              "message Person { Address home = 1; }"
    pp = rest.register(f"pperson-{tag}", pperson, "PROTOBUF",
                       references=[{"name": "kbtest/address.proto", "subject": f"paddr-{tag}", "version": 1}])
    assert rest.get(f"/subjects/paddr-{tag}/versions/1/referencedby") == (200, [pp["id"]])
    status, schema = rest.get(f"/schemas/ids/{pp['id']}")
    assert status == 200 and schema["references"][0]["subject"] == f"paddr-{tag}"


def test_soft_and_hard_deletes(rest):
    subject = unique("del")
    rest.put(f"/config/{subject}", {"compatibility": "NONE"})
    tag = subject.replace("-", "_")  # schemas of this test only: an id is shared by equal schemas
    v1 = rest.register(subject, avro_record((tag + "_a", "string")))
    v2 = rest.register(subject, avro_record((tag + "_b", "string")))
    assert rest.delete(f"/subjects/{subject}/versions/1?permanent=true")[1]["error_code"] == 40407  # soft first
    assert rest.delete(f"/subjects/{subject}/versions/1") == (200, 1)
    assert rest.get(f"/subjects/{subject}/versions") == (200, [2])
    assert rest.get(f"/subjects/{subject}/versions?deleted=true") == (200, [1, 2])
    assert rest.get(f"/subjects/{subject}/versions/1")[1]["error_code"] == 40402
    assert rest.get(f"/subjects/{subject}/versions/1?deleted=true")[0] == 200
    assert rest.get(f"/schemas/ids/{v1['id']}")[0] == 200  # a soft-deleted version's id still resolves
    assert rest.delete(f"/subjects/{subject}/versions/1?permanent=true") == (200, 1)
    assert rest.get(f"/schemas/ids/{v1['id']}")[1]["error_code"] == 40403
    assert rest.delete(f"/subjects/{subject}?permanent=true")[1]["error_code"] == 40405  # soft first
    assert rest.delete(f"/subjects/{subject}") == (200, [2])
    assert subject not in rest.get("/subjects")[1]
    assert subject in rest.get("/subjects?deleted=true")[1]
    assert rest.get(f"/subjects/{subject}/versions")[1]["error_code"] == 40401
    assert rest.delete(f"/subjects/{subject}")[1]["error_code"] == 40404  # already soft-deleted
    assert rest.delete(f"/subjects/{subject}?permanent=true") == (200, [2])
    assert subject not in rest.get("/subjects?deleted=true")[1]
    assert rest.get(f"/schemas/ids/{v2['id']}")[1]["error_code"] == 40403


def test_modes(rest):
    subject = unique("mode")
    assert rest.get("/mode") == (200, {"mode": "READWRITE"})
    assert rest.put(f"/mode/{subject}", {"mode": "READONLY"}) == (200, {"mode": "READONLY"})
    status, refused = rest.post(f"/subjects/{subject}/versions", {"schema": A1})
    assert status == 422 and refused["error_code"] == 42205, refused
    assert rest.put(f"/mode/{subject}", {"mode": "NOT_A_MODE"})[1]["error_code"] == 42204
    assert rest.delete(f"/mode/{subject}") == (200, {"mode": "READONLY"})
    assert rest.get(f"/mode/{subject}?defaultToGlobal=true") == (200, {"mode": "READWRITE"})
    # IMPORT: ids and versions come from the request (a migration from another registry).
    imported = unique("import")
    assert rest.put(f"/mode/{imported}", {"mode": "IMPORT"}) == (200, {"mode": "IMPORT"})
    schema = avro_record(("imported", "string"))
    status, answer = rest.post(f"/subjects/{imported}/versions", {"schema": schema, "id": 90000, "version": 3})
    assert (status, answer["id"]) == (200, 90000), answer
    assert rest.get(f"/subjects/{imported}/versions") == (200, [3])
    assert json.loads(rest.get("/schemas/ids/90000")[1]["schema"]) == json.loads(schema)
    rest.delete(f"/mode/{imported}")


def test_global_and_subject_config(rest):
    subject = unique("cfg")
    assert rest.get("/config") == (200, {"compatibilityLevel": "BACKWARD"})
    assert rest.get(f"/config/{subject}")[1]["error_code"] == 40408
    assert rest.get(f"/config/{subject}?defaultToGlobal=true") == (200, {"compatibilityLevel": "BACKWARD"})
    assert rest.put(f"/config/{subject}", {"compatibility": "full"}) == (200, {"compatibility": "FULL"})
    assert rest.get(f"/config/{subject}") == (200, {"compatibilityLevel": "FULL"})
    assert rest.put(f"/config/{subject}", {"compatibility": "SIDEWAYS"})[1]["error_code"] == 42203
    # The subject's level rules it: FULL refuses a field without a default.
    rest.register(subject, A1)
    assert rest.post(f"/subjects/{subject}/versions", {"schema": avro_record(("a", "string"), ("b", "int"))})[0] == 409
    assert rest.delete(f"/config/{subject}") == (200, {"compatibilityLevel": "FULL"})
    assert rest.get(f"/config/{subject}")[1]["error_code"] == 40408
    try:
        assert rest.put("/config", {"compatibility": "NONE"}) == (200, {"compatibility": "NONE"})
        assert rest.get("/config") == (200, {"compatibilityLevel": "NONE"})
        rest.register(subject, avro_record(("a", "int")))  # NONE lets anything in
    finally:
        assert rest.put("/config", {"compatibility": "BACKWARD"})[0] == 200


# ---------------------------------------------------------------------------------------------
# Bad input


def test_malformed_requests_get_confluents_errors(broker, rest):
    subject = unique("bad")
    status, answer = rest.post(f"/subjects/{subject}/versions", raw="{not json")
    assert status == 400 and "error_code" in answer and "message" in answer, answer
    status, answer = rest.post(f"/subjects/{subject}/versions", {"schema": 5})
    assert status == 422, answer
    status, answer = rest.post(f"/subjects/{subject}/versions", {"schema": '{"type":"recrod","name":"x"}'})
    assert status == 422 and answer["error_code"] == 42201, answer
    status, answer = rest.get(f"/subjects/{subject}/versions/abc")
    assert status == 422 and answer["error_code"] == 42202, answer
    status, answer = rest.get("/no/such/path")
    assert status == 404 and answer["error_code"] == 404, answer
    # Larger than schema.registry.max.request.bytes: 413 with Confluent's error body, unread.
    huge = json.dumps({"schema": json.dumps({"type": "record", "name": "Big", "doc": "x" * (2 * MAX_BODY),
                                             "fields": []})})
    status, answer = rest.post(f"/subjects/{subject}/versions", raw=huge)
    assert status == 413 and answer["error_code"] == 413, answer
    # Not HTTP at all, and a header block past the limit: answered, then closed.
    for garbage, expected in [(b"HELLO THERE\r\n\r\n", b" 400 "),
                              (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b" 431 ")]:
        with socket.create_connection(("127.0.0.1", broker.registry_port), timeout=10) as s:
            s.sendall(garbage)
            assert expected in s.recv(4096)
    assert rest.get("/subjects")[0] == 200


def test_a_slow_client_does_not_stall_others(broker, rest):
    stalled = []
    try:
        for _ in range(20):  # half a request each, never finished
            s = socket.create_connection(("127.0.0.1", broker.registry_port), timeout=10)
            s.sendall(b"POST /subjects/x/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            stalled.append(s)
        start = time.time()
        for _ in range(10):
            status, types = rest.get("/schemas/types")
            assert status == 200 and sorted(types) == ["AVRO", "JSON", "PROTOBUF"]
        assert time.time() - start < 5
    finally:
        for s in stalled:
            s.close()


# ---------------------------------------------------------------------------------------------
# Broker-side validation, metrics, restart


def test_value_schema_validation_refuses_unframed_records(broker, rest):
    topic = unique("validated")
    create_topic(broker.bootstrap, topic, {"confluent.value.schema.validation": "true"})
    other = rest.register(unique("other") + "-value", avro_record(("z", "string")))
    mine = rest.register(f"{topic}-value", avro_record(("a", "string")))
    buf = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(A1)).write({"a": "ok"}, avro.io.BinaryEncoder(buf))
    # A refusal refuses its whole batch. librdkafka usually sends both records in one batch, but
    # may send the good one alone (or again after the refusal), so only the bad one's fate is
    # certain; what the log holds is checked below.
    written = 0
    for bad in (b"plain text, no framing", frame(other["id"], buf.getvalue())):  # other: another subject's id
        results = produce(broker.bootstrap, topic, [(b"k", bad), (b"k", frame(mine["id"], buf.getvalue()))])
        assert results[0] is not None and results[0].code() == KafkaError.INVALID_RECORD, results
        assert results[1] is None or results[1].code() == KafkaError.INVALID_RECORD, results
        written += results[1] is None
    # A framed record with the subject's id passes, and so does a tombstone.
    assert produce(broker.bootstrap, topic, [(b"k", frame(mine["id"], buf.getvalue())), (b"k", None)]) == [None, None]
    msgs = consume(broker.bootstrap, topic, written + 2)
    assert len(msgs) == written + 2
    assert all(unframe(m.value())[0] == mine["id"] for m in msgs[:-1]) and msgs[-1].value() is None
    # Off again: anything goes.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    from confluent_kafka.admin import ConfigResource
    res = ConfigResource("topic", topic, set_config={"confluent.value.schema.validation": "false"})
    for f in admin.alter_configs([res]).values():
        f.result(15)
    deadline = time.time() + 10
    while produce(broker.bootstrap, topic, [(None, b"unframed")]) != [None]:
        assert time.time() < deadline, "validation still on after the config was turned off"
        time.sleep(0.2)


def test_metrics_show_requests_subjects_and_types(broker, rest):
    rest.get("/subjects")
    text = requests.get(f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=10).text
    lines = text.splitlines()

    def value(prefix):
        found = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix)]
        assert found, f"no {prefix} in /metrics"
        return found[0]

    assert value('kbroker_schema_registry_requests_total{endpoint="GET /subjects",status="200"}') >= 1
    assert value('kbroker_schema_registry_request_duration_seconds_count{endpoint="GET /subjects",status="200"}') >= 1
    assert value('kbroker_schema_registry_requests_total{endpoint="POST /subjects/{subject}/versions",'
                 'status="200"}') >= 1
    assert value("kbroker_schema_registry_subjects") >= 1
    assert value('kbroker_schema_registry_schemas{type="AVRO"}') >= 1
    assert value('kbroker_schema_registry_schemas{type="JSON"}') >= 1
    assert value('kbroker_schema_registry_schemas{type="PROTOBUF"}') >= 1
    assert value("kbroker_schema_registry_compatibility_refusals_total") >= 1
    assert value("kbroker_schema_registry_ready") == 1
    # /metrics and /health stay on the metrics listener only.
    assert rest.get("/metrics")[0] == 404
    assert requests.get(f"http://127.0.0.1:{broker.metrics_port}/health", timeout=10).status_code == 200


def test_schemas_survive_a_restart_and_kill_9(broker, rest):
    subject = unique("durable")
    registered = rest.register(subject, avro_record(("kept", "string")))
    rest.put(f"/config/{subject}", {"compatibility": "FORWARD"})
    before = rest.get("/schemas?deleted=true")[1]
    for way_down in (broker.stop, broker.kill9):  # a clean stop, then a crash
        way_down()
        broker.start()
        rest = Rest(broker.registry_url)
        rest.wait_ready()
        # Read back from _schemas: the view starts empty at every start.
        assert rest.get(f"/subjects/{subject}/versions/1")[1]["id"] == registered["id"]
        assert rest.get(f"/config/{subject}") == (200, {"compatibilityLevel": "FORWARD"})
        assert rest.get("/schemas?deleted=true")[1] == before
        assert SchemaRegistryClient({"url": broker.registry_url}).get_schema(registered["id"]).schema_type == "AVRO"
    # Ids go on from the largest one read back.
    assert rest.register(unique("after"), avro_record(("new", "string")))["id"] > registered["id"]
