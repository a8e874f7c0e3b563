#include "storage/log_manager.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include <spdlog/spdlog.h>

#include "storage/file_cache.h"
#include "runtime/loop_thread.h"
#include "storage/files.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCleanShutdownFile = ".kafka_cleanshutdown";
constexpr const char* kRecoveryPointFile = "recovery-point-offset-checkpoint";
constexpr const char* kLogStartFile = "log-start-offset-checkpoint";
constexpr const char* kLockFile = ".lock";
constexpr int64_t kHousekeepingMs = 1000;  // segment.ms rolls, rolled-segment fsyncs, idle handles

// "<topic>-<partition>": the topic may itself contain '-', so split at the last one.
std::optional<TopicPartition> parse_dir(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  int32_t p = 0;
  const char* first = name.data() + dash + 1;
  const char* last = name.data() + name.size();
  auto [end, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || end != last || p < 0 || *first == '+') return std::nullopt;
  return TopicPartition{name.substr(0, dash), p};
}

// Kafka's FileLock: an exclusive flock on <dir>/.lock for the process's lifetime (the kernel
// drops it when the process dies, however it dies). The holder's pid is written into the
// file so that the refused broker can name it; failing to write it (a full disk) keeps the
// lock.
Result<std::shared_ptr<FileHandle>> lock_log_dir(const fs::path& dir) {
  const fs::path path = dir / kLockFile;
  auto f = open_file(path, O_RDWR | O_CREAT);
  if (!f.ok()) return f.error();
  const int fd = (*f)->fd();
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return io_error("cannot lock", path, errno);
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return Error{ErrorCode::KAFKA_STORAGE_ERROR,
                 "log dir " + dir.string() + " is in use by another process (pid " +
                     (holder.empty() ? std::string("unknown") : holder) + ", holding " + path.string() +
                     "): two brokers must not share a log dir"};
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  // Written over the old content, then cut: no new block is needed when the file had one.
  Status w = pwrite_all(fd, reinterpret_cast<const uint8_t*>(pid.data()), pid.size(), 0, path);
  if (w.ok() && ::ftruncate(fd, static_cast<off_t>(pid.size())) != 0) w = io_error("cannot cut", path, errno);
  if (!w.ok()) spdlog::warn("locked {} but could not write this process's pid into it: {}", path.string(), w.error().message);
  return std::move(f.value());
}

fs::path canonical_or_same(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

Status remove_dir_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot remove " + dir.string() + ": " + ec.message());
  return {};
}

}  // namespace

struct LogManager::Impl {
  LogManagerOptions options;
  std::shared_ptr<FileCache> cache;

  struct Dir {
    fs::path path;
    fs::path canonical;                   // for is_log_dir_online()
    std::shared_ptr<LogDirState> state;   // shared with every Log opened here
    std::shared_ptr<FileHandle> lock;     // the flock on <path>/.lock (null when not locking)
    bool recover = false;  // no clean-shutdown marker: logs found here are recovered
    std::map<TopicPartition, int64_t> recovery_points;  // from the checkpoint, kept for unopened logs
    std::map<TopicPartition, int64_t> log_starts;       // likewise, log start offsets (DeleteRecords)
    size_t partitions = 0;  // entries of `placed` in this dir (counting them per new log was O(n^2))
  };
  struct Placement {
    size_t dir = 0;
    bool found_at_open = false;
  };

  mutable std::mutex mu;  // guards dirs' maps, logs, placed, shut
  std::vector<Dir> dirs;
  bool any_recover = false;
  std::map<TopicPartition, std::shared_ptr<Log>> logs;
  std::map<TopicPartition, Placement> placed;  // every partition with a directory
  bool shut = false;
  std::unique_ptr<runtime::LoopThread> background;  // from start() on
  std::unique_ptr<LogCleaner> cleaner;
  // When the background loop's next jobs are due (its thread only).
  int64_t next_flush = 0, next_retention = 0, next_checkpoint = 0, next_housekeeping = 0;

