"""TLS and SASL on kbroker's listeners (issue 17): SSL, SASL_PLAINTEXT and SASL_SSL listeners
served to confluent-kafka, kcat and kafka-python with certificates this file makes with openssl;
client certificates (ssl.client.auth, ssl.principal.mapping.rules), wrong passwords, untrusted
servers, garbage before the handshake, cut-short SASL exchanges, re-authentication
(connections.max.reauth.ms) and the start-up errors of bad settings."""
import os
import re
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

from kafka_wire import recv_exact
from kbroker_harness import KBROKER, Broker, free_ports

USERS = {"alice": "alice-secret", "admin": "admin-secret"}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-secret" '
        + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=d)


def make_cert(d, name, subject, ca, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d)
    with open(os.path.join(d, f"{name}-keystore.pem"), "w") as out:
        for part in (f"{name}.key", f"{name}.crt"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="kbroker-certs-")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_cert(d, "broker", "/CN=localhost", "ca", san="IP:127.0.0.1,DNS:localhost")
    make_cert(d, "client", "/C=DE/O=Acme/OU=Services/CN=App1", "ca")
    return lambda name: os.path.join(d, name)


class SecureBroker(Broker):
    """One broker with a PLAINTEXT inter-broker listener and SSL, MTLS (SSL, client
    certificates required), SASL_PLAINTEXT and SASL_SSL listeners."""

    NAMES = ("PLAINTEXT", "SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL")

    def __init__(self, certs, extra=None):
        super().__init__(extra)
        ports = [self.port] + free_ports(4)
        self.ports = dict(zip(self.NAMES, ports))
        listeners = ",".join(f"{n}://127.0.0.1:{p}" for n, p in self.ports.items())
        self.extra.update({
            "listeners": listeners,
            "advertised.listeners": listeners,
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": certs("broker-keystore.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": certs("ca.pem"),
            "listener.name.mtls.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "'RULE:^CN=(.*?),OU=Services.*$/$1/L,DEFAULT'",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": "'" + JAAS + "'",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": "'" + JAAS + "'",
            "log.level": "debug",
        })
        self.extra.update(extra or {})

    def bootstrap_of(self, listener):
        return f"127.0.0.1:{self.ports[listener]}"

    def metric(self, name, **labels):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture(scope="module")
def secure(certs):
    b = SecureBroker(certs)
    b.start()
    yield b
    b.cleanup()


def client_conf(broker, certs, listener, **extra):
    conf = {"bootstrap.servers": broker.bootstrap_of(listener), "socket.timeout.ms": 10000}
    protocol = {"MTLS": "SSL"}.get(listener, listener)
    conf["security.protocol"] = protocol
    if "SSL" in protocol:
        conf["ssl.ca.location"] = certs("ca.pem")
    if listener.startswith("SASL"):
        conf.update({"sasl.mechanism": "PLAIN", "sasl.username": "alice", "sasl.password": USERS["alice"]})
    conf.update(extra)
    return conf


def produce_consume(conf, topic, n=20):
    p = Producer(dict(conf, acks="all"))
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), key=b"k")
    assert p.flush(20) == 0
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.time() + 20
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert got == [f"v{i}".encode() for i in range(n)]


def first_error(conf, timeout=15):
    """The first error a producer reports while trying to reach the broker (None if none)."""
    errors = []
    p = Producer(dict(conf, error_cb=errors.append, **{"message.timeout.ms": timeout * 1000}))
    p.produce("never-" + uuid.uuid4().hex[:6], value=b"x")
    deadline = time.time() + timeout
    while not errors and time.time() < deadline:
        p.poll(0.2)
    p.purge()
    p.flush(1)
    return errors[0] if errors else None


