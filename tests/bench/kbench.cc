// kbench: throughput and end-to-end latency of a Kafka endpoint, measured with librdkafka.
//
//   kbench produce   --brokers H:P --topic T --records N --size S --acks 1|all [--label L]
//   kbench e2e       --brokers H:P --topic T --records N --size S --acks 1|all --rate R [--partitions P]
//   kbench null-sink --port P [--partitions K]
//
// The null sink is the baseline: a minimal Kafka endpoint that answers ApiVersions, Metadata
// and Produce (with kb_protocol's generated codecs) and stores nothing, so a broker's
// throughput can be reported as a fraction of what the client itself can push on this machine.
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"

namespace {

using Clock = std::chrono::steady_clock;

std::map<std::string, std::string> parse_args(int argc, char** argv, int from) {
  std::map<std::string, std::string> a;
  for (int i = from; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  return a;
}

std::string arg(const std::map<std::string, std::string>& a, const std::string& k, const std::string& d) {
  auto it = a.find(k);
  return it == a.end() ? d : it->second;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "kbench: %s\n", why.c_str());
  std::exit(1);
}

void set(rd_kafka_conf_t* c, const char* k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(c, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) die(std::string(k) + ": " + err);
}

struct Delivery {
  std::atomic<int64_t> ok{0}, failed{0};
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  if (m->err) {
    if (d->failed.fetch_add(1) == 0) std::fprintf(stderr, "kbench: delivery failed: %s\n", rd_kafka_err2str(m->err));
  } else {
    d->ok.fetch_add(1);
  }
}

rd_kafka_t* make_producer(const std::string& brokers, const std::string& acks, Delivery* d) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  set(c, "bootstrap.servers", brokers);
  set(c, "acks", acks);
  set(c, "linger.ms", "5");
  set(c, "queue.buffering.max.messages", "1000000");
  set(c, "queue.buffering.max.kbytes", "1048576");
  rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
  rd_kafka_conf_set_opaque(c, d);
  char err[512];
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (!p) die(err);
  return p;
}

void produce_one(rd_kafka_t* p, rd_kafka_topic_t* t, int32_t partition, std::vector<char>& payload) {
  while (rd_kafka_produce(t, partition, RD_KAFKA_MSG_F_COPY, payload.data(), payload.size(), nullptr, 0, nullptr) != 0) {
    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_poll(p, 1);
  }
}

int run_produce(const std::map<std::string, std::string>& a) {
  std::string brokers = arg(a, "--brokers", "127.0.0.1:9092"), topic = arg(a, "--topic", "bench");
  int64_t n = std::stoll(arg(a, "--records", "500000"));
  size_t size = std::stoul(arg(a, "--size", "1024"));
  std::string acks = arg(a, "--acks", "1"), label = arg(a, "--label", "target");
  Delivery d;
  rd_kafka_t* p = make_producer(brokers, acks, &d);
  rd_kafka_topic_t* t = rd_kafka_topic_new(p, topic.c_str(), nullptr);
  std::vector<char> payload(size, 'x');
  // Warm-up: metadata, connections, topic creation.
  produce_one(p, t, RD_KAFKA_PARTITION_UA, payload);
  rd_kafka_flush(p, 10000);
  d.ok = 0;
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    produce_one(p, t, RD_KAFKA_PARTITION_UA, payload);
    if ((i & 1023) == 0) rd_kafka_poll(p, 0);
  }
  while (rd_kafka_outq_len(p) > 0) rd_kafka_poll(p, 10);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(p);
  if (d.failed > 0 || d.ok != n) die("produce run lost records: ok=" + std::to_string(d.ok) + " failed=" + std::to_string(d.failed));
  std::printf("target=%s mode=produce size=%zu acks=%s records=%lld rec_per_s=%.0f mb_per_s=%.1f\n", label.c_str(), size,
              acks.c_str(), static_cast<long long>(n), n / secs, n * static_cast<double>(size) / secs / 1e6);
  return 0;
}

