// Handler for api Produce (key 0), versions 0..9 (v0-2: magic 0/1 message sets, converted to
// record batches; v3+: magic-2 record batches). What the request's version allows is checked
// here (Kafka's ProduceRequest.validateRecords: one batch from v3, zstd from v7); the rest of
// the produce contract is ReplicaManager::append_records: validation against the topic's
// settings, the idempotent and transactional producer checks (a retried batch is answered
// NONE with the offsets it was first given; a plain batch of a producer with an open
// transaction is INVALID_TXN_STATE; control batches are INVALID_RECORD), and the acks=all
// wait. Thread: the connection's; an acks=all answer is sent from where the wait completes.
// kbroker extras: a topic with confluent.key/value.schema.validation refuses records without
// a registered schema id (server/schema_validation.h, checked here before the append), and a
// partition carrying expected_end_offset (v9+ tag) is a conditional append
// (produce_request.kmsg; AppendEntry::expected_end_offset).
// Transactions (Kafka's handleProduceAppend): transactional batches need the request's
// transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED for the whole request, as in
// Kafka) and one producer; with transaction.partition.verification.enable (KIP-890 part 1) a
// batch that would open the producer's transaction on a partition waits until the
// transaction coordinator confirmed the partition is in the transaction
// (coordinator::TxnVerifier); the append then runs on the verifier's thread.
#include "protocol/compression.h"
#include "protocol/legacy_messages.h"
#include "protocol/messages/produce_request.h"
#include "protocol/messages/produce_response.h"
#include "protocol/record_batch.h"
#include "replication/replica_manager.h"
#include "runtime/rate_limited_log.h"
#include "server/broker.h"
#include "runtime/clock.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/quota_throttle.h"
#include "server/request_quota.h"
#include "server/schema_registry_service.h"
#include "server/schema_validation.h"

