#include "storage/log_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <spdlog/spdlog.h>

#include "protocol/crc32c.h"
#include "protocol/record_batch.h"
#include "storage/files.h"
#include "storage/index.h"
#include "storage/log_dir_state.h"
#include "storage/segment.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {

// "<20 digits><ext>" -> base offset.
std::optional<int64_t> parse_base(const std::string& name, std::string_view ext) {
  if (name.size() != 20 + ext.size() || !name.ends_with(ext)) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    int d = c - '0';
    if (v > (INT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Checks a batch's CRC-32C by streaming it through `buf` (a corrupt length cannot make us
// allocate the whole file).
bool batch_crc_ok(int fd, int64_t pos, const BatchHeader& h, std::vector<uint8_t>& buf) {
  int64_t from = pos + static_cast<int64_t>(batch::kAttributes);
  int64_t remaining = h.total_size() - static_cast<int64_t>(batch::kAttributes);
  buf.resize(static_cast<size_t>(std::min<int64_t>(remaining, 1 << 20)));
  uint32_t crc = 0;
  while (remaining > 0) {
    size_t n = static_cast<size_t>(std::min<int64_t>(remaining, static_cast<int64_t>(buf.size())));
    if (!pread_exact(fd, buf.data(), n, from)) return false;
    crc = crc32c(buf.data(), n, crc);
    from += static_cast<int64_t>(n);
    remaining -= static_cast<int64_t>(n);
  }
  return crc == h.crc;
}

// After a bad batch at `pos`: is there a whole valid batch right after it? Then the damage is
// in the middle of the data, not a torn tail.
bool valid_batch_follows(int fd, int64_t pos, int64_t end, std::vector<uint8_t>& buf) {
  auto bad = header_at(fd, pos, end);
  if (!bad) return false;
  int64_t next = pos + bad->total_size();
  auto h = header_at(fd, next, end);
  return h && batch_crc_ok(fd, next, *h, buf);
}

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// What is wrong with an index file a scan is about to rebuild: entries out of order or past
// the segment; empty when it looks sane. Trailing all-zero entries are the unused part of a
// preallocated (active) index, not damage.
std::string index_damage(const fs::path& path, size_t entry_size, int64_t segment_size) {
  auto f = open_file(path, O_RDONLY);
  if (!f.ok()) return {};  // missing: nothing to say, it is built now
  struct stat st;
  if (::fstat((*f)->fd(), &st) != 0) return {};
  const size_t size = static_cast<size_t>(st.st_size);
  if (size % entry_size != 0) return "size " + std::to_string(size) + " is not a whole number of entries";
  std::vector<uint8_t> bytes(size);
  if (size > 0 && !pread_exact((*f)->fd(), bytes.data(), size, 0)) return "unreadable";
  const size_t n = size / entry_size;
  auto zero = [&](size_t i) {
    const uint8_t* e = bytes.data() + i * entry_size;
    return std::all_of(e, e + entry_size, [](uint8_t b) { return b == 0; });
  };
  size_t used = n;
  while (used > 0 && zero(used - 1)) --used;
  for (size_t i = 0; i < used; ++i) {
    const uint8_t* e = bytes.data() + i * entry_size;
    bool ok;
    if (entry_size == kOffsetEntrySize) {
      auto cur = decode_offset_entry(e);
      ok = cur.relative_offset >= 0 && cur.position > 0 && cur.position < segment_size;
      if (ok && i > 0) {
        auto prev = decode_offset_entry(e - entry_size);
        ok = cur.relative_offset > prev.relative_offset && cur.position > prev.position;
      }
    } else {
      auto cur = decode_time_entry(e);
      ok = cur.relative_offset >= 0;
      if (ok && i > 0) {
        auto prev = decode_time_entry(e - entry_size);
        ok = cur.timestamp > prev.timestamp && cur.relative_offset >= prev.relative_offset;
      }
    }
    if (!ok) return "entry " + std::to_string(i) + " of " + std::to_string(used) + " is out of order or past the segment";
  }
  return {};
}

}  // namespace

Status recover_segment(Segment& s, const LogConfig& c, bool last, std::optional<Error>& no_space) {
  auto f = open_file(s.log_path, O_RDONLY);
  if (!f.ok()) return f.error();
  int fd = (*f)->fd();
  const int64_t end = s.size;
  int64_t interval = std::max<int32_t>(c.index_interval_bytes, 1);
  int64_t index_bytes = std::max<int64_t>(c.segment_index_bytes, (end / interval + 3) * int64_t(kTimeEntrySize));
  s.offset_index.clear();
  s.time_index.clear();
  // No room for the indexes: the scan still checks the data and finds the log end; the
  // segment is then read without indexes.
  for (Index* index : {&s.offset_index, &s.time_index})
    if (auto st = index->map_writable(index_bytes); !st.ok()) {
      if (!is_out_of_space(st.error())) return st;
      if (!no_space) no_space = st.error();
    }
  s.next_offset = s.base;
  s.max_timestamp = -1;
  s.offset_of_max_timestamp = -1;
  s.last_time_entry = -1;
  s.bytes_since_index = 0;
  s.first_batch_timestamp = -1;

  std::vector<uint8_t> buf;
  int64_t pos = 0;
  std::string problem;
  bool torn_candidate = true;  // a damaged or incomplete batch, as a crash mid-write leaves
  while (pos < end) {
    auto h = header_at(fd, pos, end);
    if (!h) {
      problem = end - pos < static_cast<int64_t>(batch::kHeaderSize)
                    ? "a truncated batch header"
                    : "an invalid batch header or a batch running past the end of the file";
      break;
    }
    if (!batch_crc_ok(fd, pos, *h, buf)) {
      problem = "a CRC-32C mismatch";
      break;
    }
    if (h->base_offset < s.next_offset || h->last_offset_delta < 0 || h->last_offset() - s.base > INT32_MAX) {
      problem = "batch offsets out of order (base offset " + std::to_string(h->base_offset) + " where at least " +
                std::to_string(s.next_offset) + " was expected)";
      torn_candidate = false;  // a valid CRC: this is not a torn write
      break;
    }
    if (!s.index_batch(*h, pos, c.index_interval_bytes) && !no_space)
      no_space = Error{ErrorCode::KAFKA_STORAGE_ERROR, "no disk space for the index entries of " + s.log_path.string()};
    if (pos == 0) s.first_batch_timestamp = h->max_timestamp;
    s.next_offset = h->last_offset() + 1;
    pos += h->total_size();
  }
  s.seal();
  s.size = pos;
  if (pos == end) return {};

  if (!last || !torn_candidate || valid_batch_follows(fd, pos, end, buf))
    return Error{ErrorCode::KAFKA_STORAGE_ERROR,
                 "corrupt record batch in " + s.log_path.string() + " at byte " + std::to_string(pos) + ": " +
                     problem + (last ? "; valid data follows it" : "; later segments follow it") +
                     ", so this is not a torn tail and the log is not opened"};
  spdlog::warn("truncating torn tail of {} at byte {}: {} ({} bytes dropped, log end offset {})",
               s.log_path.string(), pos, problem, end - pos, s.next_offset);
  // Cutting a file frees blocks: this works on a full disk too.
  if (::truncate(s.log_path.c_str(), static_cast<off_t>(pos)) != 0)
    return io_error("cannot truncate", s.log_path, errno);
  return {};
}

LogLoader::LogLoader(fs::path dir, const LogConfig& config, const LogOpenOptions& options)
    : dir_(std::move(dir)), config_(config), options_(options) {}

Status LogLoader::complete_swaps() {
  // A <base>.log.swap means the compacted copy was complete and fsynced, so the swap is
  // finished (see Log::replace_cleaned_segment); index .swap files without their .log.swap
  // belong to a swap that had not started, and go. Renames need no disk space.
  auto entries = list_dir(dir_);
  if (!entries.ok()) return entries.error();
  std::vector<fs::path> swaps;
  for (const auto& e : *entries)
    if (e.path().filename().string().ends_with(".swap")) swaps.push_back(e.path());
  for (const auto& p : swaps)
    if (auto b = parse_base(p.filename().string(), ".log.swap")) swapped_.insert(*b);
  for (const auto& p : swaps) {
    std::string name = p.filename().string();
    fs::path target = p;
    target.replace_extension();  // drops ".swap"
    std::optional<int64_t> b = parse_base(name, ".log.swap");
    if (!b) b = parse_base(name, ".index.swap");
    if (!b) b = parse_base(name, ".timeindex.swap");
    if (!b) b = parse_base(name, ".txnindex.swap");
    std::error_code e2;
    if (b && swapped_.count(*b) && !name.ends_with(".log.swap")) fs::rename(p, target, e2);
    else if (!b || !swapped_.count(*b)) fs::remove(p, e2);
    if (e2)
      return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot complete the swap of " + p.string() + ": " + e2.message());
  }
  for (int64_t b : swapped_) {  // the .log last: its rename completes the swap
    fs::path p = dir_ / (segment_file_name(b, ".log") + ".swap");
    std::error_code e2;
    fs::rename(p, dir_ / segment_file_name(b, ".log"), e2);
    if (e2)
      return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot complete the swap of " + p.string() + ": " + e2.message());
    spdlog::warn("completed the interrupted cleaner swap of {}", p.string());
  }
  return {};
}

Status LogLoader::list_files() {
  auto entries = list_dir(dir_);
  if (!entries.ok()) return entries.error();
  std::vector<std::pair<int64_t, fs::path>> index_files;
  for (const auto& e : *entries) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".tmp")) {
      // An interrupted segment deletion, compaction or checkpoint write.
      std::error_code rm;
      fs::remove(e.path(), rm);
    } else if (auto b = parse_base(name, ".log")) {
      bases_.push_back(*b);
    } else if (auto i = parse_base(name, ".index")) {
      index_files.emplace_back(*i, e.path());
    } else if (auto t = parse_base(name, ".timeindex")) {
      index_files.emplace_back(*t, e.path());
    } else if (auto x = parse_base(name, kTxnIndexSuffix)) {
      index_files.emplace_back(*x, e.path());
      txn_bases_.insert(*x);
    }
  }
  std::sort(bases_.begin(), bases_.end());
  for (const auto& [b, p] : index_files) {
    if (!std::binary_search(bases_.begin(), bases_.end(), b)) {
      std::error_code rm;
      fs::remove(p, rm);  // an index without its segment (Kafka deletes those too)
    }
  }
  return {};
}

