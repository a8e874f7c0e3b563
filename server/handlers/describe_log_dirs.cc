// Handler for api DescribeLogDirs (key 35), versions 0..4: each log dir with the size of the
// partitions it holds (and, v4, the file system's total and usable bytes). An offline dir
// (storage/log_dir_state.h) answers KAFKA_STORAGE_ERROR; one that failed lists no partitions
// (Kafka's offline dir), one that is only full still lists what it holds (it serves reads).
#include <sys/statvfs.h>

#include <filesystem>
#include <map>

#include "protocol/messages/describe_log_dirs_request.h"
#include "protocol/messages/describe_log_dirs_response.h"
#include "server/broker.h"
#include "server/handlers/access.h"
#include "server/handlers/handlers.h"

namespace kb::server {

namespace {

using Resp = msg::DescribeLogDirsResponse;

std::string dir_name(const std::filesystem::path& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.string() : c.string();
}

}  // namespace

void handle_describe_log_dirs(RequestContext& ctx, Respond respond) {
  msg::DescribeLogDirsRequest req;
  if (!decode_request(ctx, req, respond)) return;
  if (!Access(ctx).api_allowed())  // DESCRIBE on the cluster
    return refuse_request<Resp>(ctx, respond, ErrorCode::CLUSTER_AUTHORIZATION_FAILED);
  Broker& broker = *ctx.broker;
  std::map<std::string, std::vector<int32_t>> wanted;  // empty vector with a null request: all
  if (req.topics)
    for (const auto& t : *req.topics) {
      auto& parts = wanted[t.topic];
      parts.insert(parts.end(), t.partitions.begin(), t.partitions.end());
    }
  auto selected = [&](const TopicPartition& tp) {
    if (!req.topics) return true;
    auto it = wanted.find(tp.topic);
    return it != wanted.end() && std::find(it->second.begin(), it->second.end(), tp.partition) != it->second.end();
  };
  // One result per log dir, in configuration order; partitions grouped by topic.
  std::vector<std::string> dirs;
  std::map<std::string, std::map<std::string, std::vector<Resp::DescribeLogDirsResult::DescribeLogDirsTopic::
                                                              DescribeLogDirsPartition>>>
      by_dir;
  for (const auto& d : broker.config().log_dirs()) dirs.push_back(dir_name(d));
  for (const auto& p : broker.replicas().all()) {
    if (!selected(p->tp())) continue;
    std::string dir = dir_name(p->log().dir().parent_path());
    Resp::DescribeLogDirsResult::DescribeLogDirsTopic::DescribeLogDirsPartition part;
    part.partition_index = p->tp().partition;
    part.partition_size = p->log().size_bytes();
    part.offset_lag = 0;  // no replica is moving between dirs (future replicas: later)
    by_dir[dir][p->tp().topic].push_back(part);
  }
  Resp resp;
  std::map<std::string, storage::LogDirInfo> health;
  for (const auto& info : broker.logs().log_dir_infos()) health[dir_name(info.path)] = info;
  for (const auto& dir : dirs) {
    Resp::DescribeLogDirsResult r;
    r.log_dir = dir;
    const storage::LogDirInfo& info = health[dir];
    if (!info.online()) r.error_code = static_cast<int16_t>(ErrorCode::KAFKA_STORAGE_ERROR);
    if (info.health == storage::LogDirState::Health::failed) by_dir[dir].clear();
    for (auto& [topic, parts] : by_dir[dir]) {
      Resp::DescribeLogDirsResult::DescribeLogDirsTopic t;
      t.name = topic;
      t.partitions = std::move(parts);
      r.topics.push_back(std::move(t));
    }
    struct statvfs fs {};
    if (::statvfs(dir.c_str(), &fs) == 0) {
      r.total_bytes = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize);
      r.usable_bytes = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
    }
    resp.results.push_back(std::move(r));
  }
  send_response(ctx, respond, resp);
}

}  // namespace kb::server