  // Flush failures (a failing disk fails every flush, every second): the first is logged, then
  // one line a minute with how many more there were. Background thread only.
  int64_t flush_error_logged_ms = 0;
  int64_t flush_errors_unlogged = 0;

  std::mutex open_mu;        // one Log::open at a time (it may scan), without blocking get()
  std::mutex checkpoint_mu;  // one checkpoint writer at a time
  std::mutex shutdown_mu;

  std::vector<std::shared_ptr<Log>> snapshot() const {
    std::lock_guard lk(mu);
    std::vector<std::shared_ptr<Log>> v;
    v.reserve(logs.size());
    for (const auto& [tp, l] : logs) v.push_back(l);
    return v;
  }

  static int64_t at(int64_t now, int64_t interval) {
    return interval > 0 ? now + interval : std::numeric_limits<int64_t>::max();
  }

  // One loop for every log (`kb-log-manager`): group-commit flushes, fsyncs of rolled
  // segments, segment.ms rolls, idle handles, retention and recovery-point checkpoints. A pass
  // runs at the earliest deadline; shutdown() cancels the next one and waits for one in
  // progress.
  void start_background() {
    background = std::make_unique<runtime::LoopThread>("kb-log-manager");
    background->post([this] {
      const int64_t now = now_ms();
      next_flush = at(now, options.flush_interval_ms);
      next_retention = at(now, options.retention_check_interval_ms);
      next_checkpoint = at(now, options.recovery_point_checkpoint_interval_ms);
      next_housekeeping = now + kHousekeepingMs;
      schedule_pass();
    });
  }

  // On the background loop. The timer's handle is not kept: stopping the loop cancels it.
  void schedule_pass() {
    const int64_t wake = std::min({next_flush, next_retention, next_checkpoint, next_housekeeping});
    background->after_ms(wake - now_ms(), [this] {
      background_pass();
      schedule_pass();
    });
  }

  // On the background loop: what is due.
  void background_pass() {
    const int64_t now = now_ms();
    bool flush_due = now >= next_flush;
    bool housekeeping_due = now >= next_housekeeping;
    if (flush_due) next_flush = at(now, options.flush_interval_ms);
    if (housekeeping_due) next_housekeeping = now + kHousekeepingMs;
    if (flush_due || housekeeping_due) {
      for (const auto& log : snapshot()) {
        if (flush_due || log->dirty()) {
          // A due flush syncs everything; otherwise only segments that rolled (Kafka
          // flushes a rolled segment whatever flush.interval.ms says).
          Status s = flush_due ? log->flush() : log->flush_rolled_segments();
          if (!s.ok()) flush_failed(*log, s.error(), now);
        }
        if (housekeeping_due) {
          log->maybe_roll(now);
          log->release_if_idle(now, options.idle_handle_ms);
        }
      }
    }
    if (housekeeping_due)
      for (auto& dir : dirs) dir.state->probe_space();  // `dirs` is fixed after open
    if (now >= next_retention) {
      for (const auto& log : snapshot()) log->apply_retention(now);
      next_retention = at(now, options.retention_check_interval_ms);
    }
    if (now >= next_checkpoint) {
      if (auto s = checkpoint(); !s.ok()) spdlog::error("recovery point checkpoint failed: {}", s.error().message);
      next_checkpoint = at(now, options.recovery_point_checkpoint_interval_ms);
    }
  }

  void flush_failed(const Log& log, const Error& e, int64_t now) {
    if (now - flush_error_logged_ms < 60000) {
      ++flush_errors_unlogged;
      return;
    }
    spdlog::error("flush of {} failed: {}{}", log.dir().string(), e.message,
                  flush_errors_unlogged ? fmt::format(" ({} more flush failures in the last minute)", flush_errors_unlogged)
                                        : std::string());
    flush_error_logged_ms = now;
    flush_errors_unlogged = 0;
  }

