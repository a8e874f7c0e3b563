"""Helpers for the Schema Registry tests: REST calls, Confluent framing, and a Protobuf message
class built at run time (no protoc needed)."""
import json
import struct
import time

import requests

V1 = "application/vnd.schemaregistry.v1+json"


class Rest:
    """Confluent's REST API of one broker's registry, answering (status, parsed body)."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def call(self, method, path, body=None, raw=None, headers=None, timeout=30):
        h = {"Content-Type": V1, "Accept": V1}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self.session.request(method, self.url + path, data=data, headers=h, timeout=timeout)
        try:
            parsed = r.json()
        except ValueError:
            parsed = r.text
        return r.status_code, parsed

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def register(self, subject, schema, schema_type="AVRO", references=None, expect=200):
        body = {"schema": schema if isinstance(schema, str) else json.dumps(schema)}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        if references:
            body["references"] = references
        status, answer = self.post(f"/subjects/{subject}/versions", body)
        assert status == expect, (status, answer)
        return answer

    def wait_ready(self, timeout=30):
        """Until the registry answers (its view has read the topic)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                status, answer = self.get("/subjects", timeout=5)
                if status == 200:
                    return
                last = (status, answer)
            except requests.RequestException as e:
                last = e
            time.sleep(0.2)
        raise AssertionError(f"schema registry at {self.url} not ready within {timeout}s: {last!r}")


def frame(schema_id, payload):
    """Confluent's wire format: magic byte 0, the schema id (4 bytes, big endian), the payload."""
    return struct.pack(">bI", 0, schema_id) + payload


def unframe(data):
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    return schema_id, data[5:]


def protobuf_message_class(package, name, fields):
    """A generated-like message class for `package.name` with `fields` [(name, number, type)],
    type one of descriptor_pb2.FieldDescriptorProto's TYPE_* names, built from a
    FileDescriptorProto at run time (what protoc's _pb2 module would hold)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.name = f"{package.replace('.', '/')}/{name.lower()}.proto"
    fdp.package = package
    fdp.syntax = "proto3"
    msg = fdp.message_type.add()
    msg.name = name
    for field_name, number, type_name in fields:
        f = msg.field.add()
        f.name = field_name
        f.number = number
        f.type = getattr(descriptor_pb2.FieldDescriptorProto, type_name)
        f.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    descriptor = pool.FindMessageTypeByName(f"{package}.{name}")
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)
