// Handler for api Fetch (key 1), versions 0..13.
//
// From v4 record data is never copied: each partition's records are a file range of a
// segment that the connection sends with sendfile(2). Consumers fetching with v0-3 (clients
// older than Kafka 0.11) get the same batches down-converted to magic 0 (v0-1) or magic 1
// (v2-3) in memory, bounded by the fetch's byte limits (protocol/down_convert.h). A fetch that finds less than min.bytes waits in the
// fetch purgatory until an append brings enough data or max.wait.ms passes (long poll).
//
// Two kinds of fetcher, told apart by the replica id: consumers (-1) read up to the high
// watermark, from the leader only (a follower answers NOT_LEADER_OR_FOLLOWER with the
// current leader); followers (their broker id) read up to the log end, are told when their
// log diverges (diverging_epoch), and their fetch offset is their log end offset, which moves
// the high watermark and completes waiting acks=all produces. read_committed consumers (v4+)
// read up to the last stable offset and are told the aborted transactions in what they get
// (from the segments' transaction indexes); the long poll of one waits on the LSO.
#include <algorithm>

#include "protocol/down_convert.h"
#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "replication/purgatory.h"
#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include "server/broker.h"
#include "server/handlers/handlers.h"
#include "runtime/event_loop.h"
#include "storage/files.h"

