#include "storage/index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace kb::storage {

Index::~Index() { seal(); }

Status Index::open_writable(size_t max_bytes, size_t entries) {
  seal();
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot open " + path_.string() + ": " + std::strerror(errno));
  capacity_ = std::max(max_bytes / entry_size_, entries + 1) * entry_size_;
  if (::ftruncate(fd, static_cast<off_t>(capacity_)) != 0) {
    ::close(fd);
    return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot size " + path_.string());
  }
  void* m = ::mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file; no descriptor is held
  if (m == MAP_FAILED) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot map " + path_.string());
  map_ = static_cast<uint8_t*>(m);
  mapped_ = true;
  count_ = entries;
  return {};
}

bool Index::open_readonly() {
  seal();
  std::error_code ec;
  auto size = std::filesystem::file_size(path_, ec);
  if (ec || size % entry_size_ != 0) return false;
  count_ = size / entry_size_;
  return true;
}

void Index::seal() {
  if (!mapped_) return;
  ::msync(map_, capacity_, MS_SYNC);
  ::munmap(map_, capacity_);
  map_ = nullptr;
  mapped_ = false;
  ::truncate(path_.c_str(), static_cast<off_t>(count_ * entry_size_));
}

Status Index::flush() {
  if (mapped_ && ::msync(map_, capacity_, MS_SYNC) != 0)
    return Status(ErrorCode::KAFKA_STORAGE_ERROR, "msync " + path_.string() + " failed");
  return {};
}

void Index::reset() {
  count_ = 0;
  if (!mapped_) ::truncate(path_.c_str(), 0);
}

void Index::append(const uint8_t* entry) {
  if (!mapped_ || full()) return;  // a full index only makes lookups scan a little longer
  std::memcpy(map_ + count_ * entry_size_, entry, entry_size_);
  ++count_;
}

bool Index::read(size_t i, uint8_t* out) const {
  if (i >= count_) return false;
  if (mapped_) {
    std::memcpy(out, map_ + i * entry_size_, entry_size_);
    return true;
  }
  int fd = ::open(path_.c_str(), O_RDONLY);
  if (fd < 0) return false;
  ssize_t n = ::pread(fd, out, entry_size_, static_cast<off_t>(i * entry_size_));
  ::close(fd);
  return n == static_cast<ssize_t>(entry_size_);
}

std::optional<size_t> Index::floor(int64_t target, const std::function<int64_t(const uint8_t*)>& key) const {
  if (count_ == 0) return std::nullopt;
  std::vector<uint8_t> e(entry_size_);
  int fd = -1;
  auto get = [&](size_t i) -> int64_t {
    if (mapped_) return key(map_ + i * entry_size_);
    if (fd < 0) fd = ::open(path_.c_str(), O_RDONLY);
    if (fd < 0 || ::pread(fd, e.data(), entry_size_, static_cast<off_t>(i * entry_size_)) !=
                      static_cast<ssize_t>(entry_size_))
      return INT64_MAX;
    return key(e.data());
  };
  size_t lo = 0, hi = count_;  // find the first entry with key > target
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (get(mid) <= target) lo = mid + 1;
    else hi = mid;
  }
  if (fd >= 0) ::close(fd);
  if (lo == 0) return std::nullopt;
  return lo - 1;
}

void Index::remove_file() {
  seal();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace kb::storage