  Status checkpoint() {
    std::lock_guard cl(checkpoint_mu);
    std::vector<std::pair<fs::path, std::map<TopicPartition, int64_t>>> files, starts;
    {
      std::lock_guard lk(mu);
      for (auto& d : dirs) {
        files.emplace_back(d.path, d.recovery_points);
        starts.emplace_back(d.path, d.log_starts);
      }
      for (const auto& [tp, log] : logs) {
        auto it = placed.find(tp);
        if (it == placed.end()) continue;
        files[it->second.dir].second[tp] = log->recovery_point().value();
        starts[it->second.dir].second[tp] = log->log_start_offset().value();
      }
    }
    Status result;
    for (size_t i = 0; i < files.size(); ++i) {
      auto s = write_file_atomically(files[i].first / kRecoveryPointFile, format_offset_checkpoint(files[i].second));
      if (s.ok())
        s = write_file_atomically(starts[i].first / kLogStartFile, format_offset_checkpoint(starts[i].second));
      if (!s.ok()) {
        dirs[i].state->report(s.error());
        result = s;
      }
    }
    return result;
  }
};

Result<std::unique_ptr<LogManager>> LogManager::open(LogManagerOptions options) {
  std::unique_ptr<LogManager> m(new LogManager());
  m->impl_ = std::make_unique<Impl>();
  Impl& d = *m->impl_;
  d.options = std::move(options);
  d.cache = std::make_shared<FileCache>(d.options.max_open_files);
  if (d.options.log_dirs.empty()) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "no log.dirs configured"};
  if (d.options.cleaner_enable) {
    Impl* impl = &d;
    d.cleaner = std::make_unique<LogCleaner>(d.options.cleaner, [impl] {
      std::vector<LogCleaner::Target> out;
      std::lock_guard lk(impl->mu);
      for (const auto& [tp, log] : impl->logs)
        if (auto it = impl->placed.find(tp); it != impl->placed.end())
          out.push_back({tp, impl->dirs[it->second.dir].path, log});
      return out;
    });
  }
  for (const auto& path : d.options.log_dirs) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot create log dir " + path.string() + ": " + ec.message()};
    Impl::Dir dir;
    dir.path = path;
    dir.canonical = canonical_or_same(path);
    dir.state = std::make_shared<LogDirState>(path);
    if (d.options.lock_dirs) {
      // Before anything in the dir is touched: a second broker must change nothing.
      auto lock = lock_log_dir(path);
      if (!lock.ok()) return lock.error();
      dir.lock = std::move(lock.value());
    }
    size_t index = d.dirs.size();
    bool has_data = false;
    auto entries = list_dir(path);
    if (!entries.ok()) return entries.error();
    for (const auto& e : *entries) {
      if (std::error_code dec; !e.is_directory(dec)) continue;
      auto name = e.path().filename().string();
      if (name.ends_with("-delete")) {
        // A topic deletion interrupted by a crash (Kafka renames before deleting).
        if (auto s = remove_dir_tree(e.path()); !s.ok()) return s.error();
        continue;
      }
      auto tp = parse_dir(name);
      if (!tp) continue;
      if (auto it = d.placed.find(*tp); it != d.placed.end())
        return Error{ErrorCode::KAFKA_STORAGE_ERROR, "partition " + tp->to_string() + " has a directory in both " +
                                                         d.dirs[it->second.dir].path.string() + " and " + path.string()};
      d.placed[*tp] = Impl::Placement{index, true};
      ++dir.partitions;
      has_data = true;
    }
    fs::path marker = path / kCleanShutdownFile;
    if (fs::exists(marker, ec)) {
      // The marker goes now, durably, so a crash from here on is seen as one at next start.
      fs::remove(marker, ec);
      if (auto s = sync_dir(path); !s.ok()) return s.error();
    } else if (has_data) {
      dir.recover = true;
      d.any_recover = true;
    }
    auto points = read_offset_checkpoint(path / kRecoveryPointFile);
    if (points.ok()) {
      dir.recovery_points = std::move(points.value());
    } else {
      // Without recovery points a recovery scans whole logs: slower, never wrong.
      spdlog::warn("ignoring recovery points: {}", points.error().message);
    }
    if (fs::exists(path / kLogStartFile, ec)) {
      auto starts = read_offset_checkpoint(path / kLogStartFile);
      if (!starts.ok()) return starts.error();  // deleted records must not come back
      dir.log_starts = std::move(starts.value());
    }
    d.dirs.push_back(std::move(dir));
  }
  return m;
}

