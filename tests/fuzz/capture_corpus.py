#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/corpus/ (run from the repository root, with a built
kbroker: KBROKER_BIN, default build/kbroker).

requests/: real request frames (header and body, no length prefix) from confluent-kafka,
kafka-python and kcat, recorded by a proxy the broker advertises as its listener, one file per
distinct (client, api key, version). record_batch/, legacy_messages/, down_convert/ and
decompress/: batches and message sets in every codec, built with kafka-python's record
builders (the same bytes its producer sends). config_yaml/, schema/ and registry_rest/ seeds
are small hand-written files kept beside them; this script leaves them alone.
"""
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("KBROKER_BIN", os.path.join(ROOT, "build", "kbroker"))
import kbroker_harness  # noqa: E402


def save(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{name}-{hashlib.sha1(data).hexdigest()[:10]}"), "wb") as f:
        f.write(data)


class RecordingProxy:
    """Relays TCP to the broker, keeping the first frame of each (api key, version)."""

    def __init__(self, port, broker_port):
        self.broker_port = broker_port
        self.client = "unknown"
        self.seen = set()
        self.server = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.server.accept()
            b = socket.create_connection(("127.0.0.1", self.broker_port))
            threading.Thread(target=self.requests, args=(c, b), daemon=True).start()
            threading.Thread(target=self.relay, args=(b, c), daemon=True).start()

    @staticmethod
    def relay(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def requests(self, src, dst):
        buf = b""
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                buf += data
                while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
                    n = struct.unpack(">i", buf[:4])[0]
                    frame, buf = buf[4:4 + n], buf[4 + n:]
                    key, version = struct.unpack(">hh", frame[:4])
                    if (self.client, key, version) not in self.seen and len(frame) <= 8192:
                        self.seen.add((self.client, key, version))
                        save("requests", f"{self.client}-k{key}-v{version}", frame)
        except OSError:
            pass
        self.relay(src, dst)


def run_clients(bootstrap):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    import kafka

    proxy.client = "confluent"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("seeds", 1, 1)]).values():
        f.result(15)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "enable.idempotence": True})
        for i in range(3):
            p.produce("seeds", key=b"k%d" % i, value=b"value %d" % i, headers=[("h", b"v")])
        p.flush(15)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "seeds", "auto.offset.reset": "earliest"})
    c.subscribe(["seeds"])
    for _ in range(10):
        c.poll(1.0)
    c.commit(asynchronous=False)
    c.close()

    proxy.client = "kafka-python"
    for api in ((0, 10), (0, 11), (2, 0)):  # legacy message sets, then v2 batches
        p = kafka.KafkaProducer(bootstrap_servers=bootstrap, api_version=api, compression_type="gzip")
        p.send("seeds", b"legacy value", key=b"k").get(15)
        p.close()
    kc = kafka.KafkaConsumer("seeds", bootstrap_servers=bootstrap, group_id="seeds-kp",
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    list(kc)
    kc.commit()
    kc.close()

    proxy.client = "kcat"
    subprocess.run(["kcat", "-b", bootstrap, "-L"], check=True, capture_output=True, timeout=30)
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "seeds", "-z", "lz4"], input=b"a\nb\n",
                   check=True, capture_output=True, timeout=30)
    subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", "seeds", "-e", "-c", "3"], check=True,
                   capture_output=True, timeout=30)


def build_records():
    from kafka.record.default_records import DefaultRecordBatchBuilder
    from kafka.record.legacy_records import LegacyRecordBatchBuilder
    from kafka import codec as kc

    for codec, name in enumerate(("none", "gzip", "snappy", "lz4", "zstd")):
        b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=0,
                                      producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                      batch_size=1 << 20)
        for i in range(3):
            b.append(i, timestamp=1700000000000 + i, key=b"k%d" % i, value=b"value %d" % i,
                     headers=[("h", b"v")])
        batch = bytes(b.build())
        save("record_batch", f"v2-{name}", b"\x00" + batch)
        save("down_convert", f"v2-{name}-magic1", b"\xfa" + batch)
        save("down_convert", f"v2-{name}-magic0", b"\xf8" + batch)
        if codec <= 3:  # legacy message sets have no zstd
            for magic in (0, 1):
                lb = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
                for i in range(3):
                    lb.append(i, timestamp=1700000000000 + i if magic else None, key=b"k", value=b"v%d" % i)
                save("legacy_messages", f"m{magic}-{name}", b"\x00" + bytes(lb.build()))
    data = b"a fuzz seed, compressible, compressible, compressible " * 4
    save("decompress", "gzip", b"\x00" + kc.gzip_encode(data))
    save("decompress", "snappy-xerial", b"\x01" + kc.snappy_encode(data, xerial_compatible=True))
    save("decompress", "snappy-raw", b"\x01" + kc.snappy_encode(data))
    save("decompress", "lz4", b"\x02" + kc.lz4_encode(data))
    save("decompress", "zstd", b"\x03" + kc.zstd_encode(data))


if __name__ == "__main__":
    build_records()
    proxy_port, broker_port = kbroker_harness.free_ports(2)
    broker = kbroker_harness.Broker(extra={
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy_port}"})
    broker.port = broker_port
    broker.start()
    try:
        proxy = RecordingProxy(proxy_port, broker_port)
        run_clients(f"127.0.0.1:{proxy_port}")
    finally:
        broker.stop()
    print("corpus written under", CORPUS)
