"""Controller-bound requests sent to a broker that is not the active controller (issue 14,
point 1): the broker forwards them to the controller in an Envelope (KIP-590) and relays the
answer, so clients never see NOT_CONTROLLER.

librdkafka sends an AlterConfigs naming broker N's own config to broker N, together with the
topic configs of the same call; CreateTopics is sent here on a socket to broker N directly,
since the admin client would route it to the controller itself."""
import struct

from confluent_kafka.admin import ConfigResource

from cluster_harness import cluster  # noqa: F401 (fixture)
from kafka_wire import Conn, header, string
from test_cluster import FAST


def create_topics_v0(name, partitions, rf, timeout_ms=15000):
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ih", partitions, rf)
    body += struct.pack(">i", 0) + struct.pack(">i", 0)  # no assignments, no configs
    return header(19, 0) + body + struct.pack(">i", timeout_ms)


def parse_create_topics_v0(resp):
    """-> {topic: error code}"""
    (n,) = struct.unpack_from(">i", resp, 0)
    off, out = 4, {}
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", resp, off)
        name = resp[off + 2:off + 2 + ln].decode()
        off += 2 + ln
        (err,) = struct.unpack_from(">h", resp, off)
        off += 2
        out[name] = err
    return out


def test_alter_configs_of_a_broker_and_a_topic_through_a_broker_that_is_not_the_controller(cluster):
    c = cluster(extra=FAST)
    ctrl = c.wait_ready()
    via = next(n for n in c.ids if n != ctrl)
    c.create_topic("fwd-configs", 2, rf=3)
    c.wait_topic("fwd-configs", 2)

    a = c.admin(via)
    broker_res = ConfigResource(ConfigResource.Type.BROKER, str(via),
                                set_config={"log.cleaner.backoff.ms": "20000"})
    topic_res = ConfigResource(ConfigResource.Type.TOPIC, "fwd-configs", set_config={"retention.ms": "7200000"})
    futures = a.alter_configs([broker_res, topic_res], request_timeout=20)
    for res, f in futures.items():
        f.result(25)  # raises on NOT_CONTROLLER or any other error

    admins = {n: c.admin(n) for n in c.ids}
    seen = {}

    def applied():
        for n in c.ids:
            d = admins[n].describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "fwd-configs")])
            seen[n] = list(d.values())[0].result(10)["retention.ms"].value
        d = admins[via].describe_configs([ConfigResource(ConfigResource.Type.BROKER, str(via))])
        seen["broker"] = list(d.values())[0].result(10)["log.cleaner.backoff.ms"].value
        return set(seen[n] for n in c.ids) == {"7200000"} and seen["broker"] == "20000"

    c.wait_for(applied, 15, "the forwarded topic and broker configs are in effect on every node",
               describe=lambda: repr(seen))


def test_create_topics_sent_to_a_broker_that_is_not_the_controller_is_forwarded(cluster):
    c = cluster(extra=FAST)
    ctrl = c.wait_ready()
    via = next(n for n in c.ids if n != ctrl)
    conn = Conn(c.broker(via).bootstrap)
    try:
        errors = parse_create_topics_v0(conn.request(create_topics_v0("fwd-created", 3, 3)))
        assert errors == {"fwd-created": 0}, f"CreateTopics through node {via} (controller {ctrl}): {errors}"
        # the same again: the controller's own answer, relayed
        errors = parse_create_topics_v0(conn.request(create_topics_v0("fwd-created", 3, 3)))
        assert errors == {"fwd-created": 36}, f"second CreateTopics: {errors} (want TOPIC_ALREADY_EXISTS)"
    finally:
        conn.close()
    info = c.wait_topic("fwd-created", 3)
    assert all(sorted(i.replicas) == list(c.ids) for i in info.values()), info
