#include "controller/producer_id_manager.h"

#include <spdlog/spdlog.h>

namespace kb::controller {

void ProducerIdManager::next_id(IdCallback done) {
  std::optional<int64_t> id;
  bool request = false;
  {
    std::lock_guard lk(mu_);
    if (next_ >= end_ && prefetched_) {
      next_ = prefetched_->first;
      end_ = prefetched_->first + prefetched_->size;
      prefetch_at_ = next_ + static_cast<int64_t>(prefetched_->size * kPrefetchThreshold);
      prefetched_.reset();
    }
    if (next_ < end_) {
      id = next_++;
      if (next_ >= prefetch_at_) request = want_block_locked();
    } else {
      waiting_.push_back(std::move(done));
      request = want_block_locked();
    }
  }
  if (request) request_block();
  if (id) done(*id);
}

bool ProducerIdManager::want_block_locked() {
  if (in_flight_ || prefetched_) return false;
  in_flight_ = true;
  return true;
}

void ProducerIdManager::request_block() {
  source_([this](Result<ProducerIdBlock> block) { on_block(std::move(block)); });
}

void ProducerIdManager::on_block(Result<ProducerIdBlock> block) {
  if (block.ok() && block->size <= 0)
    block = Error{ErrorCode::UNKNOWN_SERVER_ERROR, "the controller answered an empty block"};
  std::vector<IdCallback> waiting;
  std::vector<int64_t> ids;
  bool request = false;
  {
    std::lock_guard lk(mu_);
    in_flight_ = false;
    if (!block.ok()) {
      waiting.swap(waiting_);
    } else {
      spdlog::info("producer ids {}..{} allocated to this broker", block->first, block->first + block->size - 1);
      prefetched_ = block.value();
      // Callers that waited take their ids from it first, in arrival order.
      while (!waiting_.empty()) {
        if (next_ >= end_) {
          if (!prefetched_) break;
          next_ = prefetched_->first;
          end_ = prefetched_->first + prefetched_->size;
          prefetch_at_ = next_ + static_cast<int64_t>(prefetched_->size * kPrefetchThreshold);
          prefetched_.reset();
        }
        ids.push_back(next_++);
        waiting.push_back(std::move(waiting_.front()));
        waiting_.erase(waiting_.begin());
      }
      if (!waiting_.empty() || next_ >= prefetch_at_) request = want_block_locked();
    }
  }
  if (!block.ok()) {
    spdlog::warn("no producer id block from the controller: {} ({})", error_name(block.code()),
                 block.error().message);
    for (auto& w : waiting)
      w(Error{ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, "no producer id block available yet: " + block.error().message});
    return;
  }
  if (request) request_block();
  for (size_t i = 0; i < ids.size(); ++i) waiting[i](ids[i]);
}

}  // namespace kb::controller
