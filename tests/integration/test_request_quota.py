"""request_percentage and connection_creation_rate (issue 17 item 4) on a real kbroker: a
client hammering cheap requests over a tiny request_percentage is throttled (throttle_time_ms in
its answers, its connection muted), another client is not; a burst of connections from one
address over its connection_creation_rate has the excess held and closed unserved."""
import socket
import struct
import threading
import time
import urllib.request

import kafka_wire
from kafka_wire import header
from test_quotas import alter_quotas


def metadata_v4(conn, client_id):
    """Metadata v4 for every topic -> throttle_time_ms (the first field of the answer)."""
    resp = conn.request(header(3, 4, client_id=client_id) + struct.pack(">i?", -1, False))
    return struct.unpack_from(">i", resp, 0)[0]


def hammer(bootstrap, client_id, seconds):
    """Metadata requests back to back until one is throttled or `seconds` pass.
    -> (requests sent, first throttle seen or 0, seconds the next request took)."""
    conn = kafka_wire.Conn(bootstrap)
    n, throttle = 0, 0
    end = time.time() + seconds
    while time.time() < end and throttle == 0:
        throttle = metadata_v4(conn, client_id)
        n += 1
    waited = 0.0
    if throttle:
        start = time.time()
        metadata_v4(conn, client_id)  # held until the mute is over
        waited = time.time() - start
    conn.close()
    return n, throttle, waited


def test_a_client_over_its_request_percentage_is_throttled_and_others_are_not(broker):
    conn = kafka_wire.Conn(broker.bootstrap)
    # A hundredth of a percent of one thread: 1 ms of handler time per 10 s window.
    assert alter_quotas(conn, [([("client-id", "busy")], [("request_percentage", 0.01)])]) == [(0, None)]
    conn.close()
    time.sleep(0.5)  # the metadata reaches the broker's quota manager

    n, throttle, waited = hammer(broker.bootstrap, "busy", 10)
    assert 0 < throttle <= 1000, (n, throttle)  # Kafka caps a request throttle at one window
    assert waited >= throttle / 1000 * 0.5, (throttle, waited)

    calm_n, calm_throttle, _ = hammer(broker.bootstrap, "calm", 2)
    assert calm_throttle == 0 and calm_n > n, (calm_n, n)

    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    throttled = [float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                 if l.startswith("kbroker_quota_throttled_requests_total{") and 'client_id="busy"' in l
                 and 'quota="request_percentage"' in l]
    assert throttled and throttled[0] >= 1, text[-2000:]


def api_versions_answered(bootstrap, source="127.0.0.1"):
    """Connects from `source` (any 127/8 address is this host's loopback), sends ApiVersions v0
    -> (answered, seconds until the answer or the close)."""
    host, port = bootstrap.split(":")
    start = time.time()
    try:
        with socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0)) as s:
            payload = header(18, 0)
            s.sendall(struct.pack(">i", len(payload)) + payload)
            return len(s.recv(4)) == 4, time.time() - start
    except (ConnectionError, socket.timeout, OSError):
        return False, time.time() - start


def test_a_burst_of_connections_over_the_ip_connection_creation_rate_is_cut_back(broker):
    conn = kafka_wire.Conn(broker.bootstrap)
    # One a second for 127.0.0.2: the first window lets ten through (the rate divides by at
    # least 10 s); 127.0.0.1 has no quota.
    assert alter_quotas(conn, [([("ip", "127.0.0.2")], [("connection_creation_rate", 1.0)])]) == [(0, None)]
    time.sleep(0.5)
    results = []
    threads = [threading.Thread(target=lambda: results.append(api_versions_answered(broker.bootstrap, "127.0.0.2")))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    answered = [t for ok, t in results if ok]
    refused = [t for ok, t in results if not ok]
    assert 5 <= len(answered) <= 11 and len(refused) >= 9, results
    # Held before being closed (up to one quota window), not refused at once.
    assert 0.3 < max(refused) < 3, results
    assert all(api_versions_answered(broker.bootstrap, "127.0.0.1")[0] for _ in range(20))

    # The quota removed: 127.0.0.2 is served again at once.
    assert alter_quotas(conn, [([("ip", "127.0.0.2")], [("connection_creation_rate", None)])]) == [(0, None)]
    conn.close()
    time.sleep(0.5)
    assert all(api_versions_answered(broker.bootstrap, "127.0.0.2")[0] for _ in range(15))


def test_max_connection_creation_rate_makes_the_listener_wait(broker_factory):
    b = broker_factory({"max.connection.creation.rate": 2})  # 20 over the first 10 s window
    start = time.time()
    results = [api_versions_answered(b.bootstrap) for _ in range(24)]
    took = time.time() - start
    # Every connection is served (none refused), the ones past the rate only later.
    assert all(ok for ok, _ in results), results
    assert max(t for _, t in results[-3:]) > 0.2, results
    assert took > 0.5, results
