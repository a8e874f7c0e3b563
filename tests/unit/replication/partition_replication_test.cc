// The leader's view of its followers: high watermark over the ISR, Kafka's caught-up rule,
// ISR shrink and expand candidates (acks=all waits: replica_manager_test.cc).
#include <catch2/catch.hpp>

#include <filesystem>

#include "protocol/record_batch.h"
#include "replication/partition.h"

using namespace kb;
using namespace kb::replication;

namespace {

struct LeaderOf3 {
  std::filesystem::path dir;
  std::shared_ptr<Partition> p;
  LeaderOf3() {
    char tmpl[] = "/tmp/kb-partition-XXXXXX";
    dir = ::mkdtemp(tmpl);
    auto log = storage::Log::open(dir / "t-0", storage::LogConfig{}, false);
    REQUIRE(log.ok());
    p = std::make_shared<Partition>(TopicPartition{"t", 0}, Uuid{}, std::shared_ptr<storage::Log>(std::move(log.value())),
                                    1, std::vector<int32_t>{1, 2, 3}, 1);
    p->set_min_insync_replicas(2);
  }
  ~LeaderOf3() {
    p.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // Appends `n` records; returns the log end offset after.
  int64_t append(int n) {
    RecordBatchBuilder b;
    for (int i = 0; i < n; ++i) b.add("k", "v", 1000 + i);
    auto bytes = b.build();
    auto info = p->append_as_leader(bytes);
    REQUIRE(info.ok());
    return info->last_offset.value() + 1;
  }
};

}  // namespace

TEST_CASE("the high watermark is the smallest log end offset over the ISR") {
  LeaderOf3 l;
  l.p->set_isr({1, 2, 3}, 0);
  CHECK(l.append(10) == 10);
  CHECK(l.p->high_watermark().value() == 0);  // the followers have nothing yet
  CHECK(l.p->record_follower_fetch(2, Offset(10), 100) == false);  // 3 still at nothing
  CHECK(l.p->record_follower_fetch(3, Offset(6), 100) == true);
  CHECK(l.p->high_watermark().value() == 6);
  l.p->record_follower_fetch(3, Offset(10), 200);
  CHECK(l.p->high_watermark().value() == 10);
  // Out of the ISR, a follower no longer holds the high watermark back.
  l.append(5);
  l.p->record_follower_fetch(2, Offset(15), 300);
  CHECK(l.p->high_watermark().value() == 10);
  l.p->set_isr({1, 2}, 300);
  CHECK(l.p->high_watermark().value() == 15);
  // It never goes back, even when the ISR grows with a follower that is behind.
  l.p->set_isr({1, 2, 3}, 400);
  CHECK(l.p->high_watermark().value() == 15);
}

TEST_CASE("a follower that stops catching up lags after replica.lag.time.max.ms, one that caught up may rejoin") {
  LeaderOf3 l;
  l.p->set_isr({1, 2, 3}, 0);
  l.append(5);
  l.p->record_follower_fetch(2, Offset(5), 1000);
  l.p->record_follower_fetch(3, Offset(5), 1000);
  l.append(5);  // leader end 10
  // 2 keeps up; 3 fetches but stays behind.
  l.p->record_follower_fetch(2, Offset(10), 2000);
  l.p->record_follower_fetch(3, Offset(7), 2000);
  // Kafka's rule: 3 reached the end the leader had at its previous fetch (5), so it counts
  // as caught up as of that previous fetch (1000).
  CHECK(l.p->lagging_in_sync(31500, 30000) == std::vector<int32_t>{3});
  CHECK(l.p->lagging_in_sync(31500, 31000).empty());
  l.p->set_isr({1, 2}, 32000);
  CHECK(l.p->caught_up_out_of_sync().empty());  // 3 is below the high watermark (10)
  l.p->record_follower_fetch(3, Offset(10), 33000);
  CHECK(l.p->caught_up_out_of_sync() == std::vector<int32_t>{3});
  CHECK(l.p->follower_log_end(3).value() == 10);
  CHECK(l.p->follower_log_end(9).value() == -1);
}

TEST_CASE("a lone leader's high watermark follows every append") {
  LeaderOf3 l;
  l.p->update_leadership(1, {1}, 1);
  l.p->set_isr({1}, 0);
  CHECK(l.append(3) == 3);
  CHECK(l.p->high_watermark().value() == 3);
}
