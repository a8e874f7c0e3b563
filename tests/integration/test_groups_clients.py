"""Consumer groups with the other clients: kafka-python's KafkaConsumer and KafkaAdminClient,
kcat's balanced consumer (-G), confluent-kafka's AdminClient and librdkafka's own group admin
API (ListConsumerGroups, DescribeConsumerGroups, DeleteGroups, ...; confluent-kafka 1.7 does
not wrap it, so a small ctypes binding below calls it), and hand-encoded group requests for
the exact error codes."""
import ctypes
import struct
import subprocess
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

import kafka_wire
from test_groups import (Member, close_all, committed_offsets, consumer_conf, group_broker, metric,
                         poll_until, produce, scrape)
from test_produce_consume import create_topic

OFFSET_METADATA_TOO_LARGE = 12
UNKNOWN_TOPIC_OR_PARTITION, MEMBER_ID_REQUIRED, GROUP_MAX_SIZE_REACHED, FENCED_INSTANCE_ID = 3, 79, 81, 82
NONE, ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL, INVALID_GROUP_ID = 0, 22, 23, 24
UNKNOWN_MEMBER_ID, INVALID_SESSION_TIMEOUT, REBALANCE_IN_PROGRESS = 25, 26, 27
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, GROUP_SUBSCRIBED_TO_TOPIC = 68, 69, 86


