// kbench: produce throughput and end-to-end latency of a Kafka endpoint, measured with
// librdkafka the way an application sees them, and the null sink that is their baseline.
// scripts/bench drives it; each measurement prints one line of key=value fields.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/bench/null_sink.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage:
  kbench produce   --brokers H:P --topic T [--records N] [--size BYTES] [--acks 0|1|all]
                   [--partitions P] [--linger-ms MS] [--label L]
      librdkafka producer as fast as it goes; prints rec_per_s and mb_per_s.
  kbench e2e       --brokers H:P --topic T [--records N] [--size BYTES] [--acks 0|1|all]
                   [--rate REC_PER_S] [--partitions P] [--linger-ms MS] [--label L]
      producer at a fixed rate + consumer in one process; prints latency percentiles.
  kbench consume   --brokers H:P --topic T [--records N] [--group G] [--idle-ms MS] [--label L]
      librdkafka consumer from the start of every partition until N records; prints rec_per_s,
      mb_per_s from the first record to the last. With --group: a subscribing group member
      that stops after N records or MS without a record (default 3000) once it had one.
  kbench delete-topic --brokers H:P --topic T
      DeleteTopics, e.g. to drop a run's data (and its dirty page cache) before the next run.
  kbench create-topics --brokers H:P --topic PREFIX --count T --partitions P [--per-request R]
      creates PREFIX-0..T-1, R topics per CreateTopics (default 10); prints the seconds it took.
  kbench metadata-latency --brokers H:P --topic T [--duration-ms MS]
      Metadata for one topic every 50 ms for MS (default 10000) or until SIGTERM; prints
      p50/p99/max.
  kbench connections --brokers H:P --count N [--hold-ms MS]
      N idle Kafka connections (each answered one ApiVersions), held MS (default 10000).
  kbench null-sink --port P [--host IPV4] [--partitions P] [--source-records N] [--size BYTES]
      a Kafka endpoint that answers ApiVersions/Metadata/CreateTopics/ListOffsets/Produce/Fetch
      and stores nothing (the baseline of scripts/bench); with --source-records, a null source:
      every partition holds N records of --size bytes, fetched at memory speed.
--partitions: produce/e2e create the topic with P partitions first (an existing topic is
kept); null-sink gives P partitions to topics that clients name without creating them.
--compression: none (default), gzip, snappy, lz4 or zstd, librdkafka's compression.codec.
--producers: that many producers (each its own librdkafka instance and thread) share --records.
e2e sends on a fixed schedule and measures each record from its intended send time, not the
actual one (OpenMessaging Benchmark's way of not hiding a stalled sender: coordinated omission).
Defaults: --records 500000 (e2e 100000), --size 1024, --acks 1, --rate 20000, --linger-ms 5,
--label target, --host 127.0.0.1, null-sink --partitions 6.
KBENCH_CONFIG="key=value,...": librdkafka properties for every client (e.g. TLS settings).
)";

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "kbench: %s\n", why.c_str());
  std::exit(1);
}

// `--key value` pairs, checked against the keys a mode accepts, so a typo stops the run
// instead of silently measuring with a default.
class Args {
 public:
  Args(int argc, char** argv, const std::set<std::string>& allowed) {
    for (int i = 2; i < argc; i += 2) {
      std::string key = argv[i];
      if (!allowed.contains(key)) die("unknown option " + key + "\n" + kUsage);
      if (i + 1 >= argc) die("option " + key + " needs a value");
      values_[key] = argv[i + 1];
    }
  }
  bool has(const std::string& key) const { return values_.contains(key); }
  std::string str(const std::string& key, const std::string& fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  std::string required(const std::string& key) const {
    if (!has(key)) die("missing " + key + "\n" + kUsage);
    return values_.at(key);
  }
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
    if (!has(key)) return fallback;
    const std::string& s = values_.at(key);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max)
      die(key + " wants an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got '" + s +
          "'");
    return v;
  }
  std::string acks() const {
    std::string a = str("--acks", "1");
    if (a == "-1") a = "all";
    if (a != "0" && a != "1" && a != "all") die("--acks wants 0, 1 or all, got '" + a + "'");
    return a;
  }

 private:
  std::map<std::string, std::string> values_;
};

