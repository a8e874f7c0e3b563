#include "storage/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <vector>

#include <spdlog/spdlog.h>

#include "protocol/crc32c.h"
#include "protocol/record_batch.h"
#include "storage/file_cache.h"
#include "storage/files.h"
#include "storage/index.h"
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

std::string random_hex() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
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

}  // namespace

struct Log::Impl {
  fs::path dir;
  std::shared_ptr<FileCache> cache;

  mutable std::mutex mu;  // guards everything below, and every Segment's mutable fields
  // Every config ever set: config() hands out references, so old ones stay alive.
  std::vector<std::unique_ptr<LogConfig>> configs;
  std::atomic<const LogConfig*> current_config{nullptr};
  std::vector<std::shared_ptr<Segment>> segments;  // by base offset; never empty once open
  int64_t log_start = 0;
  int64_t log_end = 0;
  int64_t recovery_point = 0;
  // Rolled segments not yet fsynced (with the descriptor they were written through).
  struct PendingSync {
    std::shared_ptr<Segment> segment;
    std::shared_ptr<FileHandle> fd;
  };
  std::vector<PendingSync> pending;
  int64_t unflushed = 0;   // bytes appended to the active segment since its last fsync
  bool dir_dirty = false;  // segment files created or deleted since the directory's last fsync
  bool appended = false;   // since open: the active segment's indexes changed
  int64_t last_used_ms = 0;
  bool closed = false;
  int64_t recovered_from = INT64_MAX;  // base of the first segment open() scanned

  std::mutex flush_mu;  // one flush at a time (the flusher thread, a controller, close)

  const LogConfig& cfg() const { return *current_config.load(); }
  Segment& active() { return *segments.back(); }