bool LogLoader::load_trusted(Segment& s, std::optional<int64_t> next_base, std::string& why) {
  std::string w;
  if (!s.offset_index.load_sealed(s.size, w)) {
    why = s.offset_index.path().filename().string() + " " + w;
    return false;
  }
  if (!s.time_index.load_sealed(s.size, w)) {
    why = s.time_index.path().filename().string() + " " + w;
    return false;
  }
  uint8_t e[kTimeEntrySize];
  if (s.time_index.count() > 0) {
    if (!s.time_index.read_entry(s.time_index.count() - 1, e)) {
      why = "time index unreadable";
      return false;
    }
    auto t = decode_time_entry(e);
    s.max_timestamp = t.timestamp;
    s.offset_of_max_timestamp = s.base + t.relative_offset;
    s.last_time_entry = t.timestamp;
  }
  if (next_base) {
    s.next_offset = *next_base;
    return true;
  }
  // The newest segment: Kafka's readNextOffset, the batch headers after the last index entry.
  int64_t pos = 0;
  if (s.offset_index.count() > 0) {
    if (!s.offset_index.read_entry(s.offset_index.count() - 1, e)) {
      why = "offset index unreadable";
      return false;
    }
    pos = decode_offset_entry(e).position;
  }
  s.bytes_since_index = s.size - pos;
  auto f = open_file(s.log_path, O_RDONLY);
  if (!f.ok()) {
    why = f.error().message;
    return false;
  }
  int fd = (*f)->fd();
  if (s.size > 0) {
    auto first = header_at(fd, 0, s.size);
    if (!first) {
      why = "no valid batch at the start of the segment";
      return false;
    }
    s.first_batch_timestamp = first->max_timestamp;
  }
  s.next_offset = s.base;
  while (pos < s.size) {
    auto h = header_at(fd, pos, s.size);
    if (!h || h->base_offset < s.next_offset) {
      why = "the data after byte " + std::to_string(pos) + " is not whole batches";
      return false;
    }
    if (h->max_timestamp > s.max_timestamp) {
      s.max_timestamp = h->max_timestamp;
      s.offset_of_max_timestamp = h->last_offset();
    }
    s.next_offset = h->last_offset() + 1;
    pos += h->total_size();
  }
  return true;
}

