"""request_percentage (issue 17 item 4) on a real kbroker: a client hammering cheap requests
over a tiny request_percentage is throttled (throttle_time_ms in its answers, its connection
muted), another client is not; the per-entity series in /metrics."""
import struct
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
