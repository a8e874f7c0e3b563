// Log dirs as a whole: the lock that keeps a second broker out, a dir's health (offline on
// I/O errors, as Kafka), and repairs that are said in the log.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "storage/files.h"
#include "storage/log_dir_state.h"
#include "storage/log_manager.h"
#include "storage_test_util.h"

using namespace kb;
using namespace kb::storage;
using namespace kb::storage::test;

namespace {

// The lines logged while it lives (the default logger writes into a ring buffer meanwhile).
struct CapturedLog {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
  CapturedLog() { spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink)); }
  ~CapturedLog() { spdlog::set_default_logger(previous); }
  std::vector<std::string> lines_with(const std::string& needle) const {
    std::vector<std::string> out;
    for (const auto& l : sink->last_formatted())
      if (l.find(needle) != std::string::npos) out.push_back(l);
    return out;
  }
};

}  // namespace

TEST_CASE("a second log manager on a locked log dir is refused, naming the dir and the holder's pid") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path / "a", t.path / "b"};
  auto first = open_manager(o);
  auto batch = make_batch(1, 0);
  REQUIRE((*first->get_or_create({"t", 0}, {}))->append(batch, 0).ok());
  std::ifstream lock(t.path / "a" / ".lock");
  std::string pid;
  lock >> pid;
  CHECK(pid == std::to_string(::getpid()));

  LogManagerOptions other;
  other.log_dirs = {t.path / "b"};  // one of them is enough to refuse
  auto second = LogManager::open(other);
  REQUIRE_FALSE(second.ok());
  CHECK(second.code() == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(second.error().message.find((t.path / "b").string()) != std::string::npos);
  CHECK(second.error().message.find("pid " + std::to_string(::getpid())) != std::string::npos);
  // The refused manager changed nothing: the first one's shutdown still finds its dirs as it
  // left them, and then the dirs are free.
  first->shutdown();
  REQUIRE(fs::exists(t.path / "a" / ".kafka_cleanshutdown"));
  auto third = open_manager(o);
  CHECK_FALSE(third->recovered_after_crash());
  CHECK((*third->get_or_create({"t", 0}, {}))->log_end_offset() == Offset(1));
}

TEST_CASE("a full log dir is online again after a write succeeds; a failed one stays offline") {
  TempDir t;
  LogDirState state(t.path);
  CHECK(state.online());
  state.report(io_error("cannot write to", t.path / "x.log", ENOSPC));
  CHECK(state.health() == LogDirState::Health::full);
  CHECK(state.reason().find("No space left on device") != std::string::npos);
  state.write_succeeded();
  CHECK(state.online());
  CHECK(state.reason().empty());
  state.report(io_error("cannot write to", t.path / "x.log", EIO));
  CHECK(state.failed());
  state.write_succeeded();
  state.report(io_error("cannot write to", t.path / "x.log", ENOSPC));
  state.probe_space();
  CHECK(state.failed());
  CHECK(state.reason().find("Input/output error") != std::string::npos);
}

TEST_CASE("a log in a failed log dir refuses appends and still serves reads") {
  TempDir t;
  auto state = std::make_shared<LogDirState>(t.path);
  LogOpenOptions o;
  o.dir_state = state;
  auto log = std::move(Log::open(t.path / "t-0", {}, o).value());
  append_batches(*log, 3, 2, 0);
  state->report(io_error("fdatasync failed for", t.path / "t-0", EIO));
  auto b = make_batch(1, 10);
  auto refused = log->append(b, 0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.code() == ErrorCode::KAFKA_STORAGE_ERROR);
  CHECK(refused.error().message.find("offline") != std::string::npos);
  CHECK(read_offsets(*log, 0, 6) == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("the log manager reports a log dir that ran out of room, and its partitions, until a write succeeds") {
  TempDir t;
  LogManagerOptions o;
  o.log_dirs = {t.path / "a", t.path / "b"};
  auto m = open_manager(o);
  auto log = *m->get_or_create({"t", 0}, {});
  const fs::path dir = log->dir().parent_path();
  CHECK(m->is_log_dir_online(dir));
  {
    FileSizeLimit no_growth(0);
    auto b = make_batch(2, 0);
    REQUIRE_FALSE(log->append(b, 0).ok());
  }
  CHECK_FALSE(m->is_log_dir_online(dir));
  CHECK_FALSE(m->is_log_dir_online(dir / "." / ""));  // the same dir, spelled differently
  CHECK(m->is_partition_offline({"t", 0}));
  CHECK_FALSE(m->is_partition_offline({"absent", 0}));
  auto infos = m->log_dir_infos();
  REQUIRE(infos.size() == 2);
  const auto& bad = infos[0].path == dir ? infos[0] : infos[1];
  const auto& good = infos[0].path == dir ? infos[1] : infos[0];
  CHECK(bad.health == LogDirState::Health::full);
  CHECK_FALSE(bad.error.empty());
  CHECK(good.online());
  // A new partition goes to the dir that is online.
  CHECK((*m->get_or_create({"u", 0}, {}))->dir().parent_path() == good.path);
  auto b = make_batch(2, 0);
  REQUIRE(log->append(b, 0).ok());
  CHECK(m->is_log_dir_online(dir));
  CHECK_FALSE(m->is_partition_offline({"t", 0}));
  m->shutdown();
}

TEST_CASE("a damaged index found by crash recovery is rebuilt and said, naming the file") {
  TempDir t;
  fs::path dir = t.path / "t-0";
  LogConfig c;
  c.segment_bytes = 500;
  c.index_interval_bytes = 100;
  // A crash: the log is never closed, so its active segment's indexes stay preallocated
  // (entries, then zeros) while the rolled ones were trimmed.
  Log* crashed = open_log(dir, c).release();
  append_batches(*crashed, 30, 2, 1000);
  auto indexes = files_with_extension(dir, ".index");
  auto times = files_with_extension(dir, ".timeindex");
  REQUIRE(indexes.size() > 2);
  REQUIRE(fs::file_size(indexes.back()) > 1000);  // untrimmed
  REQUIRE(fs::file_size(indexes[0]) >= 16);
  REQUIRE(fs::file_size(times[1]) >= 24);
  overwrite_byte(indexes[0], 4, '\x7f');  // the first entry's position: past the segment
  overwrite_byte(times[1], 0, '\x7f');    // the first timestamp: after the later ones
  CapturedLog captured;
  auto log = open_log(dir, c, /*recover=*/true);
  auto said = captured.lines_with("rebuilding the damaged index");
  REQUIRE(said.size() == 2);
  CHECK(said[0].find(indexes[0].filename().string()) != std::string::npos);
  CHECK(said[1].find(times[1].filename().string()) != std::string::npos);
  // Indexes the crash left untrimmed are not damage: nothing else was said.
  CHECK(captured.lines_with("damaged").size() == 2);
  for (int64_t start = 0; start < 60; start += 7) REQUIRE(read_offsets(*log, start, 60).front() == start - start % 2);
  CHECK(log->offset_for_timestamp(1000 + 21)->offset == Offset(41));
}

TEST_CASE("running out of descriptors or memory does not take a log dir offline") {
  TempDir t;
  LogDirState state(t.path);
  state.report(io_error("cannot open", t.path / "x.log", EMFILE));
  state.report(io_error("cannot map", t.path / "x.index", ENOMEM));
  CHECK(state.online());
}
