// Handler for api Fetch (key 1), versions 0..13.
//
// The fetch itself is ReplicaManager::fetch_records: the read bound of each kind of fetcher
// (consumers up to the high watermark, read_committed ones up to the last stable offset with
// the aborted transactions in what they get, followers up to the log end with the diverging
// epoch check), the leader-only rule for consumers, and the long poll (min.bytes /
// max.wait.ms in the fetch purgatory). This handler resolves topic ids (v13+), refuses fetch
// sessions, and encodes the answer. From v4 record data is never copied: each partition's
// records are a file range of a segment that the connection sends with sendfile(2). Consumers
// fetching with v0-3 (clients older than Kafka 0.11) get the same batches down-converted to
// magic 0 (v0-1) or magic 1 (v2-3) in memory, bounded by the fetch's byte limits
// (protocol/down_convert.h). Thread: the connection's; a long poll is answered from where it
// completes (the connection writes answers in order from any thread).
#include <algorithm>

#include "protocol/down_convert.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "replication/replica_manager.h"
#include <spdlog/spdlog.h>

#include "server/broker.h"
#include "runtime/clock.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/quota_throttle.h"
#include "storage/files.h"

namespace kb::server {

namespace {

using Req = msg::FetchRequest;
using Resp = msg::FetchResponse;
using PartitionData = Resp::FetchableTopicResponse::PartitionData;

// Kafka's broker-wide fetch.max.bytes default. A down-converted answer is held in memory
// until it is sent, so a v0-2 fetch (which has no request max_bytes) is held to it as Kafka
// holds every fetch.
constexpr int64_t kMaxDownConvertedFetchBytes = 55 << 20;

// What the answer needs of the request once the replica manager has read.
struct FetchState {
  RequestContext ctx;  // keeps the request frame alive
  Req req;
  Respond respond;
  int magic = 2;  // of the records answered: 0/1 for v0-3 consumers (down-converted)
  // Topic names resolved once (v13+ names partitions by topic id); nullopt: unknown id.
  std::vector<std::optional<std::string>> topic_names;
  // Per requested partition in request order: its index among the replica manager's
  // partitions, or kUnknownTopicId / kNotAuthorized.
  std::vector<int> read_index;
};

constexpr int kUnknownTopicId = -1;   // UNKNOWN_TOPIC_ID
constexpr int kNotAuthorized = -2;    // TOPIC_AUTHORIZATION_FAILED

// The fetching broker's id (replica_state from v15), or -1 for a consumer.
int32_t replica_id_of(const Req& req, int16_t version) {
  return version >= 15 ? req.replica_state.replica_id : req.replica_id;
}

// The records of `slice` (whole v2 batches read from the log) for a Fetch v0-3 consumer.
Result<DownConverted> down_convert_slice(const FileSlice& slice, int magic, int64_t fetch_offset, int64_t limit,
                                         bool at_least_one) {
  std::vector<uint8_t> raw(static_cast<size_t>(slice.size));
  if (!storage::pread_exact(slice.fd, raw.data(), raw.size(), slice.position))
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot read records to down-convert"};
  return down_convert(raw, magic, fetch_offset, static_cast<size_t>(std::max<int64_t>(limit, 0)), at_least_one);
}

// Builds and sends the answer from what the replica manager read.
void answer(FetchState& st, std::vector<replication::FetchPartitionResult> results) {
  Broker& broker = *st.ctx.broker;
  const bool consumer = replica_id_of(st.req, st.ctx.api_version) < 0;
  // Down-conversion's own budget, as the read's: the first converted data may exceed it.
  int64_t budget = std::min<int64_t>(std::max<int32_t>(st.req.max_bytes, 0), kMaxDownConvertedFetchBytes);
  bool first_data = true;
  int64_t converted_records = 0, converted_bytes = 0;
  int64_t sent = 0;  // record bytes in the answer
  Resp resp;
  size_t i = 0;
  for (size_t ti = 0; ti < st.req.topics.size(); ++ti) {
    const auto& ft = st.req.topics[ti];
    auto& tr = resp.responses.emplace_back();
    tr.topic = ft.topic;
    tr.topic_id = ft.topic_id;
    for (const auto& fp : ft.partitions) {
      PartitionData& pd = tr.partitions.emplace_back();
      pd.partition_index = fp.partition;
      pd.high_watermark = -1;
      pd.last_stable_offset = -1;
      pd.log_start_offset = -1;
      pd.records.is_null = false;
      const int index = st.read_index[i++];
      ErrorCode error = index == kNotAuthorized ? ErrorCode::TOPIC_AUTHORIZATION_FAILED : ErrorCode::UNKNOWN_TOPIC_ID;
      if (index >= 0) {
        auto& r = results[static_cast<size_t>(index)];
        error = r.error;
        pd.high_watermark = r.high_watermark.value();
        pd.last_stable_offset = r.last_stable_offset.value();
        pd.log_start_offset = r.log_start_offset.value();
        if (r.diverging) {
          pd.diverging_epoch.epoch = r.diverging->epoch;
          pd.diverging_epoch.end_offset = r.diverging->end_offset;
        }
        if (error == ErrorCode::NOT_LEADER_OR_FOLLOWER || error == ErrorCode::FENCED_LEADER_EPOCH ||
            error == ErrorCode::UNKNOWN_LEADER_EPOCH) {
          // Where to go instead (v12+): the replica's view, else the metadata's.
          pd.current_leader.leader_id = r.leader_id;
          pd.current_leader.leader_epoch = r.leader_epoch;
          if (r.leader_id < 0 && error == ErrorCode::NOT_LEADER_OR_FOLLOWER)
            if (const controller::PartitionInfo* info = broker.image()->partition(*st.topic_names[ti], fp.partition)) {
              pd.current_leader.leader_id = info->leader;
              pd.current_leader.leader_epoch = info->leader_epoch;
            }
        }
        if (r.aborted) {
          auto& list = pd.aborted_transactions.emplace();
          for (const auto& t : *r.aborted) {
            auto& a = list.emplace_back();
            a.producer_id = t.producer_id;
            a.first_offset = t.first_offset;
          }
        }
        int64_t n = 0;
        if (error == ErrorCode::NONE && r.slice && r.slice->size > 0) {
          if (st.magic < 2) {
            const int64_t limit = std::max<int64_t>(std::min<int64_t>(fp.partition_max_bytes, budget), 0);
            auto conv = down_convert_slice(*r.slice, st.magic, fp.fetch_offset, limit, first_data);
            if (!conv.ok()) {
              error = conv.code();
            } else {
              n = static_cast<int64_t>(conv->messages.size());
              pd.records.owned = std::move(conv->messages);
              converted_records += conv->records;
              converted_bytes += n;
              if (consumer && r.stats) replication::TopicStats::add(r.stats->records_out, static_cast<uint64_t>(conv->records));
            }
          } else {
            n = r.slice->size;
            pd.records.files.push_back(std::move(*r.slice));
            if (consumer && r.stats) replication::TopicStats::add(r.stats->records_out, static_cast<uint64_t>(r.records));
          }
        }
        if (n > 0) {
          sent += n;
          budget -= n;
          first_data = false;
          if (consumer && r.stats) replication::TopicStats::add(r.stats->bytes_out, static_cast<uint64_t>(n));
        }
      }
      pd.error_code = to_wire(error);
      if (error != ErrorCode::NONE) broker.metrics().request_error(st.ctx.api_key, error);
      // read_committed gets a list (empty unless filled above); read_uncommitted null.
      if (st.req.isolation_level == 1) {
        if (!pd.aborted_transactions) pd.aborted_transactions.emplace();
      } else {
        pd.aborted_transactions.reset();
      }
    }
  }
  // consumer_byte_rate: the answer's bytes count; over the quota the answer is empty (its
  // bytes taken back, as Kafka does) and carries the throttle time.
  if (consumer && broker.quotas().enabled(QuotaKind::kFetch)) {
    const int64_t now = runtime::steady_ms();
    const auto user = quota_user_of(st.ctx);
    const double bytes = static_cast<double>(sent);
    const int64_t ms = broker.quotas().record_bytes(QuotaKind::kFetch, user, st.ctx.client_id, bytes, now);
    if (ms > 0) {
      broker.quotas().unrecord_bytes(QuotaKind::kFetch, user, st.ctx.client_id, bytes, now);
      Resp empty;
      empty.throttle_time_ms = static_cast<int32_t>(std::min<int64_t>(ms, INT32_MAX));
      Respond respond = throttled(st.ctx, std::move(st.respond), ms, st.ctx.api_version >= 8);
      send_response(st.ctx, respond, empty);
      return;
    }
  }
  if (converted_records > 0)
    spdlog::debug("fetch v{} from {} ({}): {} records down-converted to magic {} ({} bytes)", st.ctx.api_version,
                  st.ctx.client_id, st.ctx.peer, converted_records, st.magic, converted_bytes);
  send_response(st.ctx, st.respond, resp);
}

Resp top_level_error(ErrorCode code) {
  Resp r;
  r.error_code = to_wire(code);
  return r;
}

}  // namespace

void handle_fetch(RequestContext& ctx, Respond respond) {
  auto st = std::make_shared<FetchState>();
  if (!decode_request(ctx, st->req, respond)) return;
  st->ctx = ctx;
  st->respond = std::move(respond);
  if (replica_id_of(st->req, ctx.api_version) >= 0) {
    // A follower's fetch is replication, not client load: Kafka exempts it from request quotas.
    st->respond = [respond = std::move(st->respond)](Response&& out) {
      out.quota_exempt = true;
      respond(std::move(out));
    };
  }
  Broker& broker = *ctx.broker;
  const Req& req = st->req;
  if (serve_quorum_fetch(st->ctx, req, st->respond)) return;  // a voter fetching the metadata log

  // Incremental fetch sessions (KIP-227) are not offered: a full fetch (session id 0, epoch -1
  // or 0) is served with session id 0, which tells the client no session was created; any
  // attempt to use a session is refused the way Kafka refuses an unknown one.
  if (req.session_id != 0) {
    send_response(st->ctx, st->respond, top_level_error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND));
    return;
  }
  if (req.session_epoch != -1 && req.session_epoch != 0) {
    send_response(st->ctx, st->respond, top_level_error(ErrorCode::INVALID_FETCH_SESSION_EPOCH));
    return;
  }

