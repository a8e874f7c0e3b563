// The Schema Registry's `_schemas` log on a broker (registry/schema_log.h over the Kafka
// protocol). Every broker, the leader of `<topic>-0` included, talks to that leader as any
// client would:
// - append: a Produce request (v9, acks=all) carrying kbroker's conditional-append tag
//   (ProduceRequest's expected_end_offset): the leader appends only when its log end offset is
//   the expected one, else answers OFFSET_OUT_OF_RANGE with the end it has (CONFLICT here).
//   Retriable failures (no leader yet, NOT_LEADER_OR_FOLLOWER after a leader change, a lost
//   connection, too few in-sync replicas) are retried with the same condition until the
//   append timeout: a retry of an append that did land finds the end moved and is a CONFLICT,
//   so nothing is ever written twice.
// - read: a consumer Fetch (long poll up to the high watermark; control batches and records
//   below the offset asked for are skipped, compressed batches decompressed);
// - end_offset: ListOffsets (latest) at the leader.
// The leader comes from the broker's metadata image at every request, so leader changes are
// followed as the image learns them.
//
// Owner: the SchemaRegistryService. Threads: requests go out on two PeerClients of its own
// (reads long-poll, and a broker answers one request per connection at a time, so appends
// must not queue behind them); callbacks run on their threads, retries on `timers`.
// stop() before the timers' loop stops; after it, appends fail at once and reads never answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "registry/schema_log.h"
#include "runtime/event_loop.h"
#include "runtime/peer_client.h"

namespace kb::server {

// Where `<topic>-0` is led now, as this broker's metadata image says.
struct SchemaLogLeader {
  int32_t node = -1;
  runtime::PeerAddress address;
  int32_t leader_epoch = -1;
};

struct BrokerSchemaLogOptions {
  std::string topic = "_schemas";
  std::string client_id = "kbroker-schema-registry";
  int64_t append_timeout_ms = 30000;  // retries of one append stop here
  int32_t fetch_max_wait_ms = 500;
  int32_t fetch_max_bytes = 8 << 20;
  int64_t retry_backoff_ms = 100;
  int64_t read_retry_backoff_ms = 250;
  runtime::PeerSecurity peer_security;  // broker traffic: the inter-broker listener's login
};

class BrokerSchemaLog final : public registry::SchemaLog {
 public:
  using LeaderLookup = std::function<std::optional<SchemaLogLeader>()>;

  BrokerSchemaLog(BrokerSchemaLogOptions options, LeaderLookup leader, runtime::EventLoop& timers);
  ~BrokerSchemaLog() override;

  void stop();

  void append(std::vector<registry::LogRecord> records, int64_t expected_end_offset,
              std::function<void(registry::AppendResult)> done) override;
  void read(int64_t offset, std::function<void(registry::ReadResult)> done) override;
  void end_offset(std::function<void(std::optional<int64_t>)> done) override;

 private:
  struct Append;
  void attempt(std::shared_ptr<Append> a);
  void retry(std::shared_ptr<Append> a, std::string why, bool maybe_written);
  void fail_read_later(std::function<void(registry::ReadResult)> done, std::string why);

  const BrokerSchemaLogOptions options_;
  LeaderLookup leader_;
  runtime::EventLoop& timers_;
  runtime::PeerClient writer_;
  runtime::PeerClient reader_;
  std::atomic<bool> stopped_{false};
};

}  // namespace kb::server