  Error closed_error() const {
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, "log " + dir.string() + " is closed"};
  }

  // Index of the first segment that may hold `offset`, or segments.size().
  size_t segment_for(int64_t offset) const {
    auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                               [](int64_t o, const std::shared_ptr<Segment>& s) { return o < s->base; });
    size_t i = it == segments.begin() ? 0 : static_cast<size_t>(it - segments.begin()) - 1;
    while (i < segments.size() && segments[i]->next_offset <= offset) ++i;
    return i;
  }

  Status ensure_active_open() {
    Segment& a = active();
    if (a.fd && a.offset_index.mapped() && a.time_index.mapped()) return {};
    return a.open_active(cfg().segment_index_bytes);
  }

  // Seals the active segment (the flusher fsyncs it) and starts a new one at the log end.
  Status roll(int64_t now) {
    auto old = segments.back();
    pending.push_back({old, old->seal()});
    unflushed = 0;  // those bytes are now the pending segment's
    auto s = std::make_shared<Segment>(dir, log_end);
    // A file already named so holds nothing the log tracks (a crash right after creating
    // it): start it empty.
    auto f = open_file(s->log_path, O_RDWR | O_CREAT | O_TRUNC);
    if (!f.ok()) return f.error();
    s->fd = std::move(f.value());
    s->offset_index.clear();
    s->time_index.clear();
    if (auto st = s->open_active(cfg().segment_index_bytes); !st.ok()) return st;
    s->created_ms = now;
    s->last_modified_ms = now;
    segments.push_back(std::move(s));
    dir_dirty = true;
    spdlog::debug("rolled {} to a new segment at offset {}", dir.string(), log_end);
    return {};
  }

  // Under mu: writes whole batches at the end of `seg` (the active segment), indexes them
  // (`placed`: each header with its position in the segment) and moves the log end to `next`.
  // Once pwrite returns, the bytes are in the page cache: a kill -9 now loses nothing. On a
  // failure nothing becomes visible (size and log end stay), and the next append overwrites.
  Status write_at_end(Segment& seg, std::span<const uint8_t> batches,
                      const std::vector<std::pair<BatchHeader, int64_t>>& placed, int64_t next, int64_t now) {
    if (auto st = pwrite_all(seg.fd->fd(), batches.data(), batches.size(), seg.size, seg.log_path); !st.ok())
      return st;
    for (const auto& [h, pos] : placed) {
      if (pos == 0) seg.first_batch_timestamp = h.max_timestamp;
      seg.index_batch(h, pos, cfg().index_interval_bytes);
    }
    const int64_t bytes = static_cast<int64_t>(batches.size());
    seg.size += bytes;
    seg.next_offset = next;
    seg.last_modified_ms = now;
    log_end = next;
    unflushed += bytes;
    appended = true;
    last_used_ms = now;
    return {};
  }

  // Under mu: opens the active segment, and rolls it first when `bytes` more, up to offset
  // `last_offset` with timestamps up to `max_ts`, would overfill it.
  Status roll_if_full(int64_t bytes, int64_t last_offset, int64_t max_ts, int64_t now) {
    if (auto st = ensure_active_open(); !st.ok()) return st;
    Segment& seg = active();
    if (seg.size == 0) return {};
    const LogConfig& c = cfg();
    bool by_size = seg.size + bytes > c.segment_bytes || seg.size + bytes > INT32_MAX;
    // segment.ms, as Kafka: by message time since the first batch, or by wall time since
    // the segment was created when it has no timestamps.
    bool by_time = seg.first_batch_timestamp >= 0 ? max_ts - seg.first_batch_timestamp > c.segment_ms
                                                  : now - seg.created_ms > c.segment_ms;
    bool index_full = seg.offset_index.full() || seg.time_index.full();
    bool offsets_overflow = last_offset - seg.base > INT32_MAX;  // relative offsets are int32
    if (by_size || by_time || index_full || offsets_overflow) return roll(now);
    return {};
  }

  // A read-side view of one segment: taken under `mu`, used without it.
  struct Snapshot {
    std::shared_ptr<Segment> seg;
    int64_t size = 0;
    int64_t next_offset = 0;
    std::shared_ptr<FileHandle> fd;  // the active segment's (else filled from the cache)
    IndexView offsets, times;
    std::shared_ptr<const SegmentFiles> files;
    int raw_fd() const { return files ? files->log->fd() : fd->fd(); }
    std::shared_ptr<const void> owner() const {
      if (files) return files->log;
      return fd;
    }
  };
  // Under mu.
  Status snapshot(size_t i, Snapshot& out) {
    out.seg = segments[i];
    out.size = out.seg->size;
    out.next_offset = out.seg->next_offset;
    if (i + 1 == segments.size()) {
      if (auto s = ensure_active_open(); !s.ok()) return s;
      out.fd = out.seg->fd;
      out.offsets = out.seg->offset_index.view();
      out.times = out.seg->time_index.view();
      last_used_ms = now_ms();
    }
    return {};
  }
  // Without mu: sealed segments' files come from the cache.
  Status open_snapshot(Snapshot& s) {
    if (s.fd) return {};
    auto f = cache->get(*s.seg);
    if (!f.ok()) return f.error();
    s.files = std::move(f.value());
    s.offsets = s.files->offsets;
    s.times = s.files->times;
    return {};
  }

  // Trusts a segment found on disk: its indexes (checked for plausibility) give the max
  // timestamp; for the newest segment the batch headers after the last index entry give the
  // log end (Kafka's readNextOffset). False (with the reason) when it must be rebuilt.
  bool load_trusted(Segment& s, std::optional<int64_t> next_base, std::string& why) {
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

  // Scans a whole segment, checking every batch's header, CRC-32C and offsets, and rebuilds
  // both indexes. A bad batch at the tail of the newest segment is a torn write: the file is
  // truncated there. Anything else is an error naming the file and byte position: data is
  // never dropped from the middle of a log.
  Status recover_segment(Segment& s, bool last) {
    auto f = open_file(s.log_path, O_RDONLY);
    if (!f.ok()) return f.error();
    int fd = (*f)->fd();
    const int64_t end = s.size;
    const LogConfig& c = cfg();
    int64_t interval = std::max<int32_t>(c.index_interval_bytes, 1);
    int64_t index_bytes = std::max<int64_t>(c.segment_index_bytes, (end / interval + 3) * int64_t(kTimeEntrySize));
    s.offset_index.clear();
    s.time_index.clear();
    if (auto st = s.offset_index.map_writable(index_bytes); !st.ok()) return st;
    if (auto st = s.time_index.map_writable(index_bytes); !st.ok()) return st;
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
      s.index_batch(*h, pos, c.index_interval_bytes);
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
    if (::truncate(s.log_path.c_str(), static_cast<off_t>(pos)) != 0)
      return io_error("cannot truncate", s.log_path, errno);
    return {};
  }

  int64_t total_size() const {
    int64_t n = 0;
    for (const auto& s : segments) n += s->size;
    return n;
  }

  // fsyncs rolled segments, and with `all` the active one, then moves the recovery point.
  Status flush(bool all) {
    std::lock_guard fl(flush_mu);
    std::vector<PendingSync> batch;
    std::shared_ptr<Segment> act;
    std::shared_ptr<FileHandle> act_fd;
    int64_t end = 0, flushed = 0;
    bool sync_directory = false;
    {
      std::lock_guard lk(mu);
      batch.swap(pending);
      if (all) {
        end = log_end;
        if (unflushed > 0) {
          act = segments.back();
          act_fd = act->fd;
          flushed = unflushed;
          unflushed = 0;
        }
      }
      sync_directory = dir_dirty;
      dir_dirty = false;
    }
    // The fsyncs run without the log's mutex: appends and reads go on meanwhile.
    Status st;
    for (const auto& p : batch) {
      if (p.segment->deleted.load()) continue;
      st = p.fd ? sync_fd(p.fd->fd(), p.segment->log_path) : sync_path(p.segment->log_path);
      if (st.ok()) st = sync_path(p.segment->offset_index.path());
      if (st.ok()) st = sync_path(p.segment->time_index.path());
      if (std::error_code ec; st.ok() && fs::exists(p.segment->path_with(kTxnIndexSuffix), ec))
        st = sync_path(p.segment->path_with(kTxnIndexSuffix));
      if (!st.ok() && p.segment->deleted.load()) st = {};  // retention removed it meanwhile
      if (!st.ok()) break;
    }
    if (st.ok() && sync_directory) st = sync_dir(dir);
    if (st.ok() && act) st = act_fd ? sync_fd(act_fd->fd(), act->log_path) : sync_path(act->log_path);

    std::lock_guard lk(mu);
    if (!st.ok()) {
      pending.insert(pending.begin(), batch.begin(), batch.end());
      unflushed += flushed;
      dir_dirty = dir_dirty || sync_directory;
      return st;
    }
    if (!batch.empty()) recovery_point = std::max(recovery_point, batch.back().segment->next_offset);
    if (all) recovery_point = std::max(recovery_point, end);
    recovery_point = std::min(recovery_point, log_end);
    return {};
  }

  // Moves segments out of the log (retention), then renames their files to .deleted and
  // unlinks them. A reader that still holds a descriptor keeps reading the unlinked file.
  void delete_segments(const std::vector<std::shared_ptr<Segment>>& doomed) {
    for (const auto& s : doomed) {
      cache->erase(s->id);
      for (const char* ext : {".log", ".index", ".timeindex", kTxnIndexSuffix}) {
        fs::path p = s->path_with(ext);
        fs::path d = p;
        d += ".deleted";
        // The rename first: a crash between the two leaves a .deleted file that the next
        // open removes, never a half-deleted segment that looks live.
        if (::rename(p.c_str(), d.c_str()) == 0) ::unlink(d.c_str());
        else if (errno != ENOENT) spdlog::warn("cannot delete {}: {}", p.string(), std::strerror(errno));
      }
    }
  }
};

Result<std::unique_ptr<Log>> Log::open(const fs::path& dir, LogConfig config, bool recover) {
  LogOpenOptions o;
  o.recover = recover;
  return open(dir, std::move(config), o);
}

