#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/log.h"
#include "storage/log_manager.h"

using namespace kb;
using namespace kb::storage;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/kb-storage-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<uint8_t> make_batch(int records, int64_t ts, const std::string& tag = "v") {
  RecordBatchBuilder b;
  for (int i = 0; i < records; ++i) {
    std::string key = "k", value = tag;
    key += std::to_string(i);
    value += std::to_string(i);
    b.add(key, value, ts + i);
  }
  return b.build();
}

std::vector<uint8_t> read_bytes(const FileSlice& s) {
  std::vector<uint8_t> out(static_cast<size_t>(s.size));
  REQUIRE(::pread(s.fd, out.data(), out.size(), s.position) == static_cast<ssize_t>(out.size()));
  return out;
}

// Offsets of every record in the bytes of a read.
std::vector<int64_t> offsets_in(const std::vector<uint8_t>& bytes) {
  std::vector<int64_t> offs;
  size_t pos = 0;
  while (pos < bytes.size()) {
    auto h = read_batch_header(std::span<const uint8_t>(bytes).subspan(pos));
    REQUIRE(h.ok());
    REQUIRE(for_each_record(std::span<const uint8_t>(bytes).subspan(pos, h->total_size()),
                            [&](const RecordView& r) { offs.push_back(r.offset); })
                .ok());
    pos += static_cast<size_t>(h->total_size());
  }
  return offs;
}

std::unique_ptr<Log> open_log(const fs::path& dir, LogConfig c = {}, bool recover = false) {
  auto l = Log::open(dir, c, recover);
  REQUIRE(l.ok());
  return std::move(l.value());
}

}  // namespace

TEST_CASE("appends get contiguous offsets across segment rolls and read back whole batches") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 1000;
  c.index_interval_bytes = 200;
  auto log = open_log(t.path / "t-0", c);
  int64_t expect = 0;
  for (int i = 0; i < 50; ++i) {
    auto b = make_batch(5, 1000 * i);
    auto info = log->append(b, 3);
    REQUIRE(info.ok());
    REQUIRE(info->first_offset == Offset(expect));
    REQUIRE(info->last_offset == Offset(expect + 4));
    expect += 5;
  }
  REQUIRE(log->log_end_offset() == Offset(250));
  REQUIRE(log->segment_count() > 5);

  // From the middle of a batch: that batch first.
  auto r = log->read(Offset(17), 1 << 20, Offset(250), true);
  REQUIRE(r.ok());
  REQUIRE(r->slice);
  auto offs = offsets_in(read_bytes(*r->slice));
  REQUIRE(offs.front() == 15);
  REQUIRE(offs.back() >= 19);
  for (size_t i = 1; i < offs.size(); ++i) REQUIRE(offs[i] == offs[i - 1] + 1);

  // The high watermark bounds what is returned.
  auto capped = log->read(Offset(0), 1 << 20, Offset(10), true);
  REQUIRE(offsets_in(read_bytes(*capped->slice)).back() == 9);

  // max_bytes smaller than a batch: nothing unless min_one_batch.
  REQUIRE_FALSE(log->read(Offset(0), 10, Offset(250), false)->slice);
  REQUIRE(offsets_in(read_bytes(*log->read(Offset(0), 10, Offset(250), true)->slice)).size() == 5);
}

TEST_CASE("reads outside the log are OFFSET_OUT_OF_RANGE and at the end are empty") {
  TempDir t;
  auto log = open_log(t.path / "t-0");
  auto b = make_batch(3, 1);
  REQUIRE(log->append(b, 0).ok());
  REQUIRE(log->read(Offset(4), 100, Offset(3), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  REQUIRE(log->read(Offset(-1), 100, Offset(3), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);
  auto end = log->read(Offset(3), 100, Offset(3), true);
  REQUIRE(end.ok());
  REQUIRE_FALSE(end->slice);
}

TEST_CASE("offset_for_timestamp finds the first record at or after the time") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 600;
  auto log = open_log(t.path / "t-0", c);
  for (int i = 0; i < 20; ++i) {
    auto b = make_batch(4, 10000 + 100 * i);  // records at 10000+100i .. +3
    REQUIRE(log->append(b, 0).ok());
  }
  auto f = log->offset_for_timestamp(10000 + 100 * 7 + 2);
  REQUIRE(f);
  REQUIRE(f->offset == Offset(7 * 4 + 2));
  REQUIRE(log->offset_for_timestamp(0)->offset == Offset(0));
  REQUIRE_FALSE(log->offset_for_timestamp(99999));
  REQUIRE(log->max_timestamp()->timestamp == 10000 + 100 * 19 + 3);
}

TEST_CASE("a torn tail is truncated on recovery and appends continue at the right offset") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  {
    auto log = open_log(dir);
    for (int i = 0; i < 10; ++i) {
      auto b = make_batch(2, i);
      REQUIRE(log->append(b, 0).ok());
    }
    // no close(): as if killed
  }
  fs::path seg = dir / "00000000000000000000.log";
  fs::resize_file(seg, fs::file_size(seg) - 5);
  auto log = open_log(dir, {}, true);
  REQUIRE(log->log_end_offset() == Offset(18));
  auto b = make_batch(2, 100);
  auto info = log->append(b, 0);
  REQUIRE(info->first_offset == Offset(18));
  REQUIRE(offsets_in(read_bytes(*log->read(Offset(0), 1 << 20, Offset(20), true)->slice)).size() == 20);
}

TEST_CASE("a corrupt batch in the middle of the log stops recovery and names the file") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 300;
  {
    auto log = open_log(dir, c);
    for (int i = 0; i < 20; ++i) {
      auto b = make_batch(3, i);
      REQUIRE(log->append(b, 0).ok());
    }
    log->close();
  }
  fs::path first = dir / "00000000000000000000.log";
  {
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(70);
    f.put('\x7f');
  }
  auto reopened = Log::open(dir, c, true);
  REQUIRE_FALSE(reopened.ok());
  REQUIRE(reopened.error().message.find(first.string()) != std::string::npos);
}

