#include "replication/leader_epoch_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "storage/files.h"

namespace kb::replication {

namespace fs = std::filesystem;

LeaderEpochCache::LeaderEpochCache(fs::path file) : file_(std::move(file)) {}

std::string LeaderEpochCache::format(const std::vector<EpochEntry>& entries) {
  std::string out = "0\n" + std::to_string(entries.size()) + "\n";
  for (const auto& e : entries) out += std::to_string(e.epoch) + " " + std::to_string(e.start_offset) + "\n";
  return out;
}

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<std::vector<EpochEntry>> LeaderEpochCache::parse(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  auto bad = [](size_t line, const std::string& why) {
    return Error{ErrorCode::CORRUPT_MESSAGE, "leader-epoch-checkpoint line " + std::to_string(line + 1) + ": " + why};
  };
  int version = -1;
  if (lines.empty() || !parse_number(lines[0], version) || version != 0) return bad(0, "expected version 0");
  int64_t count = -1;
  if (lines.size() < 2 || !parse_number(lines[1], count) || count < 0) return bad(1, "expected the entry count");
  if (lines.size() < 2 + static_cast<size_t>(count)) return bad(lines.size(), "fewer entries than the count says");
  std::vector<EpochEntry> out;
  for (size_t i = 2; i < 2 + static_cast<size_t>(count); ++i) {
    std::string_view l = lines[i];
    size_t sp = l.find(' ');
    EpochEntry e;
    if (sp == std::string_view::npos || !parse_number(l.substr(0, sp), e.epoch) ||
        !parse_number(l.substr(sp + 1), e.start_offset))
      return bad(i, "expected \"<epoch> <start offset>\"");
    out.push_back(e);
  }
  for (size_t i = 2 + static_cast<size_t>(count); i < lines.size(); ++i)
    if (!lines[i].empty()) return bad(i, "more entries than the count says");
  return out;
}

std::unique_ptr<LeaderEpochCache> LeaderEpochCache::open(const storage::Log& log) {
  auto cache = std::make_unique<LeaderEpochCache>(log.dir() / kFileName);
  const Offset start = log.log_start_offset(), end = log.log_end_offset();
  bool rebuild = false;
  std::string why;
  {
    std::ifstream in(cache->file_);
    if (!in) {
      rebuild = end > start;
      why = "no checkpoint";
    } else {
      std::stringstream text;
      text << in.rdbuf();
      auto entries = parse(text.str());
      if (!entries.ok()) {
        rebuild = true;
        why = entries.error().message;
      } else {
        std::lock_guard lk(cache->mu_);
        for (const auto& e : entries.value()) cache->assign_locked(e.epoch, e.start_offset);
        cache->changed_locked();
        // The file says this already (unless assign dropped non-monotonic lines: then the
        // next change rewrites it anyway).
        cache->written_version_ = cache->version_;
      }
    }
  }
  cache->truncate_from_end(end);
  cache->truncate_from_start(start);
  if (!rebuild && end > start) {
    // The file must end with the epoch of the log's last batch; a file older than the log
    // (lost by a power failure after the batches reached the disk) does not.
    std::optional<BatchHeader> last;
    auto s = log.for_each_batch(Offset(end.value() - 1), end, [&](std::span<const uint8_t>, const BatchHeader& h) {
      last = h;
      return Status{};
    });
    auto latest = cache->latest_entry();
    if (!s.ok() || !last) {
      spdlog::warn("cannot read the last batch of {} to check its leader epochs: {}", log.dir().string(),
                   s.ok() ? "no batch" : s.error().message);
    } else if (last->partition_leader_epoch >= 0 &&
               (!latest || latest->epoch != last->partition_leader_epoch || latest->start_offset > last->base_offset)) {
      rebuild = true;
      why = "its latest epoch is not the last batch's (" + std::to_string(last->partition_leader_epoch) + ")";
    }
  }
  if (rebuild) {
    spdlog::info("rebuilding the leader epochs of {} from its batches: {}", log.dir().string(), why);
    {
      std::lock_guard lk(cache->mu_);
      cache->entries_.clear();
      cache->changed_locked();
    }
    auto s = log.for_each_batch(start, end, [&](std::span<const uint8_t>, const BatchHeader& h) {
      if (h.partition_leader_epoch >= 0) {
        std::lock_guard lk(cache->mu_);
        if (cache->assign_locked(h.partition_leader_epoch, h.base_offset)) cache->changed_locked();
      }
      return Status{};
    });
    if (!s.ok()) spdlog::error("rebuilding the leader epochs of {} stopped: {}", log.dir().string(), s.error().message);
  }
  cache->persist();
  return cache;
}

bool LeaderEpochCache::assign_locked(int32_t epoch, int64_t start_offset) {
  if (epoch < 0 || start_offset < 0) return false;
  if (!entries_.empty()) {
    const EpochEntry& latest = entries_.back();
    if (latest.epoch == epoch && start_offset >= latest.start_offset) return false;
  }
  // Entries that would break monotonicity go: a later or equal epoch, or one starting at or
  // after this one (the log was cut there, or that epoch wrote nothing).
  size_t removed = 0;
  bool trivial = true;
  while (!entries_.empty() && (entries_.back().epoch >= epoch || entries_.back().start_offset >= start_offset)) {
    if (entries_.back().start_offset != start_offset) trivial = false;
    entries_.pop_back();
    ++removed;
  }
  if (removed > 1 || (removed == 1 && !trivial))
    spdlog::warn("leader epoch {} at offset {} replaced {} conflicting epoch entries in {}", epoch, start_offset,
                 removed, file_.parent_path().filename().string());
  entries_.push_back({epoch, start_offset});
  return true;
}

void LeaderEpochCache::changed_locked() {
  ++version_;
  latest_.store(entries_.empty() ? kUndefinedEpoch : entries_.back().epoch, std::memory_order_release);
}

bool LeaderEpochCache::assign(int32_t epoch, Offset start_offset) {
  {
    std::lock_guard lk(mu_);
    if (!assign_locked(epoch, start_offset.value())) return false;
    changed_locked();
  }
  persist();
  return true;
}

std::optional<EpochEntry> LeaderEpochCache::latest_entry() const {
  std::lock_guard lk(mu_);
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

EpochEndOffset LeaderEpochCache::end_offset_for(int32_t requested, Offset log_end) const {
  std::lock_guard lk(mu_);
  if (requested == kUndefinedEpoch || entries_.empty()) return {};
  // The writing epoch: everything up to the log end is its (a consumer checking its position
  // after a rebalance asks for it; followers have no reason to).
  if (entries_.back().epoch == requested) return {requested, log_end.value()};
  auto higher = std::upper_bound(entries_.begin(), entries_.end(), requested,
                                 [](int32_t e, const EpochEntry& x) { return e < x.epoch; });
  if (higher == entries_.end()) return {};  // above every known epoch
  // Below the first known epoch: its records are gone from the log; the follower should
  // continue from the first epoch we know.
  if (higher == entries_.begin()) return {requested, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

void LeaderEpochCache::truncate_from_end(Offset end_offset) {
  {
    std::lock_guard lk(mu_);
    if (end_offset.value() < 0 || entries_.empty() || entries_.back().start_offset < end_offset.value()) return;
    while (!entries_.empty() && entries_.back().start_offset >= end_offset.value()) entries_.pop_back();
    changed_locked();
  }
  persist();
}

void LeaderEpochCache::truncate_from_start(Offset start_offset) {
  {
    std::lock_guard lk(mu_);
    // The last entry starting at or before the new start survives, moved to it.
    auto first_after = std::find_if(entries_.begin(), entries_.end(),
                                    [&](const EpochEntry& e) { return e.start_offset > start_offset.value(); });
    if (first_after == entries_.begin()) return;
    EpochEntry kept{std::prev(first_after)->epoch, start_offset.value()};
    if (first_after - entries_.begin() == 1 && entries_.front() == kept) return;
    entries_.erase(entries_.begin(), first_after);
    entries_.insert(entries_.begin(), kept);
    changed_locked();
  }
  persist();
}

void LeaderEpochCache::clear() {
  {
    std::lock_guard lk(mu_);
    if (entries_.empty()) return;
    entries_.clear();
    changed_locked();
  }
  persist();
}

std::vector<EpochEntry> LeaderEpochCache::entries() const {
  std::lock_guard lk(mu_);
  return entries_;
}

void LeaderEpochCache::persist() {
  if (file_.empty()) return;
  std::lock_guard w(write_mu_);
  std::string text;
  uint64_t version;
  {
    std::lock_guard lk(mu_);
    version = version_;
    if (version <= written_version_) return;
    text = format(entries_);
  }
  // Atomic, not fsynced (see the header): a process crash keeps it (page cache); after a
  // power failure open() finds it older than the log and rebuilds it.
  fs::path tmp = file_;
  tmp += ".tmp";
  Status s;
  auto f = storage::open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!f.ok()) s = f.error();
  else s = storage::pwrite_all((*f)->fd(), reinterpret_cast<const uint8_t*>(text.data()), text.size(), 0, tmp);
  if (s.ok() && ::rename(tmp.c_str(), file_.c_str()) != 0) s = storage::io_error("cannot rename over", file_, errno);
  if (!s.ok()) {
    // The directory is gone when the partition was just deleted; otherwise the next open
    // rebuilds what the file misses.
    if (fs::exists(file_.parent_path())) spdlog::warn("cannot write {}: {}", file_.string(), s.error().message);
    return;
  }
  written_version_ = version;
}

FollowerTruncation follower_truncation(const LeaderEpochCache& cache, EpochEndOffset leader, Offset log_end,
                                       Offset high_watermark) {
  const int64_t end = log_end.value();
  if (leader.end_offset == kUndefinedEpochOffset) return {Offset(std::min(high_watermark.value(), end)), true};
  if (leader.epoch == kUndefinedEpoch) return {Offset(std::min(leader.end_offset, end)), true};
  EpochEndOffset mine = cache.end_offset_for(leader.epoch, log_end);
  if (mine.end_offset == kUndefinedEpochOffset) return {Offset(std::min(leader.end_offset, end)), true};
  if (mine.epoch != leader.epoch) return {Offset(std::min(mine.end_offset, end)), false};
  return {Offset(std::min({mine.end_offset, leader.end_offset, end})), true};
}

}  // namespace kb::replication
