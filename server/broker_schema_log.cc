#include "server/broker_schema_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/list_offsets_request.h"
#include "protocol/messages/list_offsets_response.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/record_batch.h"
#include "runtime/clock.h"

namespace kb::server {

namespace {

// Versions spoken to the leader: Produce 9 is the first with tagged fields (the conditional
// append), Fetch 12 the last naming topics, ListOffsets 7 the newest kbroker serves.
constexpr int16_t kProduceVersion = 9;
constexpr int16_t kFetchVersion = 12;
constexpr int16_t kListOffsetsVersion = 7;
// On top of a request's own wait, for the network and a busy broker.
constexpr int64_t kRequestSlackMs = 15000;

std::string describe(ErrorCode code, const std::optional<std::string>& message) {
  std::string s(error_name(code));
  if (message && !message->empty()) s += " (" + *message + ")";
  return s;
}

// The records of a Fetch answer from `offset` on: complete batches only (an answer may end in
// a partial one), control batches skipped. Sets next past every batch seen.
bool parse_records(std::span<const uint8_t> bytes, int64_t offset, registry::ReadResult& out,
                   std::string& why) {
  size_t pos = 0;
  while (bytes.size() - pos >= batch::kHeaderSize) {
    auto h = read_batch_header(bytes.subspan(pos));
    if (!h.ok()) {
      why = h.error().message;
      return false;
    }
    const auto size = static_cast<size_t>(h->total_size());
    if (h->total_size() < static_cast<int64_t>(batch::kHeaderSize) || size > bytes.size() - pos) break;
    auto batch = bytes.subspan(pos, size);
    pos += size;
    out.next_offset = std::max(out.next_offset, h->last_offset() + 1);
    if (h->is_control()) continue;
    auto walked = for_each_record_decompressed(batch, [&](const RecordView& r) {
      if (r.offset < offset) return;
      registry::LoggedRecord rec;
      rec.offset = r.offset;
      rec.record.key = r.key ? std::string(*r.key) : std::string();
      if (r.value) rec.record.value = std::string(*r.value);
      out.records.push_back(std::move(rec));
    });
    if (!walked.ok()) {
      why = "batch at offset " + std::to_string(h->base_offset) + ": " + walked.error().message;
      return false;
    }
  }
  return true;
}

}  // namespace

struct BrokerSchemaLog::Append {
  std::vector<uint8_t> batch;
  int64_t expected = 0;
  int64_t deadline = 0;
  bool maybe_written = false;  // an attempt's outcome is unknown: failing is a timeout
  std::function<void(registry::AppendResult)> done;
};

BrokerSchemaLog::BrokerSchemaLog(BrokerSchemaLogOptions options, LeaderLookup leader,
                                 runtime::EventLoop& timers)
    : options_(std::move(options)),
      leader_(std::move(leader)),
      timers_(timers),
      writer_(options_.client_id, options_.peer_security),
      reader_(options_.client_id + "-reader", options_.peer_security) {}

BrokerSchemaLog::~BrokerSchemaLog() { stop(); }

void BrokerSchemaLog::stop() {
  if (stopped_.exchange(true)) return;
  writer_.stop();
  reader_.stop();
}

void BrokerSchemaLog::append(std::vector<registry::LogRecord> records, int64_t expected_end_offset,
                             std::function<void(registry::AppendResult)> done) {
  auto a = std::make_shared<Append>();
  RecordBatchBuilder builder;
  const int64_t now = runtime::now_ms();
  for (const auto& r : records) builder.add(r.key, r.value, now);
  a->batch = builder.build();
  a->expected = expected_end_offset;
  a->deadline = runtime::steady_ms() + options_.append_timeout_ms;
  a->done = std::move(done);
  attempt(std::move(a));
}

void BrokerSchemaLog::attempt(std::shared_ptr<Append> a) {
  using registry::AppendResult;
  if (stopped_)
    return a->done(AppendResult{AppendResult::Status::kError, -1, -1, "the broker is shutting down"});
  auto leader = leader_();
  if (!leader) return retry(std::move(a), "no leader of " + options_.topic + "-0 known", false);
  const int64_t remaining = std::max<int64_t>(a->deadline - runtime::steady_ms(), 1);
  msg::ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = static_cast<int32_t>(std::min<int64_t>(remaining, INT32_MAX));
  auto& topic = req.topic_data.emplace_back();
  topic.name = options_.topic;
  auto& part = topic.partition_data.emplace_back();
  part.index = 0;
  part.records.owned = a->batch;
  part.expected_end_offset = a->expected;
  writer_.call<msg::ProduceRequest, msg::ProduceResponse>(
      leader->node, leader->address, req, kProduceVersion, remaining + kRequestSlackMs,
      [this, a](Result<msg::ProduceResponse> r) mutable {
        if (!r.ok()) return retry(std::move(a), r.error().message, true);
        const msg::ProduceResponse::TopicProduceResponse::PartitionProduceResponse* p = nullptr;
        for (const auto& t : r->responses)
          for (const auto& pr : t.partition_responses)
            if (t.name == options_.topic && pr.index == 0) p = &pr;
        if (!p) return retry(std::move(a), "the leader's answer has no " + options_.topic + "-0", true);
        const auto code = static_cast<ErrorCode>(p->error_code);
        switch (code) {
          case ErrorCode::NONE:
            return a->done(AppendResult{AppendResult::Status::kOk, p->base_offset, -1, ""});
          case ErrorCode::OFFSET_OUT_OF_RANGE:
            if (p->log_end_offset < 0) break;  // a leader that does not know the condition
            return a->done(AppendResult{AppendResult::Status::kConflict, -1, p->log_end_offset, ""});
          case ErrorCode::NOT_LEADER_OR_FOLLOWER:
          case ErrorCode::LEADER_NOT_AVAILABLE:
          case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
          case ErrorCode::FENCED_LEADER_EPOCH:
          case ErrorCode::UNKNOWN_LEADER_EPOCH:
          case ErrorCode::NOT_ENOUGH_REPLICAS:
            return retry(std::move(a), describe(code, p->error_message), false);
          case ErrorCode::REQUEST_TIMED_OUT:
          case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
          case ErrorCode::NETWORK_EXCEPTION:
            return retry(std::move(a), describe(code, p->error_message), true);
          default:
            break;
        }
        a->done(AppendResult{AppendResult::Status::kError, -1, -1, describe(code, p->error_message)});
      });
}

void BrokerSchemaLog::retry(std::shared_ptr<Append> a, std::string why, bool maybe_written) {
  using registry::AppendResult;
  a->maybe_written |= maybe_written;
  if (stopped_ || runtime::steady_ms() + options_.retry_backoff_ms >= a->deadline) {
    auto status = a->maybe_written ? AppendResult::Status::kTimeout : AppendResult::Status::kError;
    return a->done(AppendResult{status, -1, -1, std::move(why)});
  }
  timers_.after_ms(options_.retry_backoff_ms, [this, a = std::move(a)]() mutable { attempt(std::move(a)); });
}

void BrokerSchemaLog::fail_read_later(std::function<void(registry::ReadResult)> done, std::string why) {
  timers_.after_ms(options_.read_retry_backoff_ms, [this, done = std::move(done), why = std::move(why)] {
    if (stopped_) return;
    registry::ReadResult r;
    r.ok = false;
    r.message = why;
    done(std::move(r));
  });
}

void BrokerSchemaLog::read(int64_t offset, std::function<void(registry::ReadResult)> done) {
  if (stopped_) return;
  auto leader = leader_();
  if (!leader) return fail_read_later(std::move(done), "no leader of " + options_.topic + "-0 known");
  msg::FetchRequest req;
  req.replica_id = -1;
  req.max_wait_ms = options_.fetch_max_wait_ms;
  req.min_bytes = 1;
  req.max_bytes = options_.fetch_max_bytes;
  req.isolation_level = 0;
  req.session_id = 0;
  req.session_epoch = -1;
  auto& topic = req.topics.emplace_back();
  topic.topic = options_.topic;
  auto& part = topic.partitions.emplace_back();
  part.partition = 0;
  part.current_leader_epoch = leader->leader_epoch;
  part.fetch_offset = offset;
  part.partition_max_bytes = options_.fetch_max_bytes;
  reader_.call<msg::FetchRequest, msg::FetchResponse>(
      leader->node, leader->address, req, kFetchVersion, options_.fetch_max_wait_ms + kRequestSlackMs,
      [this, offset, done = std::move(done)](Result<msg::FetchResponse> r) mutable {
        if (stopped_) return;
        if (!r.ok()) return fail_read_later(std::move(done), r.error().message);
        if (r->error_code != 0)
          return fail_read_later(std::move(done), describe(static_cast<ErrorCode>(r->error_code), {}));
        const msg::FetchResponse::FetchableTopicResponse::PartitionData* p = nullptr;
        for (const auto& t : r->responses)
          for (const auto& pd : t.partitions)
            if (t.topic == options_.topic && pd.partition_index == 0) p = &pd;
        if (!p)
          return fail_read_later(std::move(done), "the leader's answer has no " + options_.topic + "-0");
        registry::ReadResult out;
        const auto code = static_cast<ErrorCode>(p->error_code);
        if (code == ErrorCode::OFFSET_OUT_OF_RANGE && p->log_start_offset > offset) {
          // Deleted below the view (DeleteRecords): what is left starts there.
          out.next_offset = p->log_start_offset;
          out.end_offset = std::max(p->high_watermark, p->log_start_offset);
          return done(std::move(out));
        }
        if (code != ErrorCode::NONE) return fail_read_later(std::move(done), describe(code, {}));
        out.end_offset = p->high_watermark;
        out.next_offset = offset;
        std::string why;
        if (!parse_records(p->records.data(), offset, out, why))
          return fail_read_later(std::move(done), "undecodable " + options_.topic + " records: " + why);
        // No batch at all: nothing below the high watermark from here, the reader is at the end.
        if (out.next_offset == offset) out.next_offset = std::max(offset, p->high_watermark);
        done(std::move(out));
      });
}

void BrokerSchemaLog::end_offset(std::function<void(std::optional<int64_t>)> done) {
  if (stopped_) return done(std::nullopt);
  auto leader = leader_();
  if (!leader) return done(std::nullopt);
  msg::ListOffsetsRequest req;
  req.replica_id = -1;
  req.isolation_level = 0;
  auto& topic = req.topics.emplace_back();
  topic.name = options_.topic;
  auto& part = topic.partitions.emplace_back();
  part.partition_index = 0;
  part.current_leader_epoch = leader->leader_epoch;
  part.timestamp = -1;  // latest: the high watermark for read_uncommitted
  writer_.call<msg::ListOffsetsRequest, msg::ListOffsetsResponse>(
      leader->node, leader->address, req, kListOffsetsVersion, kRequestSlackMs,
      [this, done = std::move(done)](Result<msg::ListOffsetsResponse> r) {
        if (!r.ok()) return done(std::nullopt);
        for (const auto& t : r->topics)
          for (const auto& p : t.partitions)
            if (t.name == options_.topic && p.partition_index == 0 && p.error_code == 0 && p.offset >= 0)
              return done(p.offset);
        done(std::nullopt);
      });
}

}  // namespace kb::server