Result<std::unique_ptr<Log>> Log::open(const fs::path& dir, LogConfig config, const LogOpenOptions& o) {
  std::error_code ec;
  bool created = !fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot create " + dir.string() + ": " + ec.message()};
  std::unique_ptr<Log> log(new Log());
  log->impl_ = std::make_unique<Impl>();
  Impl& d = *log->impl_;
  d.dir = dir;
  d.cache = o.file_cache ? o.file_cache : FileCache::default_cache();
  d.configs.push_back(std::make_unique<LogConfig>(std::move(config)));
  d.current_config = d.configs.back().get();
  d.dir_dirty = created;
  d.closed = true;  // until the open succeeds: a failed open closes nothing and flushes nothing

  // A cleaner swap interrupted by a crash (see replace_cleaned_segment): a <base>.log.swap
  // means the compacted copy was complete and fsynced, so the swap is finished; index .swap
  // files without their .log.swap belong to a swap that had not started, and go.
  std::set<int64_t> swapped;
  {
    std::vector<fs::path> swaps;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().filename().string().ends_with(".swap")) swaps.push_back(e.path());
    if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot list " + dir.string() + ": " + ec.message()};
    for (const auto& p : swaps)
      if (auto b = parse_base(p.filename().string(), ".log.swap")) swapped.insert(*b);
    for (const auto& p : swaps) {
      std::string name = p.filename().string();
      fs::path target = p;
      target.replace_extension();  // drops ".swap"
      std::optional<int64_t> b = parse_base(name, ".log.swap");
      if (!b) b = parse_base(name, ".index.swap");
      if (!b) b = parse_base(name, ".timeindex.swap");
      if (!b) b = parse_base(name, ".txnindex.swap");
      std::error_code e2;
      if (b && swapped.count(*b) && !name.ends_with(".log.swap")) fs::rename(p, target, e2);
      else if (!b || !swapped.count(*b)) fs::remove(p, e2);
      if (e2) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot complete the swap of " + p.string() + ": " + e2.message()};
    }
    for (int64_t b : swapped) {  // the .log last: its rename completes the swap
      fs::path p = dir / (segment_file_name(b, ".log") + ".swap");
      std::error_code e2;
      fs::rename(p, dir / segment_file_name(b, ".log"), e2);
      if (e2) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot complete the swap of " + p.string() + ": " + e2.message()};
      spdlog::warn("completed the interrupted cleaner swap of {}", p.string());
    }
  }

  std::vector<int64_t> bases;
  std::vector<std::pair<int64_t, fs::path>> index_files;
  std::set<int64_t> txn_bases;  // segments with a .txnindex (only those are read)
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".tmp")) {
      // An interrupted segment deletion, compaction or checkpoint write.
      std::error_code rm;
      fs::remove(e.path(), rm);
    } else if (auto b = parse_base(name, ".log")) {
      bases.push_back(*b);
    } else if (auto i = parse_base(name, ".index")) {
      index_files.emplace_back(*i, e.path());
    } else if (auto t = parse_base(name, ".timeindex")) {
      index_files.emplace_back(*t, e.path());
    } else if (auto x = parse_base(name, kTxnIndexSuffix)) {
      index_files.emplace_back(*x, e.path());
      txn_bases.insert(*x);
    }
  }
  if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot list " + dir.string() + ": " + ec.message()};
  std::sort(bases.begin(), bases.end());
  for (const auto& [b, p] : index_files) {
    if (!std::binary_search(bases.begin(), bases.end(), b)) {
      std::error_code rm;
      fs::remove(p, rm);  // an index without its segment (Kafka deletes those too)
    }
  }

  int64_t now = now_ms();
  for (size_t i = 0; i < bases.size(); ++i) {
    auto s = std::make_shared<Segment>(dir, bases[i]);
    bool last = i + 1 == bases.size();
    std::optional<int64_t> next_base;
    if (!last) next_base = bases[i + 1];
    struct stat st;
    if (::stat(s->log_path.c_str(), &st) != 0) return io_error("cannot stat", s->log_path, errno);
    s->size = st.st_size;
    s->last_modified_ms = mtime_ms(st);
    s->created_ms = now;
    // After a crash, every segment that may hold offsets at or past the recovery point is
    // scanned; older ones were fsynced and are trusted like after a clean shutdown.
    bool scan = (o.recover && (last || *next_base > o.recovery_point)) || swapped.count(bases[i]);
    std::string why;
    if (!scan && !d.load_trusted(*s, next_base, why)) {
      spdlog::warn("rebuilding the indexes of {}: {}", s->log_path.string(), why);
      scan = true;
    }
    if (!txn_bases.count(bases[i])) {
      // no aborted transaction in this segment
    } else if (auto txns = read_txn_index(s->path_with(kTxnIndexSuffix)); txns.ok()) {
      s->aborted_txns = std::move(txns.value());
    } else {
      // The replica rebuilds entries from its scan of the log; older ones are lost.
      spdlog::warn("ignoring the transaction index of {}: {}", s->log_path.string(), txns.error().message);
      d.recovered_from = std::min(d.recovered_from, bases[i]);
    }
    if (scan) {
      d.recovered_from = std::min(d.recovered_from, bases[i]);
      if (auto r = d.recover_segment(*s, last); !r.ok()) return r.error();
      if (next_base && s->next_offset > *next_base)
        return Error{ErrorCode::KAFKA_STORAGE_ERROR, s->log_path.string() + " holds offsets up to " +
                                                         std::to_string(s->next_offset - 1) +
                                                         ", past the next segment's base offset " +
                                                         std::to_string(*next_base)};
      // Recovered data came from the page cache; it counts as durable once fsynced again.
      if (o.recover && !last) d.pending.push_back({s, nullptr});
    }
    d.segments.push_back(std::move(s));
  }
  if (d.segments.empty()) {
    auto s = std::make_shared<Segment>(dir, 0);
    auto f = open_file(s->log_path, O_RDWR | O_CREAT);
    if (!f.ok()) return f.error();
    s->created_ms = now;
    s->last_modified_ms = now;
    d.segments.push_back(std::move(s));
    d.dir_dirty = true;
  }
  d.log_end = d.segments.back()->next_offset;
  d.log_start = std::max(d.segments.front()->base, std::min(o.log_start_offset, d.log_end));
  if (o.recover) {
    d.recovery_point = std::clamp(o.recovery_point, d.log_start, d.log_end);
    d.unflushed = d.segments.back()->size;  // the newest segment's data is synced by the next flush
  } else {
    d.recovery_point = d.log_end;
  }
  d.last_used_ms = now;
  d.closed = false;
  // The active segment opens its descriptor and index mappings on first use: opening
  // thousands of logs costs no descriptors.
  return log;
}

