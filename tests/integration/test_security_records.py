"""SCRAM credentials and ACLs in the metadata log (issue 17): CreateAcls / DescribeAcls /
DeleteAcls through kafka-python's KafkaAdminClient, AlterUserScramCredentials and
DescribeUserScramCredentials as raw requests, both surviving a restart and seen by every broker
of a cluster; the Schema Registry's Basic auth against the same users."""
import hashlib
import json
import os
import struct
import urllib.error
import urllib.request

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient,
                         ResourcePattern, ResourcePatternFilter, ResourceType)

from cluster_harness import cluster  # noqa: F401 (fixture)
from kafka_wire import Conn, compact_string, header, header_v2, string, uvarint

SHA_256, SHA_512 = 1, 2
NONE, SECURITY_DISABLED, UNSUPPORTED_SASL_MECHANISM = 0, 54, 33
RESOURCE_NOT_FOUND, DUPLICATE_RESOURCE, UNACCEPTABLE_CREDENTIAL = 91, 92, 93


def security_config(**more):
    extra = {"schema.registry.authentication.method": "BASIC",
             "bootstrap.scram.users": "SCRAM-SHA-256=[name=admin,password=admin-secret]",
             "sasl.jaas.config": "'org.apache.kafka.common.security.plain.PlainLoginModule required "
                                 "user_plainuser=\"plain-secret\";'"}
    # ANONYMOUS (these tests' plaintext clients) may do everything, whatever the ACLs say.
    extra["authorizer.class.name"] = "kbroker"
    extra["super.users"] = "User:ANONYMOUS;User:admin"
    extra.update(more)
    return extra


# --- raw SCRAM requests (flexible v0: compact encodings and tagged fields) ------------------

def compact_bytes(b):
    return uvarint(len(b) + 1) + b


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0]

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return n

    def compact_string(self):
        n = self.uvarint()
        if n == 0:
            return None
        s = self.data[self.pos:self.pos + n - 1].decode()
        self.pos += n - 1
        return s

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s


def alter_scram(bootstrap, upsertions=(), deletions=()):
    """[(user, mechanism, iterations, password)], [(user, mechanism)] -> {user: (error, message)}."""
    body = uvarint(len(deletions) + 1)
    for user, mech in deletions:
        body += compact_string(user) + struct.pack(">b", mech) + uvarint(0)
    body += uvarint(len(upsertions) + 1)
    for user, mech, iterations, password in upsertions:
        salt = os.urandom(16)
        algo = "sha256" if mech == SHA_256 else "sha512"
        salted = hashlib.pbkdf2_hmac(algo, password.encode(), salt, iterations)
        body += (compact_string(user) + struct.pack(">bi", mech, iterations) + compact_bytes(salt) +
                 compact_bytes(salted) + uvarint(0))
    body += uvarint(0)
    conn = Conn(bootstrap)
    try:
        r = Reader(conn.request(header_v2(51, 0) + body))
    finally:
        conn.close()
    r.uvarint()  # response header tags
    r.take(">i")
    out = {}
    for _ in range(r.uvarint() - 1):
        user, error, message = r.compact_string(), r.take(">h"), r.compact_string()
        r.uvarint()
        out[user] = (error, message)
    return out


def describe_scram(bootstrap, users=None):
    """-> (top error, {user: (error, {mechanism: iterations})})."""
    body = uvarint(0) if users is None else uvarint(len(users) + 1)
    for u in users or []:
        body += compact_string(u) + uvarint(0)
    body += uvarint(0)
    conn = Conn(bootstrap)
    try:
        r = Reader(conn.request(header_v2(50, 0) + body))
    finally:
        conn.close()
    r.uvarint()
    r.take(">i")
    top = r.take(">h")
    r.compact_string()
    out = {}
    for _ in range(r.uvarint() - 1):
        user, error = r.compact_string(), r.take(">h")
        r.compact_string()
        infos = {}
        for _ in range(r.uvarint() - 1):
            mech, iterations = r.take(">b"), r.take(">i")
            r.uvarint()
            infos[mech] = iterations
        r.uvarint()
        out[user] = (error, infos)
    r.uvarint()
    return top, out


