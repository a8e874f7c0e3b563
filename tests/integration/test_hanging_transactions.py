"""Hanging transactions (issue 13, item 4), with raw requests where a hostile or broken client
would send what librdkafka never does.

- Verification on (transaction.partition.verification.enable, Kafka's default, KIP-890 part 1):
  a transactional batch for a partition its transaction never added is refused with
  INVALID_TXN_STATE, for a real transactional id and an unknown one (INVALID_PRODUCER_ID_MAPPING);
  the transactional bit with producer id -1 is INVALID_RECORD; transactional records without the
  request's transactional id TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Nothing is written, so
  read_committed consumers see what comes after. Once AddPartitionsToTxn added the partition,
  the same batch goes in.
- Verification turned off at run time (a dynamic broker config): such a batch hangs the
  partition's last stable offset; the operator's way out, as kafka-transactions.sh abort does
  it: DescribeProducers finds the producer and its open transaction, WriteTxnMarkers ABORT ends
  it, and read_committed consumers move on."""
import struct
import time

from confluent_kafka.admin import AdminClient, ConfigResource

import kafka_wire as kw
from cluster_harness import wait_until
from test_idempotence import create_topic, describe_producers, init_transactional_id, produce
from test_transaction_markers import (READ_COMMITTED, READ_UNCOMMITTED, consume, list_latest, txn_batch,
                                      write_txn_markers)

NONE, INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING = 0, 48, 49
TRANSACTIONAL_ID_AUTHORIZATION_FAILED, INVALID_RECORD = 53, 87
CONFIG = {"transaction.state.log.num.partitions": 2, "offsets.topic.num.partitions": 2}


def add_partitions_to_txn(bootstrap, transactional_id, pid, epoch, topic, partitions):
    """AddPartitionsToTxn v0 -> {partition: error}."""
    body = kw.string(transactional_id) + struct.pack(">qhi", pid, epoch, 1) + kw.string(topic)
    body += struct.pack(">i", len(partitions)) + b"".join(struct.pack(">i", p) for p in partitions)
    conn = kw.Conn(bootstrap)
    try:
        resp = conn.request(kw.header(24, 0) + body)
    finally:
        conn.close()
    off = 4 + 4  # throttle, topics
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n
    (count,) = struct.unpack_from(">i", resp, off)
    off += 4
    out = {}
    for _ in range(count):
        p, err = struct.unpack_from(">ih", resp, off)
        off += 6
        out[p] = err
    return out


def test_a_transactional_batch_for_a_partition_not_in_its_transaction_is_refused(broker_factory):
    b = broker_factory(CONFIG)
    topic = "hang"
    create_topic(b.bootstrap, topic, partitions=2)
    err, pid, epoch = init_transactional_id(b.bootstrap, "app-1")
    assert err == NONE

    # The coordinator knows app-1, but not this partition in its (not even begun) transaction.
    batch = txn_batch([b"lost"], pid, epoch, 0)
    assert produce(b.bootstrap, topic, batch, 0, transactional_id="app-1") == (INVALID_TXN_STATE, -1)
    # An id the coordinator never heard of; the transactional bit without a producer; no id.
    assert produce(b.bootstrap, topic, txn_batch([b"x"], 4242, 0, 0), 0, transactional_id="nobody")[0] == \
        INVALID_PRODUCER_ID_MAPPING
    assert produce(b.bootstrap, topic, txn_batch([b"x"], -1, -1, -1), 0, transactional_id="app-1")[0] == \
        INVALID_RECORD
    assert produce(b.bootstrap, topic, batch, 0)[0] == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    # Nothing was written: a plain record after them is visible to read_committed at once.
    assert produce(b.bootstrap, topic, kw.record_batch([b"plain"]), 0) == (NONE, 0)
    assert list_latest(b.bootstrap, topic, 0, READ_COMMITTED) == (NONE, 1)
    assert consume(b.bootstrap, topic, [0], "read_committed", 1) == {0: [b"plain"]}
    assert "INVALID_TXN_STATE (Partition was not added to the transaction)" in b.log()

    # Added to the transaction: the coordinator vouches for it, the batch goes in; the other
    # partition, never added, is still refused.
    assert add_partitions_to_txn(b.bootstrap, "app-1", pid, epoch, topic, [0]) == {0: NONE}
    assert produce(b.bootstrap, topic, batch, 0, transactional_id="app-1") == (NONE, 1)
    assert produce(b.bootstrap, topic, txn_batch([b"other"], pid, epoch, 0), 1, transactional_id="app-1") == \
        (INVALID_TXN_STATE, -1)
    assert list_latest(b.bootstrap, topic, 0, READ_COMMITTED) == (NONE, 1)  # open: held back


def test_with_verification_off_a_hung_transaction_is_aborted_with_describe_producers_and_write_txn_markers(
        broker_factory):
    b = broker_factory(CONFIG)
    topic = "stuck"
    create_topic(b.bootstrap, topic, partitions=1)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    # Turned off for this broker while it runs (KIP-226), as an operator would.
    f = admin.alter_configs([ConfigResource("broker", "1",
                                            set_config={"transaction.partition.verification.enable": "false"})])
    list(f.values())[0].result(15)
    err, pid, epoch = init_transactional_id(b.bootstrap, "app-2")
    assert err == NONE
    batch = txn_batch([b"orphan"], pid, epoch, 0)
    wait_until(lambda: produce(b.bootstrap, topic, batch, 0, transactional_id="app-2")[0] == NONE, 15,
               "the batch is accepted once verification is off")
    assert produce(b.bootstrap, topic, kw.record_batch([b"after"]), 0) == (NONE, 1)
    # The coordinator never heard of this partition: nothing would ever end the transaction.
    time.sleep(1)
    assert list_latest(b.bootstrap, topic, 0, READ_COMMITTED) == (NONE, 0)
    assert consume(b.bootstrap, topic, [0], "read_committed", 0) == {0: []}

    # kafka-transactions.sh find-hanging / abort: the producer and its open transaction...
    (err, producers), = describe_producers(b.bootstrap, topic, [0]).values()
    assert err == NONE
    p_epoch, _last_seq, _ts, coordinator_epoch, txn_start = producers[pid]
    assert (p_epoch, txn_start) == (epoch, 0)
    # ...and an ABORT marker for it, written by the partition leader.
    assert write_txn_markers(b.bootstrap, [(pid, p_epoch, False, {topic: [0]}, max(coordinator_epoch, 0))]) == \
        {(pid, topic, 0): NONE}
    assert list_latest(b.bootstrap, topic, 0, READ_COMMITTED) == (NONE, 3)
    assert list_latest(b.bootstrap, topic, 0, READ_UNCOMMITTED) == (NONE, 3)
    assert consume(b.bootstrap, topic, [0], "read_committed", 1) == {0: [b"after"]}
    (err, producers), = describe_producers(b.bootstrap, topic, [0]).values()
    assert producers[pid][4] == -1  # no open transaction any more