Log::~Log() { close(); }

Result<AppendInfo> Log::append(std::span<uint8_t> batches, int32_t leader_epoch) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  const LogConfig& c = d.cfg();
  const int64_t now = now_ms();

  // Framing first: nothing is patched or written unless every batch is whole. The produce
  // path validated the batches already; this guards every other caller.
  int64_t offsets = 0, max_ts = -1;
  for (size_t pos = 0; pos < batches.size();) {
    auto h = read_batch_header(std::span<const uint8_t>(batches).subspan(pos));
    if (!h.ok()) return h.error();
    if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > batches.size() - pos ||
        h->last_offset_delta < 0)
      return Error{ErrorCode::CORRUPT_MESSAGE, "malformed record batch at byte " + std::to_string(pos) + " of an append"};
    offsets += int64_t(h->last_offset_delta) + 1;
    max_ts = std::max(max_ts, c.message_timestamp_log_append ? now : h->max_timestamp);
    pos += static_cast<size_t>(h->total_size());
  }
  if (batches.empty()) return Error{ErrorCode::CORRUPT_MESSAGE, "an append needs at least one record batch"};
  const int64_t bytes = static_cast<int64_t>(batches.size());

  if (auto st = d.roll_if_full(bytes, d.log_end + offsets - 1, max_ts, now); !st.ok()) return st.error();
  Segment* seg = &d.active();

  AppendInfo info;
  info.first_offset = Offset(d.log_end);
  info.log_append_time = c.message_timestamp_log_append ? now : -1;
  std::vector<std::pair<BatchHeader, int64_t>> placed;  // header and position in the segment
  int64_t next = d.log_end;
  for (size_t pos = 0; pos < batches.size();) {
    uint8_t* b = batches.data() + pos;
    patch_base_offset(b, next);
    patch_leader_epoch(b, leader_epoch);
    if (c.message_timestamp_log_append) set_max_timestamp_and_type_log_append(b, now);
    auto h = read_batch_header(std::span<const uint8_t>(batches).subspan(pos)).value();
    placed.emplace_back(h, seg->size + static_cast<int64_t>(pos));
    info.records += h.records_count;
    if (h.max_timestamp > info.max_timestamp) {
      info.max_timestamp = h.max_timestamp;
      info.offset_of_max_timestamp = Offset(h.last_offset());
    }
    next = h.last_offset() + 1;
    pos += static_cast<size_t>(h.total_size());
  }
  if (auto st = d.write_at_end(*seg, batches, placed, next, now); !st.ok()) return st.error();
  info.last_offset = Offset(next - 1);
  info.bytes = bytes;
  return info;
}

Result<AppendInfo> Log::append_replicated(std::span<const uint8_t> batches) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  const int64_t now = now_ms();
  if (batches.empty()) return Error{ErrorCode::CORRUPT_MESSAGE, "an append needs at least one record batch"};

  AppendInfo info;
  std::vector<std::pair<BatchHeader, int64_t>> headers;  // header and position in `batches`
  int64_t next = d.log_end;
  for (size_t pos = 0; pos < batches.size();) {
    auto h = read_batch_header(batches.subspan(pos));
    if (!h.ok()) return h.error();
    if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > batches.size() - pos ||
        h->last_offset_delta < 0)
      return Error{ErrorCode::CORRUPT_MESSAGE, "malformed record batch at byte " + std::to_string(pos) + " of an append"};
    if (h->base_offset < next)
      return Error{ErrorCode::OFFSET_OUT_OF_RANGE,
                   "replicated batch at offset " + std::to_string(h->base_offset) + " where " + d.dir.filename().string() +
                       " expects offset " + std::to_string(next) + " or later"};
    if (headers.empty()) info.first_offset = Offset(h->base_offset);
    info.records += h->records_count;
    if (h->max_timestamp > info.max_timestamp) {
      info.max_timestamp = h->max_timestamp;
      info.offset_of_max_timestamp = Offset(h->last_offset());
    }
    headers.emplace_back(*h, static_cast<int64_t>(pos));
    next = h->last_offset() + 1;
    pos += static_cast<size_t>(h->total_size());
  }
  const int64_t bytes = static_cast<int64_t>(batches.size());
  if (auto st = d.roll_if_full(bytes, next - 1, info.max_timestamp, now); !st.ok()) return st.error();
  Segment* seg = &d.active();
  if (next - 1 - seg->base > INT32_MAX)  // relative offsets are int32, even in a new segment
    return Error{ErrorCode::OFFSET_OUT_OF_RANGE, "replicated batches too far past the log end of " + d.dir.string()};
  for (auto& placed : headers) placed.second += seg->size;  // positions in the segment
  if (auto st = d.write_at_end(*seg, batches, headers, next, now); !st.ok()) return st.error();
  info.last_offset = Offset(next - 1);
  info.bytes = bytes;
  return info;
}

Status Log::truncate_fully_and_start_at(Offset start) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  const int64_t now = now_ms();
  std::vector<std::shared_ptr<Segment>> doomed;
  for (const auto& s : d.segments) {
    s->deleted.store(true);
    s->release();
    doomed.push_back(s);
  }
  d.segments.clear();
  d.pending.clear();
  // Deleted before the new segment exists: it may have the name of one of them.
  d.delete_segments(doomed);
  auto s = std::make_shared<Segment>(d.dir, start.value());
  auto f = open_file(s->log_path, O_RDWR | O_CREAT | O_TRUNC);
  if (!f.ok()) return f.error();
  s->created_ms = now;
  s->last_modified_ms = now;
  d.segments.push_back(std::move(s));
  spdlog::info("emptied {} (log end was {}); it starts again at offset {}", d.dir.string(), d.log_end, start.value());
  d.log_start = d.log_end = d.recovery_point = start.value();
  d.unflushed = 0;
  d.appended = true;
  d.dir_dirty = true;
  d.last_used_ms = now;
  return {};
}

