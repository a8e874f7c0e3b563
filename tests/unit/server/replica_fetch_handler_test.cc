// The leader's side over the wire, against an in-process broker: OffsetForLeaderEpoch, the
// Fetch handler's replica path (who may fetch, fencing, the current-leader hint for
// consumers), and a follower fetcher on the real network path copying a partition from it.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "protocol/messages/fetch_request.h"
#include "protocol/messages/fetch_response.h"
#include "protocol/messages/offset_for_leader_epoch_request.h"
#include "protocol/messages/offset_for_leader_epoch_response.h"
#include "protocol/record_batch.h"
#include "replication/replica_fetcher.h"
#include "replication/replica_manager.h"
#include "running_broker.h"
#include "runtime/peer_client.h"
#include "server/broker.h"
#include "storage/log_manager.h"

using namespace kb;
using namespace kb::server;
using namespace kb::replication;
using namespace kb::runtime;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

struct OneBroker : test::RunningBroker {
  std::shared_ptr<replication::Partition> t0;
  Uuid topic_id;
  OneBroker() : RunningBroker("/tmp/kb-rfetch-XXXXXX") {
    auto created = broker->auto_create_topics({"t"});
    REQUIRE(created.at(0).error == ErrorCode::NONE);
    // Created through the controller, off this thread (as for a cluster): wait for it.
    for (int i = 0; i < 1000 && !(t0 = broker->replicas().get(TopicPartition{"t", 0})); ++i)
      std::this_thread::sleep_for(10ms);
    REQUIRE(t0);
    topic_id = broker->image()->topic("t")->id;
  }
  int64_t produce(int n) {
    RecordBatchBuilder b;
    for (int i = 0; i < n; ++i) b.add("k", "v", 1000 + i);
    auto bytes = b.build();
    std::optional<replication::AppendResult> r;
    broker->replicas().append_records({replication::AppendEntry{t0->tp(), bytes, std::nullopt}}, 1, 1000,
                                      replication::AppendOrigin::Client,
                                      [&](std::vector<replication::AppendResult> out) { r = std::move(out.at(0)); });
    REQUIRE(r);
    REQUIRE(r->error == ErrorCode::NONE);
    return r->info->last_offset.value() + 1;
  }
};