LogManager::~LogManager() {
  if (impl_) shutdown();
}

std::vector<TopicPartition> LogManager::existing_partitions() const {
  std::lock_guard lk(impl_->mu);
  std::vector<TopicPartition> v;
  for (const auto& [tp, p] : impl_->placed) v.push_back(tp);
  return v;
}

Result<std::shared_ptr<Log>> LogManager::get_or_create(const TopicPartition& tp, const LogConfig& config) {
  Impl& d = *impl_;
  {
    std::lock_guard lk(d.mu);
    if (auto it = d.logs.find(tp); it != d.logs.end()) return it->second;
  }
  std::lock_guard ol(d.open_mu);
  fs::path path;
  size_t dir_index = 0;
  LogOpenOptions o;
  o.file_cache = d.cache;
  {
    std::lock_guard lk(d.mu);
    if (auto it = d.logs.find(tp); it != d.logs.end()) return it->second;  // opened meanwhile
    if (d.shut) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "the log manager is shut down"};
    if (tp.topic.empty() || tp.partition < 0 || tp.topic.find('/') != std::string::npos || tp.topic == "." ||
        tp.topic == "..")
      return Error{ErrorCode::INVALID_TOPIC_EXCEPTION, "no log directory can be named after " + tp.to_string()};
    if (auto it = d.placed.find(tp); it != d.placed.end()) {
      dir_index = it->second.dir;
      o.dir_state = d.dirs[dir_index].state;
      if (it->second.found_at_open) {
        o.recover = d.dirs[dir_index].recover;
        auto rp = d.dirs[dir_index].recovery_points.find(tp);
        o.recovery_point = rp == d.dirs[dir_index].recovery_points.end() ? 0 : rp->second;
        auto ls = d.dirs[dir_index].log_starts.find(tp);
        o.log_start_offset = ls == d.dirs[dir_index].log_starts.end() ? 0 : ls->second;
      }
    } else {
      // A new partition goes to the online log dir holding the fewest partitions (any dir
      // when none is online: its first write then fails like any other).
      auto rank = [&](size_t i) { return std::pair(d.dirs[i].state->online() ? 0 : 1, d.dirs[i].partitions); };
      dir_index = 0;
      for (size_t i = 1; i < d.dirs.size(); ++i)
        if (rank(i) < rank(dir_index)) dir_index = i;
      o.dir_state = d.dirs[dir_index].state;
    }
    path = d.dirs[dir_index].path / tp.to_string();
  }
  auto log = Log::open(path, config, o);
  if (!log.ok()) return log.error();
  std::shared_ptr<Log> shared = std::move(log.value());
  std::lock_guard lk(d.mu);
  d.logs[tp] = shared;
  auto [placement, inserted] = d.placed.try_emplace(tp);
  if (inserted) ++d.dirs[dir_index].partitions;
  placement->second.dir = dir_index;
  return shared;
}

std::shared_ptr<Log> LogManager::get(const TopicPartition& tp) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->logs.find(tp);
  return it == impl_->logs.end() ? nullptr : it->second;
}

Status LogManager::remove(const TopicPartition& tp) {
  Impl& d = *impl_;
  std::shared_ptr<Log> log;
  fs::path dir, log_dir;
  {
    std::lock_guard lk(d.mu);
    if (auto it = d.logs.find(tp); it != d.logs.end()) {
      log = it->second;
      d.logs.erase(it);
    }
    if (auto it = d.placed.find(tp); it != d.placed.end()) {
      dir = d.dirs[it->second.dir].path / tp.to_string();
      log_dir = d.dirs[it->second.dir].path;
      d.dirs[it->second.dir].recovery_points.erase(tp);
      d.dirs[it->second.dir].log_starts.erase(tp);
      --d.dirs[it->second.dir].partitions;
      d.placed.erase(it);
    }
  }
  if (d.cleaner && !log_dir.empty()) d.cleaner->forget(tp, log_dir);
  if (log) return log->remove();
  if (!dir.empty()) return remove_dir_tree(dir);
  return {};
}