Result<ReadResult> Log::read(Offset start, int32_t max_bytes, Offset max_offset, bool min_one_batch) const {
  Impl& d = *impl_;
  ReadResult rr;
  int64_t cursor = start.value();
  int64_t limit = 0;
  bool first = true;
  for (;;) {
    Impl::Snapshot snap;
    {
      std::lock_guard lk(d.mu);
      if (d.closed) return d.closed_error();
      if (first) {
        rr.log_start_offset = Offset(d.log_start);
        rr.log_end_offset = Offset(d.log_end);
        if (cursor < d.log_start || cursor > d.log_end)
          return Error{ErrorCode::OFFSET_OUT_OF_RANGE, "offset " + std::to_string(cursor) + " is outside [" +
                                                           std::to_string(d.log_start) + ", " +
                                                           std::to_string(d.log_end) + "] of " + d.dir.string()};
        limit = std::min(max_offset.value(), d.log_end);
      }
      if (cursor >= limit) return rr;
      size_t i = d.segment_for(cursor);
      if (i == d.segments.size()) return rr;
      if (auto s = d.snapshot(i, snap); !s.ok()) return s.error();
    }
    first = false;
    if (auto s = d.open_snapshot(snap); !s.ok()) {
      // The cleaner swapped a compacted copy in meanwhile: the same offsets are in the new one.
      if (snap.seg->replaced.load()) continue;
      return s.error();
    }
    const int fd = snap.raw_fd();
    const int64_t base = snap.seg->base;
    int64_t pos = lookup_position(snap.offsets, base, cursor);
    int64_t from = -1, to = -1;
    bool stop = false, swapped = false;
    while (pos < snap.size) {
      auto h = header_at(fd, pos, snap.size);
      if (!h && snap.seg->replaced.load()) {
        // The files were opened by name just as the cleaner renamed its copy over them.
        swapped = true;
        break;
      }
      if (!h)
        return Error{ErrorCode::KAFKA_STORAGE_ERROR,
                     "cannot read the batch at byte " + std::to_string(pos) + " of " + snap.seg->log_path.string()};
      if (h->base_offset >= limit) {
        stop = true;
        break;
      }
      if (h->last_offset() >= cursor) {
        int64_t size = h->total_size();
        if (from < 0) {
          if (size > max_bytes && !min_one_batch) {
            stop = true;
            break;
          }
          from = pos;
        } else if (pos + size - from > max_bytes) {
          stop = true;
          break;
        }
        to = pos + size;
        rr.records += h->records_count;
      }
      pos += h->total_size();
    }
    if (swapped) {
      rr.records = 0;
      continue;
    }
    if (from >= 0) {
      rr.slice = FileSlice{snap.owner(), fd, from, to - from};
      return rr;
    }
    if (stop || snap.next_offset <= cursor) return rr;
    // Nothing at or after `cursor` here (the segment's end, or a gap): the next segment.
    cursor = snap.next_offset;
  }
}

Status Log::for_each_batch(Offset from, Offset end,
                           const std::function<Status(std::span<const uint8_t>, const BatchHeader&)>& fn,
                           int32_t chunk_bytes) const {
  auto corrupt_at = [&](int64_t offset, const std::string& why) {
    return Status(ErrorCode::CORRUPT_MESSAGE, dir().filename().string() + " at offset " + std::to_string(offset) + ": " + why);
  };
  Offset next(std::max(from.value(), log_start_offset().value()));
  std::vector<uint8_t> buf;
  while (next < end) {
    auto rr = read(next, chunk_bytes, end, true);
    if (!rr.ok()) return rr.error();
    if (!rr->slice || rr->slice->size <= 0) break;
    const FileSlice& slice = *rr->slice;
    buf.resize(static_cast<size_t>(slice.size));
    if (!pread_exact(slice.fd, buf.data(), buf.size(), slice.position))
      return Status(ErrorCode::KAFKA_STORAGE_ERROR,
                    "cannot read " + dir().filename().string() + ": " + std::strerror(errno));
    std::span<const uint8_t> rest(buf);
    while (!rest.empty()) {
      auto h = read_batch_header(rest);
      if (!h.ok()) return corrupt_at(next.value(), h.error().message);
      if (h->batch_length < batch::kMinBatchLength || static_cast<uint64_t>(h->total_size()) > rest.size())
        return corrupt_at(h->base_offset, "truncated batch");
      auto one = rest.subspan(0, static_cast<size_t>(h->total_size()));
      rest = rest.subspan(one.size());
      next = Offset(h->last_offset() + 1);
      // read() starts with the batch containing `from`: skip whole batches before it.
      if (h->last_offset() < from.value()) continue;
      if (compute_batch_crc(one) != h->crc) return corrupt_at(h->base_offset, "batch CRC mismatch");
      if (auto s = fn(one, *h); !s.ok()) return s;
    }
  }
  return {};
}