void LogLoader::note_damaged_indexes(const Segment& s) {
  for (const Index* index : {&s.offset_index, &s.time_index}) {
    const size_t entry = index == &s.offset_index ? kOffsetEntrySize : kTimeEntrySize;
    if (auto why = index_damage(index->path(), entry, s.size); !why.empty())
      spdlog::warn("rebuilding the damaged index {}: {}", index->path().string(), why);
  }
}

Status LogLoader::load_segment(size_t i, LoadedLog& out) {
  auto s = std::make_shared<Segment>(dir_, bases_[i]);
  const bool last = i + 1 == bases_.size();
  std::optional<int64_t> next_base;
  if (!last) next_base = bases_[i + 1];
  struct stat st;
  if (::stat(s->log_path.c_str(), &st) != 0) return io_error("cannot stat", s->log_path, errno);
  s->size = st.st_size;
  s->last_modified_ms = mtime_ms(st);
  s->created_ms = now_;
  // After a crash, every segment that may hold offsets at or past the recovery point is
  // scanned; older ones were fsynced and are trusted like after a clean shutdown.
  bool scan = (options_.recover && (last || *next_base > options_.recovery_point)) || swapped_.count(bases_[i]);
  std::string why;
  if (scan) {
    note_damaged_indexes(*s);
  } else if (!load_trusted(*s, next_base, why)) {
    spdlog::warn("rebuilding the indexes of {}: {}", s->log_path.string(), why);
    scan = true;
  }
  if (!txn_bases_.count(bases_[i])) {
    // no aborted transaction in this segment
  } else if (auto txns = read_txn_index(s->path_with(kTxnIndexSuffix)); txns.ok()) {
    s->aborted_txns = std::move(txns.value());
  } else {
    // The replica rebuilds entries from its scan of the log; older ones are lost.
    spdlog::warn("ignoring the transaction index of {}: {}", s->log_path.string(), txns.error().message);
    out.recovered_from = std::min(out.recovered_from, bases_[i]);
  }
  if (scan) {
    out.recovered_from = std::min(out.recovered_from, bases_[i]);
    std::optional<Error> no_space;
    if (auto r = recover_segment(*s, config_, last, no_space); !r.ok()) return r;
    if (no_space) {
      if (indexes_without_space_++ == 0) no_space_ = *no_space;
    }
    if (next_base && s->next_offset > *next_base)
      return Status(ErrorCode::KAFKA_STORAGE_ERROR, s->log_path.string() + " holds offsets up to " +
                                                        std::to_string(s->next_offset - 1) +
                                                        ", past the next segment's base offset " +
                                                        std::to_string(*next_base));
    // Recovered data came from the page cache; it counts as durable once fsynced again.
    if (options_.recover && !last) out.unsynced.push_back(s);
  }
  out.segments.push_back(std::move(s));
  return {};
}

