#include "controller/quorum_metadata_log.h"

#include <chrono>
#include <future>
#include <memory>

namespace kb::controller {

Result<int64_t> QuorumMetadataLog::append(const std::vector<MetadataRecord>& records) {
  if (!quorum_) return Error{ErrorCode::NOT_CONTROLLER, "the metadata quorum is not running"};
  auto promise = std::make_shared<std::promise<Result<int64_t>>>();
  auto answer = promise->get_future();
  quorum_->propose(encode_metadata_batch(records), [promise](Result<int64_t> r) { promise->set_value(std::move(r)); });
  if (answer.wait_for(std::chrono::milliseconds(timeout_ms_)) != std::future_status::ready)
    return Error{ErrorCode::REQUEST_TIMED_OUT, "the metadata quorum did not commit the change within " +
                                                   std::to_string(timeout_ms_) + " ms"};
  return answer.get();
}

int64_t QuorumMetadataLog::end_offset() const { return quorum_ ? quorum_->log_end_record_offset() + 1 : 0; }

}  // namespace kb::controller
