"""A few hand-encoded Kafka requests for tests that must send what real clients never send
(corrupt batches, garbage, exact versions). Test code: mostly classic (non-flexible) versions;
uvarint/compact_string/header_v2 give the flexible forms."""
import socket
import struct

_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _T[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def varint(n):
    """A zigzag varint (record format)."""
    return uvarint((n << 1) ^ (n >> 63))


def record_batch(values, timestamp=1_700_000_000_000, count=None):
    recs = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(body)) + body
    n = len(values) if count is None else count
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp, timestamp, -1, -1, -1, n) + recs
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def compressed_batch(values, codec_id, compress, count=None, timestamp=1_700_000_000_000):
    """A batch whose records section is compress(records) under codec `codec_id` (1 gzip...)."""
    plain = record_batch(values, timestamp, count)
    records = compress(plain[61:])
    n = len(values) if count is None else count
    after_crc = struct.pack(">hiqqqhii", codec_id, n - 1, timestamp, timestamp, -1, -1, -1, n) + records
    after_len = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def read_string(data, off):
    """A classic (int16-length) nullable string at `off` -> (str or None, offset after it)."""
    (n,) = struct.unpack_from(">h", data, off)
    off += 2
    if n < 0:
        return None, off
    return data[off:off + n].decode(), off + n


def header(api_key, version, correlation_id=1, client_id="kb-test"):
    return struct.pack(">hhi", api_key, version, correlation_id) + string(client_id)


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def compact_string(s):
    """A compact (flexible-version) string: uvarint length + 1, then the bytes; None is 0."""
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def header_v2(api_key, version, correlation_id=1, client_id="kb-test"):
    """Request header v2 (flexible versions): v1 plus an empty tagged-field section."""
    return header(api_key, version, correlation_id, client_id) + uvarint(0)


def produce_v3(topic, partition, batch, acks=1, transactional_id=None):
    body = string(transactional_id) + struct.pack(">hii", acks, 5000, 1) + string(topic)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch
    return header(0, 3) + body


def fetch_v4(topic, partition, offset, max_wait=0, correlation_id=1):
    body = struct.pack(">iiiib", -1, max_wait, 1, 1 << 20, 0) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, 1 << 20)
    return header(1, 4, correlation_id) + body


def list_offsets_v1(topic, partition, timestamp):
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1)
    body += struct.pack(">iq", partition, timestamp)
    return header(2, 1) + body


def recv_exact(sock, n):
    """n bytes from a socket (a plain or a TLS one); ConnectionError if the broker closes first."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by broker")
        buf += chunk
    return buf


class Conn:
    def __init__(self, bootstrap, timeout=10):
        host, port = bootstrap.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        return self.read_response()

    def read_response(self):
        return self.read_response_with_id()[1]

    def read_response_with_id(self):
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        return struct.unpack_from(">i", data)[0], data[4:]  # response header v0

    def send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _read(self, n):
        return recv_exact(self.sock, n)

    def closed_by_peer(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def parse_produce_v3(resp):
    """-> (error_code, base_offset) of the single partition."""
    off = 4  # topics array length
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4
    _, err, base = struct.unpack_from(">ihq", resp, off)
    return err, base


def parse_fetch_v4_error(resp):
    off = 4 + 4  # throttle, topics count
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4
    _, err = struct.unpack_from(">ih", resp, off)
    return err


def parse_list_offsets_v1(resp):
    off = 4
    (n,) = struct.unpack_from(">h", resp, off)
    off += 2 + n + 4
    _, err, ts, offset = struct.unpack_from(">ihqq", resp, off)
    return err, offset
