"""A three-node cluster whose inter-broker listener is SASL_SSL with SCRAM-SHA-512 (chosen by
security.inter.broker.protocol) and whose controller listener is SASL_SSL with PLAIN, with the
authorizer on and the brokers' user in super.users: kbroker's own connections (the quorum, the
controller channel, follower fetches, transaction markers, the Schema Registry's log) log in
there, replicate acks=all records, fail over after kill -9 of a leader that is also the active
controller, and a broker restarted with a wrong password stays out with a clear log line.

Test clients use a PLAINTEXT listener of each node (ANONYMOUS, a super user too), so the
harness's plain AdminClient and consumers work unchanged; the broker traffic never uses it."""
import os
import re
import tempfile
import time

from cluster_harness import cluster  # noqa: F401 (fixture)
from kbroker_harness import free_ports
from test_cluster import FAST, BackgroundProducer, check_acknowledged, read_to_high_watermark
from test_security_transport import make_ca, make_cert

BROKER_PASSWORD = "broker-secret"
SCRAM_LOGIN = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
               'username="broker" password="{password}";')
PLAIN_LOGIN = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
               'username="broker" password="{password}" user_broker="' + BROKER_PASSWORD + '";')


def secured(certs_dir, password=BROKER_PASSWORD):
    quoted = lambda text: "'" + text + "'"  # noqa: E731 (YAML single quotes keep the JAAS quotes)
    return {
        **FAST,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL",
        "security.inter.broker.protocol": "SASL_SSL",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": quoted(SCRAM_LOGIN.format(password=password)),
        "listener.name.controller.plain.sasl.jaas.config": quoted(PLAIN_LOGIN.format(password=password)),
        "bootstrap.scram.users": quoted(f"SCRAM-SHA-512=[name=broker,password={BROKER_PASSWORD}]"),
        "ssl.keystore.type": "PEM",
        "ssl.truststore.type": "PEM",
        "ssl.keystore.location": os.path.join(certs_dir, "broker-keystore.pem"),
        "ssl.truststore.location": os.path.join(certs_dir, "ca.pem"),
        "authorizer.class.name": "kbroker",
        "super.users": "User:broker;User:ANONYMOUS",
    }


def secured_cluster(cluster):  # noqa: F811 (the fixture, passed on)
    d = tempfile.mkdtemp(prefix="kbroker-certs-")
    make_ca(d, "ca")
    make_cert(d, "broker", "/CN=localhost", "ca", san="IP:127.0.0.1,DNS:localhost")
    c = cluster(extra=secured(d), start=False)
    for node, port in zip(c.nodes.values(), free_ports(len(c.nodes))):
        node.extra.update({
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},SASL_SSL://127.0.0.1:{port},"
                         f"CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port},SASL_SSL://127.0.0.1:{port}",
        })
    c.start_all()
    c.wait_ready(30)
    return c, d


def test_sasl_ssl_cluster_replicates_fails_over_and_refuses_a_wrong_password(cluster):  # noqa: F811
    c, certs_dir = secured_cluster(cluster)
    topic, parts = "secured", 3
    controller = c.controller_id()
    others = [n for n in c.ids if n != controller]
    # The active controller leads partition 0: one kill -9 moves both.
    assignment = [[controller, *others], [others[0], others[1], controller], [others[1], controller, others[0]]]
    c.create_topic(topic, parts, rf=3, config={"min.insync.replicas": "2"}, assignment=assignment)
    c.wait_topic(topic, parts)

    prod = BackgroundProducer(c.bootstrap, topic, parts, **{"max.in.flight.requests.per.connection": 1})
    prod.start()
    try:
        c.wait_for(lambda: len(prod.acked) >= 150, 20, "150 acks=all records acknowledged over SASL_SSL replication",
                   describe=prod.summary)
        t_kill = time.time()
        c.kill9(controller)
        c.wait_for(lambda: prod.acked_since(t_kill, partition=0) >= 20, 25,
                   f"records produced to {topic}-0 after kill -9 of its leader, the active controller "
                   f"(node {controller}), acknowledged", describe=prod.summary)
    except BaseException:
        prod.abort()
        raise
    prod.stop()
    assert prod.remaining == 0, prod.summary()
    new_controller = c.controller_id()
    assert new_controller in others
    assert c.partition_info(topic)[0].leader in others

    logs = read_to_high_watermark(c, topic, parts)  # partition 0 from its new leader, a follower before
    lost, misplaced, disorder = check_acknowledged(prod.acked, logs)
    assert not lost, f"{len(lost)} acknowledged records lost, (partition, seq, acked offset): {lost[:20]}"
    assert not misplaced, f"acknowledged offsets hold other records: {misplaced[:20]}"
    assert not disorder, f"acknowledged records out of order: {disorder[:20]}"

    # Restarted with a wrong password of its own logins (its listeners still accept the right
    # one): it cannot log in to the controller, says so, and neither crashes nor joins.
    victim = c.broker(controller)
    victim.extra.update({
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
            "'" + SCRAM_LOGIN.format(password="wrong-secret") + "'",
        "listener.name.controller.plain.sasl.jaas.config": "'" + PLAIN_LOGIN.format(password="wrong-secret") + "'",
    })
    victim.launch()
    refused = re.compile(r"SASL PLAIN login to node \d+ \(127\.0\.0\.1:\d+\) as broker failed: .*"
                         r"Invalid username or password")
    c.wait_for(lambda: refused.search(victim.log_tail(200000)), 15,
               f"node {controller} logs that its login to the controller was refused")
    time.sleep(1)
    assert victim.alive(), victim.log_tail()
    isrs = {p: info.isrs for p, info in c.partition_info(topic).items()}
    assert all(controller not in isr for isr in isrs.values()), f"node {controller} rejoined an ISR: {isrs}"