namespace kb::server {

namespace {

using Req = msg::FetchRequest;
using Resp = msg::FetchResponse;
using PartitionData = Resp::FetchableTopicResponse::PartitionData;

// The state of one fetch between its arrival and its answer.
struct FetchState {
  RequestContext ctx;  // keeps the request frame alive
  Req req;
  Respond respond;
  // Topic names resolved once (v13+ names partitions by topic id).
  std::vector<std::optional<std::string>> topic_names;
  int32_t replica_id = -1;  // a follower's broker id, -1 for a consumer
  // Follower fetches: each partition's high watermark as last answered (request order). A
  // waiting follower fetch answers when it moves, so followers learn the HW without waiting
  // for new records or max.wait.ms (a new leader then starts from an up-to-date HW).
  std::vector<int64_t> hw_seen;
};

// The fetching broker's id (replica_state from v15), or -1 for a consumer.
int32_t replica_id_of(const Req& req, int16_t version) {
  return version >= 15 ? req.replica_state.replica_id : req.replica_id;
}

// A follower's read of one partition (this broker must lead it); fills `pd` but for its
// error code, which is returned.
ErrorCode read_for_follower(Broker& broker, FetchState& st, replication::Partition& p,
                            const Req::FetchTopic::FetchPartition& fp, int64_t limit, bool& first_data,
                            int64_t& total, PartitionData& pd, bool& answer_now) {
  auto rr = p.read_for_replica(st.replica_id, Offset(fp.fetch_offset), fp.current_leader_epoch,
                               fp.last_fetched_epoch, static_cast<int32_t>(limit), first_data,
                               storage::now_ms());
  pd.high_watermark = rr.high_watermark.value();
  pd.last_stable_offset = std::min(p.last_stable_offset().value(), pd.high_watermark);
  pd.log_start_offset = rr.log_start_offset.value();
  if (rr.error != ErrorCode::NONE) {
    // nothing more to say
  } else if (rr.diverging) {
    pd.diverging_epoch.epoch = rr.diverging->epoch;
    pd.diverging_epoch.end_offset = rr.diverging->end_offset;
    answer_now = true;  // the follower truncates before it fetches anything
  } else if (rr.slice && rr.slice->size > 0) {
    int64_t n = rr.slice->size;
    pd.records.files.push_back(std::move(*rr.slice));
    total += n;
    first_data = false;
  }
  if (rr.high_watermark_moved) {
    // The ISR has more records: acks=all produces and consumers waiting for them go on.
    broker.replicas().produce_purgatory().check(p.tp());
    broker.replicas().fetch_purgatory().check(p.tp());
  }
  return rr.error;
}

// Kafka's broker-wide fetch.max.bytes default. A down-converted answer is held in memory
// until it is sent, so a v0-2 fetch (which has no request max_bytes) is held to it as Kafka
// holds every fetch.
constexpr int64_t kMaxDownConvertedFetchBytes = 55 << 20;

// The records of `slice` (whole v2 batches read from the log) for a Fetch v0-3 consumer.
Result<DownConverted> down_convert_slice(const FileSlice& slice, int magic, int64_t fetch_offset, int64_t limit,
                                         bool at_least_one) {
  std::vector<uint8_t> raw(static_cast<size_t>(slice.size));
  if (!storage::pread_exact(slice.fd, raw.data(), raw.size(), slice.position))
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot read records to down-convert"};
  return down_convert(raw, magic, fetch_offset, static_cast<size_t>(std::max<int64_t>(limit, 0)), at_least_one);
}

// Reads every requested partition and builds the answer. Returns the record bytes found;
// `answer_now` when a partition's answer must not wait (an error, a diverging epoch).
int64_t build_response(FetchState& st, Resp& resp, bool& answer_now) {
  Broker& broker = *st.ctx.broker;
  const Req& req = st.req;
  int64_t budget = req.max_bytes > 0 ? req.max_bytes : 0;
  const int magic = st.replica_id >= 0 ? 2 : fetch_response_magic(st.ctx.api_version);
  if (magic < 2) budget = std::min(budget, kMaxDownConvertedFetchBytes);
  int64_t converted_records = 0, converted_bytes = 0;
  int64_t total = 0;
  bool first_data = true;  // Kafka lets the first batch exceed the limits so it can progress
  answer_now = false;
  if (st.replica_id >= 0) st.hw_seen.clear();  // refilled in request order
  for (size_t ti = 0; ti < req.topics.size(); ++ti) {
    const auto& ft = req.topics[ti];
    Resp::FetchableTopicResponse tr;
    tr.topic = ft.topic;
    tr.topic_id = ft.topic_id;
    const std::optional<std::string>& name = st.topic_names[ti];
    for (const auto& fp : ft.partitions) {
      PartitionData pd;
      pd.partition_index = fp.partition;
      pd.high_watermark = -1;
      pd.last_stable_offset = -1;
      pd.log_start_offset = -1;
      pd.records.is_null = false;
      auto fail = [&](ErrorCode code) {
        pd.error_code = to_wire(code);
        answer_now = true;
        broker.metrics().request_error(st.ctx.api_key, code);
      };
      std::shared_ptr<replication::Partition> p;
      ErrorCode epoch_error = ErrorCode::NONE;
      if (!name) {
        fail(ErrorCode::UNKNOWN_TOPIC_ID);
      } else if (!(p = broker.replicas().get(TopicPartition{*name, fp.partition}))) {
        ErrorCode e = broker.missing_partition_error(TopicPartition{*name, fp.partition});
        fail(e);
        if (e == ErrorCode::NOT_LEADER_OR_FOLLOWER)
          if (const controller::PartitionInfo* info = broker.image()->partition(*name, fp.partition)) {
            pd.current_leader.leader_id = info->leader;
            pd.current_leader.leader_epoch = info->leader_epoch;
          }
      } else if (st.replica_id >= 0) {
        int64_t limit = std::clamp<int64_t>(std::min<int64_t>(fp.partition_max_bytes, budget), 0, INT32_MAX);
        int64_t before = total;
        ErrorCode e = read_for_follower(broker, st, *p, fp, limit, first_data, total, pd, answer_now);
        if (e != ErrorCode::NONE) fail(e);
        else pd.error_code = to_wire(ErrorCode::NONE);
        budget -= total - before;
      } else if ((epoch_error = p->check_leader_epoch(fp.current_leader_epoch)) != ErrorCode::NONE ||
                 !p->is_leader()) {
        // Consumers read from the leader only (no fetch-from-follower): the current leader
        // tells them where to go (v12+).
        fail(epoch_error != ErrorCode::NONE ? epoch_error : ErrorCode::NOT_LEADER_OR_FOLLOWER);
        pd.current_leader.leader_id = p->leader();
        pd.current_leader.leader_epoch = p->leader_epoch();
      } else {
        int64_t limit = std::min<int64_t>(fp.partition_max_bytes, budget);
        if (limit < 0) limit = 0;
        // read_committed (v4+) stops at the last stable offset: records of open transactions,
        // and of ended ones whose marker is not on the ISR yet, stay hidden. The LSO first:
        // the high watermark read after it is never below it.
        const bool committed = req.isolation_level == 1 && magic == 2;
        const Offset lso = p->last_stable_offset();
        const Offset hw = p->high_watermark();
        auto rr = p->log().read(Offset(fp.fetch_offset), static_cast<int32_t>(limit), committed ? lso : hw,
                                first_data);
        pd.high_watermark = hw.value();
        pd.last_stable_offset = lso.value();
        pd.log_start_offset = p->log_start_offset().value();
        if (committed && rr.ok() && rr->slice && rr->slice->size > 0) {
          // The aborted transactions overlapping what is returned (Kafka bounds the range by
          // the segment; the LSO bounds it here): the consumer drops their records.
          pd.aborted_transactions.emplace();
          for (const auto& t : p->log().collect_aborted_txns(Offset(fp.fetch_offset), lso)) {
            Resp::FetchableTopicResponse::PartitionData::AbortedTransaction a;
            a.producer_id = t.producer_id;
            a.first_offset = t.first_offset;
            pd.aborted_transactions->push_back(a);
          }
        }
        if (!rr.ok()) {
          fail(rr.code());
        } else {
          pd.error_code = to_wire(ErrorCode::NONE);
          int64_t n = 0, records = 0;
          if (rr->slice && rr->slice->size > 0 && magic < 2) {
            auto conv = down_convert_slice(*rr->slice, magic, fp.fetch_offset, limit, first_data);
            if (!conv.ok()) {
              fail(conv.code());
            } else {
              n = static_cast<int64_t>(conv->messages.size());
              records = conv->records;
              pd.records.owned = std::move(conv->messages);
              converted_records += records;
              converted_bytes += n;
            }
          } else if (rr->slice && rr->slice->size > 0) {
            n = rr->slice->size;
            records = rr->records;
            pd.records.files.push_back(std::move(*rr->slice));
          }
          if (n > 0) {
            total += n;
            budget -= n;
            first_data = false;
            TopicMetrics m = broker.metrics().topic(*name);
            m.bytes_out->Increment(static_cast<double>(n));
            m.records_out->Increment(static_cast<double>(records));
          }
        }
      }
      if (st.replica_id >= 0) st.hw_seen.push_back(pd.high_watermark);
      // read_committed gets a list (empty unless filled above); read_uncommitted null.
      if (st.req.isolation_level == 1) {
        if (!pd.aborted_transactions) pd.aborted_transactions.emplace();
      } else {
        pd.aborted_transactions.reset();
      }
      tr.partitions.push_back(std::move(pd));
    }
    resp.responses.push_back(std::move(tr));
  }
  if (converted_records > 0)
    spdlog::debug("fetch v{} from {} ({}): {} records down-converted to magic {} ({} bytes)", st.ctx.api_version,
                  st.ctx.client_id, st.ctx.peer, converted_records, magic, converted_bytes);
  return total;
}

void answer(FetchState& st) {
  Resp resp;
  bool answer_now = false;
  build_response(st, resp, answer_now);
  Response out;
  resp.encode(out.body, st.ctx.api_version);
  st.respond(std::move(out));
}

// A fetch waiting in the purgatory for min.bytes or max.wait.ms.
class DelayedFetch final : public replication::DelayedOperation {
 public:
  explicit DelayedFetch(std::shared_ptr<FetchState> st) : st_(std::move(st)) {}
  void set_timer(std::shared_ptr<runtime::Timer> t) {
    std::lock_guard lk(mu_);
    timer_ = std::move(t);
  }