def describe_acls_raw(bootstrap):
    """DescribeAcls v1 matching everything -> (error, sorted [(type, name, pattern, principal, host, op, perm)])."""
    body = struct.pack(">bhbhhbb", 1, -1, 1, -1, -1, 1, 1)
    conn = Conn(bootstrap)
    try:
        r = Reader(conn.request(header(29, 1) + body))
    finally:
        conn.close()
    r.take(">i")
    error = r.take(">h")
    r.string()
    acls = []
    for _ in range(r.take(">i")):
        rtype, name, pattern = r.take(">b"), r.string(), r.take(">b")
        for _ in range(r.take(">i")):
            acls.append((rtype, name, pattern, r.string(), r.string(), r.take(">b"), r.take(">b")))
    return error, sorted(acls)


# --- the registry over HTTP ------------------------------------------------------------------

def http(method, url, body=None, auth=None):
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    if auth:
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


READ_ORDERS = ACL(principal="User:alice", host="*", operation=ACLOperation.READ,
                  permission_type=ACLPermissionType.ALLOW,
                  resource_pattern=ResourcePattern(ResourceType.TOPIC, "orders", ACLResourcePatternType.LITERAL))
WRITE_LOGS = ACL(principal="User:bob", host="*", operation=ACLOperation.WRITE,
                 permission_type=ACLPermissionType.DENY,
                 resource_pattern=ResourcePattern(ResourceType.TOPIC, "logs-", ACLResourcePatternType.PREFIXED))
ALL_FILTER = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY, permission_type=ACLPermissionType.ANY,
                       resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))


def acl_keys(acls):
    return sorted((a.principal, a.operation, a.permission_type, a.resource_pattern.resource_type,
                   a.resource_pattern.resource_name, a.resource_pattern.pattern_type) for a in acls)


ONLY_BOB = ACLFilter(principal="User:bob", host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))


def create_and_describe_acls(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kb-acl-test")
    try:
        result = admin.create_acls([READ_ORDERS, WRITE_LOGS, READ_ORDERS])
        assert not result["failed"], result
        bad = ACL(principal="alice", host="*", operation=ACLOperation.READ, permission_type=ACLPermissionType.ALLOW,
                  resource_pattern=ResourcePattern(ResourceType.TOPIC, "t", ACLResourcePatternType.LITERAL))
        assert len(admin.create_acls([bad])["failed"]) == 1  # no "User:" type: INVALID_REQUEST
        acls, error = admin.describe_acls(ALL_FILTER)
        assert error.errno == NONE
        assert acl_keys(acls) == acl_keys([READ_ORDERS, WRITE_LOGS])  # the repeated one stored once
        acls, _ = admin.describe_acls(ONLY_BOB)
        assert acl_keys(acls) == acl_keys([WRITE_LOGS])
    finally:
        admin.close()


def delete_bobs_acl(bootstrap):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kb-acl-test")
    try:
        deleted = admin.delete_acls([ONLY_BOB])
        assert len(deleted) == 1 and len(deleted[0][1]) == 1
    finally:
        admin.close()


def test_acls_scram_and_registry_auth_survive_restart(broker_factory):
    b = broker_factory(security_config())
    create_and_describe_acls(b.bootstrap)

    # SCRAM: the bootstrapped admin, then Kafka's validation.
    top, users = describe_scram(b.bootstrap)
    assert top == NONE and users == {"admin": (NONE, {SHA_256: 4096})}
    assert alter_scram(b.bootstrap, upsertions=[("alice", SHA_512, 8192, "alice-secret")]) == {"alice": (NONE, None)}
    errors = alter_scram(b.bootstrap, upsertions=[("few", SHA_256, 100, "x"), ("odd", 7, 4096, "x"),
                                                  ("twice", SHA_256, 4096, "x"), ("twice", SHA_512, 4096, "x")],
                         deletions=[("ghost", SHA_256)])
    assert {u: e for u, (e, _) in errors.items()} == {
        "few": UNACCEPTABLE_CREDENTIAL, "odd": UNSUPPORTED_SASL_MECHANISM, "twice": DUPLICATE_RESOURCE,
        "ghost": RESOURCE_NOT_FOUND}
    top, users = describe_scram(b.bootstrap, ["alice", "nobody", "admin", "admin"])
    assert users["alice"] == (NONE, {SHA_512: 8192})
    assert users["nobody"][0] == RESOURCE_NOT_FOUND
    assert users["admin"][0] == DUPLICATE_RESOURCE

    # The registry: 401 without or with wrong credentials, SCRAM and PLAIN users in.
    status, body, headers = http("GET", b.registry_url + "/subjects")
    assert status == 401 and body == {"error_code": 401, "message": "Unauthorized"}
    assert headers.get("WWW-Authenticate", "").startswith("Basic")
    assert http("GET", b.registry_url + "/subjects", auth="alice:wrong")[0] == 401
    assert http("GET", b.registry_url + "/subjects", auth="plainuser:plain-secret")[0] == 200
    schema = Schema(json.dumps({"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"}]}),
                    "AVRO")
    schema_id = SchemaRegistryClient({"url": b.registry_url, "basic.auth.user.info": "alice:alice-secret"}) \
        .register_schema("orders-value", schema)
    got = SchemaRegistryClient({"url": b.registry_url, "basic.auth.user.info": "admin:admin-secret"}) \
        .get_schema(schema_id)
    assert json.loads(got.schema_str)["name"] == "Order"
    with pytest.raises(Exception):
        SchemaRegistryClient({"url": b.registry_url}).get_schema(schema_id)
    # The global config and mode are the super users' (alice is not one).
    status, body, _ = http("PUT", b.registry_url + "/config", {"compatibility": "NONE"}, auth="alice:alice-secret")
    assert status == 403 and body["error_code"] == 40301
    # admin is a super user
    assert http("PUT", b.registry_url + "/config", {"compatibility": "NONE"}, auth="admin:admin-secret")[0] == 200
    delete_bobs_acl(b.bootstrap)

    # Delete a credential, then restart: the log (or its snapshot) brings back the rest.
    assert alter_scram(b.bootstrap, deletions=[("admin", SHA_256)]) == {"admin": (NONE, None)}
    b.restart()
    assert describe_acls_raw(b.bootstrap) == (NONE, [(2, "orders", 3, "User:alice", "*", 3, 3)])
    top, users = describe_scram(b.bootstrap)
    assert users == {"alice": (NONE, {SHA_512: 8192})}
    assert http("GET", b.registry_url + "/subjects", auth="alice:alice-secret")[0] == 200
    assert http("GET", b.registry_url + "/subjects", auth="admin:admin-secret")[0] == 401


