// Hands out producer ids to InitProducerId callers from blocks of
// Controller::kProducerIdBlockSize ids that the controller allocates to this
// broker (Kafka's RPCProducerIdManager). The next block is asked for once 90% of the current
// one is used (Kafka's prefetch threshold), so a steady stream of producers never waits. A
// caller that finds no id at hand (the first one after start, or a burst past the prefetched
// block) waits for the block rather than failing; when the request for it fails, waiting
// callers get COORDINATOR_LOAD_IN_PROGRESS, which clients retry (Kafka's answer too).
//
// Owner: the Broker, which outlives every block request it starts (it stops the threads that
// run them first). Thread-safety: next_id may be called from any thread; callbacks run on the
// caller's thread or on the thread that delivered the block, never under the internal lock.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "controller/controller.h"
#include "protocol/types.h"

namespace kb::controller {

class ProducerIdManager {
 public:
  using BlockCallback = std::function<void(Result<ProducerIdBlock>)>;
  // Asks the controller for the next block; calls `done` exactly once, from any thread.
  using BlockSource = std::function<void(BlockCallback done)>;
  using IdCallback = std::function<void(Result<int64_t>)>;

  // The share of a block used before the next one is asked for (Kafka's PidPrefetchThreshold).
  static constexpr double kPrefetchThreshold = 0.9;

  explicit ProducerIdManager(BlockSource source) : source_(std::move(source)) {}

  // A producer id never given before (across restarts and brokers: the controller's blocks
  // are durable and disjoint).
  void next_id(IdCallback done);

 private:
  // Under mu_: asks for a block unless one is on its way or waiting. Returns whether the
  // caller must call source_ (outside the lock).
  bool want_block_locked();
  void request_block();
  void on_block(Result<ProducerIdBlock> block);

  BlockSource source_;
  std::mutex mu_;
  int64_t next_ = 0;  // the current block's next id
  int64_t end_ = 0;   // one past its last id
  int64_t prefetch_at_ = 0;
  std::optional<ProducerIdBlock> prefetched_;
  bool in_flight_ = false;
  std::vector<IdCallback> waiting_;
};

}  // namespace kb::controller
