"""DescribeCluster v0 (a flexible-only API) shows this broker as the whole cluster and its
controller; the cluster id is the one Metadata reports and survives a restart."""
import struct

from confluent_kafka.admin import AdminClient

import kafka_wire


def uvarint(b, off):
    shift = value = 0
    while True:
        c = b[off]
        off += 1
        value |= (c & 0x7F) << shift
        if not c & 0x80:
            return value, off
        shift += 7


def compact_string(b, off):
    n, off = uvarint(b, off)
    if n == 0:
        return None, off
    return b[off:off + n - 1].decode(), off + n - 1


def describe_cluster(b):
    conn = kafka_wire.Conn(b.bootstrap)
    req = struct.pack(">hhi", 60, 0, 9) + kafka_wire.string("kb-test") + b"\x00"  # header v2
    req += b"\x00" + b"\x00"  # include_cluster_authorized_operations=false, no tags
    conn.send(req)
    size = struct.unpack(">i", conn._read(4))[0]
    data = conn._read(size)
    conn.close()
    corr = struct.unpack_from(">i", data)[0]
    off = 5  # correlation id + empty tagged fields (response header v1)
    throttle, err = struct.unpack_from(">ih", data, off)
    off += 6
    msg, off = compact_string(data, off)
    cluster_id, off = compact_string(data, off)
    (controller,) = struct.unpack_from(">i", data, off)
    off += 4
    n, off = uvarint(data, off)
    brokers = []
    for _ in range(n - 1):
        (bid,) = struct.unpack_from(">i", data, off)
        host, off = compact_string(data, off + 4)
        (port,) = struct.unpack_from(">i", data, off)
        rack, off = compact_string(data, off + 4)
        off += 1  # tags
        brokers.append((bid, host, port, rack))
    return corr, err, cluster_id, controller, brokers


def test_describe_cluster_shows_the_broker_and_its_controller(broker):
    corr, err, cluster_id, controller, brokers = describe_cluster(broker)
    assert (corr, err, controller) == (9, 0, 1)
    assert brokers == [(1, "127.0.0.1", broker.port, None)]
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    assert md.cluster_id == cluster_id and len(cluster_id) == 22
    broker.restart()
    assert describe_cluster(broker)[2] == cluster_id


def test_metadata_answers_with_the_addresses_of_the_listener_asked(broker_factory):
    # Two client listeners (as in deploy/docker-compose.yml: one for the containers, one
    # published to the host): each client gets the brokers' addresses on its own listener.
    from kbroker_harness import free_ports
    (other,) = free_ports(1)
    b = broker_factory(start=False)
    b.extra.update({
        "listeners": f"PLAINTEXT://127.0.0.1:{b.port},EXTERNAL://127.0.0.1:{other}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{b.port},EXTERNAL://localhost:{other}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
    })
    b.start()
    for bootstrap, host, port in ((f"127.0.0.1:{b.port}", "127.0.0.1", b.port),
                                  (f"127.0.0.1:{other}", "localhost", other)):
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        assert [(x.host, x.port) for x in md.brokers.values()] == [(host, port)], bootstrap
