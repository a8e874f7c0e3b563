"""Authentication and ACLs together (issue 17): one broker with a SASL_PLAINTEXT listener for
clients (PLAIN users from JAAS, SCRAM-SHA-256/512 users from bootstrap.scram.users, stored in
the metadata log) and a PLAINTEXT listener for the broker itself and the operator
(User:ANONYMOUS is the super user there). ACLs are made with kafka-python's admin client and
decide, per authenticated principal: produce, consume with a group, DENY over ALLOW, prefixed
patterns, Metadata listing only what a principal may describe, and logins with a wrong SCRAM
password refused."""
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient, NewTopic,
                         ResourcePattern, ResourceType)

from kbroker_harness import Broker, free_ports
from test_security_transport import first_error

PLAIN_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        + " ".join(f'user_{u}="{p}"' for u, p in PLAIN_USERS.items()) + ";")
SCRAM_USERS = {"carol": ("SCRAM-SHA-512", "carol-secret"), "dave": ("SCRAM-SHA-256", "dave-secret")}


class AclBroker(Broker):
    def __init__(self):
        super().__init__()
        self.sasl_port = free_ports(1)[0]
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}"
        self.extra.update({
            "listeners": listeners,
            "advertised.listeners": listeners,
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": "'" + JAAS + "'",
            "bootstrap.scram.users": "'" + " ".join(f"{m}=[name={u},password={p}]"
                                                    for u, (m, p) in SCRAM_USERS.items()) + "'",
            "authorizer.class.name": "kbroker",
            "super.users": "User:ANONYMOUS",
            "group.initial.rebalance.delay.ms": 0,
        })


@pytest.fixture(scope="module")
def broker():
    b = AclBroker()
    b.start()
    yield b
    b.cleanup()


@pytest.fixture(scope="module")
def admin(broker):
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    yield a
    a.close()


def as_user(broker, user, **extra):
    if user in PLAIN_USERS:
        mechanism, password = "PLAIN", PLAIN_USERS[user]
    else:
        mechanism, password = SCRAM_USERS[user]
    conf = {"bootstrap.servers": f"127.0.0.1:{broker.sasl_port}", "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password,
            "socket.timeout.ms": 10000}
    conf.update(extra)
    return conf


def new_topics(admin, *names):
    admin.create_topics([NewTopic(n, 1, 1) for n in names])


def allow(admin, user, op, resource_type, name, pattern=ACLResourcePatternType.LITERAL,
          permission=ACLPermissionType.ALLOW):
    acl = ACL(principal=f"User:{user}", host="*", operation=op, permission_type=permission,
              resource_pattern=ResourcePattern(resource_type, name, pattern))
    result = admin.create_acls([acl])
    assert not result["failed"], result


def deny(admin, user, op, resource_type, name):
    allow(admin, user, op, resource_type, name, permission=ACLPermissionType.DENY)


def produce(conf, topic, n=3):
    """The delivery errors of n records (None for each one delivered)."""
    p = Producer(dict(conf, **{"message.timeout.ms": 15000, "retries": 0}))
    results = []
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), on_delivery=lambda err, msg: results.append(err))
    p.flush(20)
    return results


def consume(conf, topic, group, n, timeout=20):
    """(values read, the first error) from `topic` in `group`."""
    c = Consumer(dict(conf, **{"group.id": group, "auto.offset.reset": "earliest"}))
    got, error = [], None
    try:
        c.subscribe([topic])
        deadline = time.time() + timeout
        while len(got) < n and error is None and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    error = m.error()
                continue
            got.append(m.value())
    finally:
        c.close()
    return got, error


def topics_seen(conf):
    return set(Producer(conf).list_topics(timeout=15).topics)


def test_scram_users_log_in_and_acls_decide_what_they_may_write(broker, admin):
    topic = "pay-" + uuid.uuid4().hex[:6]
    new_topics(admin, topic)
    carol = as_user(broker, "carol")
    # Logged in (SCRAM-SHA-512), but no ACL yet: every record is refused.
    errors = produce(carol, topic)
    assert errors and all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors
    allow(admin, "carol", ACLOperation.WRITE, ResourceType.TOPIC, topic)
    assert produce(carol, topic) == [None, None, None]
    # dave (SCRAM-SHA-256) has no ACL on the topic: it stays refused for him.
    errors = produce(as_user(broker, "dave"), topic)
    assert errors and all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors
    # A wrong SCRAM password is an authentication failure, and the password is not logged.
    err = first_error(as_user(broker, "carol", **{"sasl.password": "not-carols-pw"}))
    assert err is not None and "Authentication failed" in err.str(), err
    assert "not-carols-pw" not in broker.log()


def test_consuming_needs_read_on_the_topic_and_on_the_group(broker, admin):
    topic, group = "feed-" + uuid.uuid4().hex[:6], "readers-" + uuid.uuid4().hex[:6]
    new_topics(admin, topic)
    allow(admin, "alice", ACLOperation.WRITE, ResourceType.TOPIC, topic)
    alice = as_user(broker, "alice")
    assert produce(alice, topic) == [None, None, None]
    bob = as_user(broker, "bob")
    got, error = consume(bob, topic, group, 3, timeout=10)
    assert got == [] and error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, (got, error)
    allow(admin, "bob", ACLOperation.READ, ResourceType.GROUP, group)
    got, error = consume(bob, topic, group, 3, timeout=10)
    assert got == [] and error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (got, error)
    allow(admin, "bob", ACLOperation.READ, ResourceType.TOPIC, topic)
    got, error = consume(bob, topic, group, 3)
    assert error is None and got == [b"v0", b"v1", b"v2"], (got, error)


def test_prefixed_allow_and_deny_winning_over_allow(broker, admin):
    prefix = "orders-" + uuid.uuid4().hex[:6]
    open_topic, secret_topic = prefix + "-eu", prefix + "-secret"
    new_topics(admin, open_topic, secret_topic)
    allow(admin, "bob", ACLOperation.WRITE, ResourceType.TOPIC, prefix, pattern=ACLResourcePatternType.PREFIXED)
    deny(admin, "bob", ACLOperation.WRITE, ResourceType.TOPIC, secret_topic)
    bob = as_user(broker, "bob")
    assert produce(bob, open_topic) == [None, None, None]
    errors = produce(bob, secret_topic)
    assert errors and all(e is not None and e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED for e in errors), errors


def test_metadata_lists_only_the_topics_a_principal_may_describe(broker, admin):
    visible, hidden = "seen-" + uuid.uuid4().hex[:6], "unseen-" + uuid.uuid4().hex[:6]
    new_topics(admin, visible, hidden)
    allow(admin, "dave", ACLOperation.DESCRIBE, ResourceType.TOPIC, visible)
    seen = topics_seen(as_user(broker, "dave"))
    assert visible in seen and hidden not in seen, seen
    # The super user on the operator's listener sees both.
    everything = topics_seen({"bootstrap.servers": broker.bootstrap})
    assert {visible, hidden} <= everything
