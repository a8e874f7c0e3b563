// The transaction coordinator's marker channel in the broker (Kafka's
// TransactionMarkerChannelManager): WriteTxnMarkers v1 to the current leader of each
// partition of a transaction, one request per leader, over a peer connection of its own (also
// to this broker itself, so a local leader takes the same path and answers once its ISR has
// the marker). The coordinator retries what failed.
//
// Owner: the Broker. Threads: send() from the coordinator's loop; the callback runs on the
// peer client's thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "controller/metadata_image.h"
#include "coordinator/txn/transaction_coordinator.h"
#include "runtime/peer_client.h"

namespace kb::coordinator {

class BrokerTxnMarkerSender final : public TxnMarkerSender {
 public:
  using ImageSource = std::function<std::shared_ptr<const controller::MetadataImage>()>;
  // Where a broker takes inter-broker requests; nullopt when it is unknown or fenced.
  using AddressOf =
      std::function<std::optional<runtime::PeerAddress>(const controller::MetadataImage&, int32_t node)>;

  BrokerTxnMarkerSender(ImageSource image, AddressOf address, runtime::PeerClient& client)
      : image_(std::move(image)), address_(std::move(address)), client_(client) {}

  void send(Marker marker, std::function<void(Outcome)> done) override;

 private:
  ImageSource image_;
  AddressOf address_;
  runtime::PeerClient& client_;
};

}  // namespace kb::coordinator
