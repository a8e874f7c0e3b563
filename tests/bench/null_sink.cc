#include "tests/bench/null_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/create_topics_request.h"
#include "protocol/messages/create_topics_response.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace kbench {
namespace {

constexpr int32_t kNodeId = 1;
// Kafka's socket.request.max.bytes default: a larger frame closes the connection.
constexpr int32_t kMaxFrame = 104857600;
// Longest Fetch long-poll the sink honours, whatever max_wait_ms asks for.
constexpr int32_t kMaxFetchWaitMs = 30000;

// RecordBatch v2 header offsets (API-VERSIONS.md): batchLength counts the bytes after itself.
constexpr size_t kBatchLengthAt = 8;
constexpr size_t kMagicAt = 16;
constexpr size_t kLastOffsetDeltaAt = 23;
constexpr size_t kBatchHeaderSize = 61;

const SinkApi* find_sink_api(int16_t key) {
  for (const auto& a : kSinkApis)
    if (a.api_key == key) return &a;
  return nullptr;
}

// Kafka's topic name rule: 1..249 of [a-zA-Z0-9._-], and not "." or "..".
bool valid_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

template <class Body>
void append_response(std::vector<uint8_t>& out, int32_t correlation_id, int16_t header_version,
                     const Body& body, int16_t version) {
  // Encoded straight onto the end of `out`, whose pages the connection reuses: on this VM a
  // fresh page costs several times a reused one, and a null source's answers are megabytes.
  kb::wire::Writer w;
  std::swap(w.buffer(), out);
  size_t size_at = w.reserve_int32();
  kb::msg::ResponseHeader h;
  h.correlation_id = correlation_id;
  h.encode(w, header_version);
  body.encode(w, version);
  w.patch_int32(size_at, static_cast<int32_t>(w.buffer().size() - size_at - 4));
  std::swap(w.buffer(), out);
}

int16_t code(kb::ErrorCode e) { return static_cast<int16_t>(e); }

// Writes and empties `out`; false when the connection is gone.
bool write_all(int fd, std::vector<uint8_t>& out) {
  for (size_t done = 0; done < out.size();) {
    ssize_t w = ::write(fd, out.data() + done, out.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  out.clear();
  return true;
}

}  // namespace

int64_t count_offsets(std::span<const uint8_t> records) {
  int64_t offsets = 0;
  size_t pos = 0;
  while (pos < records.size()) {
    if (records.size() - pos < kBatchHeaderSize) return -1;
    const uint8_t* b = records.data() + pos;
    int32_t length = static_cast<int32_t>(kb::wire::load_be32(b + kBatchLengthAt));
    int32_t last_delta = static_cast<int32_t>(kb::wire::load_be32(b + kLastOffsetDeltaAt));
    size_t total = 12 + static_cast<size_t>(std::max(length, 0));
    if (b[kMagicAt] != 2 || total < kBatchHeaderSize || total > records.size() - pos || last_delta < 0)
      return -1;
    offsets += int64_t{last_delta} + 1;
    pos += total;
  }
  return offsets;
}

// About what librdkafka's producer batches reach at full speed with linger.ms=5: the source's
// batches then cost the consumer per record what a broker's stored batches do.
constexpr size_t kSourceBatchBytes = 64 * 1024;

NullSink::NullSink(std::string host, uint16_t port, int32_t default_partitions, std::optional<SourceLog> source)
    : host_(std::move(host)), port_(port), default_partitions_(default_partitions), source_(source) {
  if (!source_) return;
  batch_records_ = static_cast<int32_t>(std::max<size_t>(1, kSourceBatchBytes / std::max<size_t>(1, source_->value_size)));
  kb::RecordBatchBuilder b;
  std::string value(source_->value_size, 's');
  for (int32_t i = 0; i < batch_records_; ++i) b.add(std::nullopt, value, 1700000000000);
  batch_ = b.build();
  source_->records = (std::max<int64_t>(source_->records, 1) + batch_records_ - 1) / batch_records_ * batch_records_;
}

int64_t* NullSink::next_offset_locked(const std::string& topic, int32_t partition) {
  auto it = topics_.find(topic);
  if (it == topics_.end() || partition < 0 || partition >= static_cast<int32_t>(it->second.next_offset.size()))
    return nullptr;
  return &it->second.next_offset[static_cast<size_t>(partition)];
}

std::span<const uint8_t> NullSink::source_chain(int64_t offset, int64_t end, int64_t max_bytes,
                                               std::vector<uint8_t>& cache) const {
  int64_t first = offset / batch_records_ * batch_records_;
  auto bytes = static_cast<int64_t>(batch_.size());
  int64_t n = std::min((end - first + batch_records_ - 1) / batch_records_, std::max<int64_t>(1, max_bytes / bytes));
  // Copies of the batch stay in the cache from answer to answer: only base offsets change.
  while (static_cast<int64_t>(cache.size()) < n * bytes) cache.insert(cache.end(), batch_.begin(), batch_.end());
  for (int64_t i = 0; i < n; ++i) kb::patch_base_offset(cache.data() + i * bytes, first + i * batch_records_);
  return {cache.data(), static_cast<size_t>(n * bytes)};
}

NullSink::Topic& NullSink::topic_locked(const std::string& name, int32_t partitions) {
  auto [it, added] = topics_.try_emplace(name);
  if (added) {
    it->second.id = kb::Uuid::random();
    it->second.next_offset.assign(static_cast<size_t>(partitions), source_ ? source_->records : 0);
  }
  return it->second;
}

bool NullSink::handle(std::span<const uint8_t> frame, std::vector<uint8_t>& out) {
  if (frame.size() < 4) return false;
  auto key = static_cast<int16_t>(kb::wire::load_be16(frame.data()));
  auto version = static_cast<int16_t>(kb::wire::load_be16(frame.data() + 2));
  const SinkApi* api = find_sink_api(key);
  if (!api) return false;
  // ApiVersions is the one request a client may send at a version the server lacks: the
  // answer is a v0 body with UNSUPPORTED_VERSION and the list, and the client retries lower.
  // Its request header is read at the client's version, its response header is always v0.
  bool api_versions_too_new = key == 18 && version > api->max_version;
  if (!api_versions_too_new && (version < api->min_version || version > api->max_version)) return false;

  kb::wire::Reader r(frame);
  kb::msg::RequestHeader header;
  if (!header.decode(r, kb::msg::request_header_version(key, version))) return false;
  int16_t response_header = kb::msg::response_header_version(key, version);

  switch (key) {
    case 18: {
      kb::msg::ApiVersionsResponse resp;
      for (const auto& a : kSinkApis) resp.api_keys.push_back({a.api_key, a.min_version, a.max_version, {}});
      if (api_versions_too_new) resp.error_code = code(kb::ErrorCode::UNSUPPORTED_VERSION);
      append_response(out, header.correlation_id, 0, resp, api_versions_too_new ? 0 : version);
      return true;
    }
    case 3: {
      kb::msg::MetadataRequest req;
      if (!req.decode(r, version)) return false;
      kb::msg::MetadataResponse resp;
      resp.brokers.push_back({kNodeId, host_, port_, std::nullopt, {}});
      resp.cluster_id = "kbench-null-sink";
      resp.controller_id = kNodeId;
      auto add = [&](const std::string& name, const Topic& t) {
        auto& rt = resp.topics.emplace_back();
        rt.name = name;
        rt.topic_id = t.id;
        for (int32_t p = 0; p < static_cast<int32_t>(t.next_offset.size()); ++p) {
          auto& rp = rt.partitions.emplace_back();
          rp.partition_index = p;
          rp.leader_id = kNodeId;
          rp.leader_epoch = 0;
          rp.replica_nodes = {kNodeId};
          rp.isr_nodes = {kNodeId};
        }
      };
      std::lock_guard lock(mu_);
      if (!req.topics) {  // null: every topic
        for (const auto& [name, t] : topics_) add(name, t);
      } else {
        for (const auto& want : *req.topics) {
          if (!want.name) {  // v10+: by topic id
            auto it = std::find_if(topics_.begin(), topics_.end(),
                                   [&](const auto& e) { return e.second.id == want.topic_id; });
            if (it != topics_.end()) {
              add(it->first, it->second);
            } else {
              auto& rt = resp.topics.emplace_back();
              rt.name = std::nullopt;
              rt.topic_id = want.topic_id;
              rt.error_code = code(kb::ErrorCode::UNKNOWN_TOPIC_ID);
            }
          } else if (!valid_topic_name(*want.name)) {
            auto& rt = resp.topics.emplace_back();
            rt.name = want.name;
            rt.error_code = code(kb::ErrorCode::INVALID_TOPIC_EXCEPTION);
          } else {
            add(*want.name, topic_locked(*want.name, default_partitions_));  // auto-"exists"
          }
        }
      }
      append_response(out, header.correlation_id, response_header, resp, version);
      return true;
    }
    case 19: {
      kb::msg::CreateTopicsRequest req;
      if (!req.decode(r, version)) return false;
      kb::msg::CreateTopicsResponse resp;
      std::lock_guard lock(mu_);
      for (const auto& t : req.topics) {
        auto& rt = resp.topics.emplace_back();
        rt.name = t.name;
        rt.error_message = std::nullopt;
        int32_t partitions = t.num_partitions;
        if (partitions == -1) {
          partitions =
              t.assignments.empty() ? default_partitions_ : static_cast<int32_t>(t.assignments.size());
        }
        auto fail = [&](kb::ErrorCode e, std::string why) {
          rt.error_code = code(e);
          rt.error_message = std::move(why);
        };
        if (!valid_topic_name(t.name)) {
          fail(kb::ErrorCode::INVALID_TOPIC_EXCEPTION, "Topic name '" + t.name + "' is illegal.");
        } else if (topics_.contains(t.name)) {
          fail(kb::ErrorCode::TOPIC_ALREADY_EXISTS, "Topic '" + t.name + "' already exists.");
        } else if (partitions <= 0) {
          fail(kb::ErrorCode::INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
        } else if (t.replication_factor != -1 && t.replication_factor != 1) {
          fail(kb::ErrorCode::INVALID_REPLICATION_FACTOR,
               "Replication factor must be 1: the sink is one broker.");
        } else {
          rt.num_partitions = partitions;
          rt.replication_factor = 1;
          if (!req.validate_only) rt.topic_id = topic_locked(t.name, partitions).id;
        }
      }
      append_response(out, header.correlation_id, response_header, resp, version);
      return true;
    }
    case 0: {
      kb::msg::ProduceRequest req;
      if (!req.decode(r, version)) return false;
      if (req.acks == 0) return true;  // acks=0: the client expects no answer
      kb::msg::ProduceResponse resp;
      std::lock_guard lock(mu_);
      for (const auto& t : req.topic_data) {
        auto& tr = resp.responses.emplace_back();
        tr.name = t.name;
        for (const auto& p : t.partition_data) {
          auto& pr = tr.partition_responses.emplace_back();
          pr.index = p.index;
          int64_t* next = next_offset_locked(t.name, p.index);
          if (!next) {
            pr.error_code = code(kb::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            pr.base_offset = -1;
            continue;
          }
          int64_t n = count_offsets(p.records.data());
          if (n < 0) {
            pr.error_code = code(kb::ErrorCode::CORRUPT_MESSAGE);
            pr.base_offset = -1;
            continue;
          }
          pr.base_offset = *next;
          pr.log_start_offset = 0;
          *next += n;
        }
      }
      append_response(out, header.correlation_id, response_header, resp, version);
      return true;
    }
    case 2: {
      kb::msg::ListOffsetsRequest req;
      if (!req.decode(r, version)) return false;
      kb::msg::ListOffsetsResponse resp;
      std::lock_guard lock(mu_);
      for (const auto& t : req.topics) {
        auto& tr = resp.topics.emplace_back();
        tr.name = t.name;
        for (const auto& p : t.partitions) {
          auto& pr = tr.partitions.emplace_back();
          pr.partition_index = p.partition_index;
          const int64_t* next = next_offset_locked(t.name, p.partition_index);
          if (!next) {
            pr.error_code = code(kb::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            continue;
          }
          int64_t end = *next;
          if (p.timestamp == -1) {  // latest
            pr.offset = end;
          } else if (p.timestamp == -2) {  // earliest
            pr.offset = source_ ? 0 : end;
          }  // by time: offset -1, Kafka's answer when no record is that recent (none is kept)
        }
      }
      append_response(out, header.correlation_id, response_header, resp, version);
      return true;
    }
    case 1: {
      kb::msg::FetchRequest req;
      if (!req.decode(r, version)) return false;
      kb::msg::FetchResponse resp;
      resp.session_id = 0;  // no fetch sessions (KIP-227): every fetch is a full one
      bool any_error = false, any_data = false;
      int64_t budget = req.max_bytes;
      size_t served = 0;  // partitions answered with data
      {
        std::lock_guard lock(mu_);
        for (const auto& t : req.topics) {
          auto& tr = resp.responses.emplace_back();
          tr.topic = t.topic;
          for (const auto& p : t.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = p.partition;
            pr.aborted_transactions = std::nullopt;
            pr.records.is_null = false;  // empty, not null: nothing to read at this offset
            const int64_t* next = next_offset_locked(t.topic, p.partition);
            if (!next) {
              pr.error_code = code(kb::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
              pr.high_watermark = -1;
              any_error = true;
              continue;
            }
            int64_t end = *next;
            pr.high_watermark = pr.last_stable_offset = end;
            pr.log_start_offset = source_ ? 0 : end;
            if (p.fetch_offset < pr.log_start_offset || p.fetch_offset > end) {
              pr.error_code = code(kb::ErrorCode::OFFSET_OUT_OF_RANGE);
              any_error = true;
            } else if (p.fetch_offset < end && budget > 0) {
              // Per-thread caches, reused answer after answer for the same reason as `out`.
              thread_local std::vector<std::vector<uint8_t>> caches;
              if (caches.size() <= served) caches.resize(served + 1);
              int64_t limit = std::min<int64_t>(budget, p.partition_max_bytes);
              pr.records.bytes = source_chain(p.fetch_offset, std::min(end, source_->records), limit, caches[served++]);
              budget -= static_cast<int64_t>(pr.records.bytes.size());
              any_data = true;
            }
          }
        }
      }
      // Without data now, none will ever arrive, so a long-poll waits out max_wait_ms, as a broker does
      // when min_bytes is not reached; errors are answered at once. The connection is
      // muted meanwhile, as Kafka mutes it while one of its requests is in flight.
      if (!any_error && !any_data && req.max_wait_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(req.max_wait_ms, kMaxFetchWaitMs)));
      append_response(out, header.correlation_id, response_header, resp, version);
      return true;
    }
  }
  return false;
}

// One thread per connection, blocking I/O: a producer pipelines requests on one connection
// per broker, so this costs one read per socket-buffer-full and one write per batch of
// answers — the cheapest a Kafka endpoint can be.
void NullSink::serve_connection(int fd) {
  pump(fd);
  ::close(fd);
}

void NullSink::pump(int fd) {
  std::vector<uint8_t> in(1 << 16), out;
  size_t begin = 0, end = 0;
  while (true) {
    // Answer every whole frame already read; then one write for all of their answers.
    size_t need = 4;
    while (end - begin >= 4) {
      auto size = static_cast<int32_t>(kb::wire::load_be32(in.data() + begin));
      if (size < 0 || size > kMaxFrame) return;
      need = 4 + static_cast<size_t>(size);
      if (end - begin < need) break;
      // A Fetch may wait out its long-poll: the answers before it must not wait with it.
      if (size >= 2 && kb::wire::load_be16(in.data() + begin + 4) == 1 && !write_all(fd, out)) return;
      if (!handle(std::span<const uint8_t>(in.data() + begin + 4, static_cast<size_t>(size)), out)) return;
      begin += need;
      need = 4;
    }
    if (!write_all(fd, out)) return;
    // Keep the partial frame at the front, with room for all of it.
    if (begin > 0) {
      std::memmove(in.data(), in.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    if (in.size() < need) in.resize(need);
    ssize_t n = ::read(fd, in.data() + end, in.size() - end);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    end += static_cast<size_t>(n);
  }
}

std::string NullSink::serve_forever() {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) return std::string("socket: ") + std::strerror(errno);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) return "not an IPv4 address: " + host_;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 128) != 0) {
    std::string why = "cannot listen on " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno);
    ::close(listener);
    return why;
  }
  while (true) {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) {
      // Out of descriptors or a connection reset before accept: keep serving the others.
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread([this, fd] { serve_connection(fd); }).detach();
  }
}

int connect_api_versions(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  kb::wire::Writer w;
  size_t size_at = w.reserve_int32();
  kb::msg::RequestHeader h;
  h.request_api_key = 18;
  h.correlation_id = 1;
  h.client_id = "kbench";
  h.encode(w, kb::msg::request_header_version(18, 0));
  w.patch_int32(size_at, static_cast<int32_t>(w.buffer().size() - 4));
  std::vector<uint8_t> out = w.buffer();
  uint8_t size[4];
  bool ok = ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
            ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && write_all(fd, out) &&
            ::recv(fd, size, 4, MSG_WAITALL) == 4;
  if (ok) {
    std::vector<uint8_t> body(kb::wire::load_be32(size));
    ok = body.size() < (1u << 20) && ::recv(fd, body.data(), body.size(), MSG_WAITALL) == static_cast<ssize_t>(body.size());
  }
  if (!ok) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void close_fd(int fd) { ::close(fd); }

}  // namespace kbench
