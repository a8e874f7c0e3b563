#include "replication/raft/log_storage.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "runtime/clock.h"
#include "storage/files.h"

namespace kb::raft {

namespace {

constexpr const char* kStateFile = "quorum-state";
// quorum-state is replaced through a new file, which needs a disk block: on a full disk the
// quorum (a lone broker's too) could then never vote or take over again, and the broker could
// not register to free space. A spare file beside it is given back when that block is missing.
constexpr const char* kSpareFile = "quorum-state.spare";
constexpr off_t kSpareBytes = 64 * 1024;

// Best effort: a disk already full keeps no spare until space is freed.
void keep_spare(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size >= static_cast<uintmax_t>(kSpareBytes)) return;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const bool kept = ::posix_fallocate(fd, 0, kSpareBytes) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!kept) std::filesystem::remove(path, ec);
}
constexpr int16_t kLeaderChangeType = 2;  // ControlRecordType.LEADER_CHANGE
constexpr int16_t kSnapshotHeaderType = 3;  // ControlRecordType.SNAPSHOT_HEADER
constexpr int16_t kSnapshotFooterType = 4;  // ControlRecordType.SNAPSHOT_FOOTER
constexpr const char* kSnapshotSuffix = ".checkpoint";

// One control batch holding one control record (key: version 0, `type`; value as given).
std::vector<uint8_t> control_batch(int16_t type, const std::vector<uint8_t>& value, int32_t epoch) {
  wire::Writer key;
  key.write_int16(0);
  key.write_int16(type);
  auto& k = key.buffer();
  RecordBatchBuilder b;
  b.control(true).partition_leader_epoch(epoch);
  b.add(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()),
        std::string_view(reinterpret_cast<const char*>(value.data()), value.size()), runtime::now_ms());
  return b.build();
}

// The control record type of a control batch's first record, -1 when it has none.
int16_t control_type(std::span<const uint8_t> batch, std::optional<std::string_view>* value) {
  int16_t type = -1;
  (void)for_each_record(batch, [&](const RecordView& rv) {
    if (type != -1 || !rv.key || rv.key->size() < 4) return;
    wire::Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rv.key->data()), rv.key->size()));
    r.read_int16();
    type = r.read_int16();
    if (value) *value = rv.value;
  });
  return type;
}

// "<end offset>-<epoch>.checkpoint" -> the snapshot id.
std::optional<SnapshotId> parse_snapshot_name(const std::string& name) {
  if (name.size() != 20 + 1 + 10 + std::strlen(kSnapshotSuffix) || name[20] != '-' ||
      name.compare(31, std::string::npos, kSnapshotSuffix) != 0)
    return std::nullopt;
  SnapshotId id;
  auto a = std::from_chars(name.data(), name.data() + 20, id.end_offset);
  auto b = std::from_chars(name.data() + 21, name.data() + 31, id.epoch);
  if (a.ec != std::errc() || a.ptr != name.data() + 20 || b.ec != std::errc() || b.ptr != name.data() + 31)
    return std::nullopt;
  return id;
}

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
  s->spare_path_ = s->log_->dir() / kSpareFile;
  keep_spare(s->spare_path_);
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
  if (auto st = s->load_latest_snapshot(); !st.ok()) return st.error();
  const int64_t from = s->snapshot_ ? s->snapshot_end_record_ : 0;
  bool across = false;  // a batch reaches over the snapshot's end
  auto read = s->log_->for_each_batch(
      s->log_->log_start_offset(), s->log_->log_end_offset(),
      [&](std::span<const uint8_t> bytes, const BatchHeader& h) -> Status {
        if (across || h.last_offset() < from) return {};  // in the snapshot, or thrown away below
        if (h.base_offset < from) {
          across = true;
          return {};
        }
        s->entries_.push_back(Entry{h.partition_leader_epoch, std::string(bytes.begin(), bytes.end())});
        s->placed_.push_back({h.base_offset, h.last_offset()});
        return {};
      });
  if (!read.ok()) return read.error();
  if (s->snapshot_) {
    s->start_ = s->snapshot_->end_offset;
    if (across || s->log_->log_end_offset().value() < from) {
      // Not the log the snapshot was cut from (a follower died between installing a
      // leader's snapshot and emptying its log): nothing in it past the snapshot counts.
      spdlog::warn("metadata log {} does not line up with snapshot {}-{}: restarting it at offset {}",
                   s->log_->dir().string(), s->snapshot_->end_offset, s->snapshot_->epoch, from);
      s->entries_.clear();
      s->placed_.clear();
      if (auto st = s->log_->truncate_fully_and_start_at(Offset(from)); !st.ok()) return st.error();
    } else if (s->log_->log_start_offset().value() < from) {
      if (auto r = s->log_->advance_log_start(Offset(from)); !r.ok()) return r.error();
    }
  }
  // Entries carry epochs up to the one we voted in; a state file lost with a newer log would
  // otherwise let us vote in an epoch whose entries we already hold.
  int32_t last = !s->entries_.empty() ? s->entries_.back().epoch : s->snapshot_ ? s->snapshot_->epoch : 0;
  if (last > s->epoch_) s->epoch_ = last;
  return s;
}

