#include "storage/log_manager.h"

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

namespace kb::storage {

namespace fs = std::filesystem;

namespace {
constexpr const char* kCleanShutdownFile = ".kafka_cleanshutdown";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "<topic>-<partition>": the topic may itself contain '-', so split at the last one.
std::optional<TopicPartition> parse_dir(const std::string& name) {
  auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  for (size_t i = dash + 1; i < name.size(); ++i)
    if (!isdigit(static_cast<unsigned char>(name[i]))) return std::nullopt;
  return TopicPartition{name.substr(0, dash), std::stoi(name.substr(dash + 1))};
}
}  // namespace

struct LogManager::Impl {
  LogManagerOptions options;
  bool recover = false;
  mutable std::mutex mu;
  std::map<TopicPartition, std::shared_ptr<Log>> logs;
  std::map<TopicPartition, fs::path> found;  // directories on disk at open
  std::thread thread;
  std::condition_variable cv;
  bool stop = false;
  bool shut = false;

  std::vector<std::shared_ptr<Log>> snapshot() const {
    std::lock_guard lk(mu);
    std::vector<std::shared_ptr<Log>> v;
    for (const auto& [tp, l] : logs) v.push_back(l);
    return v;
  }

  // One thread for every log: group-commit flushes, retention and segment.ms rolls.
  void run() {
    int64_t next_retention = now_ms() + options.retention_check_interval_ms;
    int64_t next_flush = now_ms() + std::max<int64_t>(options.flush_interval_ms, 0);
    std::unique_lock lk(mu);
    while (!stop) {
      int64_t period = options.flush_interval_ms > 0 ? std::min<int64_t>(options.flush_interval_ms, 1000) : 1000;
      cv.wait_for(lk, std::chrono::milliseconds(period));
      if (stop) break;
      lk.unlock();
      int64_t now = now_ms();
      bool flush_due = options.flush_interval_ms > 0 && now >= next_flush;
      if (flush_due) next_flush = now + options.flush_interval_ms;
      for (const auto& log : snapshot()) {
        if (flush_due && log->dirty()) {
          if (auto s = log->flush(); !s.ok()) spdlog::error("flush failed: {}", s.error().message);
        }
        log->maybe_roll(now);
        log->release_if_idle(now, options.idle_handle_ms);
      }
      if (now >= next_retention) {
        for (const auto& log : snapshot()) log->apply_retention(now);
        next_retention = now + options.retention_check_interval_ms;
      }
      lk.lock();
    }
  }
};

Result<std::unique_ptr<LogManager>> LogManager::open(LogManagerOptions options) {
  std::unique_ptr<LogManager> m(new LogManager());
  m->impl_ = std::make_unique<Impl>();
  Impl& d = *m->impl_;
  d.options = std::move(options);
  if (d.options.log_dirs.empty()) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "no log.dirs"};
  for (const auto& dir : d.options.log_dirs) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot create log dir " + dir.string() + ": " + ec.message()};
    bool has_data = false;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (!e.is_directory()) continue;
      auto name = e.path().filename().string();
      if (name.size() > 7 && name.ends_with("-delete")) {
        fs::remove_all(e.path(), ec);  // a deletion interrupted by a crash
        continue;
      }
      if (auto tp = parse_dir(name)) {
        d.found[*tp] = e.path();
        has_data = true;
      }
    }
    fs::path marker = dir / kCleanShutdownFile;
    if (fs::exists(marker)) fs::remove(marker, ec);
    else if (has_data) d.recover = true;
  }
  return m;
}

LogManager::~LogManager() { shutdown(); }

std::vector<TopicPartition> LogManager::existing_partitions() const {
  std::lock_guard lk(impl_->mu);
  std::vector<TopicPartition> v;
  for (const auto& [tp, p] : impl_->found) v.push_back(tp);
  return v;
}

Result<std::shared_ptr<Log>> LogManager::get_or_create(const TopicPartition& tp, const LogConfig& config) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (auto it = d.logs.find(tp); it != d.logs.end()) return it->second;
  fs::path dir;
  if (auto it = d.found.find(tp); it != d.found.end()) {
    dir = it->second;
  } else {
    // A new partition goes to the log dir holding the fewest partitions.
    std::map<fs::path, int> count;
    for (const auto& ld : d.options.log_dirs) count[ld] = 0;
    for (const auto& [t, l] : d.logs) ++count[l->dir().parent_path()];
    fs::path best = d.options.log_dirs.front();
    for (const auto& [p, n] : count)
      if (n < count[best]) best = p;
    dir = best / tp.to_string();
  }
  auto log = Log::open(dir, config, d.recover);
  if (!log.ok()) return log.error();
  std::shared_ptr<Log> shared = std::move(log.value());
  d.logs[tp] = shared;
  d.found[tp] = dir;
  return shared;
}

std::shared_ptr<Log> LogManager::get(const TopicPartition& tp) const {
  std::lock_guard lk(impl_->mu);
  auto it = impl_->logs.find(tp);
  return it == impl_->logs.end() ? nullptr : it->second;
}

Status LogManager::remove(const TopicPartition& tp) {
  std::shared_ptr<Log> log;
  fs::path dir;
  {
    std::lock_guard lk(impl_->mu);
    if (auto it = impl_->logs.find(tp); it != impl_->logs.end()) {
      log = it->second;
      impl_->logs.erase(it);
    }
    if (auto it = impl_->found.find(tp); it != impl_->found.end()) {
      dir = it->second;
      impl_->found.erase(it);
    }
  }
  if (log) return log->remove();
  if (!dir.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return {};
}

void LogManager::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void LogManager::shutdown() {
  if (!impl_ || impl_->shut) return;
  impl_->shut = true;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  bool ok = true;
  for (const auto& log : impl_->snapshot()) {
    if (auto s = log->flush(); !s.ok()) {
      spdlog::error("final flush failed: {}", s.error().message);
      ok = false;
    }
    log->close();
  }
  if (!ok) return;  // no marker: the next start recovers
  for (const auto& dir : impl_->options.log_dirs) {
    std::ofstream(dir / kCleanShutdownFile) << "";
  }
}

bool LogManager::recovered_after_crash() const { return impl_->recover; }

int LogManager::release_idle_handles(int64_t idle_ms) {
  int n = 0;
  int64_t now = now_ms();
  for (const auto& log : impl_->snapshot()) n += log->release_if_idle(now, idle_ms) ? 1 : 0;
  return n;
}

}  // namespace kb::storage
