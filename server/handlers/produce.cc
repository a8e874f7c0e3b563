// Handler for api Produce (key 0), versions 0..9 (v0-2: magic 0/1 message sets, converted to
// record batches; v3+: magic-2 record batches). Batches of idempotent producers are checked
// by the partition (sequence, epoch); a retried batch is answered NONE with the offsets it
// was first given. A transactional batch opens the producer's transaction on the partition
// (the coordinator answered AddPartitionsToTxn first); a plain batch of a producer with an
// open transaction is INVALID_TXN_STATE; control batches are refused (INVALID_RECORD).
// kbroker extras: a topic with confluent.key/value.schema.validation refuses records without
// a registered schema id (server/schema_validation.h), and a partition carrying
// expected_end_offset (v9+ tag) is a conditional append (produce_request.kmsg).
#include <chrono>
#include <mutex>

#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/compression.h"
#include "protocol/legacy_messages.h"
#include "protocol/record_batch.h"
#include <prometheus/counter.h>

#include "replication/delayed_produce.h"
#include "server/broker.h"
#include "server/schema_registry_service.h"
#include "server/schema_validation.h"
#include "storage/files.h"
#include "server/handlers/handlers.h"
#include "runtime/event_loop.h"

namespace kb::server {

namespace {

using Resp = msg::ProduceResponse;
using PartitionResp = Resp::TopicProduceResponse::PartitionProduceResponse;

std::mutex& conditional_append_mu() {
  static std::mutex mu;
  return mu;
}

PartitionResp partition_error(int32_t index, ErrorCode code, std::string message = {}) {
  PartitionResp r;
  r.index = index;
  r.error_code = to_wire(code);
  r.base_offset = -1;
  if (!message.empty()) r.error_message = std::move(message);
  return r;
}

// Validates and appends one partition's records; fills its answer. With acks=all, a
// partition whose high watermark has not reached the appended records yet goes to `waiting`.
PartitionResp produce_partition(RequestContext& ctx, Broker& broker, const std::string& topic, int16_t acks,
                                msg::ProduceRequest::TopicProduceData::PartitionProduceData& pd,
                                std::vector<replication::DelayedProduce::Waiting>& waiting) {
  TopicPartition tp{topic, pd.index};
  auto partition = broker.replicas().get(tp);
  // A follower replica is not where records go (the client re-routes on this error).
  if (!partition || !partition->is_leader()) return partition_error(pd.index, broker.missing_partition_error(tp));
  if (acks == -1 && !partition->enough_in_sync_for_acks_all())
    return partition_error(pd.index, ErrorCode::NOT_ENOUGH_REPLICAS,
                           "The number of in-sync replicas is below min.insync.replicas");
  std::span<uint8_t> records = pd.records.mutable_bytes();
  if (pd.records.is_null || records.empty())
    return partition_error(pd.index, ErrorCode::INVALID_RECORD,
                           "Produce requests with version 3+ must carry exactly one record batch");
  // Produce v0-2 carry magic 0/1 message sets: validated and converted to one v2 batch.
  std::vector<uint8_t> converted;
  if (ctx.api_version < 3) {
    auto c = convert_legacy_message_set(records, kMaxDecompressedBatchBytes);
    if (!c.ok()) {
      spdlog::info("refused produce v{} to {} from {}: {} ({})", ctx.api_version, tp.to_string(), ctx.peer,
                   error_name(c.code()), c.error().message);
      return partition_error(pd.index, c.code(), c.error().message);
    }
    converted = std::move(c->batch);
    records = converted;
  }

  const storage::LogConfig& lc = partition->log().config();
  auto validated = validate_batches(records, lc.max_message_bytes);
  if (!validated.ok()) {
    spdlog::info("refused produce to {} from {}: {} ({})", tp.to_string(), ctx.peer,
                 error_name(validated.code()), validated.error().message);
    return partition_error(pd.index, validated.code(), validated.error().message);
  }
  if (validated->batches.size() != 1)
    return partition_error(pd.index, ErrorCode::INVALID_RECORD,
                           "Produce requests with version 3+ must carry exactly one record batch");
  // Transaction markers come from the coordinator (WriteTxnMarkers), never from a producer
  // (Kafka's LogValidator refuses client control batches the same way).
  if (validated->batches.front().header.is_control())
    return partition_error(pd.index, ErrorCode::INVALID_RECORD, "Clients are not allowed to write control records");
  // Broker-side schema validation (confluent.key/value.schema.validation): all or nothing.
  if (SchemaRegistryService* sr = broker.schema_registry()) {
    SchemaValidationResult v = sr->validator().check(topic, records);
    if (v.error != ErrorCode::NONE) {
      spdlog::info("refused produce to {} from {}: {} ({})", tp.to_string(), ctx.peer, error_name(v.error),
                   v.message);
      PartitionResp r = partition_error(pd.index, v.error, std::move(v.message));
      for (auto& e : v.record_errors) {
        auto& re = r.record_errors.emplace_back();
        re.batch_index = e.index;
        re.batch_index_error_message = std::move(e.message);
      }
      return r;
    }
  }
  // CreateTime timestamps must be within message.timestamp.difference.max.ms of the broker's
  // clock (records without a timestamp, -1, are not checked, as in Kafka).
  if (!lc.message_timestamp_log_append && lc.message_timestamp_difference_max_ms < INT64_MAX &&
      validated->min_timestamp >= 0) {
    int64_t now = storage::now_ms();
    int64_t worst = std::max(now - validated->min_timestamp, validated->max_timestamp - now);
    if (worst > lc.message_timestamp_difference_max_ms)
      return partition_error(pd.index, ErrorCode::INVALID_TIMESTAMP,
                             "Timestamp of a record is out of range: it is " + std::to_string(worst) +
                                 " ms from the broker's time, more than message.timestamp.difference.max.ms " +
                                 std::to_string(lc.message_timestamp_difference_max_ms));
  }
  // zstd needs Produce v7+ (clients that can't read it would otherwise be served it).
  if (ctx.api_version < 7 && validated->batches.front().compression == 4)
    return partition_error(pd.index, ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);

  // A topic with its own compression.type stores batches in that codec (Kafka recompresses
  // too); "producer" keeps them as sent.
  std::vector<uint8_t> recompressed;
  int codec = validated->batches.front().compression;
  if (lc.compression >= 0 && lc.compression != codec) {
    auto r = recompress_batch(records, lc.compression);
    if (!r.ok()) return partition_error(pd.index, r.code(), r.error().message);
    recompressed = std::move(r.value());
    records = recompressed;
  }
  bool duplicate = false;
  // kbroker's conditional append (expected_end_offset, the Schema Registry's writes): the end
  // is checked and the records appended under one lock that every conditional append takes,
  // so two of them never both pass the same check.
  std::unique_lock<std::mutex> conditional(conditional_append_mu(), std::defer_lock);
  if (pd.expected_end_offset >= 0) {
    conditional.lock();
    const int64_t end = partition->log_end_offset().value();
    if (end != pd.expected_end_offset) {
      PartitionResp r = partition_error(pd.index, ErrorCode::OFFSET_OUT_OF_RANGE,
                                        "expected log end offset " + std::to_string(pd.expected_end_offset) +
                                            ", the log ends at " + std::to_string(end));
      r.log_end_offset = end;
      return r;
    }
  }
  auto appended = partition->append_as_leader(records, &duplicate);
  if (conditional.owns_lock()) conditional.unlock();
  if (!appended.ok()) {
    switch (appended.code()) {
      case ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER:
      case ErrorCode::INVALID_PRODUCER_EPOCH:
      case ErrorCode::INVALID_RECORD:
      case ErrorCode::INVALID_TXN_STATE:
        // The producer's own doing (a gap, a zombie, a bad sequence): not a broker failure.
        spdlog::info("refused produce to {} from {}: {} ({})", tp.to_string(), ctx.peer,
                     error_name(appended.code()), appended.error().message);
        break;
      case ErrorCode::KAFKA_STORAGE_ERROR:
        // Said once by the log dir as it went offline (storage/log_dir_state.h): a full disk
        // refuses every produce until space is freed, and must not flood the log.
        spdlog::debug("append to {} failed: {}", tp.to_string(), appended.error().message);
        break;
      default:
        spdlog::error("append to {} failed: {}", tp.to_string(), appended.error().message);
    }
    return partition_error(pd.index, appended.code(), appended.error().message);
  }
  if (duplicate) {
    spdlog::debug("{}: retried batch from {} answered with its offsets {}..{}", tp.to_string(), ctx.peer,
                  appended->first_offset.value(), appended->last_offset.value());
  } else {
    broker.replicas().fetch_purgatory().check(tp);
  }
  // A retried batch also waits until the ISR has it (the first attempt may still be short of
  // the high watermark), as Kafka's duplicate answers do.
  if (acks == -1 && partition->high_watermark() <= appended->last_offset)
    waiting.push_back({partition, appended->last_offset + 1});

  PartitionResp r;
  r.index = pd.index;
  r.error_code = to_wire(ErrorCode::NONE);
  r.base_offset = appended->first_offset.value();
  r.log_append_time_ms = appended->log_append_time;
  r.log_start_offset = partition->log_start_offset().value();
  TopicMetrics m = broker.metrics().topic(topic);
  m.bytes_in->Increment(static_cast<double>(appended->bytes));
  m.records_in->Increment(appended->records);
  return r;
}

// acks=all: the answer waits until the ISR has every partition's records (the high watermark
// passed them) or the request's timeout; no thread waits, the purgatory and a timer do.
void wait_for_replication(RequestContext& ctx, Resp resp, std::vector<replication::DelayedProduce::Waiting> waiting,
                          int32_t timeout_ms, Respond respond) {
  Broker& broker = *ctx.broker;
  auto op = std::make_shared<replication::DelayedProduce>(
      std::move(waiting), [v = ctx.api_version, api = ctx.api_key, &broker, resp = std::move(resp),
                           respond = std::move(respond)](const auto& done) mutable {
        for (const auto& w : done) {
          if (w.result == ErrorCode::NONE) continue;
          broker.metrics().request_error(api, w.result);
          for (auto& t : resp.responses)
            if (t.name == w.partition->tp().topic)
              for (auto& p : t.partition_responses)
                if (p.index == w.partition->tp().partition) p.error_code = to_wire(w.result);
        }
        send_response(v, respond, resp);
      });
  auto keys = op->keys();
  // The timer fires unless cancelled; holding the operation weakly frees a completed one now.
  auto timer = ctx.scheduler->after_ms(std::max(timeout_ms, 0), [weak = std::weak_ptr(op), keys, &broker] {
    if (auto op = weak.lock()) op->force_complete();
    for (const auto& k : keys) broker.replicas().produce_purgatory().purge(k);
  });
  broker.replicas().produce_purgatory().watch(keys, op);
  if (op->completed()) timer->cancel();
}

}  // namespace

void handle_produce(RequestContext& ctx, Respond respond) {
  msg::ProduceRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;

  bool acks_valid = req.acks == 0 || req.acks == 1 || req.acks == -1;
  bool any_error = false;
  Resp resp;
  std::vector<replication::DelayedProduce::Waiting> waiting;
  for (auto& td : req.topic_data) {
    Resp::TopicProduceResponse tr;
    tr.name = td.name;
    for (auto& pd : td.partition_data) {
      PartitionResp pr = acks_valid ? produce_partition(ctx, broker, td.name, req.acks, pd, waiting)
                                    : partition_error(pd.index, ErrorCode::INVALID_REQUIRED_ACKS);
      if (pr.error_code != 0) {
        any_error = true;
        broker.metrics().request_error(ctx.api_key, static_cast<ErrorCode>(pr.error_code));
        broker.metrics().topic(td.name).failed_produce->Increment();
      }
      tr.partition_responses.push_back(std::move(pr));
    }
    resp.responses.push_back(std::move(tr));
  }

  if (req.acks == 0) {
    // No answer with acks=0. On an error Kafka closes the connection, the only way the
    // producer can notice (it then refreshes its metadata).
    Response out;
    out.send = false;
    out.close_after = any_error;
    respond(std::move(out));
    return;
  }
  if (waiting.empty()) return send_response(ctx, respond, resp);
  wait_for_replication(ctx, std::move(resp), std::move(waiting), req.timeout_ms, std::move(respond));
}

}  // namespace kb::server