void conf_set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    die(std::string(key) + ": " + err);
}

// KBENCH_CONFIG="key=value,key=value": librdkafka properties for every client kbench makes,
// e.g. security.protocol=ssl,ssl.ca.location=ca.pem for scripts/bench's TLS case.
void extra_conf(rd_kafka_conf_t* conf) {
  const char* env = std::getenv("KBENCH_CONFIG");
  std::string_view rest = env ? env : "";
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) die("KBENCH_CONFIG: '" + std::string(item) + "' is not key=value");
    conf_set(conf, std::string(item.substr(0, eq)).c_str(), std::string(item.substr(eq + 1)));
  }
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Delivery reports, counted on the thread that calls rd_kafka_poll/flush.
struct Delivery {
  std::atomic<int64_t> ok{0}, failed{0};
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Delivery*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    d->ok.fetch_add(1, std::memory_order_relaxed);
  } else if (d->failed.fetch_add(1, std::memory_order_relaxed) == 0) {
    std::fprintf(stderr, "kbench: delivery failed: %s\n", rd_kafka_err2str(m->err));
  }
}

// The producer a user would have: librdkafka's defaults, except linger.ms (5 is also the
// librdkafka 2.x default, set so the figure doesn't move with the library) and a local queue
// large enough that the benchmark loop never waits on it.
rd_kafka_t* make_producer(const std::string& brokers, const std::string& acks, int64_t linger_ms,
                          Delivery* d, const std::string& compression = "none") {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  conf_set(conf, "bootstrap.servers", brokers);
  extra_conf(conf);
  conf_set(conf, "compression.codec", compression);
  conf_set(conf, "acks", acks);
  conf_set(conf, "linger.ms", std::to_string(linger_ms));
  conf_set(conf, "queue.buffering.max.messages", "2000000");
  conf_set(conf, "queue.buffering.max.kbytes", "2097152");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, d);
  char err[512];
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!p) die(err);
  return p;
}

void produce_one(rd_kafka_t* p, rd_kafka_topic_t* t, int32_t partition, const std::vector<char>& payload) {
  while (rd_kafka_produce(t, partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(payload.data()),
                          payload.size(), nullptr, 0, nullptr) != 0) {
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(std::string("produce: ") + rd_kafka_err2str(err));
    rd_kafka_poll(p, 1);
  }
}

