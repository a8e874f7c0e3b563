#include "coordinator/txn/txn_verifier.h"

#include "coordinator/group/group_coordinator.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "protocol/messages/add_partitions_to_txn_request.h"
#include "protocol/messages/add_partitions_to_txn_response.h"

namespace kb::coordinator {

namespace {

constexpr int16_t kVersion = 4;  // the brokers' batched form, with verify_only
// Kafka's request.timeout.ms for its AddPartitionsToTxnManager.
constexpr int64_t kTimeoutMs = 30000;

TxnVerifier::Outcome all(const std::vector<TopicPartition>& partitions, const Error& e) {
  TxnVerifier::Outcome out;
  for (const auto& tp : partitions) out[tp] = e;
  return out;
}

}  // namespace

Error TxnVerifier::for_producer(ErrorCode code) {
  switch (code) {
    case ErrorCode::TRANSACTION_ABORTABLE:  // Kafka 3.8's answer; Produce v9 clients know this one
    case ErrorCode::INVALID_TXN_STATE:
      return {ErrorCode::INVALID_TXN_STATE, "Partition was not added to the transaction"};
    case ErrorCode::PRODUCER_FENCED:  // producers expect it from Produce as this one
      return {ErrorCode::INVALID_PRODUCER_EPOCH, "Producer's epoch is older than the transaction's"};
    case ErrorCode::CONCURRENT_TRANSACTIONS:
    case ErrorCode::NETWORK_EXCEPTION:
    case ErrorCode::REQUEST_TIMED_OUT:
    case ErrorCode::COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode::COORDINATOR_NOT_AVAILABLE:
    case ErrorCode::NOT_COORDINATOR:
      // Retriable, but older clients do not retry these on Produce.
      return {ErrorCode::NOT_ENOUGH_REPLICAS,
              "Unable to verify the partition has been added to the transaction. Underlying error: " +
                  std::string(error_name(code))};
    default:
      return {code, "Transaction verification failed: " + std::string(error_name(code))};
  }
}

void TxnVerifier::verify(const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
                         const std::vector<TopicPartition>& partitions, std::function<void(Outcome)> done) {
  auto image = image_();
  const controller::TopicInfo* topic = image->topic(kTransactionStateTopic);
  std::optional<runtime::PeerAddress> address;
  int32_t coordinator = -1;
  if (topic && !topic->partitions.empty()) {
    const int32_t count = static_cast<int32_t>(topic->partitions.size());
    coordinator = topic->partitions[static_cast<size_t>(GroupCoordinator::partition_for(transactional_id, count))].leader;
    if (coordinator >= 0) address = address_(*image, coordinator);
  }
  if (!address) return done(all(partitions, for_producer(ErrorCode::COORDINATOR_NOT_AVAILABLE)));

  msg::AddPartitionsToTxnRequest req;
  auto& t = req.transactions.emplace_back();
  t.transactional_id = transactional_id;
  t.producer_id = producer_id;
  t.producer_epoch = producer_epoch;
  t.verify_only = true;
  for (const auto& tp : partitions) {
    if (t.topics.empty() || t.topics.back().name != tp.topic) t.topics.emplace_back().name = tp.topic;
    t.topics.back().partitions.push_back(tp.partition);
  }
  client_.call<msg::AddPartitionsToTxnRequest, msg::AddPartitionsToTxnResponse>(
      coordinator, *address, req, kVersion, kTimeoutMs,
      [partitions, done = std::move(done)](Result<msg::AddPartitionsToTxnResponse> resp) {
        if (!resp.ok()) return done(all(partitions, for_producer(resp.code())));
        if (resp->error_code != 0) {
          const auto code = static_cast<ErrorCode>(resp->error_code);
          // The producer must not see the brokers' own authorization (Kafka's rule).
          return done(all(partitions, for_producer(code == ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                                                       ? ErrorCode::INVALID_TXN_STATE
                                                       : code)));
        }
        Outcome out;
        // A partition the answer does not mention was not verified.
        for (const auto& tp : partitions) out[tp] = for_producer(ErrorCode::INVALID_TXN_STATE);
        for (const auto& txn : resp->results_by_transaction)
          for (const auto& tr : txn.topic_results)
            for (const auto& pr : tr.results_by_partition) {
              auto it = out.find(TopicPartition{tr.name, pr.partition_index});
              if (it == out.end()) continue;
              if (pr.partition_error_code == 0) out.erase(it);
              else it->second = for_producer(static_cast<ErrorCode>(pr.partition_error_code));
            }
        done(std::move(out));
      });
}

}  // namespace kb::coordinator
