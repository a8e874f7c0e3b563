// The log manager: partitions across restarts, the clean-shutdown marker, recovery points,
// bounded descriptors, the background thread.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "storage/log_manager.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

size_t count_lines_containing(const char* file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.find(needle) != std::string::npos;
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Waits for a condition the background thread brings about; the generous limit only stops a
// broken build from hanging, the test asserts on the outcome, not on how long it took.
template <class F>
bool eventually(F condition) {
  for (int i = 0; i < 2000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace

TEST_CASE("a restart finds every partition, topics with dashes included, with their data") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path / "a", t.path / "b"};
  {
    auto m = open_manager(o);
    REQUIRE_FALSE(m->recovered_after_crash());
    for (auto tp : {TopicPartition{"my-topic", 2}, TopicPartition{"my-topic", 10}, TopicPartition{"plain", 0},
                    TopicPartition{"__cluster_metadata", 0}}) {
      auto log = m->get_or_create(tp, {});
      REQUIRE(log.ok());
      append_batches(**log, tp.partition + 1, 1, 0);
    }
    REQUIRE(m->get({"plain", 0}) != nullptr);
    REQUIRE(m->get({"absent", 0}) == nullptr);
    m->shutdown();
  }
  // New partitions were spread over both log dirs.
  REQUIRE(fs::exists(t.path / "a" / ".kafka_cleanshutdown"));
  REQUIRE(fs::exists(t.path / "b" / ".kafka_cleanshutdown"));
  size_t in_a = 0, in_b = 0;
  for (const auto& e : fs::directory_iterator(t.path / "a")) in_a += e.is_directory();
  for (const auto& e : fs::directory_iterator(t.path / "b")) in_b += e.is_directory();
  REQUIRE(in_a == 2);
  REQUIRE(in_b == 2);

  auto m = open_manager(o);
  REQUIRE_FALSE(m->recovered_after_crash());
  auto parts = m->existing_partitions();
  std::sort(parts.begin(), parts.end());
  REQUIRE(parts == std::vector<TopicPartition>{{"__cluster_metadata", 0}, {"my-topic", 2}, {"my-topic", 10}, {"plain", 0}});
  REQUIRE((*m->get_or_create({"my-topic", 10}, {}))->log_end_offset() == Offset(11));
  REQUIRE((*m->get_or_create({"my-topic", 2}, {}))->log_end_offset() == Offset(3));
  // The marker is gone while the broker runs: a crash now must be noticed.
  REQUIRE_FALSE(fs::exists(t.path / "a" / ".kafka_cleanshutdown"));
  m->shutdown();
}

TEST_CASE("without the clean-shutdown marker logs are recovered; with it they are not") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  o.lock_dirs = false;  // the "crashed" manager below stays alive in this process
  fs::path seg = t.path / "t-0" / "00000000000000000000.log";
  {
    auto m = open_manager(o);
    append_batches(**m->get_or_create({"t", 0}, {}), 5, 2, 0);
    m->shutdown();
  }
  // After a clean shutdown a torn tail is not looked for (the marker vouches for the data):
  // garbage appended behind the broker's back is found by the header walk, which then
  // recovers only that segment.
  {
    auto m = open_manager(o);
    REQUIRE_FALSE(m->recovered_after_crash());
    auto log = m->get_or_create({"t", 0}, {});
    REQUIRE((*log)->log_end_offset() == Offset(10));
    append_batches(**log, 1, 2, 100);
    auto* crashed = m.release();  // a crash: no shutdown, no marker
    (void)crashed;
  }
  fs::resize_file(seg, fs::file_size(seg) - 3);  // the last write was torn
  auto m = open_manager(o);
  REQUIRE(m->recovered_after_crash());
  auto log = m->get_or_create({"t", 0}, {});
  REQUIRE(log.ok());
  REQUIRE((*log)->log_end_offset() == Offset(10));
  m->shutdown();
}

TEST_CASE("recovery points are checkpointed in Kafka's format and limit what a recovery scans") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  o.lock_dirs = false;  // the "crashed" manager below stays alive in this process
  LogConfig c;
  c.segment_bytes = 300;
  int64_t rp = 0;
  {
    auto m = open_manager(o);
    auto log = *m->get_or_create({"t", 0}, c);
    append_batches(*log, 20, 3, 0);
    REQUIRE(log->flush_rolled_segments().ok());
    rp = log->recovery_point().value();
    REQUIRE(rp > 0);
    REQUIRE(m->checkpoint_recovery_points().ok());
    REQUIRE(slurp(t.path / "recovery-point-offset-checkpoint") == "0\n1\nt 0 " + std::to_string(rp) + "\n");
    auto* crashed = m.release();
    (void)crashed;
  }
  // Damage below the recovery point goes unnoticed (that data was fsynced); a scan of
  // everything would refuse to open the log.
  overwrite_byte(t.path / "t-0" / "00000000000000000000.log", 70, '\x7f');
  auto m = open_manager(o);
  REQUIRE(m->recovered_after_crash());
  auto log = m->get_or_create({"t", 0}, c);
  REQUIRE(log.ok());
  REQUIRE((*log)->log_end_offset() == Offset(60));
  m->shutdown();
  // Shutdown checkpoints the final recovery point: the log end.
  REQUIRE(slurp(t.path / "recovery-point-offset-checkpoint") == "0\n1\nt 0 60\n");
}