def bounded(fn, *args, timeout=30, what=None, **kwargs):
    """Runs fn in a thread and fails the test if it does not return in time (kafka-python's
    admin client waits for its futures without a deadline)."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 (re-raised in the test's thread)
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{what or getattr(fn, '__name__', fn)} did not return within {timeout}s"
    if "error" in out:
        raise out["error"]
    return out["value"]


# ---------------------------------------------------------------------------------------------
# librdkafka's group admin API through ctypes


class _TPar(ctypes.Structure):
    _fields_ = [("topic", ctypes.c_char_p), ("partition", ctypes.c_int32), ("offset", ctypes.c_int64),
                ("metadata", ctypes.c_void_p), ("metadata_size", ctypes.c_size_t), ("opaque", ctypes.c_void_p),
                ("err", ctypes.c_int), ("_private", ctypes.c_void_p)]


class _TPList(ctypes.Structure):
    _fields_ = [("cnt", ctypes.c_int), ("size", ctypes.c_int), ("elems", ctypes.POINTER(_TPar))]


RD_STATES = {0: "Unknown", 1: "PreparingRebalance", 2: "CompletingRebalance", 3: "Stable", 4: "Dead", 5: "Empty"}
RD_STATE_CODES = {v: k for k, v in RD_STATES.items()}


class RdAdmin:
    """Just enough of librdkafka's admin API (the C library confluent-kafka wraps)."""

    def __init__(self, bootstrap):
        L = self.lib = ctypes.CDLL("librdkafka.so.1")
        vp, cp, sz, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
        pvp = ctypes.POINTER(vp)
        sigs = {
            "rd_kafka_conf_new": (vp, []),
            "rd_kafka_conf_set": (i, [vp, cp, cp, cp, sz]),
            "rd_kafka_new": (vp, [i, vp, cp, sz]),
            "rd_kafka_destroy": (None, [vp]),
            "rd_kafka_queue_new": (vp, [vp]),
            "rd_kafka_queue_destroy": (None, [vp]),
            "rd_kafka_queue_poll": (vp, [vp, i]),
            "rd_kafka_event_type": (i, [vp]),
            "rd_kafka_event_error": (i, [vp]),
            "rd_kafka_event_error_string": (cp, [vp]),
            "rd_kafka_event_destroy": (None, [vp]),
            "rd_kafka_error_code": (i, [vp]),
            "rd_kafka_error_destroy": (None, [vp]),
            "rd_kafka_err2name": (cp, [i]),
            "rd_kafka_AdminOptions_new": (vp, [vp, i]),
            "rd_kafka_AdminOptions_destroy": (None, [vp]),
            "rd_kafka_AdminOptions_set_request_timeout": (i, [vp, i, cp, sz]),
            "rd_kafka_AdminOptions_set_match_consumer_group_states": (vp, [vp, ctypes.POINTER(i), sz]),
            "rd_kafka_topic_partition_list_new": (ctypes.POINTER(_TPList), [i]),
            "rd_kafka_topic_partition_list_add": (vp, [ctypes.POINTER(_TPList), cp, ctypes.c_int32]),
            "rd_kafka_topic_partition_list_destroy": (None, [ctypes.POINTER(_TPList)]),
            "rd_kafka_group_result_name": (cp, [vp]),
            "rd_kafka_group_result_error": (vp, [vp]),
            "rd_kafka_group_result_partitions": (ctypes.POINTER(_TPList), [vp]),
            "rd_kafka_DeleteGroup_new": (vp, [cp]),
            "rd_kafka_DeleteGroup_destroy_array": (None, [pvp, sz]),
            "rd_kafka_DeleteGroups": (None, [vp, pvp, sz, vp, vp]),
            "rd_kafka_event_DeleteGroups_result": (vp, [vp]),
            "rd_kafka_DeleteGroups_result_groups": (pvp, [vp, ctypes.POINTER(sz)]),
            "rd_kafka_ListConsumerGroups": (None, [vp, vp, vp]),
            "rd_kafka_event_ListConsumerGroups_result": (vp, [vp]),
            "rd_kafka_ListConsumerGroups_result_valid": (pvp, [vp, ctypes.POINTER(sz)]),
            "rd_kafka_ListConsumerGroups_result_errors": (pvp, [vp, ctypes.POINTER(sz)]),
            "rd_kafka_ConsumerGroupListing_group_id": (cp, [vp]),
            "rd_kafka_ConsumerGroupListing_is_simple_consumer_group": (i, [vp]),
            "rd_kafka_ConsumerGroupListing_state": (i, [vp]),
            "rd_kafka_DescribeConsumerGroups": (None, [vp, ctypes.POINTER(cp), sz, vp, vp]),
            "rd_kafka_event_DescribeConsumerGroups_result": (vp, [vp]),
            "rd_kafka_DescribeConsumerGroups_result_groups": (pvp, [vp, ctypes.POINTER(sz)]),
            "rd_kafka_ConsumerGroupDescription_group_id": (cp, [vp]),
            "rd_kafka_ConsumerGroupDescription_error": (vp, [vp]),
            "rd_kafka_ConsumerGroupDescription_is_simple_consumer_group": (i, [vp]),
            "rd_kafka_ConsumerGroupDescription_partition_assignor": (cp, [vp]),
            "rd_kafka_ConsumerGroupDescription_state": (i, [vp]),
            "rd_kafka_ConsumerGroupDescription_member_count": (sz, [vp]),
            "rd_kafka_ConsumerGroupDescription_member": (vp, [vp, sz]),
            "rd_kafka_MemberDescription_client_id": (cp, [vp]),
            "rd_kafka_MemberDescription_group_instance_id": (cp, [vp]),
            "rd_kafka_MemberDescription_consumer_id": (cp, [vp]),
            "rd_kafka_MemberDescription_host": (cp, [vp]),
            "rd_kafka_MemberDescription_assignment": (vp, [vp]),
            "rd_kafka_MemberAssignment_partitions": (ctypes.POINTER(_TPList), [vp]),
            "rd_kafka_ListConsumerGroupOffsets_new": (vp, [cp, ctypes.POINTER(_TPList)]),
            "rd_kafka_ListConsumerGroupOffsets_destroy_array": (None, [pvp, sz]),
            "rd_kafka_ListConsumerGroupOffsets": (None, [vp, pvp, sz, vp, vp]),
            "rd_kafka_event_ListConsumerGroupOffsets_result": (vp, [vp]),
            "rd_kafka_ListConsumerGroupOffsets_result_groups": (pvp, [vp, ctypes.POINTER(sz)]),
            "rd_kafka_DeleteConsumerGroupOffsets_new": (vp, [cp, ctypes.POINTER(_TPList)]),
            "rd_kafka_DeleteConsumerGroupOffsets_destroy_array": (None, [pvp, sz]),
            "rd_kafka_DeleteConsumerGroupOffsets": (None, [vp, pvp, sz, vp, vp]),
            "rd_kafka_event_DeleteConsumerGroupOffsets_result": (vp, [vp]),
            "rd_kafka_DeleteConsumerGroupOffsets_result_groups": (pvp, [vp, ctypes.POINTER(sz)]),
        }
        for name, (res, args) in sigs.items():
            f = getattr(L, name)
            f.restype, f.argtypes = res, args
        errstr = ctypes.create_string_buffer(512)
        conf = L.rd_kafka_conf_new()
        for k, v in {"bootstrap.servers": bootstrap, "log_level": "3"}.items():
            assert L.rd_kafka_conf_set(conf, k.encode(), v.encode(), errstr, 512) == 0, errstr.value
        self.rk = L.rd_kafka_new(0, conf, errstr, 512)  # RD_KAFKA_PRODUCER
        assert self.rk, errstr.value
        self.q = L.rd_kafka_queue_new(self.rk)

    def close(self):
        self.lib.rd_kafka_queue_destroy(self.q)
        self.lib.rd_kafka_destroy(self.rk)

    def _options(self, states=None):
        L = self.lib
        opts = L.rd_kafka_AdminOptions_new(self.rk, 0)  # RD_KAFKA_ADMIN_OP_ANY
        errstr = ctypes.create_string_buffer(512)
        assert L.rd_kafka_AdminOptions_set_request_timeout(opts, 15000, errstr, 512) == 0, errstr.value
        if states is not None:
            arr = (ctypes.c_int * len(states))(*[RD_STATE_CODES[s] for s in states])
            err = L.rd_kafka_AdminOptions_set_match_consumer_group_states(opts, arr, len(states))
            assert not err, "set_match_consumer_group_states failed"
        return opts

    def _wait(self, result_fn):
        L = self.lib
        ev = L.rd_kafka_queue_poll(self.q, 20000)
        assert ev, "no admin result within 20 s"
        err = L.rd_kafka_event_error(ev)
        if err:
            msg = L.rd_kafka_event_error_string(ev)
            L.rd_kafka_event_destroy(ev)
            raise AssertionError(f"admin request failed: {self.err_name(err)}: {msg}")
        res = result_fn(ev)
        assert res, f"unexpected event type {L.rd_kafka_event_type(ev)}"
        return ev, res

    def err_name(self, code):
        return self.lib.rd_kafka_err2name(code).decode()

    def _error_code(self, err_ptr):
        return self.lib.rd_kafka_error_code(err_ptr) if err_ptr else 0

    @staticmethod
    def _tplist(ptr):
        if not ptr:
            return []
        lst = ptr.contents
        return [(lst.elems[i].topic.decode(), lst.elems[i].partition, lst.elems[i].offset, lst.elems[i].err)
                for i in range(lst.cnt)]

    def _group_results(self, ev, res, getter):
        n = ctypes.c_size_t()
        arr = getter(res, ctypes.byref(n))
        out = {}
        for k in range(n.value):
            g = arr[k]
            out[self.lib.rd_kafka_group_result_name(g).decode()] = (
                self._error_code(self.lib.rd_kafka_group_result_error(g)),
                self._tplist(self.lib.rd_kafka_group_result_partitions(g)))
        self.lib.rd_kafka_event_destroy(ev)
        return out

    def delete_groups(self, groups):
        """-> {group: error code}"""
        L = self.lib
        arr = (ctypes.c_void_p * len(groups))(*[L.rd_kafka_DeleteGroup_new(g.encode()) for g in groups])
        opts = self._options()
        L.rd_kafka_DeleteGroups(self.rk, arr, len(groups), opts, self.q)
        L.rd_kafka_DeleteGroup_destroy_array(arr, len(groups))
        L.rd_kafka_AdminOptions_destroy(opts)
        ev, res = self._wait(L.rd_kafka_event_DeleteGroups_result)
        return {g: err for g, (err, _) in self._group_results(ev, res, L.rd_kafka_DeleteGroups_result_groups).items()}

    def list_groups(self, states=None):
        """-> ({group: (state, is_simple)}, [error codes])"""
        L = self.lib
        opts = self._options(states)
        L.rd_kafka_ListConsumerGroups(self.rk, opts, self.q)
        L.rd_kafka_AdminOptions_destroy(opts)
        ev, res = self._wait(L.rd_kafka_event_ListConsumerGroups_result)
        n = ctypes.c_size_t()
        valid = L.rd_kafka_ListConsumerGroups_result_valid(res, ctypes.byref(n))
        groups = {}
        for k in range(n.value):
            g = valid[k]
            groups[L.rd_kafka_ConsumerGroupListing_group_id(g).decode()] = (
                RD_STATES[L.rd_kafka_ConsumerGroupListing_state(g)],
                bool(L.rd_kafka_ConsumerGroupListing_is_simple_consumer_group(g)))
        errs = L.rd_kafka_ListConsumerGroups_result_errors(res, ctypes.byref(n))
        errors = [L.rd_kafka_error_code(errs[k]) for k in range(n.value)]
        L.rd_kafka_event_destroy(ev)
        return groups, errors

    def describe_groups(self, groups):
        """-> {group: dict(error, state, assignor, simple, members=[dict(...)])}"""
        L = self.lib
        names = (ctypes.c_char_p * len(groups))(*[g.encode() for g in groups])
        opts = self._options()
        L.rd_kafka_DescribeConsumerGroups(self.rk, names, len(groups), opts, self.q)
        L.rd_kafka_AdminOptions_destroy(opts)
        ev, res = self._wait(L.rd_kafka_event_DescribeConsumerGroups_result)
        n = ctypes.c_size_t()
        arr = L.rd_kafka_DescribeConsumerGroups_result_groups(res, ctypes.byref(n))
        out = {}
        for k in range(n.value):
            g = arr[k]
            members = []
            for j in range(L.rd_kafka_ConsumerGroupDescription_member_count(g)):
                m = L.rd_kafka_ConsumerGroupDescription_member(g, j)
                inst = L.rd_kafka_MemberDescription_group_instance_id(m)
                asg = L.rd_kafka_MemberDescription_assignment(m)
                members.append({
                    "client_id": L.rd_kafka_MemberDescription_client_id(m).decode(),
                    "instance_id": inst.decode() if inst else None,
                    "member_id": L.rd_kafka_MemberDescription_consumer_id(m).decode(),
                    "host": L.rd_kafka_MemberDescription_host(m).decode(),
                    "partitions": [(t, p) for t, p, _, _ in
                                   self._tplist(L.rd_kafka_MemberAssignment_partitions(asg) if asg else None)],
                })
            assignor = L.rd_kafka_ConsumerGroupDescription_partition_assignor(g)
            out[L.rd_kafka_ConsumerGroupDescription_group_id(g).decode()] = {
                "error": self._error_code(L.rd_kafka_ConsumerGroupDescription_error(g)),
                "state": RD_STATES[L.rd_kafka_ConsumerGroupDescription_state(g)],
                "assignor": assignor.decode() if assignor else None,
                "simple": bool(L.rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g)),
                "members": members,
            }
        L.rd_kafka_event_destroy(ev)
        return out

    def _group_offsets_call(self, new, destroy, call, result, groups_of, group, partitions):
        L = self.lib
        tpl = None
        if partitions is not None:
            tpl = L.rd_kafka_topic_partition_list_new(len(partitions))
            for t, p in partitions:
                L.rd_kafka_topic_partition_list_add(tpl, t.encode(), p)
        arr = (ctypes.c_void_p * 1)(new(group.encode(), tpl))
        if tpl:
            L.rd_kafka_topic_partition_list_destroy(tpl)
        opts = self._options()
        call(self.rk, arr, 1, opts, self.q)
        destroy(arr, 1)
        L.rd_kafka_AdminOptions_destroy(opts)
        ev, res = self._wait(result)
        return self._group_results(ev, res, groups_of)[group]

    def list_offsets(self, group, partitions=None):
        """-> (group error, {(topic, partition): (offset, error)})"""
        L = self.lib
        err, parts = self._group_offsets_call(
            L.rd_kafka_ListConsumerGroupOffsets_new, L.rd_kafka_ListConsumerGroupOffsets_destroy_array,
            L.rd_kafka_ListConsumerGroupOffsets, L.rd_kafka_event_ListConsumerGroupOffsets_result,
            L.rd_kafka_ListConsumerGroupOffsets_result_groups, group, partitions)
        return err, {(t, p): (o, e) for t, p, o, e in parts}

    def delete_offsets(self, group, partitions):
        """OffsetDelete -> (group error, {(topic, partition): error})"""
        L = self.lib
        err, parts = self._group_offsets_call(
            L.rd_kafka_DeleteConsumerGroupOffsets_new, L.rd_kafka_DeleteConsumerGroupOffsets_destroy_array,
            L.rd_kafka_DeleteConsumerGroupOffsets, L.rd_kafka_event_DeleteConsumerGroupOffsets_result,
            L.rd_kafka_DeleteConsumerGroupOffsets_result_groups, group, partitions)
        return err, {(t, p): e for t, p, _, e in parts}