 protected:
  bool can_complete() override {
    // Enough new data? Sum what a read would return now, without building a response.
    Broker& broker = *st_->ctx.broker;
    int64_t bytes = 0;
    size_t index = 0;
    for (size_t ti = 0; ti < st_->req.topics.size(); ++ti) {
      const auto& name = st_->topic_names[ti];
      if (!name) return true;
      for (const auto& fp : st_->req.topics[ti].partitions) {
        const size_t i = index++;
        auto p = broker.replicas().get(TopicPartition{*name, fp.partition});
        if (!p) return true;  // partition gone (deleted / moved): answer with the error now
        // Leadership moved or a new epoch began: the answer is an error now.
        if (!p->is_leader() || p->check_leader_epoch(fp.current_leader_epoch) != ErrorCode::NONE) return true;
        // A follower reads up to the log end, a consumer up to the high watermark, a
        // read_committed one up to the last stable offset.
        const bool follower = st_->replica_id >= 0;
        if (follower && i < st_->hw_seen.size() && p->high_watermark().value() > st_->hw_seen[i]) return true;
        const bool committed = !follower && st_->req.isolation_level == 1 &&
                               fetch_response_magic(st_->ctx.api_version) == 2;
        Offset limit = follower ? p->log_end_offset() : committed ? p->last_stable_offset() : p->high_watermark();
        if (fp.fetch_offset >= limit.value()) continue;
        auto rr = p->log().read(Offset(fp.fetch_offset), fp.partition_max_bytes, limit, true);
        if (!rr.ok()) return true;
        if (rr->slice) bytes += rr->slice->size;
        if (bytes >= st_->req.min_bytes) return true;
      }
    }
    return false;
  }
  void on_complete() override {
    std::shared_ptr<runtime::Timer> t;
    {
      std::lock_guard lk(mu_);
      t = std::move(timer_);
    }
    if (t) t->cancel();
    // Build the answer on the connection's own thread: the sendfile ranges are taken there.
    auto st = st_;
    st->ctx.scheduler->post([st] { answer(*st); });
  }