std::filesystem::path LogRaftStorage::snapshot_path(const SnapshotId& id) const {
  return log_->dir() / fmt::format("{:020d}-{:010d}{}", id.end_offset, id.epoch, kSnapshotSuffix);
}

Status LogRaftStorage::load_latest_snapshot() {
  std::vector<std::pair<SnapshotId, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(log_->dir(), ec))
    if (auto id = parse_snapshot_name(f.path().filename().string())) found.emplace_back(*id, f.path());
  if (ec) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot list " + log_->dir().string() + ": " + ec.message());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first.end_offset, a.first.epoch) > std::tie(b.first.end_offset, b.first.epoch);
  });
  for (const auto& [id, path] : found) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string data = text.str();
    auto parsed = parse_snapshot(data);
    if (!in || !parsed.ok()) {
      // Written atomically, so only a damaged disk gets here: an older snapshot (and the log
      // after it) may still do.
      spdlog::error("skipping unreadable metadata snapshot {}: {}", path.string(),
                    parsed.ok() ? "read failed" : parsed.error().message);
      continue;
    }
    snapshot_ = id;
    snapshot_end_record_ = parsed->end_record_offset;
    snapshot_data_ = std::move(data);
    spdlog::info("metadata log: snapshot {} (entries below {}, records below {})", path.filename().string(),
                 id.end_offset, snapshot_end_record_);
    return {};
  }
  return {};
}

std::string LogRaftStorage::frame_snapshot(int64_t end_record_offset, const std::vector<std::vector<uint8_t>>& batches) {
  // SnapshotHeaderRecord v0 (flexible): Version, LastContainedLogTimestamp, tagged fields.
  wire::Writer header;
  header.write_int16(0);
  header.write_int64(runtime::now_ms());
  header.write_uvarint(1);
  header.write_uvarint(kEndRecordOffsetTag);
  header.write_uvarint(8);
  header.write_int64(end_record_offset);
  wire::Writer footer;  // SnapshotFooterRecord v0: Version, no tagged fields
  footer.write_int16(0);
  footer.write_uvarint(0);
  std::string out;
  auto put = [&out](const std::vector<uint8_t>& b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); };
  put(control_batch(kSnapshotHeaderType, header.buffer(), 0));
  for (const auto& b : batches) put(b);
  put(control_batch(kSnapshotFooterType, footer.buffer(), 0));
  return out;
}

Result<LogRaftStorage::SnapshotContents> LogRaftStorage::parse_snapshot(std::string_view data) {
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  auto corrupt = [](std::string why) { return Error{ErrorCode::CORRUPT_MESSAGE, "metadata snapshot: " + why}; };
  std::vector<std::span<const uint8_t>> batches;
  size_t at = 0;
  while (at < bytes.size()) {
    auto h = read_batch_header(bytes.subspan(at));
    if (!h.ok()) return corrupt(h.error().message);
    size_t size = static_cast<size_t>(h->total_size());
    if (size > bytes.size() - at) return corrupt("a batch runs past the end");
    auto one = bytes.subspan(at, size);
    if (compute_batch_crc(one) != h->crc) return corrupt("CRC mismatch at byte " + std::to_string(at));
    batches.push_back(one);
    at += size;
  }
  if (batches.size() < 2) return corrupt("no header and footer");
  std::optional<std::string_view> value;
  if (control_type(batches.front(), &value) != kSnapshotHeaderType || !value) return corrupt("no header first");
  if (control_type(batches.back(), nullptr) != kSnapshotFooterType) return corrupt("no footer last");
  wire::Reader r(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value->data()), value->size()));
  r.read_int16();
  r.read_int64();
  std::optional<int64_t> end;
  r.read_tagged_fields([&end](uint32_t tag, wire::Reader& field) {
    if (tag == kEndRecordOffsetTag) end = field.read_int64();
    return true;
  });
  if (!r.ok() || !end) return corrupt("the header has no end record offset");
  SnapshotContents c;
  c.end_record_offset = *end;
  c.batches.assign(batches.begin() + 1, batches.end() - 1);
  return c;
}

