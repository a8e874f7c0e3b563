"""Controller-bound requests sent to a broker that is not the active controller (issue 14,
point 1): the broker forwards them to the controller in an Envelope (KIP-590) and relays the
answer, so clients never see NOT_CONTROLLER; each change is then seen through another broker.

Every controller-bound API kbroker serves is sent to a broker that is not the controller:
CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
AlterPartitionReassignments, ElectLeaders, CreateAcls, DeleteAcls, AlterClientQuotas and
AlterUserScramCredentials. librdkafka sends an AlterConfigs naming broker N's own config to
broker N; the rest go as raw requests on a socket to that broker, since the admin clients route
topic requests to the controller themselves (and Debian's have no call for most of the others).
The move tests keep sending them through one broker while the active controller is killed,
frozen or stopped; with KB_SLOW_TESTS=1, one more waits out the 30 s forward timeout without a
quorum.

One three-node cluster serves the whole module (CI time): each test finds the controller anew,
and the last one restarts the node it kills."""
import os
import struct
import threading
import time

import pytest
from confluent_kafka.admin import ConfigResource

from cluster_harness import Cluster
from kafka_wire import Conn, compact_string, header, header_v2, read_string, string, uvarint
from test_cluster import FAST
from test_dynamic_broker_configs import SET, incremental_alter
from test_quotas import alter_quotas, describe_quotas
from test_security_records import SHA_256, Reader, alter_scram, describe_acls_raw, describe_scram

TOPIC, CLUSTER_RESOURCE = 2, 4
LITERAL, READ, ALLOW = 3, 3, 3
ANY = 1
NONE, REQUEST_TIMED_OUT, TOPIC_ALREADY_EXISTS, NOT_CONTROLLER = 0, 7, 36, 41
ELECTION_NOT_NEEDED = 84
PREFERRED = 0

AUTH = {"authorizer.class.name": "kbroker", "super.users": "User:ANONYMOUS"}  # the ACL APIs need an authorizer


@pytest.fixture(scope="module")
def fwd():
    c = Cluster(3, {**FAST, **AUTH})
    try:
        c.start_all()
        c.wait_ready()
        yield c
        crashed = c.crashed()
        if crashed:
            print(c.all_logs())
        assert not crashed, f"node(s) exited unexpectedly, {{node: rc}}: {crashed}"
    finally:
        c.cleanup()


def not_controller(c):
    """(a live node that is not the active controller, another live node, the controller)."""
    ctrl = c.wait_ready()
    others = [n for n in c.live() if n != ctrl]
    return others[0], others[-1], ctrl


def ask(c, node, payload, timeout=40):
    conn = Conn(c.broker(node).bootstrap, timeout=timeout)
    try:
        return conn.request(payload)
    finally:
        conn.close()


# --- raw requests (classic encodings unless the API has only flexible versions) ------------

def create_topics_v0(name, partitions, rf, timeout_ms=15000):
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ih", partitions, rf)
    body += struct.pack(">i", 0) + struct.pack(">i", 0)  # no assignments, no configs
    return header(19, 0) + body + struct.pack(">i", timeout_ms)


def parse_name_errors(resp, off=0):
    """[name string, error int16] (CreateTopics v0, DeleteTopics v0) -> {name: error}."""
    (n,) = struct.unpack_from(">i", resp, off)
    off, out = off + 4, {}
    for _ in range(n):
        name, off = read_string(resp, off)
        (out[name],) = struct.unpack_from(">h", resp, off)
        off += 2
    return out


def delete_topics_v0(names, timeout_ms=15000):
    body = struct.pack(">i", len(names)) + b"".join(string(n) for n in names)
    return header(20, 0) + body + struct.pack(">i", timeout_ms)


def create_partitions_v0(topic, count, timeout_ms=15000):
    body = struct.pack(">i", 1) + string(topic) + struct.pack(">ii", count, -1)  # no assignment
    return header(37, 0) + body + struct.pack(">i?", timeout_ms, False)


def parse_results_with_message(resp):
    """throttle, [name string, error int16, message] (CreatePartitions v0) -> {name: (error, message)}."""
    (n,) = struct.unpack_from(">i", resp, 4)
    off, out = 8, {}
    for _ in range(n):
        name, off = read_string(resp, off)
        (err,) = struct.unpack_from(">h", resp, off)
        message, off = read_string(resp, off + 2)
        out[name] = (err, message)
    return out