# ---------------------------------------------------------------------------------------------
# 3. kafka-python and kcat consume in groups and commit; they continue where the other stopped.


def kafka_python_consumer(b, topic, group, **extra):
    from kafka import KafkaConsumer
    conf = dict(bootstrap_servers=b.bootstrap, group_id=group, auto_offset_reset="earliest",
                enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500,
                max_poll_interval_ms=20000, request_timeout_ms=15000)
    conf.update(extra)
    return KafkaConsumer(topic, **conf)


def kp_poll(kc, want, timeout=20):
    """Polls a kafka-python consumer until it returned `want` records (never more). (Its poll
    can block past its timeout while it has no coordinator, hence the thread.)"""
    got = []

    def run():
        deadline = time.time() + timeout
        while len(got) < want and time.time() < deadline:
            for _, recs in kc.poll(timeout_ms=200, max_records=want - len(got)).items():
                got.extend(recs)
    bounded(run, timeout=timeout + 10, what="kafka-python's poll")
    assert len(got) == want, f"kafka-python consumer got {len(got)} of {want} records"
    return got


def kp_close(kc):
    bounded(kc.close, autocommit=False, timeout=20)


def kcat_group(b, group, topic, *extra, timeout=40):
    """kcat's balanced consumer; -e: exits once at the end of every assigned partition.
    (-o beginning would override the committed offsets in -G mode; auto.offset.reset does not.)"""
    r = subprocess.run(["kcat", "-b", b.bootstrap, "-G", group, "-e", "-q", "-f", "%p %o %s\n",
                        "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
                        "-X", "heartbeat.interval.ms=500", *extra, topic],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"kcat exited with {r.returncode}: {r.stderr[-2000:]}"
    return [(int(p), int(o), v) for p, o, v in (line.split(" ", 2) for line in r.stdout.splitlines())]


def test_kafka_python_and_kcat_consume_in_one_group_each_resuming_where_the_other_committed(broker_factory):
    b = group_broker(broker_factory)
    create_topic(b.bootstrap, "mixed", 3)
    values = [f"m{i}" for i in range(90)]
    produce(b, "mixed", [(i % 3, None, v) for i, v in enumerate(values)])

    from kafka import TopicPartition as KTP
    kc = kafka_python_consumer(b, "mixed", "g-mixed")
    try:
        first = kp_poll(kc, 40)
        bounded(kc.commit)  # synchronous: the positions of what poll returned
        positions = {tp.partition: kc.position(tp) for tp in kc.assignment()}
        assert sorted(positions) == [0, 1, 2]
        assert {p: bounded(kc.committed, KTP("mixed", p)) for p in range(3)} == positions
    finally:
        kp_close(kc)
    assert committed_offsets(b, "g-mixed", "mixed", 3) == positions

    # kcat in the same group reads exactly the rest, from the committed offsets on...
    rest = kcat_group(b, "g-mixed", "mixed")
    for p in range(3):
        offs = [o for q, o, _ in rest if q == p]
        assert offs == list(range(positions[p], 30)), f"kcat read partition {p} at {offs[:3]}..."
    seen = [r.value.decode() for r in first] + [v for _, _, v in rest]
    assert sorted(seen) == sorted(values) and len(seen) == len(set(seen))
    # ...and commits when it closes
    assert committed_offsets(b, "g-mixed", "mixed", 3) == {0: 30, 1: 30, 2: 30}
    assert kcat_group(b, "g-mixed", "mixed") == []

    produce(b, "mixed", [(i % 3, None, f"n{i}") for i in range(9)])
    kc = kafka_python_consumer(b, "mixed", "g-mixed")
    try:
        new = kp_poll(kc, 9)
        assert sorted(r.value.decode() for r in new) == sorted(f"n{i}" for i in range(9))
        assert all(r.offset >= 30 for r in new)
        bounded(kc.commit)
        assert {p: bounded(kc.committed, KTP("mixed", p)) for p in range(3)} == {0: 33, 1: 33, 2: 33}
    finally:
        kp_close(kc)


class KafkaPythonMember(threading.Thread):
    """A kafka-python consumer polling in its own thread: its poll() blocks while it joins, so
    polling it in the thread that also polls a librdkafka member would keep that one from
    rejoining until the rebalance timed out."""

    def __init__(self, b, topic, group):
        super().__init__(daemon=True)
        self.kc = kafka_python_consumer(b, topic, group)
        self.stop = threading.Event()
        self.parts = set()
        self.msgs = []
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                for _, recs in self.kc.poll(timeout_ms=100).items():
                    self.msgs.extend((r.partition, r.value.decode()) for r in recs)
                self.parts = {tp.partition for tp in self.kc.assignment()}
        except Exception as e:  # noqa: BLE001 (reported by the test)
            self.error = e
        finally:
            self.kc.close(autocommit=False)

    def poll(self, timeout):  # for poll_until: the thread does the polling
        assert self.error is None, self.error
        time.sleep(timeout)

    def finish(self):
        self.stop.set()
        self.join(20)
        assert not self.is_alive(), "the kafka-python consumer did not close"

    def __repr__(self):
        return f"kafka-python(assignment={sorted(self.parts)}, error={self.error})"


def test_kafka_python_and_confluent_kafka_members_share_one_group(broker_factory):
    b = group_broker(broker_factory)
    create_topic(b.bootstrap, "shared", 6)
    ck = Member(b, "g-shared", ["shared"], "confluent")
    kp = KafkaPythonMember(b, "shared", "g-shared")
    kp.start()
    try:
        def settled():
            mine, theirs = kp.parts, ck.assignment()
            return len(mine) == 3 and len(theirs) == 3 and mine | theirs == set(range(6))
        # both offer range and roundrobin; the group agrees on one and both read its assignment
        poll_until([kp, ck], settled, 30, "3 + 3 partitions between kafka-python and confluent-kafka")
        produce(b, "shared", [(i % 6, None, f"s{i}") for i in range(60)])
        poll_until([kp, ck], lambda: len(kp.msgs) + len(ck.msgs) >= 60, 20, "all 60 records read")
        ck.poll(1.0)  # nothing more arrives
        assert len(kp.msgs) + len(ck.msgs) == 60, "a record was read twice"
        assert {p for p, _ in kp.msgs} == kp.parts
        assert {p for p, _, _ in ck.msgs} == ck.assignment()
    finally:
        kp.finish()
        close_all([ck])


# ---------------------------------------------------------------------------------------------
# 6. List, describe and delete groups (and their offsets) with the admin clients.


def _busy_and_idle_groups(b, topic):
    """'busy': two live members (one static); 'idle': committed 3/5/7 and left (Empty)."""
    create_topic(b.bootstrap, topic, 3)
    produce(b, topic, [(i % 3, None, f"a{i}") for i in range(30)])
    idle = Member(b, "idle", [topic], "idle", **{"client.id": "idle-client"})
    poll_until([idle], lambda: len(idle.msgs) == 30, 20, "idle reads everything")
    idle.c.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 5), TopicPartition(topic, 2, 7)],
                  asynchronous=False)
    idle.close()
    m1 = Member(b, "busy", [topic], "busy-1", **{"client.id": "busy-client"})
    m2 = Member(b, "busy", [topic], "busy-2", **{"client.id": "busy-client", "group.instance.id": "inst-1"})
    poll_until([m1, m2], lambda: len(m1.assignment()) + len(m2.assignment()) == 3
               and m1.assignment() and m2.assignment(), 30, "busy's two members share 3 partitions")
    for m in (m1, m2):
        m.c.commit(offsets=[TopicPartition(topic, p, 10) for p in m.assignment()], asynchronous=False)
    return m1, m2