TEST_CASE("directories of deleted topics are removed at start and remove() deletes a partition") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  fs::create_directories(t.path / "gone-0.0123abcd-delete");
  std::ofstream(t.path / "gone-0.0123abcd-delete" / "00000000000000000000.log") << "x";
  fs::create_directories(t.path / "lost+found");  // not a partition directory: left alone
  auto m = open_manager(o);
  REQUIRE_FALSE(fs::exists(t.path / "gone-0.0123abcd-delete"));
  REQUIRE(fs::exists(t.path / "lost+found"));
  REQUIRE(m->existing_partitions().empty());
  auto log = m->get_or_create({"doomed", 1}, {});
  append_batches(**log, 2, 2, 0);
  REQUIRE(m->remove({"doomed", 1}).ok());
  REQUIRE_FALSE(fs::exists(t.path / "doomed-1"));
  REQUIRE(m->get({"doomed", 1}) == nullptr);
  REQUIRE(m->existing_partitions().empty());
  // Re-created from scratch afterwards.
  REQUIRE((*m->get_or_create({"doomed", 1}, {}))->log_end_offset() == Offset(0));
  m->shutdown();
}

TEST_CASE("thousands of partitions stay within a bounded number of descriptors and mappings") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  auto m = open_manager(o);
  size_t fds_before = count_dir_entries("/proc/self/fd");
  std::vector<std::shared_ptr<Log>> logs;
  LogConfig c;
  c.segment_index_bytes = 4096;
  for (int p = 0; p < 2000; ++p) {
    auto log = m->get_or_create({"many", p}, c);
    REQUIRE(log.ok());
    logs.push_back(*log);
  }
  // Opening costs nothing: the active segment opens on first use.
  REQUIRE(count_dir_entries("/proc/self/fd") < fds_before + 10);
  for (int p = 0; p < 2000; ++p) {
    auto b = make_batch(1, p);
    REQUIRE(logs[p]->append(b, 0).ok());
    // Quiet logs give their handles back (the background thread does this after
    // idle_handle_ms); releasing as we go also keeps the test under a 1024-descriptor limit.
    if (p % 200 == 199) REQUIRE(m->release_idle_handles(0) == 200);
  }
  REQUIRE(count_dir_entries("/proc/self/fd") < fds_before + 50);
  REQUIRE(count_lines_containing("/proc/self/maps", t.path.string()) == 0);
  // Released logs append and read as before.
  auto b = make_batch(2, 5);
  auto info = logs[1234]->append(b, 0);
  REQUIRE(info.ok());
  REQUIRE(info->first_offset == Offset(1));
  REQUIRE(read_offsets(*logs[1234], 0, 3) == std::vector<int64_t>{0, 1, 2});
  REQUIRE(logs[7]->read(Offset(0), 1 << 20, Offset(1), true)->slice);
  m->shutdown();
}

TEST_CASE("reading many old segments keeps at most max_open_files of them open") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  o.max_open_files = 5;
  auto m = open_manager(o);
  LogConfig c;
  c.segment_bytes = 200;
  auto log = *m->get_or_create({"t", 0}, c);
  append_batches(*log, 60, 2, 0);
  REQUIRE(log->segment_count() > 20);
  size_t fds_before = count_dir_entries("/proc/self/fd");
  for (int pass = 0; pass < 2; ++pass) {
    for (int64_t next = 0; next < 120;) {
      auto r = log->read(Offset(next), 1 << 20, Offset(120), true);
      REQUIRE(r.ok());
      REQUIRE(r->slice);
      auto offs = offsets_in(read_bytes(*r->slice));
      REQUIRE(offs.front() == next);
      next = offs.back() + 1;
      REQUIRE(m->open_segment_files() <= 5);
    }
  }
  REQUIRE(m->open_segment_files() == 5);
  REQUIRE(count_dir_entries("/proc/self/fd") <= fds_before + 5 + 1);
  m->shutdown();
}

TEST_CASE("the background thread applies retention and flushes, and shutdown stops it") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path};
  o.retention_check_interval_ms = 20;
  o.flush_interval_ms = 20;
  auto m = open_manager(o);
  LogConfig c;
  c.segment_bytes = 300;
  c.retention_bytes = 400;
  auto log = *m->get_or_create({"t", 0}, c);
  append_batches(*log, 30, 2, 0);
  REQUIRE(log->dirty());
  m->start();
  REQUIRE(eventually([&] { return log->log_start_offset() > Offset(0) && !log->dirty(); }));
  REQUIRE(log->size_bytes() < 400 + 300);
  REQUIRE(log->recovery_point() == log->log_end_offset());
  m->shutdown();
  REQUIRE(fs::exists(t.path / ".kafka_cleanshutdown"));
  REQUIRE(m->get_or_create({"late", 0}, {}).code() == ErrorCode::KAFKA_STORAGE_ERROR);
}
