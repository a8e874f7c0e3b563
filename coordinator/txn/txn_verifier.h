// The partition leader's question to the transaction coordinator before the first
// transactional batch of a producer on a partition (KIP-890 part 1, Kafka's
// AddPartitionsToTxnManager): AddPartitionsToTxn v4 with verify_only, "is this partition in
// the ongoing transaction of this transactional id, producer id and epoch?". Sent to the
// leader of the id's __transaction_state partition over a peer connection of its own (also to
// this broker itself), one request per verification.
//
// The answer is what the producer is told, with Kafka's translation of the coordinator's
// errors for Produce: a partition not in the transaction is INVALID_TXN_STATE ("Partition was
// not added to the transaction"); a fenced producer INVALID_PRODUCER_EPOCH; an answer that
// could not be had (coordinator moving, loading, busy with the transaction's end, network)
// NOT_ENOUGH_REPLICAS, which every producer retries without a metadata refresh.
//
// Owner: the Broker. Threads: verify() from any thread; `done` runs on the peer client's
// thread, or on the caller's when no coordinator is known.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/metadata_image.h"
#include "protocol/types.h"
#include "runtime/peer_client.h"

namespace kb::coordinator {

class TxnVerifier {
 public:
  using ImageSource = std::function<std::shared_ptr<const controller::MetadataImage>()>;
  // Where a broker takes inter-broker requests; nullopt when it is unknown or fenced.
  using AddressOf =
      std::function<std::optional<runtime::PeerAddress>(const controller::MetadataImage&, int32_t node)>;
  // The partitions that failed verification, with the error (and message) for the producer;
  // empty when every one is in the transaction.
  using Outcome = std::map<TopicPartition, Error>;

  TxnVerifier(ImageSource image, AddressOf address, runtime::PeerClient& client)
      : image_(std::move(image)), address_(std::move(address)), client_(client) {}

  void verify(const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
              const std::vector<TopicPartition>& partitions, std::function<void(Outcome)> done);

  // The error a producer is told for the coordinator's answer `code` about a partition.
  static Error for_producer(ErrorCode code);

 private:
  ImageSource image_;
  AddressOf address_;
  runtime::PeerClient& client_;
};

}  // namespace kb::coordinator
