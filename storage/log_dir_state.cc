#include "storage/log_dir_state.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace kb::storage {

namespace {
// A full dir is online again once its file system has this much room: enough for index
// reservations and a few batches, small enough for a test's tmpfs.
constexpr uint64_t kRoomToResume = 4u << 20;
}  // namespace

bool is_out_of_space(const Error& e) {
  for (int err : {ENOSPC, EDQUOT, EFBIG})
    if (e.message.find(std::strerror(err)) != std::string::npos) return true;
  return false;
}

void LogDirState::report(const Error& error) {
  // The process ran out of descriptors or memory: nothing is wrong with the dir (the caller
  // says what failed).
  for (int err : {EMFILE, ENFILE, ENOMEM})
    if (error.message.find(std::strerror(err)) != std::string::npos) return;
  const Health next = is_out_of_space(error) ? Health::full : Health::failed;
  std::lock_guard lk(mu_);
  const Health now = health_.load();
  if (now == Health::failed || now == next) return;  // already said; failed stays failed
  health_.store(next);
  reason_ = error.message;
  if (next == Health::full)
    spdlog::error("log dir {} is full and offline for writes (reads go on; writes answer KAFKA_STORAGE_ERROR "
                  "until space is freed): {}",
                  dir_.string(), error.message);
  else
    spdlog::error("log dir {} is offline after an I/O error (until restart; its logs refuse appends): {}",
                  dir_.string(), error.message);
}

void LogDirState::probe_space() {
  if (health() != Health::full) return;
  struct statvfs fs {};
  if (::statvfs(dir_.c_str(), &fs) != 0) return;
  const uint64_t room = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (room >= kRoomToResume && fs.f_favail > 0) recover("the file system has room again");
}

void LogDirState::recover(const char* why) {
  std::lock_guard lk(mu_);
  if (health_.load() != Health::full) return;
  health_.store(Health::online);
  reason_.clear();
  spdlog::info("log dir {} is online again: {}", dir_.string(), why);
}

std::string LogDirState::reason() const {
  std::lock_guard lk(mu_);
  return reason_;
}

}  // namespace kb::storage