Status LogRaftStorage::write_snapshot_file(const SnapshotId& id, const std::string& data) {
  auto path = snapshot_path(id);
  if (auto st = storage::write_file_atomically(path, data); !st.ok()) return st;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(log_->dir(), ec))
    if (parse_snapshot_name(f.path().filename().string()) && f.path() != path) std::filesystem::remove(f.path(), ec);
  return {};
}

void LogRaftStorage::save_snapshot(const SnapshotId& id, std::string data) {
  if (!failure_.ok()) return;
  if (id.end_offset <= start_ || id.end_offset > end_offset())
    return fail(Status(ErrorCode::UNKNOWN_SERVER_ERROR, "snapshot end " + std::to_string(id.end_offset) +
                                                            " outside the log [" + std::to_string(start_) + ", " +
                                                            std::to_string(end_offset()) + ")"));
  auto parsed = parse_snapshot(data);
  const int64_t end_record = placed_[static_cast<size_t>(id.end_offset - 1 - start_)].last_offset + 1;
  if (!parsed.ok()) return fail(parsed.error());
  if (parsed->end_record_offset != end_record)
    return fail(Status(ErrorCode::UNKNOWN_SERVER_ERROR,
                       "snapshot ends at record offset " + std::to_string(parsed->end_record_offset) +
                           ", but entry " + std::to_string(id.end_offset - 1) + " ends at " + std::to_string(end_record)));
  if (auto st = write_snapshot_file(id, data); !st.ok()) return fail(st);
  const auto drop = static_cast<size_t>(id.end_offset - start_);
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(drop));
  placed_.erase(placed_.begin(), placed_.begin() + static_cast<std::ptrdiff_t>(drop));
  start_ = id.end_offset;
  snapshot_ = id;
  snapshot_data_ = std::move(data);
  snapshot_end_record_ = end_record;
  if (auto r = log_->advance_log_start(Offset(end_record)); !r.ok()) return fail(r.error());
}

void LogRaftStorage::install_snapshot(const SnapshotId& id, std::string data) {
  if (!failure_.ok()) return;
  auto parsed = parse_snapshot(data);
  if (!parsed.ok()) {
    // From the leader, with valid CRCs: not our disk's fault. Refuse it; the next fetch asks again.
    spdlog::error("metadata quorum: refusing snapshot {}-{} from the leader: {}", id.end_offset, id.epoch,
                  parsed.error().message);
    return;
  }
  const int64_t end_record = parsed->end_record_offset;
  if (auto st = write_snapshot_file(id, data); !st.ok()) return fail(st);
  if (auto st = log_->truncate_fully_and_start_at(Offset(end_record)); !st.ok()) return fail(st);
  if (auto st = log_->flush(); !st.ok()) return fail(st);
  entries_.clear();
  placed_.clear();
  start_ = id.end_offset;
  snapshot_ = id;
  snapshot_data_ = std::move(data);
  snapshot_end_record_ = end_record;
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
  Status st = storage::write_file_atomically(state_path_, text);
  std::error_code ec;
  if (!st.ok() && std::filesystem::remove(spare_path_, ec)) {
    spdlog::warn("{}; the spare space kept for it is used", st.error().message);
    st = storage::write_file_atomically(state_path_, text);
  }
  if (!st.ok()) return fail(st);
  keep_spare(spare_path_);
  epoch_ = epoch;
  voted_for_ = voted_for;
}

std::vector<uint8_t> LogRaftStorage::leader_change_batch(int32_t epoch, int32_t leader) {
  wire::Writer value;  // LeaderChangeMessage v0: Version, LeaderId, Voters[], GrantingVoters[]
  value.write_int16(0);
  value.write_int32(leader);
  value.write_int32(0);
  value.write_int32(0);
  return control_batch(kLeaderChangeType, value.buffer(), epoch);
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
  end = std::max(end, start_);
  if (end >= end_offset()) return;
  int64_t to = placed_[static_cast<size_t>(end - start_)].base_offset;
  if (auto r = log_->truncate_to(Offset(to)); !r.ok()) return fail(r.error());
  if (auto st = log_->flush(); !st.ok()) return fail(st);
  entries_.resize(static_cast<size_t>(end - start_));
  placed_.resize(static_cast<size_t>(end - start_));
}

int64_t LogRaftStorage::last_record_offset(int64_t index) const {
  if (index < 0) return -1;
  if (index < start_) return snapshot_end_record_ - 1;
  if (entries_.empty()) return snapshot_ ? snapshot_end_record_ - 1 : -1;
  return placed_[static_cast<size_t>(std::min<int64_t>(index, end_offset() - 1) - start_)].last_offset;
}

}  // namespace kb::raft
