// Handler for api AddPartitionsToTxn (key 24), versions 0..4.
// A transactional producer names the partitions it is about to write to; they join its
// ongoing transaction at the transaction coordinator. As in Kafka, when any named partition
// does not exist the transaction's request fails: those partitions UNKNOWN_TOPIC_OR_PARTITION,
// the others OPERATION_NOT_ATTEMPTED. v4 is the brokers' batched form (KIP-890): several
// transactions in one request, each added, or with verify_only checked to be in its ongoing
// transaction.
#include <mutex>
#include <set>

#include "protocol/messages/add_partitions_to_txn_request.h"
#include "protocol/messages/add_partitions_to_txn_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"
#include "server/handlers/txn_common.h"

namespace kb::server {

namespace {

using Req = msg::AddPartitionsToTxnRequest;
using Resp = msg::AddPartitionsToTxnResponse;
using Topics = std::vector<Req::AddPartitionsToTxnTopic>;
using TopicResults = std::vector<Resp::AddPartitionsToTxnTopicResult>;
using CodeOf = std::function<ErrorCode(const TopicPartition&)>;

// Every partition of `topics`, with the error `code_of` gives it.
TopicResults results(const Topics& topics, const CodeOf& code_of) {
  TopicResults out;
  for (const auto& t : topics) {
    Resp::AddPartitionsToTxnTopicResult tr;
    tr.name = t.name;
    for (int32_t p : t.partitions) {
      Resp::AddPartitionsToTxnPartitionResult pr;
      pr.partition_index = p;
      pr.partition_error_code = to_wire(code_of(TopicPartition{t.name, p}));
      tr.results_by_partition.push_back(pr);
    }
    out.push_back(std::move(tr));
  }
  return out;
}

// One transaction of the request: its partitions go to the coordinator, `done` gets the
// per-partition answer (on the coordinator's thread, or here when refused up front).
void add_one(Broker& broker, int16_t api_key, int16_t version, std::string id, int64_t producer_id,
             int16_t producer_epoch, bool verify_only, Topics topics, std::function<void(TopicResults)> done) {
  auto image = broker.image();
  auto exists = [&](const TopicPartition& tp) {
    const controller::TopicInfo* info = image->topic(tp.topic);
    return info && tp.partition >= 0 && tp.partition < static_cast<int32_t>(info->partitions.size());
  };
  std::vector<TopicPartition> partitions;
  bool unknown = false;
  for (const auto& t : topics)
    for (int32_t p : t.partitions) {
      partitions.push_back(TopicPartition{t.name, p});
      unknown = unknown || !exists(partitions.back());
    }
  if (unknown) {
    broker.metrics().request_error(api_key, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    return done(results(topics, [&](const TopicPartition& tp) {
      return exists(tp) ? ErrorCode::OPERATION_NOT_ATTEMPTED : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    }));
  }
  if (verify_only) {
    broker.transactions().verify_partitions(
        std::move(id), producer_id, producer_epoch, std::move(partitions),
        [topics = std::move(topics), done = std::move(done)](std::map<TopicPartition, ErrorCode> codes) {
          done(results(topics, [&](const TopicPartition& tp) { return codes[tp]; }));
        });
    return;
  }
  broker.transactions().add_partitions(
      std::move(id), producer_id, producer_epoch, std::move(partitions),
      [topics = std::move(topics), done = std::move(done), version, api_key, &broker](ErrorCode e) {
        e = fenced_for_version(e, version, 2);
        if (e != ErrorCode::NONE) broker.metrics().request_error(api_key, e);
        done(results(topics, [e](const TopicPartition&) { return e; }));
      });
}

}  // namespace

void handle_add_partitions_to_txn(RequestContext& ctx, Respond respond) {
  Req req;
  if (!decode_request(ctx, req, respond)) return;
  Broker& broker = *ctx.broker;
  const Access access(ctx);
  if (ctx.api_version >= 4 && !access.cluster(security::AclOperation::CLUSTER_ACTION))
    return refuse_request<Resp>(ctx, respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);  // brokers only
  auto reply = respond_later<Resp>(ctx, std::move(respond));
  if (ctx.api_version < 4) {
    // Kafka: WRITE on the transactional id, else every partition refused; WRITE on each topic,
    // else its partitions TOPIC_AUTHORIZATION_FAILED and the others OPERATION_NOT_ATTEMPTED.
    std::set<std::string> refused;
    const bool id_allowed = access.transactional_id(security::AclOperation::WRITE, req.v3_and_below_transactional_id);
    if (id_allowed)
      for (const auto& t : req.v3_and_below_topics)
        if (!access.topic(security::AclOperation::WRITE, t.name)) refused.insert(t.name);
    if (!id_allowed || !refused.empty()) {
      broker.metrics().request_error(ctx.api_key, id_allowed ? ErrorCode::TOPIC_AUTHORIZATION_FAILED
                                                             : ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      Resp resp;
      resp.results_by_topic_v3_and_below = results(req.v3_and_below_topics, [&](const TopicPartition& tp) {
        return !id_allowed                 ? ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
               : refused.count(tp.topic) ? ErrorCode::TOPIC_AUTHORIZATION_FAILED
                                         : ErrorCode::OPERATION_NOT_ATTEMPTED;
      });
      return reply(resp);
    }
    add_one(broker, ctx.api_key, ctx.api_version, std::move(req.v3_and_below_transactional_id),
            req.v3_and_below_producer_id, req.v3_and_below_producer_epoch, false, std::move(req.v3_and_below_topics),
            [reply = std::move(reply)](TopicResults r) {
              Resp resp;
              resp.results_by_topic_v3_and_below = std::move(r);
              reply(resp);
            });
    return;
  }
  // v4: the answer goes out once every transaction has its results, in request order.
  struct Batch {
    std::mutex mu;
    Resp resp;
    size_t waiting = 0;
    std::function<void(Resp)> reply;
  };
  auto batch = std::make_shared<Batch>();
  batch->reply = std::move(reply);
  batch->waiting = req.transactions.size();
  batch->resp.results_by_transaction.resize(req.transactions.size());
  if (req.transactions.empty()) return batch->reply(batch->resp);
  for (size_t i = 0; i < req.transactions.size(); ++i) {
    auto& t = req.transactions[i];
    batch->resp.results_by_transaction[i].transactional_id = t.transactional_id;
    add_one(broker, ctx.api_key, ctx.api_version, t.transactional_id, t.producer_id, t.producer_epoch, t.verify_only,
            std::move(t.topics), [batch, i](TopicResults r) {
              std::unique_lock lock(batch->mu);
              batch->resp.results_by_transaction[i].topic_results = std::move(r);
              if (--batch->waiting > 0) return;
              lock.unlock();
              batch->reply(std::move(batch->resp));
            });
  }
}

}  // namespace kb::server
