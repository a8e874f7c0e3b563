#include "storage/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

namespace kb::storage {

namespace fs = std::filesystem;

FileHandle::~FileHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Mapping::~Mapping() {
  if (data_ && size_) ::munmap(data_, size_);
}

Error io_error(const std::string& what, const fs::path& path, int err) {
  return Error{ErrorCode::KAFKA_STORAGE_ERROR, what + " " + path.string() + ": " + std::strerror(err)};
}

Result<std::shared_ptr<FileHandle>> open_file(const fs::path& path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return io_error("cannot open", path, errno);
  return std::make_shared<FileHandle>(fd);
}

Result<std::shared_ptr<Mapping>> map_file(const fs::path& path, size_t size, bool writable) {
  if (size == 0) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot map empty file " + path.string()};
  auto f = open_file(path, writable ? O_RDWR : O_RDONLY);
  if (!f.ok()) return f.error();
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* m = ::mmap(nullptr, size, prot, MAP_SHARED, (*f)->fd(), 0);
  // The descriptor closes when `f` goes: a mapping keeps the file without one.
  if (m == MAP_FAILED) return io_error("cannot map", path, errno);
  return std::make_shared<Mapping>(static_cast<uint8_t*>(m), size);
}

bool pread_exact(int fd, void* buf, size_t n, int64_t pos) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(pos));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    pos += r;
  }
  return true;
}

Status pwrite_all(int fd, const uint8_t* data, size_t n, int64_t pos, const fs::path& path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(pos));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_error("cannot write to", path, errno);
    data += w;
    n -= static_cast<size_t>(w);
    pos += w;
  }
  return {};
}

Status sync_fd(int fd, const fs::path& path) {
  if (::fdatasync(fd) != 0) return io_error("fdatasync failed for", path, errno);
  return {};
}

Status sync_path(const fs::path& path) {
  auto f = open_file(path, O_RDONLY);
  if (!f.ok()) return f.error();
  return sync_fd((*f)->fd(), path);
}

Status sync_dir(const fs::path& dir) {
  auto f = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (!f.ok()) return f.error();
  if (::fsync((*f)->fd()) != 0) return io_error("fsync failed for directory", dir, errno);
  return {};
}

Status write_file_atomically(const fs::path& path, std::string_view content) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    auto f = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    if (!f.ok()) return f.error();
    if (auto s = pwrite_all((*f)->fd(), reinterpret_cast<const uint8_t*>(content.data()), content.size(), 0, tmp);
        !s.ok())
      return s;
    if (::fsync((*f)->fd()) != 0) return io_error("fsync failed for", tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename over", path, errno);
  return sync_dir(path.parent_path());
}

Result<std::map<TopicPartition, int64_t>> read_offset_checkpoint(const fs::path& path) {
  std::map<TopicPartition, int64_t> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  auto f = open_file(path, 0);
  if (!f.ok()) return f.error();
  std::string text;
  char buf[65536];
  for (int64_t pos = 0;;) {
    ssize_t n = ::pread((*f)->fd(), buf, sizeof buf, pos);
    if (n < 0) return io_error("cannot read", path, errno);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    pos += n;
  }
  std::istringstream in(text);
  int version = -1;
  size_t count = 0;
  if (!(in >> version) || version != 0 || !(in >> count))
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, path.string() + ": not a version 0 offset checkpoint"};
  for (size_t i = 0; i < count; ++i) {
    std::string topic;
    int32_t partition;
    int64_t offset;
    if (!(in >> topic >> partition >> offset) || partition < 0 || offset < 0)
      return Error{ErrorCode::KAFKA_STORAGE_ERROR, path.string() + ": malformed entry " + std::to_string(i)};
    out[TopicPartition{topic, partition}] = offset;
  }
  return out;
}

std::string format_offset_checkpoint(const std::map<TopicPartition, int64_t>& points) {
  std::string s = "0\n" + std::to_string(points.size()) + "\n";
  for (const auto& [tp, offset] : points)
    s += tp.topic + " " + std::to_string(tp.partition) + " " + std::to_string(offset) + "\n";
  return s;
}

}  // namespace kb::storage