def create_acls_v1(acls):
    """acls: [(resource type, name, pattern type, principal, host, operation, permission)]."""
    body = struct.pack(">i", len(acls))
    for rtype, name, pattern, principal, host, op, perm in acls:
        body += struct.pack(">b", rtype) + string(name) + struct.pack(">b", pattern)
        body += string(principal) + string(host) + struct.pack(">bb", op, perm)
    return header(30, 1) + body


def parse_create_acls_v1(resp):
    """-> [(error, message)] per creation."""
    (n,) = struct.unpack_from(">i", resp, 4)
    off, out = 8, []
    for _ in range(n):
        (err,) = struct.unpack_from(">h", resp, off)
        message, off = read_string(resp, off + 2)
        out.append((err, message))
    return out


def delete_acls_of_v1(principal):
    """DeleteAcls v1: one filter, every ACL of `principal`."""
    body = struct.pack(">i", 1) + struct.pack(">bhb", ANY, -1, ANY) + string(principal)
    return header(31, 1) + body + struct.pack(">hbb", -1, ANY, ANY)


def parse_delete_acls_v1(resp):
    """-> (filter error, number of ACLs it matched)."""
    r = Reader(resp)
    r.take(">i")
    assert r.take(">i") == 1
    err = r.take(">h")
    r.string()
    return err, r.take(">i")


def elect_preferred_v1(topic, partitions, timeout_ms=15000):
    body = struct.pack(">bi", PREFERRED, 1) + string(topic) + struct.pack(">i", len(partitions))
    body += b"".join(struct.pack(">i", p) for p in partitions)
    return header(43, 1) + body + struct.pack(">i", timeout_ms)


def parse_elect_v1(resp):
    """-> (top error, {partition: error})."""
    r = Reader(resp)
    r.take(">i")
    top = r.take(">h")
    out = {}
    for _ in range(r.take(">i")):
        r.string()
        for _ in range(r.take(">i")):
            p, err = r.take(">i"), r.take(">h")
            r.string()
            out[p] = err
    return top, out


def reassign_v0(topic, partition, replicas, timeout_ms=15000):
    """AlterPartitionReassignments v0 (flexible only): one partition to `replicas`."""
    reps = uvarint(len(replicas) + 1) + b"".join(struct.pack(">i", b) for b in replicas)
    part = struct.pack(">i", partition) + reps + uvarint(0)
    body = struct.pack(">i", timeout_ms) + uvarint(2) + compact_string(topic) + uvarint(2) + part + uvarint(0)
    return header_v2(45, 0) + body + uvarint(0)


def flexible_top(resp):
    """The start of a flexible answer with a top-level error (resp starts after the correlation
    id: header v1 tags, throttle, error, message) -> (Reader at what follows, error)."""
    r = Reader(resp)
    r.uvarint()
    r.take(">i")
    top = r.take(">h")
    r.compact_string()
    return r, top


def parse_reassign_v0(resp):
    """-> (top error, {partition: error})."""
    r, top = flexible_top(resp)
    out = {}
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            p, err = r.take(">i"), r.take(">h")
            r.compact_string()
            r.uvarint()
            out[p] = err
        r.uvarint()
    return top, out


def list_reassignments_v0():
    """ListPartitionReassignments v0 (flexible only), every partition."""
    return header_v2(46, 0) + struct.pack(">i", 15000) + uvarint(0) + uvarint(0)


def parse_list_reassignments_v0(resp):
    """-> (top error, {(topic, partition): replicas})."""
    r, top = flexible_top(resp)
    out = {}
    for _ in range(r.uvarint() - 1):
        topic = r.compact_string()
        for _ in range(r.uvarint() - 1):
            p = r.take(">i")
            lists = [[r.take(">i") for _ in range(r.uvarint() - 1)] for _ in range(3)]
            r.uvarint()
            out[(topic, p)] = lists[0]
        r.uvarint()
    return top, out


# --- every API through a broker that is not the controller ---------------------------------