def test_confluent_and_librdkafka_admin_list_describe_and_delete_groups(broker_factory):
    b = group_broker(broker_factory)
    m1, m2 = _busy_and_idle_groups(b, "adm")
    rd = RdAdmin(b.bootstrap)
    try:
        # confluent-kafka AdminClient.list_groups (ListGroups, then DescribeGroups)
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        groups = {g.id: g for g in admin.list_groups(timeout=15)}
        assert {"busy", "idle"} <= set(groups), list(groups)
        busy, idle = groups["busy"], groups["idle"]
        assert busy.error is None and busy.state == "Stable", (busy.error, busy.state)
        assert busy.protocol_type == "consumer" and busy.protocol == "range"
        assert sorted(m.client_id for m in busy.members) == ["busy-client", "busy-client"]
        assert len({m.id for m in busy.members}) == 2 and all(m.id for m in busy.members)
        assert all(m.assignment and m.metadata for m in busy.members)
        assert all("127.0.0.1" in m.client_host for m in busy.members), [m.client_host for m in busy.members]
        assert idle.error is None and idle.state == "Empty" and idle.members == []
        assert idle.protocol_type == "consumer"
        only = admin.list_groups(group="idle", timeout=15)
        assert [g.id for g in only] == ["idle"] and only[0].state == "Empty"

        # librdkafka ListConsumerGroups (ListGroups v4 can filter by state)
        listed, errors = rd.list_groups()
        assert errors == []
        assert listed["busy"] == ("Stable", False) and listed["idle"] == ("Empty", False), listed
        assert set(rd.list_groups(["Stable"])[0]) == {"busy"}
        assert set(rd.list_groups(["Empty"])[0]) == {"idle"}
        assert set(rd.list_groups(["Empty", "Stable"])[0]) == {"busy", "idle"}

        # DescribeConsumerGroups: states, assignor, members with their assignments
        d = rd.describe_groups(["busy", "idle", "nobody"])
        assert d["busy"]["error"] == 0 and d["busy"]["state"] == "Stable" and d["busy"]["assignor"] == "range"
        members = d["busy"]["members"]
        assert len(members) == 2
        assert sorted((m["instance_id"] or "") for m in members) == ["", "inst-1"]
        assert sorted(p for m in members for p in m["partitions"]) == [("adm", 0), ("adm", 1), ("adm", 2)]
        static_member = next(m for m in members if m["instance_id"] == "inst-1")
        assert {p for _, p in static_member["partitions"]} == m2.assignment()
        assert all(m["client_id"] == "busy-client" and m["host"] for m in members)
        assert d["idle"]["state"] == "Empty" and d["idle"]["members"] == []
        assert d["nobody"]["state"] == "Dead" and d["nobody"]["members"] == [], d["nobody"]

        # ListConsumerGroupOffsets (OffsetFetch): all partitions, or the ones asked for
        err, offs = rd.list_offsets("idle")
        assert err == 0 and offs == {("adm", 0): (3, 0), ("adm", 1): (5, 0), ("adm", 2): (7, 0)}, offs
        err, offs = rd.list_offsets("idle", [("adm", 1)])
        assert err == 0 and offs == {("adm", 1): (5, 0)}

        # OffsetDelete: fine for a group that no longer reads the topic, refused while it does
        err, parts = rd.delete_offsets("idle", [("adm", 1)])
        assert err == 0 and parts == {("adm", 1): 0}, (err, parts)
        assert rd.list_offsets("idle")[1] == {("adm", 0): (3, 0), ("adm", 2): (7, 0)}
        err, parts = rd.delete_offsets("busy", [("adm", 0)])
        assert GROUP_SUBSCRIBED_TO_TOPIC in [err] + list(parts.values()), \
            f"OffsetDelete of a subscribed topic: {rd.err_name(err)} {parts}"
        assert rd.list_offsets("busy", [("adm", 0)])[1][("adm", 0)][0] >= 0

        # DeleteGroups: NON_EMPTY_GROUP for a live group, GROUP_ID_NOT_FOUND for an unknown one
        res = rd.delete_groups(["busy", "idle", "nobody"])
        assert res == {"busy": NON_EMPTY_GROUP, "idle": 0, "nobody": GROUP_ID_NOT_FOUND}, \
            {g: rd.err_name(e) for g, e in res.items()}
        assert set(rd.list_groups()[0]) == {"busy"}
        assert "idle" not in {g.id for g in admin.list_groups(timeout=15)}
        assert rd.list_offsets("idle") == (0, {})
        assert rd.delete_groups(["idle"]) == {"idle": GROUP_ID_NOT_FOUND}
        text = scrape(b)
        assert metric(text, "kbroker_consumer_group_committed_offset", group="idle", topic="adm", partition="0") is None

        # Once its members have left, busy can be deleted too; its offsets go with it.
        close_all([m1, m2])  # m2 is static: it does not leave, so its session (6 s) must expire
        deadline = time.time() + 20
        while True:
            res = rd.delete_groups(["busy"])
            if res["busy"] != NON_EMPTY_GROUP or time.time() > deadline:
                break
            time.sleep(0.5)
        assert res == {"busy": 0}, {g: rd.err_name(e) for g, e in res.items()}
        assert rd.list_groups()[0] == {}
        c = Consumer(consumer_conf(b, "busy"))
        got = c.committed([TopicPartition("adm", p) for p in range(3)], timeout=15)
        c.close()
        assert all(tp.offset < 0 for tp in got), got
    finally:
        close_all([m1, m2])
        rd.close()