  replication::FetchParams params;
  params.replica_id = replica_id_of(req, ctx.api_version);
  st->magic = params.replica_id >= 0 ? 2 : fetch_response_magic(ctx.api_version);
  params.isolation = params.replica_id >= 0                         ? replication::FetchIsolation::LogEnd
                     : req.isolation_level == 1 && st->magic == 2 ? replication::FetchIsolation::TxnCommitted
                                                                  : replication::FetchIsolation::HighWatermark;
  params.max_wait_ms = req.max_wait_ms;
  params.min_bytes = req.min_bytes;
  params.max_bytes = std::max<int32_t>(req.max_bytes, 0);
  if (st->magic < 2) params.max_bytes = std::min(params.max_bytes, kMaxDownConvertedFetchBytes);
  auto image = broker.image();
  // Kafka: a follower's fetch takes CLUSTER_ACTION on the cluster, a consumer's READ on each
  // topic; either way a refusal is TOPIC_AUTHORIZATION_FAILED on the partitions.
  const Access access(ctx);
  const bool follower_allowed =
      params.replica_id < 0 || access.cluster(security::AclOperation::CLUSTER_ACTION);
  for (const auto& ft : req.topics) {
    std::optional<std::string> name;
    if (ctx.api_version >= 13) {
      if (const controller::TopicInfo* t = image->topic(ft.topic_id)) name = t->name;
    } else {
      name = ft.topic;
    }
    st->topic_names.push_back(name);
    const bool authorized =
        params.replica_id >= 0 ? follower_allowed : !name || access.topic(security::AclOperation::READ, *name);
    for (const auto& fp : ft.partitions) {
      if (!name || !authorized) {
        st->read_index.push_back(name ? kNotAuthorized : kUnknownTopicId);
        params.max_wait_ms = 0;  // an error to answer: no waiting
        continue;
      }
      st->read_index.push_back(static_cast<int>(params.partitions.size()));
      params.partitions.push_back({TopicPartition{*name, fp.partition}, Offset(fp.fetch_offset),
                                   fp.current_leader_epoch, fp.last_fetched_epoch, fp.partition_max_bytes});
    }
  }
  broker.replicas().fetch_records(std::move(params), [st](std::vector<replication::FetchPartitionResult> results) {
    answer(*st, std::move(results));
  });
}

}  // namespace kb::server