// Delivers everything queued; a lost or failed record ends the run with an error.
void flush_all(rd_kafka_t* p, Delivery& d, int64_t expected, const char* what) {
  if (rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    die(std::string(what) + ": " + std::to_string(rd_kafka_outq_len(p)) + " records undelivered after 60 s");
  if (d.failed > 0 || d.ok != expected)
    die(std::string(what) + ": " + std::to_string(d.ok) + " of " + std::to_string(expected) +
        " records delivered, " + std::to_string(d.failed) + " failed");
}

// Runs one admin operation on `rk` and waits for its event; returns "" or what went wrong.
// `submit` starts the operation on the queue; `results` extracts its per-topic results;
// `tolerated` is an error code that counts as success (TOPIC_ALREADY_EXISTS for creation).
template <class Submit, class Results>
std::string admin_call(rd_kafka_t* rk, rd_kafka_admin_op_t op, Submit submit, Results results,
                       rd_kafka_resp_err_t tolerated) {
  char err[512];
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(opts, 15000, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  submit(opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
  std::string failure;
  if (!ev) {
    failure = "no answer in 20 s";
  } else if (rd_kafka_event_error(ev)) {
    failure = rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = results(ev, &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != tolerated) {
        const char* msg = rd_kafka_topic_result_error_string(topics[i]);
        failure = std::string(rd_kafka_err2name(e)) + (msg ? std::string(": ") + msg : "");
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  return failure;
}

// CreateTopics with the broker's default replication factor; a topic that already exists
// is used as it is.
void create_topic(rd_kafka_t* rk, const std::string& topic, int32_t partitions) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, err, sizeof err);
  if (!nt) die(std::string("create topic: ") + err);
  std::string failure = admin_call(
      rk, RD_KAFKA_ADMIN_OP_CREATETOPICS,
      [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &nt, 1, opts, q); },
      [](rd_kafka_event_t* ev, size_t* n) -> const rd_kafka_topic_result_t** {
        const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
        return res ? rd_kafka_CreateTopics_result_topics(res, n) : nullptr;
      },
      RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
  rd_kafka_NewTopic_destroy(nt);
  if (!failure.empty()) die("create topic " + topic + ": " + failure);
}

void delete_topic(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  std::string failure = admin_call(
      rk, RD_KAFKA_ADMIN_OP_DELETETOPICS,
      [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) { rd_kafka_DeleteTopics(rk, &dt, 1, opts, q); },
      [](rd_kafka_event_t* ev, size_t* n) -> const rd_kafka_topic_result_t** {
        const rd_kafka_DeleteTopics_result_t* res = rd_kafka_event_DeleteTopics_result(ev);
        return res ? rd_kafka_DeleteTopics_result_topics(res, n) : nullptr;
      },
      RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_DeleteTopic_destroy(dt);
  if (!failure.empty()) die("delete topic " + topic + ": " + failure);
}

rd_kafka_t* admin_client(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  conf_set(conf, "bootstrap.servers", brokers);
  extra_conf(conf);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die(err);
  return rk;
}

int run_delete_topic(const Args& a) {
  std::string topic = a.required("--topic");
  rd_kafka_t* rk = admin_client(a.required("--brokers"));
  delete_topic(rk, topic);
  rd_kafka_destroy(rk);
  return 0;
}

int32_t partition_count(rd_kafka_t* rk, rd_kafka_topic_t* t, const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (err) die("metadata for " + topic + ": " + rd_kafka_err2str(err));
  int32_t n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
  rd_kafka_resp_err_t topic_err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN;
  rd_kafka_metadata_destroy(md);
  if (n <= 0) die("metadata for " + topic + ": " + rd_kafka_err2str(topic_err));
  return n;
}

// One producer's share of a produce run: `n` records as fast as they go, all delivered.
void produce_share(rd_kafka_t* p, const std::string& topic, int64_t n, size_t size, Delivery& d) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(p, topic.c_str(), nullptr);
  std::vector<char> payload(size, 'x');
  for (int64_t i = 0; i < n; ++i) {
    produce_one(p, t, RD_KAFKA_PARTITION_UA, payload);
    if ((i & 1023) == 0) rd_kafka_poll(p, 0);
  }
  flush_all(p, d, n, "produce");
  rd_kafka_topic_destroy(t);
}

int run_produce(const Args& a) {
  std::string brokers = a.required("--brokers"), topic = a.required("--topic");
  int64_t n = a.integer("--records", 500000, 1, int64_t{1} << 40);
  auto size = static_cast<size_t>(a.integer("--size", 1024, 0, 100 << 20));
  std::string acks = a.acks(), label = a.str("--label", "target"), codec = a.str("--compression", "none");
  int64_t linger = a.integer("--linger-ms", 5, 0, 900000);
  auto producers = static_cast<size_t>(a.integer("--producers", 1, 1, 10000));

  std::vector<Delivery> d(producers);
  std::vector<rd_kafka_t*> p;
  for (size_t i = 0; i < producers; ++i) p.push_back(make_producer(brokers, acks, linger, &d[i], codec));
  if (a.has("--partitions"))
    create_topic(p[0], topic, static_cast<int32_t>(a.integer("--partitions", 1, 1, 100000)));
  // Untimed: bootstrap, metadata, the connection to each partition leader, topic creation.
  std::vector<std::thread> warm;
  for (size_t i = 0; i < producers; ++i) {
    warm.emplace_back([&, i] {
      produce_share(p[i], topic, 100, size, d[i]);
      d[i].ok = 0;
    });
  }
  for (auto& w : warm) w.join();

  auto start = Clock::now();
  std::vector<std::thread> run;
  for (size_t i = 0; i < producers; ++i) {
    int64_t share = n / static_cast<int64_t>(producers) + (static_cast<int64_t>(i) < n % static_cast<int64_t>(producers));
    run.emplace_back([&, i, share] { produce_share(p[i], topic, share, size, d[i]); });
  }
  for (auto& r : run) r.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto* one : p) rd_kafka_destroy(one);
  std::printf("target=%s mode=produce size=%zu acks=%s compression=%s producers=%zu records=%lld secs=%.3f "
              "rec_per_s=%.0f mb_per_s=%.1f\n",
              label.c_str(), size, acks.c_str(), codec.c_str(), producers, static_cast<long long>(n), secs,
              static_cast<double>(n) / secs, static_cast<double>(n) * static_cast<double>(size) / secs / 1e6);
  return 0;
}

// Producer and consumer in one process, so both ends read the same steady clock: each
// record's value starts with its send time in nanoseconds (0 marks a warm-up record), and
// latency is the consumer's receive time minus that. The producer runs at a fixed rate well
// below saturation, so the figure is the broker's path, not queueing in the client.
int run_e2e(const Args& a) {
  std::string brokers = a.required("--brokers"), topic = a.required("--topic");
  int64_t n = a.integer("--records", 100000, 1, int64_t{1} << 32);
  auto size = static_cast<size_t>(a.integer("--size", 1024, 8, 100 << 20));
  std::string acks = a.acks(), label = a.str("--label", "target");
  auto rate = static_cast<double>(a.integer("--rate", 20000, 1, 10000000));
  int64_t linger = a.integer("--linger-ms", 5, 0, 900000);
  std::string codec = a.str("--compression", "none");

  Delivery d;
  rd_kafka_t* p = make_producer(brokers, acks, linger, &d, codec);
  if (a.has("--partitions"))
    create_topic(p, topic, static_cast<int32_t>(a.integer("--partitions", 1, 1, 100000)));
  rd_kafka_topic_t* t = rd_kafka_topic_new(p, topic.c_str(), nullptr);
  std::vector<char> payload(size, 'x');
  std::memset(payload.data(), 0, 8);
  produce_one(p, t, 0, payload);  // makes the topic exist before the consumer looks at it
  flush_all(p, d, 1, "first record");
  int32_t partitions = partition_count(p, t, topic);

  // The consumer reads with assign semantics and no group (the legacy queue API needs no
  // group.id, so no coordinator is involved), from each partition's current end.
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  conf_set(cconf, "bootstrap.servers", brokers);
  extra_conf(cconf);
  char err[512];
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
  if (!c) die(err);
  rd_kafka_topic_t* ct = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(c);
  for (int32_t i = 0; i < partitions; ++i) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c, topic.c_str(), i, &low, &high, 10000);
    if (e) die("high watermark of " + topic + "-" + std::to_string(i) + ": " + rd_kafka_err2str(e));
    if (rd_kafka_consume_start_queue(ct, i, high, q) != 0)
      die("consume " + topic + "-" + std::to_string(i) + ": " + rd_kafka_err2str(rd_kafka_last_error()));
  }

  std::vector<double> latency_ms;
  latency_ms.reserve(static_cast<size_t>(n));
  std::atomic<int64_t> timed_seen{0};  // latency_ms.size(), published for the main thread
  std::atomic<int32_t> warm_seen{0};
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    bool reported = false;
    while (!stop && timed_seen < n) {
      rd_kafka_message_t* m = rd_kafka_consume_queue(q, 100);
      if (!m) continue;
      int64_t received = now_ns();
      if (m->err) {
        if (!reported) std::fprintf(stderr, "kbench: consumer: %s\n", rd_kafka_message_errstr(m));
        reported = true;
      } else if (m->len >= 8) {
        int64_t sent;
        std::memcpy(&sent, m->payload, 8);
        if (sent == 0)
          warm_seen.fetch_add(1);
        else {
          latency_ms.push_back(static_cast<double>(received - sent) / 1e6);
          timed_seen.fetch_add(1);
        }
      }
      rd_kafka_message_destroy(m);
    }
  });
  auto finish = [&](const std::string& failure) {
    stop = true;
    consumer.join();
    for (int32_t i = 0; i < partitions; ++i) rd_kafka_consume_stop(ct, i);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(ct);
    rd_kafka_destroy(c);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(p);
    if (!failure.empty()) die(failure);
  };

  // Untimed: one record per partition, so every fetch is running before the clock starts.
  for (int32_t i = 0; i < partitions; ++i) produce_one(p, t, i, payload);
  flush_all(p, d, 1 + partitions, "warm-up");
  auto warm_deadline = Clock::now() + std::chrono::seconds(30);
  while (warm_seen < partitions && Clock::now() < warm_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (warm_seen < partitions)
    finish("consumer saw " + std::to_string(warm_seen) + " of " + std::to_string(partitions) +
           " warm-up records in 30 s");
  d.ok = 0;

  auto start = Clock::now();
  int64_t start_ns = now_ns();
  for (int64_t i = 0; i < n; ++i) {
    // The intended send time on the fixed schedule: a sender that falls behind (a full
    // queue, a descheduled thread) does not hide the delay from the records it held up.
    int64_t intended = start_ns + static_cast<int64_t>(static_cast<double>(i) * 1e9 / rate);
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(intended)));
    std::memcpy(payload.data(), &intended, 8);
    produce_one(p, t, RD_KAFKA_PARTITION_UA, payload);
    rd_kafka_poll(p, 0);
  }
  double send_secs = std::chrono::duration<double>(Clock::now() - start).count();
  flush_all(p, d, n, "e2e produce");
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (timed_seen < n && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int64_t received = timed_seen;
  finish(received < n ? "consumer received " + std::to_string(received) + " of " + std::to_string(n) +
                            " records within 30 s of the last delivery"
                      : "");

  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double q) {  // nearest rank
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(latency_ms.size())));
    return latency_ms[std::clamp<size_t>(rank, 1, latency_ms.size()) - 1];
  };
  std::printf(
      "target=%s mode=e2e size=%zu acks=%s compression=%s records=%lld rate=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f "
      "max_ms=%.2f\n",
      label.c_str(), size, acks.c_str(), codec.c_str(), static_cast<long long>(n), static_cast<double>(n) / send_secs,
      pct(0.5), pct(0.99), pct(0.999), latency_ms.back());
  return 0;
}

