#include "replication/raft/log_storage.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "storage/files.h"

namespace kb::raft {

namespace {

constexpr const char* kStateFile = "quorum-state";
constexpr int16_t kLeaderChangeType = 2;  // ControlRecordType.LEADER_CHANGE

// The integer after `"key":` in the state file's JSON, or nullopt.
std::optional<int64_t> json_int(const std::string& text, const std::string& key) {
  auto at = text.find("\"" + key + "\"");
  if (at == std::string::npos) return std::nullopt;
  at = text.find(':', at);
  if (at == std::string::npos) return std::nullopt;
  try {
    return std::stoll(text.substr(at + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

Result<std::unique_ptr<LogRaftStorage>> LogRaftStorage::open(std::shared_ptr<storage::Log> log) {
  std::unique_ptr<LogRaftStorage> s(new LogRaftStorage(std::move(log)));
  s->state_path_ = s->log_->dir() / kStateFile;
  std::ifstream in(s->state_path_);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto epoch = json_int(text.str(), "leaderEpoch");
    auto voted = json_int(text.str(), "votedId");
    if (!epoch || !voted)
      return Error{ErrorCode::CORRUPT_MESSAGE, "unreadable " + s->state_path_.string() + ": " + text.str()};
    s->epoch_ = static_cast<int32_t>(*epoch);
    s->voted_for_ = static_cast<int32_t>(*voted);
  }
  auto read = s->log_->for_each_batch(
      s->log_->log_start_offset(), s->log_->log_end_offset(),
      [&](std::span<const uint8_t> bytes, const BatchHeader& h) -> Status {
        s->entries_.push_back(Entry{h.partition_leader_epoch, std::string(bytes.begin(), bytes.end())});
        s->placed_.push_back({h.base_offset, h.last_offset()});
        return {};
      });
  if (!read.ok()) return read.error();
  // Entries carry epochs up to the one we voted in; a state file lost with a newer log would
  // otherwise let us vote in an epoch whose entries we already hold.
  if (!s->entries_.empty() && s->entries_.back().epoch > s->epoch_) s->epoch_ = s->entries_.back().epoch;
  return s;
}

void LogRaftStorage::fail(Status s) {
  if (failure_.ok()) {
    spdlog::critical("metadata quorum storage failed: {}", s.error().message);
    failure_ = std::move(s);
  }
}

void LogRaftStorage::set_election_state(int32_t epoch, int32_t voted_for) {
  // Kafka's quorum-state JSON (data_version 0).
  std::string text = "{\"clusterId\":\"\",\"leaderId\":-1,\"leaderEpoch\":" + std::to_string(epoch) +
                     ",\"votedId\":" + std::to_string(voted_for) +
                     ",\"appliedOffset\":0,\"currentVoters\":[],\"data_version\":0}";
  if (auto st = storage::write_file_atomically(state_path_, text); !st.ok()) return fail(st);
  epoch_ = epoch;
  voted_for_ = voted_for;
}

std::vector<uint8_t> LogRaftStorage::leader_change_batch(int32_t epoch, int32_t leader) {
  wire::Writer key;
  key.write_int16(0);
  key.write_int16(kLeaderChangeType);
  wire::Writer value;  // LeaderChangeMessage v0: Version, LeaderId, Voters[], GrantingVoters[]
  value.write_int16(0);
  value.write_int32(leader);
  value.write_int32(0);
  value.write_int32(0);
  auto& k = key.buffer();
  auto& v = value.buffer();
  RecordBatchBuilder b;
  b.control(true).partition_leader_epoch(epoch);
  b.add(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()),
        std::string_view(reinterpret_cast<const char*>(v.data()), v.size()), storage::now_ms());
  return b.build();
}

bool LogRaftStorage::is_control(const Entry& e) {
  auto h = read_batch_header(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size()));
  return !h.ok() || h->is_control();
}

void LogRaftStorage::append(const Entry& e) {
  if (!failure_.ok()) return;
  std::vector<uint8_t> bytes;
  if (e.data.empty()) {
    // Only a leader writes its marker, in the epoch it voted for itself in.
    bytes = leader_change_batch(e.epoch, e.epoch == epoch_ ? voted_for_ : -1);
  } else {
    bytes.assign(e.data.begin(), e.data.end());
  }
  auto info = log_->append(std::span<uint8_t>(bytes.data(), bytes.size()), e.epoch);
  if (!info.ok()) return fail(info.error());
  if (auto st = log_->flush(); !st.ok()) return fail(st);
  // The stored bytes: base offset and leader epoch as the log patched them.
  entries_.push_back(Entry{e.epoch, std::string(bytes.begin(), bytes.end())});
  placed_.push_back({info->first_offset.value(), info->last_offset.value()});
}

void LogRaftStorage::truncate(int64_t end) {
  if (end >= end_offset()) return;
  int64_t to = placed_[static_cast<size_t>(end)].base_offset;
  if (auto r = log_->truncate_to(Offset(to)); !r.ok()) return fail(r.error());
  if (auto st = log_->flush(); !st.ok()) return fail(st);
  entries_.resize(static_cast<size_t>(end));
  placed_.resize(static_cast<size_t>(end));
}

int64_t LogRaftStorage::last_record_offset(int64_t index) const {
  if (index < 0 || entries_.empty()) return -1;
  return placed_[static_cast<size_t>(std::min<int64_t>(index, end_offset() - 1))].last_offset;
}

}  // namespace kb::raft
