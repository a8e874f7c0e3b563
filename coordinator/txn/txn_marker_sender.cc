#include "coordinator/txn/txn_marker_sender.h"

#include <map>
#include <mutex>

#include "protocol/messages/write_txn_markers_request.h"
#include "protocol/messages/write_txn_markers_response.h"

namespace kb::coordinator {

namespace {

using Outcome = TxnMarkerSender::Outcome;

constexpr int16_t kVersion = 1;
// The leader waits up to 30 s for its ISR to have the marker; a little longer here.
constexpr int64_t kTimeoutMs = 35000;

// Outcomes collected over the leaders' answers; `done` runs with the last one.
struct Round {
  std::mutex mu;
  Outcome outcome;
  size_t waiting = 0;
  std::function<void(Outcome)> done;

  void finish(const std::function<void(Outcome&)>& fill) {
    std::function<void(Outcome)> last;
    Outcome result;
    {
      std::lock_guard lock(mu);
      fill(outcome);
      if (--waiting > 0) return;
      last = std::move(done);
      result = std::move(outcome);
    }
    last(std::move(result));
  }
};

}  // namespace

void BrokerTxnMarkerSender::send(Marker marker, std::function<void(Outcome)> done) {
  auto image = image_();
  auto round = std::make_shared<Round>();
  round->done = std::move(done);
  std::map<int32_t, std::vector<TopicPartition>> by_leader;
  for (const auto& tp : marker.partitions) {
    const controller::TopicInfo* t = image->topic(tp.topic);
    if (!t || tp.partition < 0 || tp.partition >= static_cast<int32_t>(t->partitions.size())) {
      round->outcome[tp] = ErrorCode::NONE;  // deleted: nothing to end there
      continue;
    }
    int32_t leader = t->partitions[static_cast<size_t>(tp.partition)].leader;
    if (leader < 0 || !address_(*image, leader)) {
      round->outcome[tp] = ErrorCode::NOT_LEADER_OR_FOLLOWER;
      continue;
    }
    by_leader[leader].push_back(tp);
  }
  if (by_leader.empty()) return round->done(std::move(round->outcome));
  round->waiting = by_leader.size();
  for (auto& [leader, tps] : by_leader) {
    msg::WriteTxnMarkersRequest req;
    msg::WriteTxnMarkersRequest::WritableTxnMarker m;
    m.producer_id = marker.producer_id;
    m.producer_epoch = marker.producer_epoch;
    m.transaction_result = marker.commit;
    m.coordinator_epoch = marker.coordinator_epoch;
    for (const auto& tp : tps) {
      if (m.topics.empty() || m.topics.back().name != tp.topic) {
        m.topics.emplace_back();
        m.topics.back().name = tp.topic;
      }
      m.topics.back().partition_indexes.push_back(tp.partition);
    }
    req.markers.push_back(std::move(m));
    client_.call<msg::WriteTxnMarkersRequest, msg::WriteTxnMarkersResponse>(
        leader, *address_(*image, leader), req, kVersion, kTimeoutMs,
        [round, tps](Result<msg::WriteTxnMarkersResponse> resp) {
          round->finish([&](Outcome& out) {
            for (const auto& tp : tps) out[tp] = resp.ok() ? ErrorCode::UNKNOWN_SERVER_ERROR : resp.code();
            if (!resp.ok()) return;
            for (const auto& mr : resp->markers)
              for (const auto& t : mr.topics)
                for (const auto& p : t.partitions) {
                  TopicPartition tp{t.name, p.partition_index};
                  if (out.count(tp)) out[tp] = static_cast<ErrorCode>(p.error_code);
                }
          });
        });
  }
}

}  // namespace kb::coordinator