def test_alter_configs_of_a_broker_and_a_topic_through_a_broker_that_is_not_the_controller(fwd):
    c = fwd
    via, other, ctrl = not_controller(c)
    c.create_topic("fwd-configs", 2, rf=3)
    c.wait_topic("fwd-configs", 2)

    a = c.admin(via)
    broker_res = ConfigResource(ConfigResource.Type.BROKER, str(via),
                                set_config={"log.cleaner.backoff.ms": "20000"})
    topic_res = ConfigResource(ConfigResource.Type.TOPIC, "fwd-configs", set_config={"retention.ms": "7200000"})
    futures = a.alter_configs([broker_res, topic_res], request_timeout=20)
    for res, f in futures.items():
        f.result(25)  # raises on NOT_CONTROLLER or any other error

    # IncrementalAlterConfigs of the same topic through the same broker
    assert incremental_alter(c.broker(via).bootstrap, "fwd-configs", [("segment.ms", SET, "3600000")],
                             resource_type=TOPIC)[0] == NONE

    admins = {n: c.admin(n) for n in c.ids}
    seen = {}

    def applied():
        for n in c.ids:
            d = admins[n].describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "fwd-configs")])
            got = list(d.values())[0].result(10)
            seen[n] = (got["retention.ms"].value, got["segment.ms"].value)
        d = admins[via].describe_configs([ConfigResource(ConfigResource.Type.BROKER, str(via))])
        seen["broker"] = list(d.values())[0].result(10)["log.cleaner.backoff.ms"].value
        return set(seen[n] for n in c.ids) == {("7200000", "3600000")} and seen["broker"] == "20000"

    c.wait_for(applied, 15, "the forwarded topic and broker configs are in effect on every node",
               describe=lambda: repr(seen))


def test_create_grow_and_delete_a_topic_through_a_broker_that_is_not_the_controller(fwd):
    c = fwd
    via, other, ctrl = not_controller(c)
    errors = parse_name_errors(ask(c, via, create_topics_v0("fwd-created", 3, 3)))
    assert errors == {"fwd-created": NONE}, f"CreateTopics through node {via} (controller {ctrl}): {errors}"
    # the same again: the controller's own answer, relayed
    errors = parse_name_errors(ask(c, via, create_topics_v0("fwd-created", 3, 3)))
    assert errors == {"fwd-created": TOPIC_ALREADY_EXISTS}, f"second CreateTopics: {errors}"
    info = c.wait_topic("fwd-created", 3)
    assert all(sorted(i.replicas) == list(c.ids) for i in info.values()), info

    results = parse_results_with_message(ask(c, via, create_partitions_v0("fwd-created", 5)))
    assert results == {"fwd-created": (NONE, None)}, f"CreatePartitions through node {via}: {results}"
    c.wait_topic("fwd-created", 5)

    errors = parse_name_errors(ask(c, via, delete_topics_v0(["fwd-created"])))
    assert errors == {"fwd-created": NONE}, f"DeleteTopics through node {via}: {errors}"
    c.wait_for(lambda: "fwd-created" not in c.metadata(other).topics, 10,
               f"node {other} no longer lists the topic deleted through node {via}")


def test_reassign_then_elect_the_new_preferred_leader_through_a_broker_that_is_not_the_controller(fwd):
    c = fwd
    via, other, ctrl = not_controller(c)
    first, second, third = ctrl, via, other  # the controller leads first; the new order prefers `via`
    c.create_topic("fwd-elect", 1, assignment=[[first, second, third]])
    c.wait_topic("fwd-elect", 1)
    c.wait_for(lambda: c.leaders("fwd-elect", via=other) == {0: first}, 10, "the preferred leader leads")

    top, parts = parse_reassign_v0(ask(c, via, reassign_v0("fwd-elect", 0, [second, first, third])))
    assert (top, parts) == (NONE, {0: NONE}), f"AlterPartitionReassignments through node {via}: {top} {parts}"
    c.wait_for(lambda: c.partition_info("fwd-elect", via=other)[0].replicas == [second, first, third], 10,
               f"node {other} shows the reordered replicas")
    # a reorder adds no replica, so nothing is left in progress
    top, ongoing = parse_list_reassignments_v0(ask(c, via, list_reassignments_v0()))
    assert top == NONE and ("fwd-elect", 0) not in ongoing, (top, ongoing)

    def elected():
        top, parts = parse_elect_v1(ask(c, via, elect_preferred_v1("fwd-elect", [0])))
        assert top == NONE and parts.get(0) in (NONE, ELECTION_NOT_NEEDED), (top, parts)
        return c.leaders("fwd-elect", via=other) == {0: second}

    c.wait_for(elected, 15, f"ElectLeaders through node {via} makes node {second} the leader")