 private:
  std::shared_ptr<FetchState> st_;
  std::mutex mu_;
  std::shared_ptr<runtime::Timer> timer_;
};

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
  st->replica_id = replica_id_of(st->req, ctx.api_version);
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

  auto image = broker.image();
  std::vector<TopicPartition> keys;
  for (const auto& ft : req.topics) {
    std::optional<std::string> name;
    if (ctx.api_version >= 13) {
      if (const controller::TopicInfo* t = image->topic(ft.topic_id)) name = t->name;
    } else {
      name = ft.topic;
    }
    st->topic_names.push_back(name);
    if (name)
      for (const auto& fp : ft.partitions) keys.push_back(TopicPartition{*name, fp.partition});
  }

  Resp resp;
  bool answer_now = false;
  int64_t bytes = build_response(*st, resp, answer_now);
  if (req.max_wait_ms <= 0 || bytes >= req.min_bytes || answer_now || keys.empty()) {
    send_response(st->ctx, st->respond, resp);
    return;
  }
  // Long poll: nothing is kept from the first read; the answer is rebuilt on completion.
  auto op = std::make_shared<DelayedFetch>(st);
  std::weak_ptr<DelayedFetch> weak = op;
  auto* purgatory = &broker.replicas().fetch_purgatory();
  op->set_timer(ctx.scheduler->after_ms(req.max_wait_ms, [weak, purgatory, keys] {
    if (auto o = weak.lock()) {
      o->force_complete();
      for (const auto& k : keys) purgatory->purge(k);
    }
  }));
  purgatory->watch(keys, op);
}

}  // namespace kb::server
