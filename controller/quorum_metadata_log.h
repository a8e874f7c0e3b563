// The Controller's MetadataLog in cluster mode (controller.quorum.voters set): appends are
// proposals to the metadata quorum (replication/raft/quorum.h), and return once committed (and
// applied through the quorum's commit callback) or refused.
//
// Owner: the Controller; the Broker attaches the quorum once it is open. Thread-safety: the
// MetadataLog contract (one writer at a time); append blocks its caller until the quorum
// answers, so it never runs on a network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "controller/metadata_log.h"
#include "replication/raft/quorum.h"

namespace kb::controller {

class QuorumMetadataLog final : public MetadataLog {
 public:
  explicit QuorumMetadataLog(int64_t timeout_ms) : timeout_ms_(timeout_ms) {}
  void attach(raft::Quorum* quorum) { quorum_ = quorum; }

  // NOT_CONTROLLER, KAFKA_STORAGE_ERROR, or REQUEST_TIMED_OUT when not committed within the
  // timeout (it may still commit later: the image follows the log, not this answer).
  Result<int64_t> append(const std::vector<MetadataRecord>& records) override;
  // Nothing to read: the quorum delivers the log from its start.
  Status read(int64_t, const std::function<Status(const MetadataBatch&)>&) const override { return {}; }
  int64_t end_offset() const override;

 private:
  const int64_t timeout_ms_;
  raft::Quorum* quorum_ = nullptr;
};

}  // namespace kb::controller