Result<LoadedLog> LogLoader::load() {
  LoadedLog out;
  std::error_code ec;
  out.dir_created = !fs::exists(dir_, ec);
  fs::create_directories(dir_, ec);
  if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot create " + dir_.string() + ": " + ec.message()};
  if (auto s = complete_swaps(); !s.ok()) return s.error();
  if (auto s = list_files(); !s.ok()) return s.error();

  now_ = now_ms();
  for (size_t i = 0; i < bases_.size(); ++i)
    if (auto s = load_segment(i, out); !s.ok()) return s.error();
  if (indexes_without_space_ > 0) {
    spdlog::warn("no disk space to rebuild the indexes of {} segment(s) of {} ({}): the data is kept and read "
                 "without them; a later open rebuilds them",
                 indexes_without_space_, dir_.string(), no_space_.message);
    if (options_.dir_state) options_.dir_state->report(no_space_);
  }
  if (out.segments.empty()) {
    auto s = std::make_shared<Segment>(dir_, 0);
    auto f = open_file(s->log_path, O_RDWR | O_CREAT);
    if (!f.ok()) return f.error();
    s->created_ms = now_;
    s->last_modified_ms = now_;
    out.segments.push_back(std::move(s));
    out.dir_created = true;
  }
  out.log_end = out.segments.back()->next_offset;
  out.log_start = std::max(out.segments.front()->base, std::min(options_.log_start_offset, out.log_end));
  if (options_.recover) {
    out.recovery_point = std::clamp(options_.recovery_point, out.log_start, out.log_end);
    out.unflushed = out.segments.back()->size;  // the newest segment's data is synced by the next flush
  } else {
    out.recovery_point = out.log_end;
  }
  return out;
}

}  // namespace kb::storage