template <class Req, class Resp>
Resp call(PeerClient& client, const PeerAddress& to, const Req& req, int16_t version) {
  std::promise<Result<Resp>> p;
  auto f = p.get_future();
  client.call<Req, Resp>(1, to, req, version, 10000, [&](Result<Resp> r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(20s) == std::future_status::ready);
  auto r = f.get();
  INFO((r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return std::move(r.value());
}

msg::OffsetForLeaderEpochResponse::OffsetForLeaderTopicResult::EpochEndOffset epoch_lookup(
    PeerClient& client, const PeerAddress& to, int16_t version, const std::string& topic, int32_t current,
    int32_t epoch) {
  msg::OffsetForLeaderEpochRequest req;
  req.replica_id = -1;
  auto& t = req.topics.emplace_back();
  t.topic = topic;
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.current_leader_epoch = current;
  p.leader_epoch = epoch;
  auto resp = call<msg::OffsetForLeaderEpochRequest, msg::OffsetForLeaderEpochResponse>(client, to, req, version);
  REQUIRE(resp.topics.size() == 1);
  REQUIRE(resp.topics[0].partitions.size() == 1);
  return resp.topics[0].partitions[0];
}

msg::FetchResponse::FetchableTopicResponse::PartitionData fetch_one(PeerClient& client, const OneBroker& b,
                                                                    int32_t replica_id, int32_t current_epoch,
                                                                    int64_t offset) {
  msg::FetchRequest req;
  req.replica_id = replica_id;
  req.max_wait_ms = 0;
  req.min_bytes = 1;
  auto& t = req.topics.emplace_back();
  t.topic = "t";
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.current_leader_epoch = current_epoch;
  p.fetch_offset = offset;
  p.partition_max_bytes = 1 << 20;
  auto resp = call<msg::FetchRequest, msg::FetchResponse>(client, b.address(), req, 12);
  REQUIRE(resp.responses.size() == 1);
  REQUIRE(resp.responses[0].partitions.size() == 1);
  return resp.responses[0].partitions[0];
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 15s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("OffsetForLeaderEpoch tells where an epoch ends, fenced by the current leader epoch") {
  OneBroker b;
  PeerClient client("epoch-test");
  b.produce(5);
  const int32_t epoch = b.t0->leader_epoch();
  auto r = epoch_lookup(client, b.address(), 4, "t", epoch, epoch);
  CHECK(r.error_code == 0);
  CHECK(r.leader_epoch == epoch);
  CHECK(r.end_offset == 5);
  r = epoch_lookup(client, b.address(), 4, "t", -1, epoch + 3);  // newer than any known
  CHECK(r.error_code == 0);
  CHECK(r.leader_epoch == -1);
  CHECK(r.end_offset == -1);
  CHECK(epoch_lookup(client, b.address(), 4, "t", epoch + 1, epoch).error_code ==
        to_wire(ErrorCode::UNKNOWN_LEADER_EPOCH));
  if (epoch > 0)
    CHECK(epoch_lookup(client, b.address(), 4, "t", epoch - 1, epoch).error_code ==
          to_wire(ErrorCode::FENCED_LEADER_EPOCH));
  CHECK(epoch_lookup(client, b.address(), 4, "nope", -1, 0).error_code ==
        to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
  // v0: no leader epoch in the answer, the end offset is there.
  r = epoch_lookup(client, b.address(), 0, "t", -1, epoch);
  CHECK(r.error_code == 0);
  CHECK(r.end_offset == 5);
  CHECK(r.leader_epoch == -1);
}

TEST_CASE("only replicas fetch as replicas; consumers with old metadata hear of the current leader") {
  OneBroker b;
  PeerClient client("fetch-test");
  b.produce(3);
  const int32_t epoch = b.t0->leader_epoch();
  // Broker 2 is not a replica of t-0.
  CHECK(fetch_one(client, b, 2, epoch, 0).error_code == to_wire(ErrorCode::NOT_LEADER_OR_FOLLOWER));
  // A consumer is served as before, up to the high watermark.
  auto c = fetch_one(client, b, -1, epoch, 0);
  CHECK(c.error_code == 0);
  CHECK(c.high_watermark == 3);
  CHECK(c.records.size() > 0);
  // One with newer metadata than ours.
  auto u = fetch_one(client, b, -1, epoch + 1, 0);
  CHECK(u.error_code == to_wire(ErrorCode::UNKNOWN_LEADER_EPOCH));
  CHECK(u.current_leader.leader_id == 1);
  CHECK(u.current_leader.leader_epoch == epoch);
}

TEST_CASE("a follower fetcher copies a partition from a broker over the network") {
  OneBroker b;
  const int32_t epoch = b.t0->leader_epoch();
  // Broker 2 becomes a replica (what a reassignment's metadata would say), not yet in sync.
  b.t0->update_state(replication::PartitionState{1, epoch, 0, {1, 2}, {1}}, 0);
  for (int i = 0; i < 20; ++i) b.produce(50);

  fs::path dir2 = b.dir / "broker2";
  storage::LogManagerOptions o;
  o.log_dirs = {dir2};
  auto logs = storage::LogManager::open(o);
  REQUIRE(logs.ok());
  replication::ReplicaManager replicas(**logs, 2);
  auto follower = replicas.become_follower(TopicPartition{"t", 0}, b.topic_id,
                                           replication::PartitionState{1, epoch, 0, {1, 2}, {1}},
                                           storage::LogConfig{});
  REQUIRE(follower.ok());
  ReplicaFetcherOptions fo;
  fo.node_id = 2;
  fo.partition_max_bytes = 4096;
  ReplicaFetcherManager fetcher(fo, replicas, peer_fetch_transport("follower-test"));
  fetcher.add_or_update(TopicPartition{"t", 0}, b.topic_id, 1, b.address(), epoch);

  REQUIRE(eventually([&] { return (*follower)->log_end_offset().value() == 1000; }));
  // Caught up: the leader may take it into the ISR, and its fetches count for the HW.
  REQUIRE(eventually([&] { return b.t0->caught_up_out_of_sync() == std::vector<int32_t>{2}; }));
  b.t0->set_isr({1, 2}, 0);
  const auto t_start = std::chrono::steady_clock::now();
  int64_t end = b.produce(7);
  REQUIRE(eventually([&] { return b.t0->high_watermark().value() == end; }));
  // The follower's fetch was waiting at the leader (long poll): the new records reach it at
  // once, not after replica.fetch.wait.max.ms (500).
  CHECK(std::chrono::steady_clock::now() - t_start < 450ms);
  REQUIRE(eventually([&] { return (*follower)->high_watermark().value() == end; }));
  CHECK((*follower)->epochs().entries() == std::vector<replication::EpochEntry>{{epoch, 0}});
  fetcher.stop();
  (*logs)->shutdown();
}