std::optional<TimestampOffset> Log::offset_for_timestamp(int64_t ts) const {
  Impl& d = *impl_;
  size_t from_index = 0;
  for (;;) {
    Impl::Snapshot snap;
    {
      std::lock_guard lk(d.mu);
      if (d.closed) return std::nullopt;
      size_t i = from_index;
      while (i < d.segments.size() && d.segments[i]->max_timestamp < ts) ++i;
      if (i == d.segments.size()) return std::nullopt;
      if (!d.snapshot(i, snap).ok()) return std::nullopt;
      from_index = i + 1;
    }
    if (!d.open_snapshot(snap).ok()) {
      if (snap.seg->replaced.load()) {  // swapped by the cleaner: look at its copy
        --from_index;
        continue;
      }
      return std::nullopt;
    }
    const int fd = snap.raw_fd();
    const int64_t base = snap.seg->base;
    int64_t pos = lookup_position(snap.offsets, base, lookup_time(snap.times, base, ts));
    while (auto h = header_at(fd, pos, snap.size)) {
      if (h->max_timestamp >= ts) {
        TimestampOffset found{h->max_timestamp, Offset(h->base_offset)};
        if (h->compression() == 0 && !h->timestamp_type_log_append()) {
          std::vector<uint8_t> buf(static_cast<size_t>(h->total_size()));
          if (pread_exact(fd, buf.data(), buf.size(), pos)) {
            bool done = false;
            (void)for_each_record(buf, [&](const RecordView& r) {
              if (!done && r.timestamp >= ts) {
                found = {r.timestamp, Offset(r.offset)};
                done = true;
              }
            });
          }
        }
        return found;
      }
      pos += h->total_size();
    }
  }
}

std::optional<TimestampOffset> Log::max_timestamp() const {
  Impl& d = *impl_;
  Impl::Snapshot snap;
  TimestampOffset best;
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return std::nullopt;
    size_t best_i = d.segments.size();
    for (size_t i = 0; i < d.segments.size(); ++i)
      if (d.segments[i]->max_timestamp > best.timestamp) {
        best = {d.segments[i]->max_timestamp, Offset(d.segments[i]->offset_of_max_timestamp)};
        best_i = i;
      }
    if (best_i == d.segments.size()) return std::nullopt;
    if (!d.snapshot(best_i, snap).ok()) return best;
  }
  // The bookkeeping knows the batch; Kafka answers with the record: find the first record
  // with that timestamp when the batch is readable record by record.
  if (!d.open_snapshot(snap).ok()) return best;
  const int fd = snap.raw_fd();
  int64_t pos = lookup_position(snap.offsets, snap.seg->base, best.offset.value());
  while (auto h = header_at(fd, pos, snap.size)) {
    if (h->last_offset() >= best.offset.value()) {
      if (h->compression() == 0 && !h->timestamp_type_log_append()) {
        std::vector<uint8_t> buf(static_cast<size_t>(h->total_size()));
        if (pread_exact(fd, buf.data(), buf.size(), pos)) {
          bool done = false;
          (void)for_each_record(buf, [&](const RecordView& r) {
            if (!done && r.timestamp == best.timestamp) {
              best.offset = Offset(r.offset);
              done = true;
            }
          });
        }
      }
      break;
    }
    pos += h->total_size();
  }
  return best;
}

Offset Log::log_start_offset() const {
  std::lock_guard lk(impl_->mu);
  return Offset(impl_->log_start);
}
Offset Log::log_end_offset() const {
  std::lock_guard lk(impl_->mu);
  return Offset(impl_->log_end);
}
Offset Log::recovery_point() const {
  std::lock_guard lk(impl_->mu);
  return Offset(impl_->recovery_point);
}
int64_t Log::size_bytes() const {
  std::lock_guard lk(impl_->mu);
  return impl_->total_size();
}
int Log::segment_count() const {
  std::lock_guard lk(impl_->mu);
  return static_cast<int>(impl_->segments.size());
}

Result<Offset> Log::advance_log_start(Offset to) {
  Impl& d = *impl_;
  std::vector<std::shared_ptr<Segment>> doomed;
  int64_t start;
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return d.closed_error();
    if (to.value() > d.log_end)
      return Error{ErrorCode::OFFSET_OUT_OF_RANGE, "offset " + std::to_string(to.value()) + " is past the log end " +
                                                       std::to_string(d.log_end)};
    if (to.value() <= d.log_start) return Offset(d.log_start);
    d.log_start = to.value();
    // A segment goes when the next one starts at or below the new log start (so the segment
    // holding the log start stays, and the active one always does).
    while (d.segments.size() > 1 && d.segments[1]->base <= d.log_start) {
      d.segments.front()->deleted.store(true);
      doomed.push_back(d.segments.front());
      d.segments.erase(d.segments.begin());
    }
    std::erase_if(d.pending, [](const Impl::PendingSync& p) { return p.segment->deleted.load(); });
    if (!doomed.empty()) d.dir_dirty = true;
    start = d.log_start;
  }
  spdlog::info("log start offset of {} moved to {} ({} segments deleted)", d.dir.string(), start, doomed.size());
  d.delete_segments(doomed);
  return Offset(start);
}

Result<Offset> Log::truncate_to(Offset target) {
  Impl& d = *impl_;
  std::vector<std::shared_ptr<Segment>> doomed;
  int64_t new_end;
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return d.closed_error();
    const int64_t to = std::max(target.value(), d.log_start);
    if (to >= d.log_end) return Offset(d.log_end);
    // Whole segments at or after the target go (the first one always stays, maybe emptied).
    while (d.segments.size() > 1 && d.segments.back()->base >= to) {
      d.segments.back()->deleted.store(true);
      doomed.push_back(d.segments.back());
      d.segments.pop_back();
    }
    std::erase_if(d.pending, [](const Impl::PendingSync& p) { return p.segment->deleted.load(); });
    Segment& s = d.active();
    // The byte position of the first batch that reaches `to`: from the index entry at or
    // before it, walk the batch headers.
    int64_t pos = 0;
    {
      auto f = open_file(s.log_path, O_RDONLY);
      if (!f.ok()) return f.error();
      if (s.offset_index.mapped()) pos = lookup_position(s.offset_index.view(), s.base, to);
      std::optional<BatchHeader> h;
      while ((h = header_at((*f)->fd(), pos, s.size)) && h->last_offset() < to) pos += h->total_size();
    }
    // The segment is rebuilt from its remaining batches: file cut, indexes re-made.
    d.cache->erase(s.id);
    s.release();
    if (::truncate(s.log_path.c_str(), static_cast<off_t>(pos)) != 0)
      return io_error("cannot truncate", s.log_path, errno);
    s.size = pos;
    if (auto st = d.recover_segment(s, true); !st.ok()) return st.error();
    new_end = s.next_offset;
    // Aborted transactions whose marker was cut are no longer aborted here.
    if (std::erase_if(s.aborted_txns, [&](const AbortedTxn& t) { return t.last_offset >= new_end; }) > 0)
      if (auto st = write_txn_index(s.path_with(kTxnIndexSuffix), s.aborted_txns); !st.ok()) return st.error();
    spdlog::info("truncated {} to offset {} (log end was {}; {} later segments deleted)", d.dir.string(), new_end,
                 d.log_end, doomed.size());
    d.log_end = new_end;
    d.recovery_point = std::min(d.recovery_point, d.log_end);
    d.unflushed = pos;
    d.appended = true;
    d.dir_dirty = true;
  }
  d.delete_segments(doomed);
  return Offset(new_end);
}

