"""More clients on secured listeners (issue 17): kafka-python over SASL_PLAINTEXT and SASL_SSL with
PLAIN and SCRAM-SHA-256/512 (it sends SaslHandshake v0 and then bare SASL tokens, which kbroker
serves as Kafka does), kcat producing and consuming over SSL and SASL_SSL, and what a misbehaving
client does on these listeners: garbage in the middle of a TLS handshake, a SASL exchange cut
short or replayed, an oversized token on a TLS listener, each logged once and the broker still
serving; and a listener's key store replaced without a restart (AlterConfigs of
listener.name.<l>.ssl.keystore.location), refused when the new store is unusable."""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, NoBrokersAvailable

from kafka_wire import recv_exact
from test_security_transport import (USERS, SecureBroker, certs, closed_by_peer, frame, kstring,  # noqa: F401
                                     make_cert, read_response)

SCRAM_USERS = {"carol": ("SCRAM-SHA-512", "carol-secret"), "dave": ("SCRAM-SHA-256", "dave-secret")}


@pytest.fixture(scope="module")
def broker(certs):
    b = SecureBroker(certs, {
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "bootstrap.scram.users": "'" + " ".join(f"{m}=[name={u},password={p}]"
                                                for u, (m, p) in SCRAM_USERS.items()) + "'",
        "group.initial.rebalance.delay.ms": 0,
    })
    b.start()
    yield b
    b.cleanup()


def full_log(broker):
    with open(broker.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def kafka_python_conf(broker, certs, listener, user, password=None):
    mechanism, stored = SCRAM_USERS.get(user, ("PLAIN", USERS.get(user)))
    conf = {"bootstrap_servers": broker.bootstrap_of(listener), "security_protocol": listener,
            "sasl_mechanism": mechanism, "sasl_plain_username": user,
            "sasl_plain_password": password or stored, "request_timeout_ms": 15000}
    if listener == "SASL_SSL":
        conf["ssl_cafile"] = certs("ca.pem")
    return conf


@pytest.mark.parametrize("listener,user", [("SASL_PLAINTEXT", "alice"), ("SASL_PLAINTEXT", "carol"),
                                           ("SASL_SSL", "dave"), ("SASL_SSL", "alice")])
def test_kafka_python_admin_producer_consumer_over_sasl(broker, certs, listener, user):
    conf = kafka_python_conf(broker, certs, listener, user)
    mechanism = conf["sasl_mechanism"]
    before = broker.metric("kbroker_successful_authentication_total", listener=listener, mechanism=mechanism)
    topic = f"kp-{user}-" + uuid.uuid4().hex[:6]
    admin = KafkaAdminClient(**conf)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    producer = KafkaProducer(acks="all", **conf)
    for i in range(10):
        producer.send(topic, key=b"k", value=f"v{i}".encode())
    producer.flush(20)
    producer.close()
    consumer = KafkaConsumer(topic, group_id="g-" + topic, auto_offset_reset="earliest", **conf)
    values = []
    deadline = time.time() + 20
    while len(values) < 10 and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            values += [r.value for r in records]
    consumer.commit()
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(10)]
    assert broker.metric("kbroker_successful_authentication_total", listener=listener, mechanism=mechanism) > before


@pytest.mark.parametrize("user", ["alice", "carol"])
def test_kafka_python_wrong_password_is_refused_and_logged(broker, certs, user):
    conf = kafka_python_conf(broker, certs, "SASL_PLAINTEXT", user, password="wrong-pw-456")
    mechanism = conf["sasl_mechanism"]
    before = broker.metric("kbroker_failed_authentication_total", listener="SASL_PLAINTEXT", mechanism=mechanism)
    # Kafka closes the connection of a client that authenticates with bare tokens after a failed
    # login, without an answer: kafka-python sees no broker.
    with pytest.raises((NoBrokersAvailable, KafkaError)):
        KafkaProducer(api_version_auto_timeout_ms=5000, max_block_ms=5000, **conf)
    assert broker.metric("kbroker_failed_authentication_total", listener="SASL_PLAINTEXT",
                         mechanism=mechanism) > before
    # Retries within 10 s are one line (rate-limited per listener, address and reason).
    log = full_log(broker)
    assert len(re.findall(rf"failed authentication with {mechanism} .* for {user}", log)) == 1
    assert "wrong-pw-456" not in log