int run_e2e(const std::map<std::string, std::string>& a) {
  std::string brokers = arg(a, "--brokers", "127.0.0.1:9092"), topic = arg(a, "--topic", "bench-e2e");
  int64_t n = std::stoll(arg(a, "--records", "100000"));
  size_t size = std::max<size_t>(16, std::stoul(arg(a, "--size", "1024")));
  std::string acks = arg(a, "--acks", "1"), label = arg(a, "--label", "target");
  double rate = std::stod(arg(a, "--rate", "20000"));
  int partitions = std::stoi(arg(a, "--partitions", "6"));

  Delivery d;
  rd_kafka_t* p = make_producer(brokers, acks, &d);
  rd_kafka_topic_t* t = rd_kafka_topic_new(p, topic.c_str(), nullptr);
  std::vector<char> payload(size, 'x');
  produce_one(p, t, 0, payload);  // creates the topic; the consumer starts after it
  rd_kafka_flush(p, 10000);

  rd_kafka_conf_t* cc = rd_kafka_conf_new();
  set(cc, "bootstrap.servers", brokers);
  set(cc, "group.id", "kbench-unused");
  set(cc, "enable.auto.commit", "false");
  set(cc, "fetch.wait.max.ms", "100");
  char err[512];
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  if (!c) die(err);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(partitions);
  for (int i = 0; i < partitions; ++i)
    rd_kafka_topic_partition_list_add(l, topic.c_str(), i)->offset = RD_KAFKA_OFFSET_END;
  if (rd_kafka_assign(c, l)) die("assign failed");
  rd_kafka_topic_partition_list_destroy(l);
  // Let the consumer reach the end of every partition before timing starts.
  auto settle = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < settle) {
    if (auto* m = rd_kafka_consumer_poll(c, 50)) rd_kafka_message_destroy(m);
  }

  std::vector<double> lat;
  lat.reserve(n);
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    auto deadline = Clock::now() + std::chrono::seconds(60) + std::chrono::milliseconds(static_cast<int64_t>(1000 * n / rate));
    while (static_cast<int64_t>(lat.size()) < n && Clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (!m) continue;
      if (!m->err && m->len >= 8) {
        int64_t sent;
        std::memcpy(&sent, m->payload, 8);
        int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
        lat.push_back((now - sent) / 1e6);
      }
      rd_kafka_message_destroy(m);
    }
    done = true;
  });
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / rate));
    while (Clock::now() < due) rd_kafka_poll(p, 0);
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    std::memcpy(payload.data(), &now, 8);
    produce_one(p, t, RD_KAFKA_PARTITION_UA, payload);
  }
  rd_kafka_flush(p, 30000);
  consumer.join();
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(p);
  if (static_cast<int64_t>(lat.size()) < n) die("e2e run received " + std::to_string(lat.size()) + " of " + std::to_string(n));
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) { return lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))]; };
  std::printf("target=%s mode=e2e size=%zu acks=%s records=%lld rate=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f\n",
              label.c_str(), size, acks.c_str(), static_cast<long long>(n), rate, pct(0.5), pct(0.99), pct(0.999));
  return 0;
}

// ---- null sink ------------------------------------------------------------------------