namespace kb::server {

namespace {

using Resp = msg::ProduceResponse;
using PartitionResp = Resp::TopicProduceResponse::PartitionProduceResponse;
using PartitionData = msg::ProduceRequest::TopicProduceData::PartitionProduceData;

constexpr const char* kOneBatch = "Produce requests with version 3+ must carry exactly one record batch";

struct Refusal {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
  std::vector<SchemaValidationResult::RecordError> record_errors;  // schema validation's
};

// What the request's version allows of one partition's records. Sets `records` to the bytes to
// append: the request's own, or for v0-2 the message set converted to one v2 batch (held in
// `converted`, which must outlive the append).
// `first` gets the first batch's header (what Kafka looks at for the producer and the
// transactional flag), when it reads.
Refusal check_records(const RequestContext& ctx, const TopicPartition& tp, const PartitionData& pd,
                      std::span<uint8_t>& records, std::vector<uint8_t>& converted, std::optional<BatchHeader>& first) {
  records = pd.records.mutable_bytes();
  if (pd.records.is_null || records.empty()) return {ErrorCode::INVALID_RECORD, kOneBatch, {}};
  if (ctx.api_version < 3) {
    auto c = convert_legacy_message_set(records, kMaxDecompressedBatchBytes);
    if (!c.ok()) {
      spdlog::info("refused produce v{} to {} from {}: {} ({})", ctx.api_version, tp.to_string(), ctx.peer,
                   error_name(c.code()), c.error().message);
      return {c.code(), c.error().message, {}};
    }
    converted = std::move(c->batch);
    records = converted;
  }
  // Headers only: the append validates every byte. A damaged header ends the walk and is
  // left to that validation.
  int batches = 0;
  bool zstd = false;
  for (size_t pos = 0; pos < records.size(); ++batches) {
    auto h = read_batch_header(records.subspan(pos));
    if (!h.ok() || h->batch_length <= 0 || static_cast<uint64_t>(h->total_size()) > records.size() - pos) break;
    if (batches == 0) first = *h;
    zstd |= h->compression() == 4;
    pos += static_cast<size_t>(h->total_size());
  }
  if (batches > 1) return {ErrorCode::INVALID_RECORD, kOneBatch, {}};
  // zstd needs Produce v7+ (clients that can't read it would otherwise be served it).
  if (zstd && ctx.api_version < 7) return {ErrorCode::UNSUPPORTED_COMPRESSION_TYPE, {}, {}};
  return {};
}

// Broker-side schema validation (confluent.key/value.schema.validation): all or nothing, on
// the partition's leader only (elsewhere the append answers NOT_LEADER_OR_FOLLOWER). The
// validator walks the batches defensively; a damaged one is refused here or by the append.
Refusal check_schemas(const RequestContext& ctx, Broker& broker, const TopicPartition& tp,
                      std::span<const uint8_t> records) {
  SchemaRegistryService* sr = broker.schema_registry();
  if (!sr) return {};
  auto p = broker.replicas().get(tp);
  if (!p || !p->is_leader()) return {};
  SchemaValidationResult v = sr->validator().check(tp.topic, records);
  if (v.error == ErrorCode::NONE) return {};
  spdlog::info("refused produce to {} from {}: {} ({})", tp.to_string(), ctx.peer, error_name(v.error), v.message);
  return {v.error, std::move(v.message), std::move(v.record_errors)};
}

// One line per partition per 10 s (runtime/rate_limited_log.h).
void log_refusal(const std::string& peer, const TopicPartition& tp, const replication::AppendResult& r) {
  static runtime::RateLimitedLog refusals;
  if (r.message.empty()) return;  // not the append's own refusal (no leader here, a timeout)
  switch (r.error) {
    case ErrorCode::NOT_ENOUGH_REPLICAS:
      return;  // the cluster's state, not the producer's doing
    case ErrorCode::CORRUPT_MESSAGE:
    case ErrorCode::MESSAGE_TOO_LARGE:
    case ErrorCode::INVALID_RECORD:
    case ErrorCode::INVALID_TIMESTAMP:
    case ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER:
    case ErrorCode::INVALID_PRODUCER_EPOCH:
    case ErrorCode::INVALID_TXN_STATE:
    case ErrorCode::INVALID_TOPIC_EXCEPTION:
    case ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case ErrorCode::INVALID_PRODUCER_ID_MAPPING: {
      // The producer's own doing (bad bytes, a gap, a zombie, an internal topic): not a broker
      // failure, and a client that keeps sending it must not flood the log.
      refusals.info(tp.to_string(), "refused produce to {} from {}: {} ({})", tp.to_string(), peer,
                    error_name(r.error), r.message);
      return;
    }
    case ErrorCode::KAFKA_STORAGE_ERROR:
      // Said once by the log dir as it went offline (storage/log_dir_state.h): a full disk
      // refuses every produce until space is freed, and must not flood the log.
      spdlog::debug("append to {} failed: {}", tp.to_string(), r.message);
      return;
    default:
      refusals.error(tp.to_string(), "append to {} failed: {}", tp.to_string(), r.message);
  }
}

PartitionResp partition_response(int32_t index, const replication::AppendResult& r) {
  PartitionResp p;
  p.index = index;
  p.error_code = to_wire(r.error);
  p.base_offset = -1;
  if (r.info) {  // appended, also when the wait for the ISR then failed (Kafka keeps the offsets)
    p.base_offset = r.info->first_offset.value();
    p.log_append_time_ms = r.info->log_append_time;
    p.log_start_offset = r.log_start_offset.value();
  }
  if (r.log_end_offset.value() >= 0) p.log_end_offset = r.log_end_offset.value();  // a conditional append's
  if (r.error != ErrorCode::NONE && !r.message.empty()) p.error_message = r.message;
  return p;
}

// A produce request between its checks and its answer: kept alive (with the request frame
// the records point into) while a transaction verification is out.
struct PendingProduce {
  Broker* broker = nullptr;
  int16_t api_version = 0, api_key = 0, acks = 0;
  int32_t timeout_ms = 0;
  std::string peer;
  std::shared_ptr<Frame> frame;                  // the records' bytes
  std::vector<std::vector<uint8_t>> converted;  // v0-2 batches
  Resp resp;
  std::vector<replication::AppendEntry> entries;
  std::vector<std::pair<size_t, size_t>> slots;  // per entry: (topic, partition) in `resp`
  std::vector<std::optional<BatchHeader>> first;  // per entry: its first batch's header
  bool any_error = false;
  Respond respond;

  bool transactional(size_t i) const { return first[i] && first[i]->producer_id >= 0 && first[i]->is_transactional(); }

