#include "storage/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <random>

#include <spdlog/spdlog.h>

#include "protocol/record_batch.h"
#include "storage/log_impl.h"
#include "storage/log_loader.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {

std::string random_hex() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

size_t Log::Impl::segment_for(int64_t offset) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                             [](int64_t o, const std::shared_ptr<Segment>& s) { return o < s->base; });
  size_t i = it == segments.begin() ? 0 : static_cast<size_t>(it - segments.begin()) - 1;
  while (i < segments.size() && segments[i]->next_offset <= offset) ++i;
  return i;
}

Status Log::Impl::ensure_active_open() {
  Segment& a = active();
  if (a.fd && a.offset_index.mapped() && a.time_index.mapped()) return {};
  return open_for_appends(a);
}

Status Log::Impl::open_for_appends(Segment& s) {
  Status st = s.open_active(cfg().segment_index_bytes);
  if (!st.ok() && s.fd && is_out_of_space(st.error())) {
    // No room for index pages: data can still go where there is room (the metadata log's
    // reserve), read by scanning the segment; entries resume once the indexes map again.
    if (!s.index_gap_logged)
      spdlog::warn("no disk space for the indexes of {} ({}): appends go on without index entries",
                   s.log_path.string(), st.error().message);
    s.index_gap_logged = true;
    st = {};
  }
  if (st.ok()) s.keep_reserve(cfg().reserve_bytes);
  return st;
}

Status Log::Impl::roll(int64_t now) {
  // The new segment is made whole (its file, disk space for its indexes) before the old one
  // is sealed: when that fails (a full disk) the old segment stays active and nothing changed.
  auto s = std::make_shared<Segment>(dir, log_end);
  // A file already named so holds nothing the log tracks (a crash right after creating
  // it): start it empty.
  auto f = open_file(s->log_path, O_RDWR | O_CREAT | O_TRUNC);
  if (!f.ok()) return f.error();
  s->fd = std::move(f.value());
  s->offset_index.clear();
  s->time_index.clear();
  if (auto st = open_for_appends(*s); !st.ok()) {
    s->release();
    s->offset_index.clear();  // unmapped now: the files go
    s->time_index.clear();
    ::unlink(s->log_path.c_str());
    return st;
  }
  auto old = segments.back();
  old->drop_reserve();
  pending.push_back({old, old->seal()});
  unflushed = 0;  // those bytes are now the pending segment's
  s->created_ms = now;
  s->last_modified_ms = now;
  segments.push_back(std::move(s));
  dir_dirty = true;
  spdlog::debug("rolled {} to a new segment at offset {}", dir.string(), log_end);
  return {};
}

Status Log::Impl::roll_if_full(int64_t bytes, int64_t last_offset, int64_t max_ts, int64_t now) {
  if (auto st = ensure_active_open(); !st.ok()) return st;
  Segment& seg = active();
  if (seg.size == 0) return {};
  const LogConfig& c = cfg();
  bool by_size = seg.size + bytes > c.segment_bytes || seg.size + bytes > INT32_MAX;
  // segment.ms, as Kafka: by message time since the first batch, or by wall time since
  // the segment was created when it has no timestamps.
  bool by_time = seg.first_batch_timestamp >= 0 ? max_ts - seg.first_batch_timestamp > c.segment_ms
                                                : now - seg.created_ms > c.segment_ms;
  // (An index left unmapped for lack of space takes no entries: no reason to roll.)
  bool index_full = (seg.offset_index.mapped() && seg.offset_index.full()) ||
                    (seg.time_index.mapped() && seg.time_index.full());
  bool offsets_overflow = last_offset - seg.base > INT32_MAX;  // relative offsets are int32
  if (by_size || by_time || index_full || offsets_overflow) return roll(now);
  return {};
}