int Log::apply_retention(int64_t now) {
  Impl& d = *impl_;
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return 0;
    const LogConfig& c = d.cfg();
    // A sealed segment the cleaner emptied expires by its file time like any other (else it
    // would hold back every later segment); an empty active segment has nothing to expire.
    auto expired = [&](const Segment& s) {
      return c.retention_ms >= 0 && (s.size > 0 || &s != &d.active()) && now - s.largest_timestamp() > c.retention_ms;
    };
    if (expired(d.active())) {
      if (auto st = d.roll(now); !st.ok()) spdlog::error("cannot roll {} for retention: {}", d.dir.string(), st.error().message);
    }
    int64_t total = d.total_size();
    while (d.segments.size() > 1) {
      Segment& s = *d.segments.front();
      bool by_size = c.retention_bytes >= 0 && total - s.size >= c.retention_bytes;
      bool by_time = expired(s);
      if (!by_size && !by_time) break;
      spdlog::info("retention deletes segment {} ({} bytes, offsets {}..{}, {})", s.log_path.string(), s.size, s.base,
                   s.next_offset - 1, by_time ? "retention.ms" : "retention.bytes");
      total -= s.size;
      s.deleted.store(true);
      doomed.push_back(d.segments.front());
      d.segments.erase(d.segments.begin());
    }
    if (doomed.empty()) return 0;
    d.log_start = std::max(d.log_start, d.segments.front()->base);
    d.dir_dirty = true;
  }
  d.delete_segments(doomed);
  return static_cast<int>(doomed.size());
}

void Log::maybe_roll(int64_t now) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return;
  Segment& a = d.active();
  if (a.size > 0 && now - a.created_ms > d.cfg().segment_ms)
    if (auto st = d.roll(now); !st.ok()) spdlog::error("cannot roll {}: {}", d.dir.string(), st.error().message);
}

void Log::set_config(LogConfig config) {
  std::lock_guard lk(impl_->mu);
  impl_->configs.push_back(std::make_unique<LogConfig>(std::move(config)));
  impl_->current_config = impl_->configs.back().get();
}
const LogConfig& Log::config() const { return impl_->cfg(); }

bool Log::release_if_idle(int64_t now, int64_t idle_ms) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return false;
  Segment& a = d.active();
  if (!a.fd && !a.offset_index.mapped() && !a.time_index.mapped()) return false;
  if (now - d.last_used_ms < idle_ms) return false;
  // No fsync here: unflushed bytes stay counted and a later flush reopens the file by path.
  a.release();
  return true;
}

Status Log::flush() { return impl_->flush(true); }
Status Log::flush_rolled_segments() { return impl_->flush(false); }

bool Log::dirty() const {
  std::lock_guard lk(impl_->mu);
  return impl_->unflushed > 0 || !impl_->pending.empty();
}

Status Log::flush_and_close() {
  if (!impl_) return {};
  Impl& d = *impl_;
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return {};
    d.closed = true;  // appends and reads fail from now on
  }
  Status st = d.flush(true);
  std::vector<std::shared_ptr<Segment>> segs;
  bool sync_indexes = false;
  std::shared_ptr<Segment> act;
  {
    std::lock_guard lk(d.mu);
    act = d.segments.back();
    act->seal();  // trimmed indexes with the final time entry: a clean reopen trusts them
    sync_indexes = d.appended;
    segs = d.segments;
  }
  for (const auto& s : segs) d.cache->erase(s->id);
  if (st.ok() && sync_indexes) {
    st = sync_path(act->offset_index.path());
    if (st.ok()) st = sync_path(act->time_index.path());
  }
  return st;
}

void Log::close() {
  if (!impl_) return;
  if (auto st = flush_and_close(); !st.ok())
    spdlog::error("closing {} did not flush everything: {}", impl_->dir.string(), st.error().message);
}

Status Log::remove() {
  Impl& d = *impl_;
  std::vector<std::shared_ptr<Segment>> segs;
  {
    std::lock_guard lk(d.mu);
    d.closed = true;
    for (const auto& s : d.segments) {
      s->deleted.store(true);
      s->release();
    }
    d.pending.clear();
    segs = d.segments;
  }
  for (const auto& s : segs) d.cache->erase(s->id);
  // Kafka renames a deleted partition's directory to <topic>-<partition>.<id>-delete first,
  // so a crash half-way through leaves a directory the next start removes, not a live log.
  std::error_code ec;
  fs::path doomed = d.dir;
  doomed += "." + random_hex() + "-delete";
  fs::rename(d.dir, doomed, ec);
  if (ec) doomed = d.dir;
  fs::remove_all(doomed, ec);
  if (ec) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot remove " + d.dir.string() + ": " + ec.message());
  return {};
}

const fs::path& Log::dir() const { return impl_->dir; }

Status Log::append_aborted_txn(const AbortedTxn& txn) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  // The segment of the marker: the active one, unless a roll came in between.
  size_t i = d.segment_for(txn.last_offset);
  Segment& s = i < d.segments.size() ? *d.segments[i] : d.active();
  if (auto st = append_txn_index(s.path_with(kTxnIndexSuffix), txn); !st.ok()) return st;
  s.aborted_txns.push_back(txn);
  return {};
}