def test_kafka_python_admin_lists_describes_and_deletes_groups(broker_factory):
    from kafka import KafkaAdminClient, TopicPartition as KTP
    from kafka.errors import GroupIdNotFoundError, NoError, NonEmptyGroupError
    b = group_broker(broker_factory)
    m1, m2 = _busy_and_idle_groups(b, "kadm")
    admin = bounded(KafkaAdminClient, bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        listed = bounded(admin.list_consumer_groups)
        assert {("busy", "consumer"), ("idle", "consumer")} <= set(listed), listed

        busy, idle = bounded(admin.describe_consumer_groups, ["busy", "idle"])
        assert (busy.group, busy.state, busy.protocol_type, busy.protocol) == ("busy", "Stable", "consumer", "range")
        assert len(busy.members) == 2
        assert sorted(m.client_id for m in busy.members) == ["busy-client", "busy-client"]
        assigned = sorted(p for m in busy.members for t, ps in m.member_assignment.assignment for p in ps)
        assert assigned == [0, 1, 2]
        assert all(m.member_metadata.subscription == ["kadm"] for m in busy.members)
        assert (idle.group, idle.state, idle.members) == ("idle", "Empty", [])

        offsets = bounded(admin.list_consumer_group_offsets, "idle")
        assert {tp.partition: om.offset for tp, om in offsets.items()} == {0: 3, 1: 5, 2: 7}
        assert all(tp.topic == "kadm" for tp in offsets)
        some = bounded(admin.list_consumer_group_offsets, "idle", partitions=[KTP("kadm", 2)])
        assert {tp.partition: om.offset for tp, om in some.items()} == {2: 7}

        res = dict(bounded(admin.delete_consumer_groups, ["busy", "idle", "nobody"]))
        assert res == {"busy": NonEmptyGroupError, "idle": NoError, "nobody": GroupIdNotFoundError}, res
        listed = bounded(admin.list_consumer_groups)
        assert "idle" not in {g for g, _ in listed} and "busy" in {g for g, _ in listed}
        offsets = bounded(admin.list_consumer_group_offsets, "idle")
        assert all(om.offset == -1 for om in offsets.values()), offsets
    finally:
        close_all([m1, m2])
        admin.close()


# ---------------------------------------------------------------------------------------------
# 8. A clean restart keeps groups, their offsets, and deletions.


def test_clean_restart_keeps_groups_and_committed_offsets(broker_factory):
    from kafka import KafkaAdminClient
    b = group_broker(broker_factory)
    create_topic(b.bootstrap, "rs", 2)
    produce(b, "rs", [(i % 2, None, f"r{i}") for i in range(20)])

    m = Member(b, "rs-confluent", ["rs"], "confluent")
    poll_until([m], lambda: len(m.msgs) == 20, 20, "reads all 20")
    m.c.commit(offsets=[TopicPartition("rs", 0, 4), TopicPartition("rs", 1, 7)], asynchronous=False)
    m.close()

    from kafka import OffsetAndMetadata, TopicPartition as KTP
    kc = kafka_python_consumer(b, "rs", "rs-kafka-python")
    try:
        kp_poll(kc, 6)
        kp_positions = {tp.partition: kc.position(tp) for tp in kc.assignment()}
        bounded(kc.commit, {KTP("rs", p): OffsetAndMetadata(o, f"meta-{p}") for p, o in kp_positions.items()})
    finally:
        kp_close(kc)

    doomed = Consumer(consumer_conf(b, "rs-deleted"))
    doomed.commit(offsets=[TopicPartition("rs", 0, 9)], asynchronous=False)
    doomed.close()
    rd = RdAdmin(b.bootstrap)
    try:
        assert rd.delete_groups(["rs-deleted"]) == {"rs-deleted": 0}
    finally:
        rd.close()

    b.stop()
    b.start()

    admin = bounded(KafkaAdminClient, bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        deadline = time.time() + 20
        while True:  # the coordinator may still be loading __consumer_offsets
            try:
                listed = {g for g, _ in bounded(admin.list_consumer_groups)}
                break
            except Exception:  # noqa: BLE001 (COORDINATOR_LOAD_IN_PROGRESS and the like)
                assert time.time() < deadline
                time.sleep(0.5)
        assert {"rs-confluent", "rs-kafka-python"} <= listed and "rs-deleted" not in listed, listed
        offs = bounded(admin.list_consumer_group_offsets, "rs-confluent")
        assert {tp.partition: om.offset for tp, om in offs.items()} == {0: 4, 1: 7}
        offs = bounded(admin.list_consumer_group_offsets, "rs-kafka-python")
        assert {tp.partition: (om.offset, om.metadata) for tp, om in offs.items()} == \
            {p: (o, f"meta-{p}") for p, o in kp_positions.items()}
        described = bounded(admin.describe_consumer_groups, ["rs-confluent"])[0]
        assert (described.state, described.protocol_type) == ("Empty", "consumer")
    finally:
        admin.close()
    ids = {g.id for g in AdminClient({"bootstrap.servers": b.bootstrap}).list_groups(timeout=15)}
    assert {"rs-confluent", "rs-kafka-python"} <= ids and "rs-deleted" not in ids
    assert committed_offsets(b, "rs-deleted", "rs", 2) == {}

    text = scrape(b)
    assert metric(text, "kbroker_consumer_group_committed_offset", group="rs-confluent", topic="rs", partition="0") == 4
    assert metric(text, "kbroker_consumer_group_lag", group="rs-confluent", topic="rs", partition="1") == 10 - 7

    # and a member of the group resumes there
    m = Member(b, "rs-confluent", ["rs"], "again")
    try:
        poll_until([m], lambda: len(m.msgs) == 6 + 3, 20, "resumes at 4 and 7")
        assert sorted((p, o) for p, o, _ in m.msgs) == [(0, o) for o in range(4, 10)] + [(1, o) for o in range(7, 10)]
    finally:
        m.close()


# ---------------------------------------------------------------------------------------------
# The group requests' exact error codes, hand-encoded (classic versions).


def _s(v):
    return kafka_wire.string(v)


def _bytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def _array(items):
    return struct.pack(">i", len(items)) + b"".join(items)


class _Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.d, self.o)
        self.o += struct.calcsize(">" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("h")
        if n < 0:
            return None
        s = self.d[self.o:self.o + n].decode()
        self.o += n
        return s

    def bytes(self):
        n = self.take("i")
        if n < 0:
            return None
        s = self.d[self.o:self.o + n]
        self.o += n
        return s


def subscription(*topics):
    return struct.pack(">h", 0) + _array([_s(t) for t in topics]) + _bytes(None)


def assignment(topic, partitions):
    return struct.pack(">h", 0) + _array([_s(topic) + _array([struct.pack(">i", p) for p in partitions])]) + _bytes(None)


COORDINATOR_LOADING = {14, 15, 16}  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR


def until_loaded(call, timeout=15):
    """Repeats a group request while the coordinator is still loading its __consumer_offsets
    partition (real clients retry these the same way)."""
    deadline = time.time() + timeout
    while True:
        r = call()
        err = r["error"] if isinstance(r, dict) else r
        if err not in COORDINATOR_LOADING or time.time() > deadline:
            return r
        time.sleep(0.1)


def find_coordinator_v0(conn, group):
    r = _Reader(conn.request(kafka_wire.header(10, 0) + _s(group)))
    return r.take("h"), r.take("i"), r.string(), r.take("i")


def join_v0(conn, group, session_ms, member_id="", protocols=(("range", None),), topics=("raw",),
            send_only=False):
    """JoinGroup v0; send_only: sends it without waiting (read it with parse_join_v0)."""
    meta = subscription(*topics)
    body = _s(group) + struct.pack(">i", session_ms) + _s(member_id) + _s("consumer")
    body += _array([_s(name) + _bytes(meta if m is None else m) for name, m in protocols])
    if send_only:
        conn.send(kafka_wire.header(11, 0) + body)
        return None
    return parse_join_v0(conn.request(kafka_wire.header(11, 0) + body))


def parse_join_v0(data):
    r = _Reader(data)
    err, gen, proto, leader, member = r.take("h"), r.take("i"), r.string(), r.string(), r.string()
    members = [(r.string(), r.bytes()) for _ in range(r.take("i"))]
    return dict(error=err, generation=gen, protocol=proto, leader=leader, member_id=member, members=members)


def sync_v0(conn, group, gen, member_id, assignments):
    body = _s(group) + struct.pack(">i", gen) + _s(member_id)
    body += _array([_s(m) + _bytes(a) for m, a in assignments])
    r = _Reader(conn.request(kafka_wire.header(14, 0) + body))
    return r.take("h"), r.bytes()


def heartbeat_v0(conn, group, gen, member_id):
    return _Reader(conn.request(kafka_wire.header(12, 0) + _s(group) + struct.pack(">i", gen) + _s(member_id))).take("h")


def leave_v0(conn, group, member_id):
    return _Reader(conn.request(kafka_wire.header(13, 0) + _s(group) + _s(member_id))).take("h")


def commit_v2(conn, group, gen, member_id, topic, offsets, metadata=""):
    body = _s(group) + struct.pack(">i", gen) + _s(member_id) + struct.pack(">q", -1)
    body += _array([_s(topic) + _array([struct.pack(">iq", p, o) + _s(metadata) for p, o in offsets.items()])])
    r = _Reader(conn.request(kafka_wire.header(8, 2) + body))
    out = {}
    for _ in range(r.take("i")):
        r.string()
        for _ in range(r.take("i")):
            p, e = r.take("i"), r.take("h")
            out[p] = e
    return out


def fetch_offsets_v1(conn, group, topic, partitions):
    body = _s(group) + _array([_s(topic) + _array([struct.pack(">i", p) for p in partitions])])
    r = _Reader(conn.request(kafka_wire.header(9, 1) + body))
    out = {}
    for _ in range(r.take("i")):
        r.string()
        for _ in range(r.take("i")):
            p, o = r.take("i"), r.take("q")
            r.string()
            out[p] = (o, r.take("h"))
    return out


def test_group_requests_answer_kafkas_error_codes(broker_factory):
    b = group_broker(broker_factory, **{"group.max.session.timeout.ms": 60000})
    create_topic(b.bootstrap, "raw", 2)
    conn = kafka_wire.Conn(b.bootstrap, timeout=20)
    try:
        err, node, host, port = find_coordinator_v0(conn, "g-raw")
        deadline = time.time() + 10
        while err != NONE and time.time() < deadline:  # __consumer_offsets may be created first
            time.sleep(0.2)
            err, node, host, port = find_coordinator_v0(conn, "g-raw")
        assert (err, node, host, port) == (NONE, 1, "127.0.0.1", b.port)

        assert until_loaded(lambda: join_v0(conn, "g-raw", 1000))["error"] == INVALID_SESSION_TIMEOUT  # < 6000
        assert join_v0(conn, "g-raw", 120000)["error"] == INVALID_SESSION_TIMEOUT    # > group.max (60000)
        assert join_v0(conn, "", 6000)["error"] == INVALID_GROUP_ID

        j = join_v0(conn, "g-raw", 6000)
        assert j["error"] == NONE, j
        assert (j["generation"], j["protocol"], j["leader"]) == (1, "range", j["member_id"]) and j["member_id"]
        assert j["members"] == [(j["member_id"], subscription("raw"))]
        me, gen = j["member_id"], j["generation"]
        mine = assignment("raw", [0, 1])
        assert sync_v0(conn, "g-raw", gen, me, [(me, mine)]) == (NONE, mine)

        other = kafka_wire.Conn(b.bootstrap, timeout=20)
        try:  # a member whose protocols the group does not support
            assert join_v0(other, "g-raw", 6000, protocols=(("roundrobin", None),))["error"] == \
                INCONSISTENT_GROUP_PROTOCOL
        finally:
            other.close()

        assert heartbeat_v0(conn, "g-raw", gen, me) == NONE
        assert heartbeat_v0(conn, "g-raw", gen + 1, me) == ILLEGAL_GENERATION
        assert heartbeat_v0(conn, "g-raw", gen, "no-such-member") == UNKNOWN_MEMBER_ID
        assert sync_v0(conn, "g-raw", gen, "no-such-member", [])[0] == UNKNOWN_MEMBER_ID

        assert commit_v2(conn, "g-raw", gen + 1, me, "raw", {0: 5}) == {0: ILLEGAL_GENERATION}
        assert commit_v2(conn, "g-raw", gen, "no-such-member", "raw", {0: 5}) == {0: UNKNOWN_MEMBER_ID}
        assert commit_v2(conn, "g-raw", gen, me, "raw", {0: 5, 1: 0}) == {0: NONE, 1: NONE}
        assert fetch_offsets_v1(conn, "g-raw", "raw", [0, 1]) == {0: (5, NONE), 1: (0, NONE)}

        assert leave_v0(conn, "g-raw", "no-such-member") == UNKNOWN_MEMBER_ID
        assert leave_v0(conn, "g-raw", me) == NONE
        assert heartbeat_v0(conn, "g-raw", gen, me) == UNKNOWN_MEMBER_ID
        # an empty group takes commits from outside the group protocol (generation -1)
        assert commit_v2(conn, "g-raw", -1, "", "raw", {1: 2}) == {1: NONE}
        assert fetch_offsets_v1(conn, "g-raw", "raw", [0, 1]) == {0: (5, NONE), 1: (2, NONE)}
        assert until_loaded(lambda: fetch_offsets_v1(conn, "g-unknown", "raw", [0])[0][1]) == NONE
        assert fetch_offsets_v1(conn, "g-unknown", "raw", [0]) == {0: (-1, NONE)}
        # commits for partitions that do not exist
        assert commit_v2(conn, "g-raw", -1, "", "no-such-topic", {0: 1}) == {0: UNKNOWN_TOPIC_OR_PARTITION}
        assert commit_v2(conn, "g-raw", -1, "", "raw", {7: 1}) == {7: UNKNOWN_TOPIC_OR_PARTITION}
        # offset.metadata.max.bytes (4096)
        assert commit_v2(conn, "g-raw", -1, "", "raw", {0: 9}, metadata="x" * 4097) == {0: OFFSET_METADATA_TOO_LARGE}
        assert commit_v2(conn, "g-raw", -1, "", "raw", {0: 9}, metadata="x" * 4096) == {0: NONE}
        assert fetch_offsets_v1(conn, "g-raw", "raw", [0]) == {0: (9, NONE)}
    finally:
        conn.close()


def join_v5(conn, group, member_id="", instance_id=None, topics=("raw",), session_ms=6000, rebalance_ms=10000,
            send_only=False):
    body = _s(group) + struct.pack(">ii", session_ms, rebalance_ms) + _s(member_id) + _s(instance_id)
    body += _s("consumer") + _array([_s("range") + _bytes(subscription(*topics))])
    payload = kafka_wire.header(11, 5) + body
    if send_only:
        conn.send(payload)
        return None
    return parse_join_v5(conn.request(payload))


def parse_join_v5(data):
    r = _Reader(data)
    r.take("i")  # throttle
    err, gen, proto, leader, member = r.take("h"), r.take("i"), r.string(), r.string(), r.string()
    members = [(r.string(), r.string(), r.bytes()) for _ in range(r.take("i"))]
    return dict(error=err, generation=gen, protocol=proto, leader=leader, member_id=member, members=members)


def sync_v3(conn, group, gen, member_id, instance_id, assignments):
    body = _s(group) + struct.pack(">i", gen) + _s(member_id) + _s(instance_id)
    body += _array([_s(m) + _bytes(a) for m, a in assignments])
    r = _Reader(conn.request(kafka_wire.header(14, 3) + body))
    r.take("i")
    return r.take("h"), r.bytes()


def heartbeat_v3(conn, group, gen, member_id, instance_id):
    body = _s(group) + struct.pack(">i", gen) + _s(member_id) + _s(instance_id)
    r = _Reader(conn.request(kafka_wire.header(12, 3) + body))
    r.take("i")
    return r.take("h")


def commit_v7(conn, group, gen, member_id, instance_id, topic, offsets):
    body = _s(group) + struct.pack(">i", gen) + _s(member_id) + _s(instance_id)
    body += _array([_s(topic) + _array([struct.pack(">iqi", p, o, -1) + _s(None) for p, o in offsets.items()])])
    r = _Reader(conn.request(kafka_wire.header(8, 7) + body))
    r.take("i")
    out = {}
    for _ in range(r.take("i")):
        r.string()
        for _ in range(r.take("i")):
            p, e = r.take("i"), r.take("h")
            out[p] = e
    return out


def test_static_member_replaced_within_its_session_keeps_generation_and_assignment_and_fences_the_old_id(
        broker_factory):
    b = group_broker(broker_factory)
    create_topic(b.bootstrap, "raw", 2)
    ca, cb, cc = (kafka_wire.Conn(b.bootstrap, timeout=20) for _ in range(3))
    try:
        deadline = time.time() + 10
        while find_coordinator_v0(ca, "g-static-raw")[0] != NONE:
            assert time.time() < deadline
            time.sleep(0.2)

        a = until_loaded(lambda: join_v5(ca, "g-static-raw", instance_id="inst-a"))
        assert a["error"] == NONE, a  # a static member needs no MEMBER_ID_REQUIRED round
        assert a["generation"] == 1 and a["leader"] == a["member_id"]
        assert a["members"] == [(a["member_id"], "inst-a", subscription("raw"))]
        given = assignment("raw", [0, 1])
        assert sync_v3(ca, "g-static-raw", 1, a["member_id"], "inst-a", [(a["member_id"], given)]) == (NONE, given)

        # The same instance comes back (a restarted process, no LeaveGroup): it takes over the
        # member without a rebalance, in the same generation, with the same assignment.
        bj = join_v5(cb, "g-static-raw", instance_id="inst-a")
        assert bj["error"] == NONE, bj
        assert bj["generation"] == 1, f"the static member's return started generation {bj['generation']}"
        assert bj["member_id"] and bj["member_id"] != a["member_id"]
        assignments = [(m, given) for m, _, _ in bj["members"]]  # if told it leads, it re-sends the same
        assert sync_v3(cb, "g-static-raw", 1, bj["member_id"], "inst-a", assignments) == (NONE, given)
        assert heartbeat_v3(cb, "g-static-raw", 1, bj["member_id"], "inst-a") == NONE

        # the old process's member id is fenced
        assert heartbeat_v3(ca, "g-static-raw", 1, a["member_id"], "inst-a") == FENCED_INSTANCE_ID
        assert commit_v7(ca, "g-static-raw", 1, a["member_id"], "inst-a", "raw", {0: 1}) == {0: FENCED_INSTANCE_ID}
        assert commit_v7(cb, "g-static-raw", 1, bj["member_id"], "inst-a", "raw", {0: 1}) == {0: NONE}

        # A dynamic member (JoinGroup v4+) first gets MEMBER_ID_REQUIRED and an id...
        c = join_v5(cc, "g-static-raw")
        assert c["error"] == MEMBER_ID_REQUIRED and c["member_id"], c
        # ...and joining with it starts a rebalance that the static member hears of and rejoins.
        join_v5(cc, "g-static-raw", member_id=c["member_id"], send_only=True)
        deadline = time.time() + 10
        while True:
            hb = heartbeat_v3(cb, "g-static-raw", 1, bj["member_id"], "inst-a")
            if hb == REBALANCE_IN_PROGRESS:
                break
            assert hb == NONE and time.time() < deadline, hb
            time.sleep(0.1)
        rb = join_v5(cb, "g-static-raw", member_id=bj["member_id"], instance_id="inst-a")
        rc = parse_join_v5(cc.read_response())
        assert rb["error"] == NONE and rc["error"] == NONE, (rb, rc)
        assert rb["generation"] == rc["generation"] == 2
        assert rb["leader"] == rc["leader"] == bj["member_id"]  # the longest-standing member leads
        assert sorted((m, i) for m, i, _ in rb["members"]) == sorted([(bj["member_id"], "inst-a"),
                                                                      (c["member_id"], None)])
        assert rc["members"] == []
    finally:
        for conn in (ca, cb, cc):
            conn.close()


def test_rebalance_states_answer_commits_heartbeats_and_a_full_group_like_kafka(broker_factory):
    b = group_broker(broker_factory, **{"group.max.size": 2})
    create_topic(b.bootstrap, "raw", 2)
    c1, c2, c3 = (kafka_wire.Conn(b.bootstrap, timeout=20) for _ in range(3))
    g = "g-states"
    try:
        deadline = time.time() + 10
        while find_coordinator_v0(c1, g)[0] != NONE:
            assert time.time() < deadline
            time.sleep(0.2)
        j1 = until_loaded(lambda: join_v0(c1, g, 6000))
        assert j1["error"] == NONE and j1["generation"] == 1, j1
        m1 = j1["member_id"]
        assert sync_v0(c1, g, 1, m1, [(m1, assignment("raw", [0, 1]))])[0] == NONE
        assert commit_v2(c1, g, 1, m1, "raw", {0: 1}) == {0: NONE}

        # A second member joins: PreparingRebalance. The first hears of it through its heartbeat
        # and may still commit for the generation it has.
        join_v0(c2, g, 6000, send_only=True)
        deadline = time.time() + 10
        while (hb := heartbeat_v0(c1, g, 1, m1)) != REBALANCE_IN_PROGRESS:
            assert hb == NONE and time.time() < deadline, hb
            time.sleep(0.1)
        assert commit_v2(c1, g, 1, m1, "raw", {0: 2}) == {0: NONE}

        r1 = join_v0(c1, g, 6000, member_id=m1)
        r2 = parse_join_v0(c2.read_response())
        assert r1["error"] == r2["error"] == NONE, (r1, r2)
        assert r1["generation"] == r2["generation"] == 2
        assert r1["leader"] == r2["leader"] == m1
        m2 = r2["member_id"]
        assert sorted(m for m, _ in r1["members"]) == sorted([m1, m2]) and r2["members"] == []

        # CompletingRebalance: no commits until the leader's assignment arrives; heartbeats are fine
        assert commit_v2(c1, g, 2, m1, "raw", {0: 3}) == {0: REBALANCE_IN_PROGRESS}
        assert heartbeat_v0(c1, g, 2, m1) == NONE
        c2.send(kafka_wire.header(14, 0) + _s(g) + struct.pack(">i", 2) + _s(m2) + _array([]))
        a1, a2 = assignment("raw", [0]), assignment("raw", [1])
        assert sync_v0(c1, g, 2, m1, [(m1, a1), (m2, a2)]) == (NONE, a1)
        r = _Reader(c2.read_response())
        assert (r.take("h"), r.bytes()) == (NONE, a2)  # the follower's SyncGroup waited for the leader
        assert commit_v2(c1, g, 2, m1, "raw", {0: 3}) == {0: NONE}
        assert commit_v2(c2, g, 2, m2, "raw", {1: 4}) == {1: NONE}
        assert fetch_offsets_v1(c3, g, "raw", [0, 1]) == {0: (3, NONE), 1: (4, NONE)}

        # group.max.size: 2
        assert join_v0(c3, g, 6000)["error"] == GROUP_MAX_SIZE_REACHED

        # The follower leaves; the leader rejoins alone in generation 3.
        assert leave_v0(c2, g, m2) == NONE
        deadline = time.time() + 10
        while (hb := heartbeat_v0(c1, g, 2, m1)) != REBALANCE_IN_PROGRESS:
            assert hb == NONE and time.time() < deadline, hb
            time.sleep(0.1)
        r1 = join_v0(c1, g, 6000, member_id=m1)
        assert (r1["error"], r1["generation"], r1["leader"]) == (NONE, 3, m1)
        assert [m for m, _ in r1["members"]] == [m1]
    finally:
        for conn in (c1, c2, c3):
            conn.close()