Status Log::Impl::write_at_end(Segment& seg, std::span<const uint8_t> batches,
                                const std::vector<std::pair<BatchHeader, int64_t>>& placed, int64_t next, int64_t now) {
  if (auto st = pwrite_all(seg.fd->fd(), batches.data(), batches.size(), seg.size, seg.log_path); !st.ok()) {
    // A partial write (a full disk) must not stay behind the segment's end, where a later
    // roll would seal it in: cut it off (that frees blocks, so it works on a full disk).
    struct stat fst;
    if (::fstat(seg.fd->fd(), &fst) == 0 && fst.st_size > seg.size &&
        ::ftruncate(seg.fd->fd(), static_cast<off_t>(seg.size)) != 0)
      spdlog::warn("cannot cut {} back to {} bytes after a failed write: {}", seg.log_path.string(), seg.size,
                   std::strerror(errno));
    return io_failed(st);
  }
  bool indexed = true;
  for (const auto& [h, pos] : placed) {
    if (pos == 0) seg.first_batch_timestamp = h.max_timestamp;
    indexed = seg.index_batch(h, pos, cfg().index_interval_bytes) && indexed;
  }
  if (!indexed && !seg.index_gap_logged) {
    seg.index_gap_logged = true;
    spdlog::warn("no disk space for index entries of {}: lookups in it scan further from the previous entry",
                 seg.log_path.string());
  }
  const int64_t bytes = static_cast<int64_t>(batches.size());
  seg.size += bytes;
  seg.next_offset = next;
  seg.last_modified_ms = now;
  log_end = next;
  unflushed += bytes;
  appended = true;
  last_used_ms = now;
  seg.keep_reserve(cfg().reserve_bytes);
  // A write into a reserve proves nothing about the room left in the dir.
  if (dir_state && cfg().reserve_bytes == 0) dir_state->write_succeeded();
  return {};
}

int64_t Log::Impl::total_size() const {
  int64_t n = 0;
  for (const auto& s : segments) n += s->size;
  return n;
}

Status Log::Impl::flush(bool all) {
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
    // An index may be absent: left out for lack of disk space (rebuilt by a later open).
    for (const fs::path& f : {p.segment->offset_index.path(), p.segment->time_index.path(),
                              p.segment->path_with(kTxnIndexSuffix)})
      if (std::error_code ec; st.ok() && fs::exists(f, ec)) st = sync_path(f);
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
    return io_failed(st);
  }
  if (!batch.empty()) recovery_point = std::max(recovery_point, batch.back().segment->next_offset);
  if (all) recovery_point = std::max(recovery_point, end);
  recovery_point = std::min(recovery_point, log_end);
  return {};
}