std::vector<AbortedTxn> Log::collect_aborted_txns(Offset fetch_offset, Offset upper_bound) const {
  Impl& d = *impl_;
  std::vector<AbortedTxn> out;
  std::lock_guard lk(d.mu);
  if (d.closed) return out;
  for (size_t i = d.segment_for(fetch_offset.value()); i < d.segments.size(); ++i) {
    if (d.segments[i]->aborted_txns.empty()) continue;
    if (storage::collect_aborted_txns(d.segments[i]->aborted_txns, fetch_offset.value(), upper_bound.value(), out)) break;
  }
  return out;
}

Status Log::rebuild_txn_index_from(Offset from, const std::vector<AbortedTxn>& entries) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  for (size_t i = 0; i < d.segments.size(); ++i) {
    Segment& s = *d.segments[i];
    const int64_t next_base = i + 1 < d.segments.size() ? d.segments[i + 1]->base : INT64_MAX;
    if (next_base <= from.value()) continue;
    std::vector<AbortedTxn> expected;
    for (const auto& t : s.aborted_txns)
      if (t.last_offset < from.value()) expected.push_back(t);
    for (const auto& t : entries)
      if (t.last_offset >= std::max(s.base, from.value()) && t.last_offset < next_base) expected.push_back(t);
    if (expected == s.aborted_txns) continue;
    spdlog::info("rebuilt the transaction index of {} ({} -> {} aborted transactions)", s.log_path.string(),
                 s.aborted_txns.size(), expected.size());
    if (auto st = write_txn_index(s.path_with(kTxnIndexSuffix), expected); !st.ok()) return st;
    s.aborted_txns = std::move(expected);
  }
  return {};
}

Offset Log::recovered_from() const {
  std::lock_guard lk(impl_->mu);
  return Offset(std::min(impl_->recovered_from, impl_->log_end));
}

std::optional<Log::CleanerView> Log::cleaner_view() const {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return std::nullopt;
  CleanerView v;
  v.log_start = d.log_start;
  v.log_end = d.log_end;
  v.active_base = d.segments.back()->base;
  for (size_t i = 0; i + 1 < d.segments.size(); ++i) {
    const auto& s = d.segments[i];
    v.sealed.push_back({s, s->base, s->size, s->next_offset, s->largest_timestamp(), s->last_modified_ms,
                        s->first_batch_timestamp, s->aborted_txns});
  }
  return v;
}

Status Log::replace_cleaned_segment(const std::shared_ptr<Segment>& old, int64_t old_size, const Segment& cleaned) {
  Impl& d = *impl_;
  const int64_t base = old->base;
  auto name = [&](const char* ext, const char* suffix) { return d.dir / (segment_file_name(base, ext) + suffix); };
  static const char* const kExts[] = {".index", ".timeindex", ".log"};  // the .log last
  auto gone = [&](const std::string& why) {
    return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cleaned segment " + std::to_string(base) + " of " +
                                                      d.dir.filename().string() + " not swapped in: " + why);
  };
  {
    std::lock_guard lk(d.mu);
    if (d.closed) return gone("the log is closed");
    auto it = std::find(d.segments.begin(), d.segments.end(), old);
    if (it == d.segments.end() || old->deleted.load()) return gone("the segment was deleted meanwhile");
    if (it + 1 == d.segments.end() || old->size != old_size) return gone("the segment was truncated meanwhile");
    // Flagged before the renames: a reader that opens the files by name from now on may get
    // the copy, and on any surprise looks the offset up again (read()).
    old->replaced.store(true);
    old->deleted.store(true);
    auto undo = [&](Error e) {
      old->replaced.store(false);
      old->deleted.store(false);
      return Status(std::move(e));
    };
    // The cleaner writes a .txnindex.cleaned when the old segment had aborted transactions;
    // it goes before the .log (whose rename completes the swap).
    std::vector<const char*> exts;
    std::error_code ec;
    const bool txn_index = fs::exists(name(kTxnIndexSuffix, ".cleaned"), ec);
    if (txn_index) exts.push_back(kTxnIndexSuffix);
    exts.insert(exts.end(), std::begin(kExts), std::end(kExts));
    for (const char* ext : exts)
      if (::rename(name(ext, ".cleaned").c_str(), name(ext, ".swap").c_str()) != 0)
        return undo(io_error("cannot rename to .swap", name(ext, ".cleaned"), errno));
    if (!txn_index && !old->aborted_txns.empty()) ::unlink(name(kTxnIndexSuffix, "").c_str());
    // From here a crash is completed by open(); a failure now leaves the .swap files for it.
    for (const char* ext : exts)
      if (::rename(name(ext, ".swap").c_str(), name(ext, "").c_str()) != 0)
        return undo(io_error("cannot rename over the old segment", name(ext, ".swap"), errno));
    auto s = std::make_shared<Segment>(d.dir, base);
    s->size = cleaned.size;
    s->next_offset = old->next_offset;  // offsets never move: the segment still ends there
    s->max_timestamp = cleaned.max_timestamp;
    s->offset_of_max_timestamp = cleaned.offset_of_max_timestamp;
    s->last_time_entry = cleaned.last_time_entry;
    s->first_batch_timestamp = cleaned.first_batch_timestamp;
    s->created_ms = old->created_ms;
    s->last_modified_ms = old->last_modified_ms;
    s->aborted_txns = txn_index ? cleaned.aborted_txns : std::vector<AbortedTxn>{};
    std::string why;
    if (!s->offset_index.load_sealed(s->size, why) || !s->time_index.load_sealed(s->size, why))
      spdlog::warn("the cleaned index of {} looks wrong ({}); lookups scan from the start", s->log_path.string(), why);
    *it = std::move(s);
    std::erase_if(d.pending, [&](const Impl::PendingSync& p) { return p.segment == old; });
    d.dir_dirty = true;
  }
  // The old files were unlinked by the renames; readers holding them keep their descriptors.
  d.cache->erase(old->id);
  return sync_dir(d.dir);
}

}  // namespace kb::storage