bool read_full(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_full(int fd, const uint8_t* p, size_t n) {
  while (n) {
    ssize_t r = ::write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct SinkState {
  uint16_t port;
  int partitions;
  std::mutex mu;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset;
};

template <class M>
void reply(int fd, int32_t correlation_id, int16_t header_version, const M& body, int16_t version) {
  kb::wire::Writer w;
  size_t at = w.reserve_int32();
  kb::msg::ResponseHeader h;
  h.correlation_id = correlation_id;
  h.encode(w, header_version);
  body.encode(w, version);
  w.patch_int32(at, static_cast<int32_t>(w.buffer().size() - 4));
  write_full(fd, w.buffer().data(), w.buffer().size());
}

void serve(int fd, SinkState* st) {
  std::vector<uint8_t> frame;
  uint8_t size_buf[4];
  while (read_full(fd, size_buf, 4)) {
    int32_t size = static_cast<int32_t>(kb::wire::load_be32(size_buf));
    if (size < 8 || size > (1 << 28)) break;
    frame.resize(static_cast<size_t>(size));
    if (!read_full(fd, frame.data(), frame.size())) break;
    int16_t key = static_cast<int16_t>(kb::wire::load_be16(frame.data()));
    int16_t version = static_cast<int16_t>(kb::wire::load_be16(frame.data() + 2));
    kb::wire::Reader r(frame);
    kb::msg::RequestHeader h;
    if (!h.decode(r, kb::msg::request_header_version(key, version))) break;
    int16_t rh = kb::msg::response_header_version(key, version);
    if (key == 18) {
      kb::msg::ApiVersionsResponse resp;
      resp.api_keys = {{0, 3, 9, {}}, {3, 0, 12, {}}, {18, 0, 3, {}}};
      reply(fd, h.correlation_id, 0, resp, version > 3 ? 0 : version);
    } else if (key == 3) {
      kb::msg::MetadataRequest req;
      if (!req.decode(r, version)) break;
      kb::msg::MetadataResponse resp;
      resp.brokers.push_back({1, "127.0.0.1", st->port, std::nullopt, {}});
      resp.cluster_id = "null-sink";
      resp.controller_id = 1;
      for (const auto& t : req.topics.value_or(std::vector<kb::msg::MetadataRequest::MetadataRequestTopic>{})) {
        auto& rt = resp.topics.emplace_back();
        rt.name = t.name;
        for (int32_t p = 0; p < st->partitions; ++p) {
          auto& rp = rt.partitions.emplace_back();
          rp.partition_index = p;
          rp.leader_id = 1;
          rp.leader_epoch = 0;
          rp.replica_nodes = {1};
          rp.isr_nodes = {1};
        }
      }
      reply(fd, h.correlation_id, rh, resp, version);
    } else if (key == 0) {
      kb::msg::ProduceRequest req;
      if (!req.decode(r, version)) break;
      if (req.acks == 0) continue;
      kb::msg::ProduceResponse resp;
      for (const auto& t : req.topic_data) {
        auto& tr = resp.responses.emplace_back();
        tr.name = t.name;
        for (const auto& p : t.partition_data) {
          auto& pr = tr.partition_responses.emplace_back();
          pr.index = p.index;
          int32_t count = 0;
          if (p.records.bytes.size() >= 61) count = static_cast<int32_t>(kb::wire::load_be32(p.records.bytes.data() + 57));
          std::lock_guard lk(st->mu);
          int64_t& next = st->next_offset[{t.name, p.index}];
          pr.base_offset = next;
          next += count;
        }
      }
      reply(fd, h.correlation_id, rh, resp, version);
    } else {
      break;  // not served: close, as a broker does
    }
  }
  ::close(fd);
}

int run_null_sink(const std::map<std::string, std::string>& a) {
  SinkState st;
  st.port = static_cast<uint16_t>(std::stoi(arg(a, "--port", "19092")));
  st.partitions = std::stoi(arg(a, "--partitions", "6"));
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(st.port);
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 64) != 0)
    die("null sink cannot listen on port " + std::to_string(st.port));
  std::fprintf(stderr, "kbench null sink on 127.0.0.1:%u\n", st.port);
  while (true) {
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(serve, fd, &st).detach();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: kbench produce|e2e|null-sink [--key value]...");
  std::string mode = argv[1];
  auto a = parse_args(argc, argv, 2);
  if (mode == "produce") return run_produce(a);
  if (mode == "e2e") return run_e2e(a);
  if (mode == "null-sink") return run_null_sink(a);
  die("unknown mode " + mode);
}
