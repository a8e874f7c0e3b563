// Helpers shared by the storage unit tests: a temporary directory, batch builders and ways to
// look at what a read returned.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/log.h"
#include "storage/log_manager.h"

namespace kb::storage::test {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kb-storage-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A batch of `records` records with timestamps ts, ts+1, ...
inline std::vector<uint8_t> make_batch(int records, int64_t ts, const std::string& tag = "v") {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i) {
    // Built with += : GCC 12 warns (-Wrestrict, a known false positive) on "k" + to_string.
    std::string key = "k", value = tag;
    key += std::to_string(i);
    value += std::to_string(i);
    b.add(key, value, ts + i);
  }
  return b.build();
}

inline std::vector<uint8_t> read_bytes(const FileSlice& s) {
  std::vector<uint8_t> out(static_cast<size_t>(s.size));
  REQUIRE(::pread(s.fd, out.data(), out.size(), s.position) == static_cast<ssize_t>(out.size()));
  return out;
}

// Offsets of every record in the bytes of a read (checks every batch's framing and CRC).
inline std::vector<int64_t> offsets_in(const std::vector<uint8_t>& bytes) {
  std::vector<int64_t> offs;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto h = read_batch_header(std::span<const uint8_t>(bytes).subspan(pos));
    REQUIRE(h.ok());
    auto one = std::span<const uint8_t>(bytes).subspan(pos, static_cast<size_t>(h->total_size()));
    REQUIRE(validate_batches(one, 1 << 30).ok());
    REQUIRE(for_each_record(one, [&](const RecordView& r) { offs.push_back(r.offset); }).ok());
    pos += static_cast<size_t>(h->total_size());
  }
  return offs;
}

inline std::vector<int64_t> read_offsets(const Log& log, int64_t from, int64_t to, int32_t max_bytes = 1 << 30) {
  auto r = log.read(Offset(from), max_bytes, Offset(to), true);
  REQUIRE(r.ok());
  if (!r->slice) return {};
  return offsets_in(read_bytes(*r->slice));
}

inline std::unique_ptr<Log> open_log(const fs::path& dir, LogConfig c = {}, bool recover = false) {
  auto l = Log::open(dir, c, recover);
  INFO((l.ok() ? std::string() : l.error().message));
  REQUIRE(l.ok());
  return std::move(l.value());
}

inline std::unique_ptr<LogManager> open_manager(LogManagerOptions o) {
  auto m = LogManager::open(std::move(o));
  INFO((m.ok() ? std::string() : m.error().message));
  REQUIRE(m.ok());
  return std::move(m.value());
}

// While it lives, no file of this process can grow past `bytes` (the kernel answers EFBIG, as
// a full file system answers ENOSPC); SIGXFSZ, which would kill the process, is ignored.
// Only growth past the file's size is refused: a file already that long can still get blocks.
struct FileSizeLimit {
  struct rlimit old {};
  void (*old_handler)(int) = SIG_DFL;
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit r {bytes, old.rlim_max};
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &r) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
};

inline void append_batches(Log& log, int count, int records_each, int64_t first_ts, int64_t ts_step = 1) {
  for (int i = 0; i < count; ++i) {
    auto b = make_batch(records_each, first_ts + i * ts_step);
    REQUIRE(log.append(b, 0).ok());
  }
}

inline std::vector<fs::path> files_with_extension(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline void overwrite_byte(const fs::path& file, int64_t pos, char value) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(pos);
  f.put(value);
}

inline size_t count_dir_entries(const char* dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace kb::storage::test