  // Answers entry `i` with `r` without appending it.
  void refuse(size_t i, const replication::AppendResult& r) {
    any_error = true;
    broker->metrics().request_error(api_key, r.error);
    if (auto p = broker->replicas().get(entries[i].tp)) replication::TopicStats::add(p->stats().failed_produce, 1);
    log_refusal(peer, entries[i].tp, r);
    resp.responses[slots[i].first].partition_responses[slots[i].second] = partition_response(entries[i].tp.partition, r);
  }
};

// Appends what is left of `pp` and answers the request.
void append_and_answer(std::shared_ptr<PendingProduce> pp) {
  std::vector<TopicPartition> tps;
  for (const auto& e : pp->entries) tps.push_back(e.tp);
  auto entries = std::move(pp->entries);
  pp->broker->replicas().append_records(
      std::move(entries), pp->acks, pp->timeout_ms, replication::AppendOrigin::Client,
      [pp, tps = std::move(tps)](std::vector<replication::AppendResult> results) {
        for (size_t i = 0; i < results.size(); ++i) {
          const auto& r = results[i];
          auto& pr = pp->resp.responses[pp->slots[i].first].partition_responses[pp->slots[i].second];
          pr = partition_response(tps[i].partition, r);
          if (r.error == ErrorCode::NONE) continue;
          pp->any_error = true;
          log_refusal(pp->peer, tps[i], r);
          pp->broker->metrics().request_error(pp->api_key, r.error);
        }
        if (pp->acks == 0) {
          // No answer with acks=0. On an error Kafka closes the connection, the only way the
          // producer can notice (it then refreshes its metadata).
          Response out;
          out.send = false;
          out.close_after = pp->any_error;
          pp->respond(std::move(out));
          return;
        }
        // request_percentage is decided once this answer is encoded: its throttle_time_ms is
        // the body's last field, before the (then empty) tagged-field section of v9+.
        Response out = encode_response(pp->api_version, pp->resp);
        if (pp->api_version >= 1 && pp->resp.node_endpoints.empty()) throttle_is_last_field(out, pp->api_version >= 9);
        pp->respond(std::move(out));
      });
}

// Kafka's request-level refusals of transactional records: without a transactional id, or of
// more than one producer. Every partition is answered `code` (the request's own errors too).
std::optional<replication::AppendResult> transactional_refusal(const msg::ProduceRequest& req,
                                                               const PendingProduce& pp, const Access& access) {
  std::optional<int64_t> producer;
  for (size_t i = 0; i < pp.entries.size(); ++i) {
    if (!pp.transactional(i)) continue;
    replication::AppendResult r;
    if (!req.transactional_id || req.transactional_id->empty()) {
      r.error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      r.message = "Transactional records need the request's transactional id";
      return r;
    }
    if (!access.transactional_id(security::AclOperation::WRITE, *req.transactional_id)) {
      r.error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      r.message = "Not authorized to write for transactional id " + *req.transactional_id;
      return r;
    }
    if (producer && *producer != pp.first[i]->producer_id) {
      r.error = ErrorCode::INVALID_PRODUCER_ID_MAPPING;
      r.message = "Transactional records contained more than one producer ID";
      return r;
    }
    producer = pp.first[i]->producer_id;
  }
  return std::nullopt;
}

}  // namespace

void handle_produce(RequestContext& ctx, Respond respond) {
  msg::ProduceRequest req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  const bool acks_valid = req.acks == 0 || req.acks == 1 || req.acks == -1;

  auto pp = std::make_shared<PendingProduce>();
  pp->broker = &broker;
  pp->api_version = ctx.api_version;
  pp->api_key = ctx.api_key;
  pp->acks = req.acks;
  pp->timeout_ms = req.timeout_ms;
  pp->peer = ctx.peer;
  pp->frame = ctx.frame;
  pp->respond = std::move(respond);
  Resp& resp = pp->resp;
  const Access access(ctx);
  // producer_byte_rate: the request's bytes count when it arrives; Produce v6+ clients back
  // off by themselves, older ones get their answer late (KIP-219).
  if (broker.quotas().enabled(QuotaKind::kProduce)) {
    const double bytes = static_cast<double>(ctx.frame ? ctx.frame->size() : ctx.body.size());
    const int64_t ms = broker.quotas().record_bytes(QuotaKind::kProduce, quota_user_of(ctx), ctx.client_id, bytes,
                                                    runtime::steady_ms());
    resp.throttle_time_ms = static_cast<int32_t>(std::min<int64_t>(ms, INT32_MAX));
    pp->respond = throttled(ctx, std::move(pp->respond), ms, ctx.api_version >= 6);
  }
  for (auto& td : req.topic_data) {
    const bool authorized = access.topic(security::AclOperation::WRITE, td.name);
    auto& tr = resp.responses.emplace_back();
    tr.name = td.name;
    for (auto& pd : td.partition_data) {
      TopicPartition tp{td.name, pd.index};
      std::span<uint8_t> records;
      std::optional<BatchHeader> first;
      Refusal refusal;
      // An invalid acks is the append's answer for every partition.
      if (!authorized) {
        refusal.code = ErrorCode::TOPIC_AUTHORIZATION_FAILED;
        refusal.message = "Not authorized to write to topic " + td.name;
      } else if (acks_valid) {
        std::vector<uint8_t> batch;
        refusal = check_records(ctx, tp, pd, records, batch, first);
        if (!batch.empty()) pp->converted.push_back(std::move(batch));  // the buffer `records` points to stays
        if (refusal.code == ErrorCode::NONE) refusal = check_schemas(ctx, broker, tp, records);
      }
      if (refusal.code != ErrorCode::NONE) {
        pp->any_error = true;
        broker.metrics().request_error(ctx.api_key, refusal.code);
        if (auto p = broker.replicas().get(tp)) replication::TopicStats::add(p->stats().failed_produce, 1);
        replication::AppendResult r;
        r.error = refusal.code;
        r.message = std::move(refusal.message);
        auto& pr = tr.partition_responses.emplace_back(partition_response(pd.index, r));
        for (auto& e : refusal.record_errors) {
          auto& re = pr.record_errors.emplace_back();
          re.batch_index = e.index;
          re.batch_index_error_message = std::move(e.message);
        }
        continue;
      }
      pp->slots.emplace_back(resp.responses.size() - 1, tr.partition_responses.size());
      tr.partition_responses.emplace_back();
      pp->entries.push_back({std::move(tp), records, std::nullopt, pd.expected_end_offset});
      pp->first.push_back(first);
    }
  }
  if (auto r = transactional_refusal(req, *pp, access)) {
    for (auto& tr : resp.responses)
      for (auto& pr : tr.partition_responses) pr = partition_response(pr.index, *r);
    for (size_t i = 0; i < pp->entries.size(); ++i) pp->refuse(i, *r);
    pp->entries.clear();
  }

  // KIP-890 part 1: the partitions where the producer's transaction would open with this
  // batch are checked with its coordinator first.
  std::vector<TopicPartition> to_verify;
  std::optional<BatchHeader> producer;
  if (broker.replicas().transaction_verification())
    for (size_t i = 0; i < pp->entries.size(); ++i) {
      if (!pp->transactional(i)) continue;
      producer = pp->first[i];
      // A partition not led here is left to the append, which answers it.
      auto guard = broker.replicas().start_transaction_verification(pp->entries[i].tp, producer->producer_id);
      if (!guard.ok() || guard.value() == 0) continue;
      pp->entries[i].verification_guard = guard.value();
      to_verify.push_back(pp->entries[i].tp);
    }
  if (to_verify.empty()) return append_and_answer(std::move(pp));
  broker.txn_verifier().verify(
      *req.transactional_id, producer->producer_id, producer->producer_epoch, to_verify,
      [pp](coordinator::TxnVerifier::Outcome failed) {
        std::vector<replication::AppendEntry> entries;
        std::vector<std::pair<size_t, size_t>> slots;
        for (size_t i = 0; i < pp->entries.size(); ++i) {
          auto it = failed.find(pp->entries[i].tp);
          if (it == failed.end()) {
            entries.push_back(std::move(pp->entries[i]));
            slots.push_back(pp->slots[i]);
            continue;
          }
          replication::AppendResult r;
          r.error = it->second.code;
          r.message = it->second.message;
          pp->refuse(i, r);
        }
        pp->entries = std::move(entries);
        pp->slots = std::move(slots);
        append_and_answer(std::move(pp));
      });
}

}  // namespace kb::server