def test_acls_quotas_and_scram_credentials_through_a_broker_that_is_not_the_controller(fwd):
    c = fwd
    via, other, ctrl = not_controller(c)
    acl = (TOPIC, "fwd-orders", LITERAL, "User:fwd-alice", "*", READ, ALLOW)
    assert parse_create_acls_v1(ask(c, via, create_acls_v1([acl]))) == [(NONE, None)]
    c.wait_for(lambda: acl in describe_acls_raw(c.broker(other).bootstrap)[1], 10,
               f"node {other} knows the ACL created through node {via}")
    assert parse_delete_acls_v1(ask(c, via, delete_acls_of_v1("User:fwd-alice"))) == (NONE, 1)
    c.wait_for(lambda: acl not in describe_acls_raw(c.broker(other).bootstrap)[1], 10,
               f"node {other} no longer knows the ACL deleted through node {via}")

    conn = Conn(c.broker(via).bootstrap, timeout=40)
    try:
        entity = [("client-id", "fwd-client")]
        assert alter_quotas(conn, [(entity, [("producer_byte_rate", 4096.0)])]) == [(NONE, None)]
    finally:
        conn.close()

    def quota_seen():
        conn = Conn(c.broker(other).bootstrap)
        try:
            err, found = describe_quotas(conn, [("client-id", 0, "fwd-client")], strict=True)
        finally:
            conn.close()
        return err == NONE and found.get(frozenset(entity)) == {"producer_byte_rate": 4096.0}

    c.wait_for(quota_seen, 10, f"node {other} knows the quota set through node {via}")

    assert alter_scram(c.broker(via).bootstrap, upsertions=[("fwd-carol", SHA_256, 4096, "pw")]) == \
        {"fwd-carol": (NONE, None)}
    c.wait_for(lambda: describe_scram(c.broker(other).bootstrap, ["fwd-carol"])[1] ==
               {"fwd-carol": (NONE, {SHA_256: 4096})}, 10, f"node {other} knows the credential set through node {via}")


# --- while the controller moves ------------------------------------------------------------

RETRIABLE = {REQUEST_TIMED_OUT}  # what the forwarding broker answers when no controller took it in time