def test_ssl_with_confluent_kcat_and_kafka_python(secure, certs):
    topic = "ssl-" + uuid.uuid4().hex[:6]
    produce_consume(client_conf(secure, certs, "SSL"), topic)
    # kcat reads the same records over TLS (the copying fetch path: no sendfile under TLS).
    out = subprocess.run(["kcat", "-C", "-b", secure.bootstrap_of("SSL"), "-X", "security.protocol=SSL",
                          "-X", "ssl.ca.location=" + certs("ca.pem"), "-t", topic, "-o", "beginning", "-e",
                          "-q", "-f", "%s\n"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [f"v{i}" for i in range(20)]
    from kafka import KafkaConsumer
    kc = KafkaConsumer(topic, bootstrap_servers=secure.bootstrap_of("SSL"), security_protocol="SSL",
                       ssl_cafile=certs("ca.pem"), auto_offset_reset="earliest", consumer_timeout_ms=8000,
                       api_version=(2, 5, 0))
    values = [m.value for m in kc]
    kc.close()
    assert values[:20] == [f"v{i}".encode() for i in range(20)]


def test_sasl_plain_over_plaintext_and_ssl(secure, certs):
    before = secure.metric("kbroker_successful_authentication_total", listener="SASL_SSL", mechanism="PLAIN")
    produce_consume(client_conf(secure, certs, "SASL_PLAINTEXT"), "sp-" + uuid.uuid4().hex[:6])
    topic = "ss-" + uuid.uuid4().hex[:6]
    produce_consume(client_conf(secure, certs, "SASL_SSL"), topic)
    out = subprocess.run(["kcat", "-C", "-b", secure.bootstrap_of("SASL_SSL"), "-X", "security.protocol=SASL_SSL",
                          "-X", "ssl.ca.location=" + certs("ca.pem"), "-X", "sasl.mechanism=PLAIN",
                          "-X", "sasl.username=admin", "-X", "sasl.password=admin-secret", "-t", topic,
                          "-o", "beginning", "-e", "-q", "-f", "%s\n"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 20
    assert secure.metric("kbroker_successful_authentication_total", listener="SASL_SSL", mechanism="PLAIN") > before


def test_wrong_password_is_an_authentication_error(secure, certs):
    before = secure.metric("kbroker_failed_authentication_total", listener="SASL_PLAINTEXT", mechanism="PLAIN")
    err = first_error(client_conf(secure, certs, "SASL_PLAINTEXT", **{"sasl.password": "wrong-pw-123"}))
    assert err is not None and "Authentication failed" in err.str(), err
    assert secure.metric("kbroker_failed_authentication_total", listener="SASL_PLAINTEXT", mechanism="PLAIN") > before
    log = secure.log()
    assert "invalid PLAIN credentials for alice" in log
    assert "wrong-pw-123" not in log


def test_untrusted_server_certificate_fails_the_client(secure, certs):
    err = first_error(client_conf(secure, certs, "SSL", **{"ssl.ca.location": certs("other-ca.pem")}))
    assert err is not None and "SSL handshake failed" in err.str(), err
    # The broker logged the failed handshake and still serves.
    assert re.search(r"TLS handshake with 127\.0\.0\.1:\d+ on listener SSL failed", secure.log())
    produce_consume(client_conf(secure, certs, "SSL"), "after-" + uuid.uuid4().hex[:6], n=3)


def test_client_certificates_required_and_mapped(secure, certs):
    # Without a certificate the MTLS listener refuses the client...
    assert first_error(client_conf(secure, certs, "MTLS")) is not None
    # ...with one it serves it, as the principal the mapping rules make of its subject.
    conf = client_conf(secure, certs, "MTLS", **{"ssl.certificate.location": certs("client.crt"),
                                                 "ssl.key.location": certs("client.key")})
    produce_consume(conf, "mtls-" + uuid.uuid4().hex[:6], n=3)
    assert "authenticated by certificate CN=App1,OU=Services,O=Acme,C=DE as User:app1" in secure.log()


# ---- raw protocol: what a misbehaving client does ----

def frame(api_key, version, corr, body):
    client = b"raw"
    head = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    return struct.pack(">i", len(head) + len(body)) + head + body


def kstring(s):
    return struct.pack(">h", len(s)) + s.encode()


def read_response(sock):
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)[4:]  # without the correlation id


def sasl_plain(sock, user, password, corr=1):
    sock.sendall(frame(17, 1, corr, kstring("PLAIN")))
    assert struct.unpack(">h", read_response(sock)[:2])[0] == 0
    token = b"\0" + user.encode() + b"\0" + password.encode()
    sock.sendall(frame(36, 1, corr + 1, struct.pack(">i", len(token)) + token))
    body = read_response(sock)
    (error,) = struct.unpack(">h", body[:2])
    (msg_len,) = struct.unpack(">h", body[2:4])
    rest = body[4 + max(msg_len, 0):]
    (auth_len,) = struct.unpack(">i", rest[:4])
    (lifetime,) = struct.unpack(">q", rest[4 + auth_len:12 + auth_len])
    return error, lifetime


def closed_by_peer(sock, timeout=5):
    """The broker closed the connection (after a TLS alert, perhaps) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_garbage_and_cut_short_exchanges_leave_the_broker_serving(secure, certs):
    # Garbage where a TLS handshake should be.
    with socket.create_connection(("127.0.0.1", secure.ports["SSL"])) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_by_peer(s)
    # A Metadata request before authenticating on a SASL listener: closed unanswered.
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"])) as s:
        s.sendall(frame(3, 0, 1, struct.pack(">i", 0)))
        assert closed_by_peer(s)
    # A handshake, then the client goes away in the middle of the exchange.
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"])) as s:
        s.sendall(frame(17, 1, 1, kstring("PLAIN")))
        read_response(s)
        s.sendall(frame(36, 1, 2, b"\0\0")[:-3])
    # An oversized "token" before authentication: sasl.server.max.receive.size.
    with socket.create_connection(("127.0.0.1", secure.ports["SASL_PLAINTEXT"])) as s:
        s.sendall(struct.pack(">i", 10_000_000) + b"\0" * 100)
        assert closed_by_peer(s)
    # A SaslHandshake on a listener without SASL: ILLEGAL_SASL_STATE (34).
    with socket.create_connection(("127.0.0.1", secure.port)) as s:
        s.sendall(frame(17, 1, 1, kstring("PLAIN")))
        assert struct.unpack(">h", read_response(s)[:2])[0] == 34
    log = secure.log()
    assert "before SASL authentication" in log
    assert "sasl.server.max.receive.size" in log
    produce_consume(client_conf(secure, certs, "SASL_PLAINTEXT"), "still-" + uuid.uuid4().hex[:6], n=3)
    produce_consume(client_conf(secure, certs, "SSL"), "still2-" + uuid.uuid4().hex[:6], n=3)


def test_reauthentication_within_the_session_lifetime(certs):
    b = SecureBroker(certs, {"listener.name.sasl_plaintext.connections.max.reauth.ms": 1500})
    try:
        b.start()
        with socket.create_connection(("127.0.0.1", b.ports["SASL_PLAINTEXT"])) as s:
            assert sasl_plain(s, "alice", USERS["alice"]) == (0, 1500)
            # KIP-368: the same user authenticates again on the same connection.
            assert sasl_plain(s, "alice", USERS["alice"], corr=3) == (0, 1500)
            s.sendall(frame(18, 0, 5, b""))  # ApiVersions while the session lasts
            assert struct.unpack(">h", read_response(s)[:2])[0] == 0
            time.sleep(1.7)
            s.sendall(frame(18, 0, 6, b""))  # after the session ended: closed
            assert closed_by_peer(s)
        # Another user cannot take over a session.
        with socket.create_connection(("127.0.0.1", b.ports["SASL_PLAINTEXT"])) as s:
            assert sasl_plain(s, "alice", USERS["alice"])[0] == 0
            assert sasl_plain(s, "admin", USERS["admin"], corr=3)[0] == 58  # SASL_AUTHENTICATION_FAILED
        assert "after the SASL session ended" in b.log()
        # A client that does not re-authenticate reconnects and keeps producing.
        conf = client_conf(b, certs, "SASL_PLAINTEXT")
        p = Producer(dict(conf, acks="all"))
        for i in range(3):
            p.produce("reauth", value=b"x")
            assert p.flush(15) == 0
            time.sleep(1)
    finally:
        b.cleanup()


@pytest.mark.parametrize("settings,message", [
    ({"ssl.keystore.location": None}, "an SSL listener needs ssl.keystore.location"),
    ({"ssl.keystore.location": "/nonexistent/keystore.pem"}, "/nonexistent/keystore.pem"),
    ({"ssl.keystore.type": "JKS"}, "ssl.keystore.type=JKS is a Java format"),
    ({"sasl.enabled.mechanisms": "GSSAPI"}, "kbroker does not serve GSSAPI"),
    ({"sasl.enabled.mechanisms": "OAUTHBEARER"}, "kbroker does not serve OAUTHBEARER"),
    ({"listener.name.sasl_ssl.plain.sasl.jaas.config": None}, "PLAIN needs its users"),
])
def test_bad_security_settings_stop_start_up(certs, settings, message):
    b = SecureBroker(certs)
    try:
        for k, v in settings.items():
            if v is None:
                b.extra.pop(k)
            else:
                b.extra[k] = v
        b.write_config()
        out = subprocess.run([KBROKER, "--config", b.config_path], capture_output=True, text=True, timeout=20)
        assert out.returncode == 78, out.stderr + out.stdout
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("kbroker: configuration error:") and message in lines[0], lines
    finally:
        b.cleanup()