void Log::Impl::delete_segments(const std::vector<std::shared_ptr<Segment>>& doomed) {
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

Result<std::unique_ptr<Log>> Log::open(const fs::path& dir, LogConfig config, bool recover) {
  LogOpenOptions o;
  o.recover = recover;
  return open(dir, std::move(config), o);
}

Result<std::unique_ptr<Log>> Log::open(const fs::path& dir, LogConfig config, const LogOpenOptions& o) {
  auto loaded = LogLoader(dir, config, o).load();
  if (!loaded.ok()) {
    if (loaded.code() == ErrorCode::KAFKA_STORAGE_ERROR && o.dir_state && is_out_of_space(loaded.error()))
      o.dir_state->report(loaded.error());
    return loaded.error();
  }
  LoadedLog& l = loaded.value();
  std::unique_ptr<Log> log(new Log());
  log->impl_ = std::make_unique<Impl>();
  Impl& d = *log->impl_;
  d.dir = dir;
  d.cache = o.file_cache ? o.file_cache : FileCache::default_cache();
  d.dir_state = o.dir_state;
  d.config = std::make_shared<const LogConfig>(std::move(config));
  d.published_config.store(d.config);
  d.segments = std::move(l.segments);
  for (auto& s : l.unsynced) d.pending.push_back({std::move(s), nullptr});
  d.log_start = l.log_start;
  d.log_end = l.log_end;
  d.recovery_point = l.recovery_point;
  d.unflushed = l.unflushed;
  d.recovered_from = l.recovered_from;
  d.dir_dirty = l.dir_created;
  d.last_used_ms = now_ms();
  // The active segment opens its descriptor and index mappings on first use: opening
  // thousands of logs costs no descriptors.
  return log;
}

Log::~Log() { close(); }

Result<AppendInfo> Log::append(std::span<uint8_t> batches, int32_t leader_epoch) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (auto st = d.writable(); !st.ok()) return st.error();
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

  if (auto st = d.roll_if_full(bytes, d.log_end + offsets - 1, max_ts, now); !st.ok()) return d.io_failed(st.error());
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
  if (auto st = d.writable(); !st.ok()) return st.error();
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
  if (auto st = d.roll_if_full(bytes, next - 1, info.max_timestamp, now); !st.ok()) return d.io_failed(st.error());
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
  // The log always has a segment, even when its file cannot be created now (the first append
  // creates it, or fails like any write).
  auto f = open_file(s->log_path, O_RDWR | O_CREAT | O_TRUNC);
  s->created_ms = now;
  s->last_modified_ms = now;
  d.segments.push_back(std::move(s));
  spdlog::info("emptied {} (log end was {}); it starts again at offset {}", d.dir.string(), d.log_end, start.value());
  d.log_start = d.log_end = d.recovery_point = start.value();
  d.unflushed = 0;
  d.appended = true;
  d.dir_dirty = true;
  d.last_used_ms = now;
  if (!f.ok()) return d.io_failed(f.error());
  return {};
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
      if (!f.ok()) return d.io_failed(f.error());
      if (s.offset_index.mapped()) pos = lookup_position(s.offset_index.view(), s.base, to);
      std::optional<BatchHeader> h;
      while ((h = header_at((*f)->fd(), pos, s.size)) && h->last_offset() < to) pos += h->total_size();
    }
    // The segment is rebuilt from its remaining batches: file cut, indexes re-made.
    d.cache->erase(s.id);
    s.release();
    if (::truncate(s.log_path.c_str(), static_cast<off_t>(pos)) != 0)
      return d.io_failed(io_error("cannot truncate", s.log_path, errno));
    s.size = pos;
    std::optional<Error> no_space;
    if (auto st = recover_segment(s, d.cfg(), true, no_space); !st.ok()) return d.io_failed(st.error());
    if (no_space) {
      spdlog::warn("no disk space to rebuild the indexes of {} after truncating it: it is read without them",
                   s.log_path.string());
      d.io_failed(*no_space);
    }
    new_end = s.next_offset;
    // Aborted transactions whose marker was cut are no longer aborted here.
    if (std::erase_if(s.aborted_txns, [&](const AbortedTxn& t) { return t.last_offset >= new_end; }) > 0)
      if (auto st = write_txn_index(s.path_with(kTxnIndexSuffix), s.aborted_txns); !st.ok())
        return d.io_failed(st.error());
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
    if (expired(d.active()))
      if (auto st = d.roll(now); !st.ok()) d.roll_failed("for retention", st);
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
    if (auto st = d.roll(now); !st.ok()) d.roll_failed("for segment.ms", st);
}

void Log::set_config(LogConfig config) {
  auto next = std::make_shared<const LogConfig>(std::move(config));
  std::lock_guard lk(impl_->mu);
  impl_->config = next;
  impl_->published_config.store(std::move(next));
}
LogConfig Log::config() const { return *impl_->published_config.load(); }

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
  if (st.ok() && sync_indexes)
    for (const fs::path& f : {act->offset_index.path(), act->time_index.path()})
      if (std::error_code ec; st.ok() && fs::exists(f, ec)) st = sync_path(f);  // absent: no space to build it
  return d.io_failed(st);
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
  doomed += ".";  // appended piecewise: GCC 12 warns (-Wrestrict, bug 105329) on "." + string
  doomed += random_hex();
  doomed += "-delete";
  fs::rename(d.dir, doomed, ec);
  if (ec) doomed = d.dir;
  fs::remove_all(doomed, ec);
  if (ec) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot remove " + d.dir.string() + ": " + ec.message());
  return {};
}

const fs::path& Log::dir() const { return impl_->dir; }

}  // namespace kb::storage