def test_acl_apis_without_an_authorizer_are_disabled(broker):
    error, _ = describe_acls_raw(broker.bootstrap)
    assert error == SECURITY_DISABLED
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="kb-acl-test")
    try:
        failed = admin.create_acls([READ_ORDERS])["failed"]
        assert len(failed) == 1 and failed[0][1].errno == SECURITY_DISABLED
    finally:
        admin.close()


def test_every_broker_of_a_cluster_sees_acls_and_credentials(cluster):
    c = cluster(3, extra=security_config())
    assert alter_scram(c.broker(2).bootstrap, upsertions=[("carol", SHA_256, 4096, "pw")]) == {"carol": (NONE, None)}
    for n in c.ids:
        c.wait_for(lambda: describe_scram(c.broker(n).bootstrap, ["carol"])[1] == {"carol": (NONE, {SHA_256: 4096})},
                   10, f"carol's credential on node {n}")
    admin = KafkaAdminClient(bootstrap_servers=c.broker(1).bootstrap, client_id="kb-acl-test")
    try:
        assert not admin.create_acls([READ_ORDERS, WRITE_LOGS])["failed"]
    finally:
        admin.close()
    expected = sorted([(2, "orders", 3, "User:alice", "*", 3, 3), (2, "logs-", 4, "User:bob", "*", 4, 2)])
    for n in c.ids:
        c.wait_for(lambda: describe_acls_raw(c.broker(n).bootstrap) == (NONE, expected), 10, f"the ACLs on node {n}")
    # Deleted through the third node: gone everywhere.
    conn = Conn(c.broker(3).bootstrap)
    try:
        # DeleteAcls v1: one filter, every TOPIC ACL of User:bob.
        body = struct.pack(">i", 1) + struct.pack(">bhb", 2, -1, 1) + string("User:bob") + struct.pack(">hbb", -1, 1, 1)
        r = Reader(conn.request(header(31, 1) + body))
    finally:
        conn.close()
    r.take(">i")
    assert r.take(">i") == 1 and r.take(">h") == NONE
    r.string()
    assert r.take(">i") == 1  # the one matching ACL
    for n in c.ids:
        c.wait_for(lambda: describe_acls_raw(c.broker(n).bootstrap) == (NONE, expected[1:]), 10,
                   f"the deletion on node {n}")
