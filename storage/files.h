// Small POSIX file helpers for the storage layer: a reference-counted descriptor (the owner of
// a FileSlice), a reference-counted mapping, whole-buffer pread/pwrite, fsync by path and
// atomic small-file replacement. Errors are KAFKA_STORAGE_ERROR values naming the file.
// Thread-safety: the types are immutable after construction; functions are reentrant.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/types.h"
#include "runtime/clock.h"

namespace kb::storage {

// An open descriptor, closed when the last reference goes (a FileSlice in flight keeps the
// file readable even after the segment is deleted: Linux frees an unlinked file at close).
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A shared file mapping, unmapped when the last reference goes (readers keep using an index
// snapshot while the segment rolls or is released).
class Mapping {
 public:
  Mapping(uint8_t* data, size_t size) : data_(data), size_(size) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

// "what path: strerror(err)" as KAFKA_STORAGE_ERROR.
Error io_error(const std::string& what, const std::filesystem::path& path, int err);

Result<std::shared_ptr<FileHandle>> open_file(const std::filesystem::path& path, int flags, int mode = 0644);
// Maps `size` bytes of `path`, shared. Writable mappings need the file at least that long.
Result<std::shared_ptr<Mapping>> map_file(const std::filesystem::path& path, size_t size, bool writable);

// Reads exactly n bytes at pos; false on a short read or an error.
bool pread_exact(int fd, void* buf, size_t n, int64_t pos);
Status pwrite_all(int fd, const uint8_t* data, size_t n, int64_t pos, const std::filesystem::path& path);

// fdatasync of an open descriptor, or of a file by path (opened just for that).
Status sync_fd(int fd, const std::filesystem::path& path);
Status sync_path(const std::filesystem::path& path);
// fsync of a directory, so created, renamed and deleted entries survive a power loss.
Status sync_dir(const std::filesystem::path& dir);

// Replaces `path` with `content` so that a crash leaves either the old or the new file:
// write a temporary file, fsync it, rename it over, fsync the directory.
Status write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Kafka's offset checkpoint files (recovery-point-offset-checkpoint,
// log-start-offset-checkpoint, cleaner-offset-checkpoint): a version line (0), a count line,
// then one "<topic> <partition> <offset>" line per partition. A missing file reads as empty;
// a malformed one is KAFKA_STORAGE_ERROR.
Result<std::map<TopicPartition, int64_t>> read_offset_checkpoint(const std::filesystem::path& path);
std::string format_offset_checkpoint(const std::map<TopicPartition, int64_t>& offsets);

// The broker's one wall clock (runtime/clock.h), which storage code calls as now_ms().
using runtime::now_ms;

}  // namespace kb::storage
