// Follower replication (Kafka's ReplicaFetcherManager and ReplicaFetcherThread): for every
// partition this broker follows, fetch the leader's records with the Fetch API (replica id =
// this node) and append them as they are.
//
// Per leader broker, num.replica.fetchers fetch sessions (partitions spread by hash); each
// loops: one Fetch for all its partitions (replica.fetch.* sizes and wait; each partition at
// its log end offset, with the current leader epoch and the last fetched epoch from its epoch
// cache), then per partition:
// - records: appended with the leader's offsets and epochs (Partition::append_as_follower);
//   the follower's high watermark becomes min(leader's, own log end); the log start follows
//   the leader's;
// - a diverging epoch: the log is cut back (Kafka's truncation rule, follower_truncation) and
//   the next fetch starts from there;
// - OFFSET_OUT_OF_RANGE: below the leader's log start the log is emptied and restarts at it;
//   past the leader's end (no epoch to compare) it is cut to the leader's high watermark;
// - FENCED_LEADER_EPOCH: the partition waits for newer metadata (add_or_update);
// - other errors (NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH: the leader has not applied
//   the metadata yet; storage errors): the partition retries after replica.fetch.backoff.ms,
//   or at once when the metadata changes.
// A failed request (connection refused, timeout) backs the whole session off
// replica.fetch.backoff.ms.
//
// Owner: the Broker (cluster mode). Threads: one runtime::LoopThread of its own (`kb-fetcher`)
// makes every fetching decision and log append (never a network thread); the public methods
// may be called from any thread. stop() lets an answer being appended finish, drops the rest
// and joins the loop, then stops the transport.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/types.h"
#include "runtime/peer_client.h"

namespace kb::replication {

class ReplicaManager;
using runtime::PeerAddress;

struct ReplicaFetcherOptions {
  int32_t node_id = -1;                   // this broker: the fetches' replica id
  int32_t max_wait_ms = 500;              // replica.fetch.wait.max.ms
  int32_t min_bytes = 1;                  // replica.fetch.min.bytes
  int32_t max_bytes = 10485760;           // replica.fetch.response.max.bytes
  int32_t partition_max_bytes = 1048576;  // replica.fetch.max.bytes
  int64_t backoff_ms = 1000;              // replica.fetch.backoff.ms
  int32_t fetchers_per_leader = 1;        // num.replica.fetchers
  // How long a fetch may go unanswered beyond max_wait_ms (Kafka's replica.socket.timeout.ms).
  int64_t request_timeout_ms = 30000;
  int16_t fetch_version = 13;  // 12 names topics, 13 identifies them by id
};

// A decoded Fetch answer; the response's records point into `body`, so it is never copied.
struct FetchReply {
  FetchReply() = default;
  FetchReply(const FetchReply&) = delete;
  FetchReply& operator=(const FetchReply&) = delete;
  std::vector<uint8_t> body;
  msg::FetchResponse response;
};

// How fetches reach a leader: over the network (PeerClient) in the broker, in-process in tests.
class FetchTransport {
 public:
  virtual ~FetchTransport() = default;
  // Sends `req` at `version`; `done` runs once, on any thread, with the answer or the
  // request's failure (NETWORK_EXCEPTION, REQUEST_TIMED_OUT, CORRUPT_MESSAGE).
  virtual void fetch(int32_t leader, const PeerAddress& to, const msg::FetchRequest& req, int16_t version,
                     int64_t timeout_ms, std::function<void(Result<std::shared_ptr<FetchReply>>)> done) = 0;
  // No answers after it returns (those outstanding fail or are dropped).
  virtual void stop() {}
};
// Fetches over a PeerClient of its own, named `client_id`: follower fetches long-poll, and on
// a connection shared with the quorum's or the heartbeats' requests they would hold those
// answers back (a connection answers in request order).
std::unique_ptr<FetchTransport> peer_fetch_transport(std::string client_id, runtime::PeerSecurity security = {});

class ReplicaFetcherManager {
 public:
  ReplicaFetcherManager(ReplicaFetcherOptions options, replication::ReplicaManager& replicas,
                        std::unique_ptr<FetchTransport> transport);
  ~ReplicaFetcherManager();  // stop()

  // Fetches `tp` (already a follower replica in the ReplicaManager) from `leader_id` at
  // `leader` at `leader_epoch`. Calling it again with the same values changes nothing; a new
  // leader, address or epoch takes effect with the next fetch (an answer to the old one is
  // ignored) and lifts a pause or back-off.
  void add_or_update(const TopicPartition& tp, const Uuid& topic_id, int32_t leader_id, const PeerAddress& leader,
                     int32_t leader_epoch);
  // Stops fetching `tp` (it leads now, has no leader, or is no longer hosted here).
  void remove(const TopicPartition& tp);
  // Stops the loop; answers still in flight are dropped. Idempotent. Never from the loop.
  void stop();

  // What the manager knows of one partition (tests, metrics).
  struct PartitionStatus {
    int32_t leader = -1;
    int32_t leader_epoch = -1;
    bool fenced = false;        // waiting for newer metadata
    bool backing_off = false;   // an error: retried after replica.fetch.backoff.ms
  };
  std::optional<PartitionStatus> status(const TopicPartition& tp) const;
  size_t partition_count() const;
  // The leader's high watermark in the last answer, per partition followed that has had one
  // (minus the log end offset: Kafka's fetcher records-lag).
  std::vector<std::pair<TopicPartition, int64_t>> leader_high_watermarks() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace kb::replication