TEST_CASE("missing index files are rebuilt and the log reads the same after a clean reopen") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 500;
  c.index_interval_bytes = 100;
  {
    auto log = open_log(dir, c);
    for (int i = 0; i < 30; ++i) {
      auto b = make_batch(2, i);
      REQUIRE(log->append(b, 0).ok());
    }
    log->close();
  }
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".index") fs::remove(e.path());
  auto log = open_log(dir, c);
  REQUIRE(log->log_end_offset() == Offset(60));
  auto r = log->read(Offset(33), 1 << 20, Offset(60), true);
  REQUIRE(offsets_in(read_bytes(*r->slice)).front() == 32);
}

TEST_CASE("retention by bytes and by time deletes old segments and moves the log start") {
  TempDir t;
  LogConfig c;
  c.segment_bytes = 400;
  c.retention_bytes = 1000;
  auto log = open_log(t.path / "t-0", c);
  for (int i = 0; i < 40; ++i) {
    auto b = make_batch(2, 1000 + i);
    REQUIRE(log->append(b, 0).ok());
  }
  int before = log->segment_count();
  REQUIRE(log->apply_retention(5000) > 0);
  REQUIRE(log->segment_count() < before);
  REQUIRE(log->log_start_offset() > Offset(0));
  REQUIRE(log->size_bytes() < 1000 + 400 + 200);
  REQUIRE(log->read(Offset(0), 100, Offset(80), true).code() == ErrorCode::OFFSET_OUT_OF_RANGE);

  LogConfig byTime = c;
  byTime.retention_bytes = -1;
  byTime.retention_ms = 100;
  log->set_config(byTime);
  log->apply_retention(1000 + 40 + 1000);  // everything is older than 100 ms
  REQUIRE(log->log_start_offset() == log->log_end_offset());
}

TEST_CASE("the log manager recovers only after an unclean shutdown and finds its partitions") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  {
    auto m = LogManager::open(o);
    REQUIRE(m.ok());
    REQUIRE_FALSE((*m)->recovered_after_crash());
    auto log = (*m)->get_or_create({"my-topic", 2}, {});
    REQUIRE(log.ok());
    auto b = make_batch(1, 1);
    REQUIRE((*log)->append(b, 0).ok());
    (*m)->shutdown();
  }
  REQUIRE(fs::exists(t.path / ".kafka_cleanshutdown"));
  {
    auto m = LogManager::open(o);
    REQUIRE_FALSE((*m)->recovered_after_crash());
    auto parts = (*m)->existing_partitions();
    REQUIRE(parts.size() == 1);
    REQUIRE(parts[0] == TopicPartition{"my-topic", 2});
    REQUIRE((*(*m)->get_or_create(parts[0], {}))->log_end_offset() == Offset(1));
    // dropped without shutdown(): no marker is written
    REQUIRE_FALSE(fs::exists(t.path / ".kafka_cleanshutdown"));
    auto* leak = m->release();  // simulate a crash: no destructor, no marker
    (void)leak;
  }
  auto m = LogManager::open(o);
  REQUIRE((*m)->recovered_after_crash());
}

namespace {
size_t count_entries(const char* dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
size_t count_lines_containing(const char* file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}
}  // namespace

TEST_CASE("thousands of quiet partitions hold no descriptors or index mappings") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  auto m = std::move(LogManager::open(o).value());
  size_t fds_before = count_entries("/proc/self/fd");
  std::vector<std::shared_ptr<Log>> logs;
  for (int p = 0; p < 2000; ++p) {
    LogConfig c;
    c.segment_index_bytes = 4096;
    auto log = m->get_or_create({"many", p}, c);
    REQUIRE(log.ok());
    auto b = make_batch(1, p);
    REQUIRE((*log)->append(b, 0).ok());
    logs.push_back(*log);
    // Release as we go, so the test also runs under a default 1024-descriptor limit.
    if (p % 200 == 199) REQUIRE(m->release_idle_handles(0) == 200);
  }
  REQUIRE(count_entries("/proc/self/fd") < fds_before + 50);
  REQUIRE(count_lines_containing("/proc/self/maps", t.path.string()) == 0);
  // Released logs append and read as before.
  auto b = make_batch(2, 5);
  auto info = logs[1234]->append(b, 0);
  REQUIRE(info.ok());
  REQUIRE(info->first_offset == Offset(1));
  auto r = logs[1234]->read(Offset(0), 1 << 20, Offset(3), true);
  REQUIRE(offsets_in(read_bytes(*r->slice)) == std::vector<int64_t>{0, 1, 2});
  REQUIRE(logs[7]->read(Offset(0), 1 << 20, Offset(1), true)->slice);
  m->shutdown();
}
