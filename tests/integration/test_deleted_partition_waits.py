"""Issue 14 item 4: pipelined acks=all Produce requests wait for an ISR that cannot catch up (its
other replica is paused) on a leader that is not the controller; the topic is deleted midway.
Kafka ends every waiting produce when its partition goes away, so each request is answered
long before its own timeout, and the connection goes on serving: here every answer is
NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION (never the timeout's REQUEST_TIMED_OUT),
and a Metadata request sent after them on the same connection is answered too."""
import struct
import threading
import time

from cluster_harness import cluster  # noqa: F401 (the fixture)
from kafka_wire import Conn, header, parse_produce_v3, record_batch, string

UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
PRODUCE_TIMEOUT_MS = 20000  # far beyond the test's wait: an answer by timeout would show


def produce_acks_all(topic, correlation_id, value):
    batch = record_batch([value])
    body = string(None) + struct.pack(">hii", -1, PRODUCE_TIMEOUT_MS, 1) + string(topic)
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
    return header(0, 3, correlation_id) + body


def metadata_v1(correlation_id):
    return header(3, 1, correlation_id) + struct.pack(">i", -1)  # all topics


def test_acks_all_produces_waiting_on_a_deleted_partition_are_all_answered(cluster):
    # A paused follower stays in the ISR (no lag shrink during the test): acks=all waits.
    c = cluster(extra={"replica.lag.time.max.ms": 120000})
    controller = c.controller_id()
    leader, follower = [n for n in c.ids if n != controller][:2]
    c.create_topic("doomed", 1, assignment=[[leader, follower]])
    c.wait_topic("doomed", 1)
    bootstrap = c.broker(leader).bootstrap

    conn = Conn(bootstrap, timeout=PRODUCE_TIMEOUT_MS / 1000 - 5)
    answers = {}
    reader_done = threading.Event()

    def read_all(expected):
        try:
            while len(answers) < expected:
                cid, resp = conn.read_response_with_id()
                answers[cid] = (time.time(), resp)
        except Exception as e:  # a timeout here is the failure the test looks for
            answers["error"] = repr(e)
        reader_done.set()

    before, after = 20, 20
    reader = threading.Thread(target=read_all, args=(before + after + 1,), daemon=True)
    reader.start()
    c.pause(follower)
    try:
        for i in range(before):
            conn.send(produce_acks_all("doomed", i, b"before-%d" % i))
        time.sleep(0.5)
        assert not any(isinstance(k, int) for k in answers), "acks=all answered with the follower paused"
        admin = c.admin(controller)  # kept: the client ends its requests when it is dropped
        admin.delete_topics(["doomed"], operation_timeout=10)["doomed"].result(timeout=15)
        deleted_at = time.time()
        # Right after the deletion: the leader may not have applied it yet.
        for i in range(before, before + after):
            conn.send(produce_acks_all("doomed", i, b"after-%d" % i))
            time.sleep(0.005)
        conn.send(metadata_v1(before + after))
        assert reader_done.wait(10), f"answers after 10 s: {sorted(k for k in answers if isinstance(k, int))}"
    finally:
        c.resume(follower)
    assert "error" not in answers, answers.get("error")
    errors = {cid: parse_produce_v3(resp)[0] for cid, (_, resp) in answers.items() if cid < before + after}
    assert set(errors) == set(range(before + after))
    assert set(errors.values()) <= {UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER}, errors
    slowest = max(t for t, _ in answers.values()) - deleted_at
    print(f"all {before + after} produces and the Metadata answered {slowest * 1000:.0f} ms after the deletion")
    conn.close()