@pytest.mark.parametrize("how", ["kill9", "pause", "stop"])
def test_requests_through_one_broker_take_effect_while_the_controller_is_killed(fwd, how):
    """CreateTopics and CreateAcls, one after another on a thread, through a broker that is not
    the controller, while the active controller is killed (SIGKILL), frozen (SIGSTOP) or
    stopped (SIGTERM) after the fourth: each is answered with success or a retriable error the test retries, none with
    NOT_CONTROLLER, and every one takes effect under the new controller."""
    c = fwd
    via, other, ctrl = not_controller(c)
    n = 12
    topics = [f"fwd-move-{how}-{i}" for i in range(n)]
    principals = [f"User:fwd-mover-{how}-{i}" for i in range(n)]
    answers = []  # (request, attempt, error code)
    failures = []
    started = threading.Event()
    slowest = [0.0]  # seconds, the longest answer

    def send_all():  # back to back on its own thread, so the kill may land while one is in flight
        try:
            for i in range(n):
                for attempt in range(5):
                    t = time.monotonic()
                    err = parse_name_errors(ask(c, via, create_topics_v0(topics[i], 1, 2)))[topics[i]]
                    slowest[0] = max(slowest[0], time.monotonic() - t)
                    answers.append((topics[i], attempt, err))
                    # The names are new, so TOPIC_ALREADY_EXISTS means an earlier try took effect:
                    # the test's retry, or the forwarding broker's own when the old controller
                    # committed the topic and died before it answered (Kafka's brokers retry so too).
                    if err not in RETRIABLE:
                        break
                acl = (TOPIC, topics[i], LITERAL, principals[i], "*", READ, ALLOW)
                for attempt in range(5):
                    t = time.monotonic()
                    (err, _), = parse_create_acls_v1(ask(c, via, create_acls_v1([acl])))
                    slowest[0] = max(slowest[0], time.monotonic() - t)
                    answers.append((principals[i], attempt, err))
                    if err not in RETRIABLE:  # creating an ACL again is no error
                        break
                if i == 1:
                    started.set()
                if i in (4, 8):  # a real client too: librdkafka sends a broker's config to that broker
                    res = [ConfigResource(ConfigResource.Type.BROKER, str(via),
                                          set_config={"log.cleaner.backoff.ms": str(20000 + i)}),
                           ConfigResource(ConfigResource.Type.TOPIC, topics[0], set_config={"retention.ms": str(3600000 + i)})]
                    admin = c.admin(via)  # kept until the answers are in (a dropped client cancels them)
                    for f in admin.alter_configs(res, request_timeout=40).values():
                        f.result(45)  # raises on any error
                    answers.append((f"alter_configs {i}", 0, NONE))
                time.sleep(0.1)  # the rest spread over the election
        except Exception as e:  # noqa: BLE001 (reported by the test)
            failures.append(repr(e))

    def stop():
        try:
            c.stop(ctrl)  # asserts a clean exit
        except BaseException as e:  # noqa: BLE001 (reported by the test)
            failures.append(f"stopping node {ctrl}: {e!r}")

    sender = threading.Thread(target=send_all, daemon=True)
    stopper = None
    t0 = time.monotonic()
    try:
        sender.start()
        assert started.wait(20), f"the first requests were not answered: {answers} {failures}"
        if how == "stop":  # SIGTERM: the controller resigns and shuts down while requests arrive
            stopper = threading.Thread(target=stop, daemon=True)
            stopper.start()
        else:
            (c.kill9 if how == "kill9" else c.pause)(ctrl)
        sender.join(60)
        assert not sender.is_alive(), f"requests still unanswered after 60 s; answers so far {answers}"
        if stopper:
            stopper.join(40)
        assert not failures, f"a request failed: {failures}; answers {answers}"
        elapsed = time.monotonic() - t0
        final = {}
        for name, _, err in answers:
            final[name] = err
        assert not [a for a in answers if a[2] == NOT_CONTROLLER], f"NOT_CONTROLLER answered: {answers}"
        bad = {k: v for k, v in final.items() if v not in (NONE, TOPIC_ALREADY_EXISTS)}
        assert not bad, f"requests that did not succeed in the end: {bad}; all answers {answers}\n" + c.log_tails()

        new_ctrl = c.wait_for(lambda: c.controller_id(via=other) not in (ctrl, -1) and c.controller_id(via=other),
                              15, "a new controller")
        for t in topics:
            c.wait_for(lambda: t in c.metadata(other).topics and c.metadata(via).topics[t].partitions, 10,
                       f"{t} on nodes {other} and {via}")
        admin = c.admin(other)

        def retention():
            return list(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topics[0])]).values())[0]

        c.wait_for(lambda: retention().result(10)["retention.ms"].value == "3600008", 10,
                   f"the last AlterConfigs of {topics[0]} on node {other}")
        want = {(TOPIC, t, LITERAL, p, "*", READ, ALLOW) for t, p in zip(topics, principals)}
        for node in (via, other):
            c.wait_for(lambda: want <= set(describe_acls_raw(c.broker(node).bootstrap)[1]), 10,
                       f"every ACL on node {node}")
        print(f"{how}: {n} topics and {n} ACLs through node {via} in {elapsed:.1f}s (slowest answer {slowest[0]:.2f}s), controller {ctrl} -> "
              f"{new_ctrl}; answers other than NONE: {[a for a in answers if a[2] != NONE]}")
    finally:
        # the module's cluster stays whole for whatever runs after
        if stopper:
            stopper.join(40)
        if how == "pause":
            c.resume(ctrl)
        elif not c.broker(ctrl).alive():
            c.start(ctrl)
    c.wait_ready()


@pytest.mark.skipif(os.environ.get("KB_SLOW_TESTS") != "1", reason="waits the 30 s forward timeout: KB_SLOW_TESTS=1")
def test_without_a_quorum_a_forwarded_request_times_out_instead_of_not_controller(fwd):
    """Two of three voters down: no controller can be elected, and after the forward timeout
    (30 s) the broker answers REQUEST_TIMED_OUT, as Kafka's does, not NOT_CONTROLLER."""
    c = fwd
    via, other, ctrl = not_controller(c)
    try:
        c.kill9(ctrl)
        c.kill9(other)
        errors = parse_name_errors(ask(c, via, create_topics_v0("fwd-no-quorum", 1, 1), timeout=60))
        assert errors == {"fwd-no-quorum": REQUEST_TIMED_OUT}, errors
    finally:
        for n in (ctrl, other):
            if not c.broker(n).alive():
                c.start(n)
    c.wait_ready()