// Reads `n` records from offset 0 of every partition with the simple consumer (no group, so
// no coordinator), or as a member of `group`; prints the rate of values received.
int run_consume(const Args& a) {
  std::string brokers = a.required("--brokers"), topic = a.required("--topic"), label = a.str("--label", "target");
  int64_t n = a.integer("--records", 500000, 1, int64_t{1} << 40);
  int64_t idle_ms = a.integer("--idle-ms", 3000, 1, 3600000);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  conf_set(conf, "bootstrap.servers", brokers);
  extra_conf(conf);
  bool grouped = a.has("--group");
  if (grouped) {
    conf_set(conf, "group.id", a.str("--group", ""));
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "enable.auto.commit", "false");
  }
  char err[512];
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!c) die(err);
  rd_kafka_topic_t* t = nullptr;
  rd_kafka_queue_t* q = nullptr;
  int32_t partitions = 0;
  if (grouped) {
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t e = rd_kafka_subscribe(c, subs)) die(std::string("subscribe: ") + rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(subs);
  } else {
    t = rd_kafka_topic_new(c, topic.c_str(), nullptr);
    partitions = partition_count(c, t, topic);
    q = rd_kafka_queue_new(c);
    for (int32_t i = 0; i < partitions; ++i)
      if (rd_kafka_consume_start_queue(t, i, 0, q) != 0)
        die("consume " + topic + "-" + std::to_string(i) + ": " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  int64_t got = 0, bytes = 0;
  auto start = Clock::now(), first = start, last = start;
  while (got < n) {
    rd_kafka_message_t* m = grouped ? rd_kafka_consumer_poll(c, 100) : rd_kafka_consume_queue(q, 100);
    auto now = Clock::now();
    if (!m) {
      // Ungrouped, the records are known to exist: a long silence is a failure. Grouped, the
      // members share an unknown split of the records, so silence ends a member's run.
      if (got > 0 && now - last > std::chrono::milliseconds(idle_ms)) {
        if (grouped) break;
        die("consume: " + std::to_string(got) + " of " + std::to_string(n) + " records, then nothing for " +
            std::to_string(idle_ms) + " ms");
      }
      if (got == 0 && now - start > std::chrono::seconds(60)) die("consume: no record in 60 s");
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    } else if (m->err) {
      die(std::string("consume: ") + rd_kafka_message_errstr(m));
    } else {
      if (got++ == 0) first = now;
      last = now;
      bytes += static_cast<int64_t>(m->len);
    }
    rd_kafka_message_destroy(m);
  }
  // From the first record: connecting and the first fetch's round trip are not throughput.
  double secs = std::max(1e-9, std::chrono::duration<double>(last - first).count());
  if (grouped) {
    rd_kafka_consumer_close(c);
  } else {
    for (int32_t i = 0; i < partitions; ++i) rd_kafka_consume_stop(t, i);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(t);
  }
  rd_kafka_destroy(c);
  std::printf("target=%s mode=consume records=%lld bytes=%lld secs=%.3f rec_per_s=%.0f mb_per_s=%.1f\n",
              label.c_str(), static_cast<long long>(got), static_cast<long long>(bytes), secs,
              static_cast<double>(got) / secs, static_cast<double>(bytes) / secs / 1e6);
  return 0;
}

int run_create_topics(const Args& a) {
  std::string prefix = a.required("--topic");
  int64_t count = a.integer("--count", 1, 1, 1000000);
  auto partitions = static_cast<int32_t>(a.integer("--partitions", 1, 1, 1000000));
  int64_t per = a.integer("--per-request", 10, 1, 10000);
  rd_kafka_t* rk = admin_client(a.required("--brokers"));
  auto start = Clock::now();
  for (int64_t i = 0; i < count; i += per) {
    for (int64_t j = i; j < std::min(count, i + per); ++j) create_topic(rk, prefix + "-" + std::to_string(j), partitions);
    std::fprintf(stderr, "kbench: created %lld of %lld topics\n", static_cast<long long>(std::min(count, i + per)),
                 static_cast<long long>(count));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  rd_kafka_destroy(rk);
  std::printf("mode=create-topics topics=%lld partitions=%lld secs=%.2f\n", static_cast<long long>(count),
              static_cast<long long>(count * partitions), secs);
  return 0;
}

volatile std::sig_atomic_t g_stop = 0;

// Until --duration-ms ends or SIGTERM comes (scripts/bench times Metadata while something
// else runs, and stops it when that is done).
int run_metadata_latency(const Args& a) {
  std::string topic = a.required("--topic");
  int64_t duration = a.integer("--duration-ms", 10000, 1, 86400000);
  rd_kafka_t* rk = admin_client(a.required("--brokers"));
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  std::vector<double> ms;
  auto end = Clock::now() + std::chrono::milliseconds(duration);
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  while (Clock::now() < end && !g_stop) {
    auto before = Clock::now();
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 30000);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
    if (err) die(std::string("metadata: ") + rd_kafka_err2str(err));
    rd_kafka_metadata_destroy(md);
    std::this_thread::sleep_until(before + std::chrono::milliseconds(50));
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  if (ms.empty()) die("metadata-latency: stopped before the first request");
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
  std::printf("mode=metadata-latency requests=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", ms.size(), pct(0.5),
              pct(0.99), ms.back());
  return 0;
}

// Raw sockets, not librdkafka: ten thousand client instances would measure the client.
int run_connections(const Args& a) {
  std::string brokers = a.required("--brokers");
  auto colon = brokers.rfind(':');
  if (colon == std::string::npos) die("--brokers wants HOST:PORT");
  auto port = static_cast<uint16_t>(std::stoi(brokers.substr(colon + 1)));
  int64_t count = a.integer("--count", 1000, 1, 1000000), hold = a.integer("--hold-ms", 10000, 0, 86400000);
  std::vector<int> fds;
  auto start = Clock::now();
  for (int64_t i = 0; i < count; ++i) {
    int fd = kbench::connect_api_versions(brokers.substr(0, colon), port);
    if (fd < 0) die("connection " + std::to_string(i + 1) + " of " + std::to_string(count) + " failed");
    fds.push_back(fd);
    if ((i + 1) % 1000 == 0) std::fprintf(stderr, "kbench: %lld connections\n", static_cast<long long>(i + 1));
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("mode=connections count=%lld open_secs=%.2f\n", static_cast<long long>(count), secs);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(hold));
  for (int fd : fds) kbench::close_fd(fd);
  return 0;
}

int run_null_sink(const Args& a) {
  auto port = static_cast<uint16_t>(a.integer("--port", 0, 1, 65535));
  if (!a.has("--port")) die("missing --port\n" + std::string(kUsage));
  std::optional<kbench::SourceLog> source;
  if (a.has("--source-records"))
    source = kbench::SourceLog{a.integer("--source-records", 0, 1, int64_t{1} << 40),
                               static_cast<size_t>(a.integer("--size", 1024, 0, 1 << 20))};
  kbench::NullSink sink(a.str("--host", "127.0.0.1"), port,
                        static_cast<int32_t>(a.integer("--partitions", 6, 1, 100000)), source);
  std::fprintf(stderr, "kbench: null sink on %s:%u\n", a.str("--host", "127.0.0.1").c_str(), port);
  die(sink.serve_forever());
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc >= 2 ? argv[1] : "";
  const std::set<std::string> client{"--brokers", "--topic",     "--records", "--size",       "--acks",
                                     "--partitions", "--linger-ms", "--label", "--compression"};
  if (mode == "produce") {
    auto keys = client;
    keys.insert("--producers");
    return run_produce(Args(argc, argv, keys));
  }
  if (mode == "e2e") {
    auto keys = client;
    keys.insert("--rate");
    return run_e2e(Args(argc, argv, keys));
  }
  if (mode == "consume")
    return run_consume(Args(argc, argv, {"--brokers", "--topic", "--records", "--group", "--idle-ms", "--label"}));
  if (mode == "delete-topic") return run_delete_topic(Args(argc, argv, {"--brokers", "--topic"}));
  if (mode == "create-topics")
    return run_create_topics(Args(argc, argv, {"--brokers", "--topic", "--count", "--partitions", "--per-request"}));
  if (mode == "metadata-latency")
    return run_metadata_latency(Args(argc, argv, {"--brokers", "--topic", "--duration-ms"}));
  if (mode == "connections") return run_connections(Args(argc, argv, {"--brokers", "--count", "--hold-ms"}));
  if (mode == "null-sink")
    return run_null_sink(Args(argc, argv, {"--port", "--host", "--partitions", "--source-records", "--size"}));
  if (mode == "-h" || mode == "--help" || mode == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  die(kUsage);
}