void LogManager::start() {
  std::lock_guard sl(impl_->shutdown_mu);
  if (impl_->background || impl_->shut) return;
  impl_->start_background();
  if (impl_->cleaner) impl_->cleaner->start();
}

void LogManager::shutdown() {
  Impl& d = *impl_;
  std::lock_guard sl(d.shutdown_mu);
  {
    std::lock_guard lk(d.mu);
    if (d.shut) return;
    d.shut = true;
  }
  if (d.background) d.background->stop(runtime::LoopThread::kNoDeadline);
  // Before the logs close: a pass in progress ends after its current segment.
  if (d.cleaner) d.cleaner->stop();

  std::vector<bool> dir_ok(d.dirs.size(), true);
  std::vector<std::pair<TopicPartition, std::shared_ptr<Log>>> logs;
  {
    std::lock_guard lk(d.mu);
    logs.assign(d.logs.begin(), d.logs.end());
  }
  for (const auto& [tp, log] : logs) {
    if (auto s = log->flush_and_close(); !s.ok()) {
      spdlog::error("closing {} failed: {}", tp.to_string(), s.error().message);
      std::lock_guard lk(d.mu);
      if (auto it = d.placed.find(tp); it != d.placed.end()) dir_ok[it->second.dir] = false;
    }
  }
  if (auto s = d.checkpoint(); !s.ok()) {
    spdlog::error("recovery point checkpoint failed at shutdown: {}", s.error().message);
    dir_ok.assign(dir_ok.size(), false);
  }
  for (size_t i = 0; i < d.dirs.size(); ++i) {
    // New partition directories become durable before the marker vouches for them.
    Status s = sync_dir(d.dirs[i].path);
    if (s.ok() && dir_ok[i]) s = write_file_atomically(d.dirs[i].path / kCleanShutdownFile, "");
    if (!s.ok() || !dir_ok[i])
      spdlog::error("no clean-shutdown marker in {}: the next start recovers its logs{}", d.dirs[i].path.string(),
                    s.ok() ? "" : " (" + s.error().message + ")");
    d.dirs[i].lock.reset();  // nothing more is written here: another broker may take the dir
  }
}

std::vector<LogDirInfo> LogManager::log_dir_infos() const {
  std::vector<LogDirInfo> out;
  for (const auto& dir : impl_->dirs) out.push_back({dir.path, dir.state->health(), dir.state->reason()});
  return out;
}

bool LogManager::is_log_dir_online(const fs::path& dir) const {
  const fs::path c = canonical_or_same(dir);
  for (const auto& d : impl_->dirs)
    if (d.canonical == c || d.path == dir) return d.state->online();
  return false;
}

bool LogManager::is_partition_offline(const TopicPartition& tp) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->placed.find(tp);
  return it != impl_->placed.end() && !impl_->dirs[it->second.dir].state->online();
}

std::map<TopicPartition, size_t> LogManager::placements() const {
  std::lock_guard lk(impl_->mu);
  std::map<TopicPartition, size_t> out;
  for (const auto& [tp, placement] : impl_->placed) out.emplace_hint(out.end(), tp, placement.dir);
  return out;
}

LogCleaner* LogManager::cleaner() const { return impl_->cleaner.get(); }

void LogManager::reconfigure_cleaner(int threads, int64_t backoff_ms) {
  if (impl_->cleaner) impl_->cleaner->reconfigure(threads, backoff_ms);
}

bool LogManager::recovered_after_crash() const { return impl_->any_recover; }

Status LogManager::checkpoint_recovery_points() { return impl_->checkpoint(); }

size_t LogManager::open_segment_files() const { return impl_->cache->open_count(); }

int LogManager::release_idle_handles(int64_t idle_ms) {
  int n = 0;
  int64_t now = now_ms();
  for (const auto& log : impl_->snapshot()) n += log->release_if_idle(now, idle_ms) ? 1 : 0;
  return n;
}

}  // namespace kb::storage