def kcat(broker, certs, listener, *args, data=None):
    cmd = ["kcat", "-b", broker.bootstrap_of(listener), "-X", "security.protocol=" + listener,
           "-X", "ssl.ca.location=" + certs("ca.pem")]
    if listener == "SASL_SSL":
        cmd += ["-X", "sasl.mechanism=SCRAM-SHA-512", "-X", "sasl.username=carol", "-X", "sasl.password=carol-secret"]
    out = subprocess.run(cmd + list(args), input=data, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("listener", ["SSL", "SASL_SSL"])
def test_kcat_produces_and_consumes_over_tls(broker, certs, listener):
    topic = "kcat-" + uuid.uuid4().hex[:6]
    kcat(broker, certs, listener, "-P", "-t", topic, "-K:", data="".join(f"k{i}:v{i}\n" for i in range(5)))
    got = kcat(broker, certs, listener, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
    assert got.split() == [f"k{i}=v{i}" for i in range(5)]


# ---- misbehaving clients on secured listeners ----

def tls_socket(broker, listener):
    ctx = ssl.create_default_context(cafile=None)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", broker.ports[listener]), timeout=10)
    return ctx.wrap_socket(raw)


def scram_first(user, nonce):
    return f"n,,n={user},r={nonce}".encode()


def test_bad_input_on_secured_listeners_is_answered_or_closed_and_logged_once(broker, certs):
    tls_failed = r"TLS handshake with \S+ on listener SASL_SSL failed"
    before = len(re.findall(tls_failed, full_log(broker)))
    # Garbage in the middle of a TLS handshake: a ClientHello's record header, then noise.
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", broker.ports["SASL_SSL"]), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00\x40" + b"\xff" * 64)
            assert closed_by_peer(s)
    # Repeated, it is one log line per listener and 10 s (runtime::RateLimitedLog).
    assert len(re.findall(tls_failed, full_log(broker))) - before == 1

    # An oversized token before authentication on the TLS listener: closed at its length.
    with tls_socket(broker, "SASL_SSL") as s:
        s.sendall(frame(17, 0, 1, kstring("PLAIN")))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 0
        s.sendall(struct.pack(">i", 50_000_000) + b"\0" * 64)
        assert closed_by_peer(s)

    # A bare-token exchange cut short: the client-first SCRAM message, then the client goes.
    with socket.create_connection(("127.0.0.1", broker.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(frame(17, 0, 1, kstring("SCRAM-SHA-512")))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 0
        first = scram_first("carol", "abc")
        s.sendall(struct.pack(">i", len(first)) + first)
        (n,) = struct.unpack(">i", s.recv(4))
        assert n > 0

    # A replayed exchange: the client-final message of one connection sent on another (its
    # nonce is not the server's): refused, and the connection closed without an answer.
    with socket.create_connection(("127.0.0.1", broker.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(frame(17, 0, 1, kstring("SCRAM-SHA-512")))
        read_response(s)
        s.sendall(struct.pack(">i", len(first)) + first)
        server_first = read_bare(s)
        assert server_first.startswith(b"r=abc")
        replay = b"c=biws,r=abcOTHERNONCE,p=" + b"A" * 88
        s.sendall(struct.pack(">i", len(replay)) + replay)
        assert closed_by_peer(s)
    # A SaslAuthenticate replayed after its login completed: Kafka's ILLEGAL_SASL_STATE (34),
    # and the connection goes on.
    with socket.create_connection(("127.0.0.1", broker.ports["SASL_PLAINTEXT"]), timeout=10) as s:
        s.sendall(frame(17, 1, 1, kstring("PLAIN")))
        read_response(s)
        token = b"\0alice\0" + USERS["alice"].encode()
        s.sendall(frame(36, 1, 2, struct.pack(">i", len(token)) + token))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 0
        s.sendall(frame(36, 1, 3, struct.pack(">i", len(token)) + token))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 34
        s.sendall(frame(18, 0, 4, b""))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 0
    assert re.search(r"failed authentication with SCRAM-SHA-512 .*: .*nonce", full_log(broker), re.I)

    # The broker keeps serving everyone else.
    conf = kafka_python_conf(broker, certs, "SASL_SSL", "carol")
    producer = KafkaProducer(acks="all", **conf)
    producer.send("still-serving", value=b"x").get(timeout=20)
    producer.close()


def read_bare(sock):
    """A bare SASL token: its 4-byte length, then the bytes."""
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, n)


# ---- key-store reload without a restart (Kafka's dynamic listener configs) ----

def served_serial(broker, certs):
    ctx = ssl.create_default_context(cafile=certs("ca.pem"))
    with socket.create_connection(("127.0.0.1", broker.ports["SSL"]), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert()["serialNumber"]


def cert_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().split("=")[1].upper()


def alter_broker(broker, configs):
    """AlterConfigs on this broker's own resource: (error code, message)."""
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        resp = admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, str(broker.node_id), configs=configs)])
    finally:
        admin.close()
    (code, message, _, _), = resp.resources
    return code, message


def test_key_store_reload_serves_new_connections_and_keeps_old_ones(certs):
    d = os.path.dirname(certs("ca.pem"))
    b = SecureBroker(certs)
    try:
        b.start()
        key = "listener.name.ssl.ssl.keystore.location"
        assert served_serial(b, certs) == cert_serial(certs("broker.crt"))
        old = tls_socket(b, "SSL")
        # A new certificate in a new file: new connections get it, the open one keeps going.
        make_cert(d, "rotated", "/CN=localhost", "ca", san="IP:127.0.0.1,DNS:localhost")
        assert alter_broker(b, {key: certs("rotated-keystore.pem")}) == (0, None)
        deadline = time.time() + 10
        while served_serial(b, certs) != cert_serial(certs("rotated.crt")) and time.time() < deadline:
            time.sleep(0.1)
        assert served_serial(b, certs) == cert_serial(certs("rotated.crt"))
        old.sendall(frame(18, 0, 7, b""))
        assert struct.unpack(">h", read_response(old)[:2])[0] == 0
        old.close()
        # The same path set again after the file changed: reloaded too (Kafka, KAFKA-7429).
        live = os.path.join(d, "live-keystore.pem")
        shutil.copy(certs("rotated-keystore.pem"), live)
        assert alter_broker(b, {key: live}) == (0, None)
        make_cert(d, "third", "/CN=localhost", "ca", san="IP:127.0.0.1,DNS:localhost")
        shutil.copy(certs("third-keystore.pem"), live)
        assert alter_broker(b, {key: live}) == (0, None)
        deadline = time.time() + 10
        while served_serial(b, certs) != cert_serial(certs("third.crt")) and time.time() < deadline:
            time.sleep(0.1)
        assert served_serial(b, certs) == cert_serial(certs("third.crt"))
        # A store that does not load, or whose key is not its certificate's: INVALID_CONFIG (40),
        # and the listener keeps serving what it had.
        code, message = alter_broker(b, {key: "/nonexistent/keystore.pem"})
        assert code == 40 and "/nonexistent/keystore.pem" in message, message
        mismatched = os.path.join(d, "mismatched-keystore.pem")
        with open(mismatched, "w") as out:
            for part in ("broker.key", "third.crt"):
                with open(certs(part)) as f:
                    out.write(f.read())
        code, message = alter_broker(b, {key: mismatched})
        assert code == 40 and "listener SSL" in message, message
        assert served_serial(b, certs) == cert_serial(certs("third.crt"))
        # Another name on the certificate: refused unless ssl.allow.dn.changes (Kafka's rule).
        make_cert(d, "renamed", "/CN=other-host", "ca", san="IP:127.0.0.1,DNS:localhost")
        code, message = alter_broker(b, {key: certs("renamed-keystore.pem")})
        assert code == 40 and "CN=other-host" in message and "ssl.allow.dn.changes" in message, message
        # Only per broker, as Kafka: not at the cluster-wide default.
        admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
        resp = admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, "", configs={key: live})])
        admin.close()
        assert resp.resources[0][0] == 42 and "broker id must be specified" in resp.resources[0][1]
    finally:
        b.cleanup()
