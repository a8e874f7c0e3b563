"""ApiVersions answers per listener (issue 14, item 5): the controller-internal APIs (Vote,
BeginQuorumEpoch, AlterPartition, FetchSnapshot, BrokerRegistration, BrokerHeartbeat,
AllocateProducerIds, AssignReplicasToDirs) are advertised and served on the controller listener only, as in Kafka;
one of them sent to a client listener closes the connection, as Kafka's SocketServer does for
an API its listener does not enable. (Brokers still use them over the controller listener:
test_cluster.py runs three brokers that register, heartbeat and shrink ISRs that way.)"""
import struct

import pytest

import kafka_wire
from cluster_harness import cluster  # noqa: F401 (fixture)

CONTROLLER_ONLY = {52, 53, 56, 59, 62, 63, 67, 73}


def api_versions(port):
    conn = kafka_wire.Conn(f"127.0.0.1:{port}")
    resp = conn.request(kafka_wire.header(18, 2))
    conn.close()
    err, n = struct.unpack_from(">hi", resp, 0)
    assert err == 0
    keys = {struct.unpack_from(">hhh", resp, 6 + 6 * i)[0] for i in range(n)}
    assert len(resp) == 6 + 6 * n + 4  # then throttle_time_ms, nothing else
    return keys


def broker_heartbeat_v0():
    body = struct.pack(">iqq??", 1, 1, 0, False, False) + kafka_wire.uvarint(0)
    return kafka_wire.header_v2(63, 0) + body


def allocate_producer_ids_v0():
    return kafka_wire.header_v2(67, 0) + struct.pack(">iq", 1, 1) + kafka_wire.uvarint(0)


@pytest.fixture
def node(cluster):
    c = cluster(1, extra={"offsets.topic.replication.factor": 1, "transaction.state.log.replication.factor": 1})
    return c.broker(1)


def test_controller_apis_are_advertised_on_the_controller_listener_only(node):
    client = api_versions(node.port)
    controller = api_versions(node.controller_port)
    assert not client & CONTROLLER_ONLY
    assert CONTROLLER_ONLY <= controller
    # Everything a client uses is still there.
    assert {0, 1, 3, 10, 11, 18, 19, 32, 60} <= client


@pytest.mark.parametrize("request_bytes", [broker_heartbeat_v0, allocate_producer_ids_v0],
                         ids=["BrokerHeartbeat", "AllocateProducerIds"])
def test_a_controller_api_on_a_client_listener_closes_the_connection(node, request_bytes):
    conn = kafka_wire.Conn(f"127.0.0.1:{node.port}")
    conn.send(request_bytes())
    assert conn.closed_by_peer()
    conn.close()
    assert "served on the controller listener only" in node.log_tail()
    # On the controller listener the same request is answered.
    conn = kafka_wire.Conn(f"127.0.0.1:{node.controller_port}")
    assert conn.request(request_bytes()) is not None
    conn.close()
