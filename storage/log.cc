#include "storage/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <vector>

#include <spdlog/spdlog.h>

#include "protocol/crc32c.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "storage/index.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {

constexpr size_t kOffsetEntry = 8;  // relative offset int32, position int32
constexpr size_t kTimeEntry = 12;   // timestamp int64, relative offset int32

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string file_name(int64_t base, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(base));
  return std::string(buf) + ext;
}

Error io_error(const std::string& what, const fs::path& p) {
  return Error{ErrorCode::KAFKA_STORAGE_ERROR, what + " " + p.string() + ": " + std::strerror(errno)};
}

// Keeps a descriptor open while a FileSlice of it is in flight.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads a batch header at `pos`; nullopt at the end of the data or on a short read.
std::optional<BatchHeader> header_at(int fd, int64_t pos, int64_t end) {
  if (pos + static_cast<int64_t>(batch::kHeaderSize) > end) return std::nullopt;
  uint8_t buf[batch::kHeaderSize];
  if (::pread(fd, buf, sizeof buf, pos) != static_cast<ssize_t>(sizeof buf)) return std::nullopt;
  auto h = read_batch_header({buf, sizeof buf});
  if (!h.ok() || pos + h->total_size() > end || h->batch_length < 49) return std::nullopt;
  return *h;
}

}  // namespace

// One segment: <base>.log with its .index and .timeindex. The active segment keeps its log
// descriptor open and its indexes mapped; older ones hold nothing open.
struct Segment {
  int64_t base = 0;
  fs::path log_path;
  std::shared_ptr<Fd> fd;  // active segment only
  int64_t size = 0;        // bytes of whole batches
  int64_t next_offset = 0; // offset after the last batch
  int64_t max_timestamp = -1;
  int64_t offset_of_max_timestamp = -1;
  int64_t first_append_ms = -1;  // for segment.ms
  int64_t bytes_since_index = 0;
  Index offset_index;
  Index time_index;

  Segment(const fs::path& dir, int64_t b)
      : base(b),
        log_path(dir / file_name(b, ".log")),
        offset_index(dir / file_name(b, ".index"), kOffsetEntry),
        time_index(dir / file_name(b, ".timeindex"), kTimeEntry) {}

  // `held` is the active descriptor captured under the log's mutex (or null).
  std::shared_ptr<Fd> open_read(const std::shared_ptr<Fd>& held) const {
    if (held) return held;
    int f = ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
    return f < 0 ? nullptr : std::make_shared<Fd>(f);
  }

  void index_batch(const BatchHeader& h, int64_t pos, int32_t interval) {
    if (h.max_timestamp > max_timestamp) {
      max_timestamp = h.max_timestamp;
      offset_of_max_timestamp = h.last_offset();
    }
    bytes_since_index += h.total_size();
    if (pos == 0 || bytes_since_index >= interval) {
      uint8_t e[kOffsetEntry];
      wire::store_be32(e, static_cast<uint32_t>(h.base_offset - base));
      wire::store_be32(e + 4, static_cast<uint32_t>(pos));
      offset_index.append(e);
      uint8_t t[kTimeEntry];
      wire::store_be64(t, static_cast<uint64_t>(max_timestamp));
      wire::store_be32(t + 8, static_cast<uint32_t>(h.base_offset - base));
      time_index.append(t);
      bytes_since_index = 0;
    }
  }

  // Byte position of a batch at or before the one holding `offset`.
  int64_t position_floor(int64_t offset) const {
    auto i = offset_index.floor(offset - base, [](const uint8_t* e) {
      return static_cast<int64_t>(static_cast<int32_t>(wire::load_be32(e)));
    });
    if (!i) return 0;
    uint8_t e[kOffsetEntry];
    if (!offset_index.read(*i, e)) return 0;
    return static_cast<int64_t>(wire::load_be32(e + 4));
  }

  // Offset from which to scan for the first batch with max timestamp >= ts.
  int64_t time_floor(int64_t ts) const {
    auto i = time_index.floor(ts - 1, [](const uint8_t* e) {
      return static_cast<int64_t>(wire::load_be64(e));
    });
    if (!i) return base;
    uint8_t e[kTimeEntry];
    if (!time_index.read(*i, e)) return base;
    return base + static_cast<int32_t>(wire::load_be32(e + 8));
  }
};

struct Log::Impl {
  fs::path dir;
  LogConfig config;
  mutable std::mutex mu;
  std::vector<std::shared_ptr<Segment>> segments;  // by base offset; never empty once open
  int64_t log_start = 0;
  int64_t log_end = 0;
  int64_t unflushed = 0;
  int64_t last_append_ms = 0;
  bool closed = false;

  std::shared_ptr<Segment> active() const { return segments.back(); }

  Status activate(Segment& s) {
    int f = ::open(s.log_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) return io_error("cannot open", s.log_path);
    s.fd = std::make_shared<Fd>(f);
    if (auto st = s.offset_index.open_writable(config.segment_index_bytes, s.offset_index.count()); !st.ok()) return st;
    return s.time_index.open_writable(config.segment_index_bytes, s.time_index.count());
  }

  void deactivate(Segment& s) {
    if (s.fd) ::fdatasync(s.fd->fd);
    s.fd.reset();
    s.offset_index.seal();
    s.time_index.seal();
  }

  Status roll(int64_t base) {
    if (!segments.empty()) deactivate(*active());
    auto s = std::make_shared<Segment>(dir, base);
    s->next_offset = base;
    s->offset_index.reset();
    s->time_index.reset();
    if (auto st = activate(*s); !st.ok()) return st;
    segments.push_back(std::move(s));
    return {};
  }

  // Scans a segment's batches from the start: rebuilds its indexes and timestamps; with
  // `check_crc` verifies every batch. Returns the byte length of valid data; `clean` tells
  // whether that is the whole file.
  Result<int64_t> scan(Segment& s, bool check_crc, bool& clean) {
    int fd = ::open(s.log_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open", s.log_path);
    Fd guard(fd);
    struct stat st;
    ::fstat(fd, &st);
    int64_t end = st.st_size, pos = 0;
    s.offset_index.reset();
    s.time_index.reset();
    s.max_timestamp = -1;
    s.offset_of_max_timestamp = -1;
    s.bytes_since_index = 0;
    s.next_offset = s.base;
    std::vector<uint8_t> buf;
    while (true) {
      auto h = header_at(fd, pos, end);
      if (!h) break;
      if (check_crc) {
        buf.resize(static_cast<size_t>(h->total_size()));
        if (::pread(fd, buf.data(), buf.size(), pos) != static_cast<ssize_t>(buf.size())) break;
        if (crc32c(buf.data() + batch::kAttributes, buf.size() - batch::kAttributes) != h->crc) break;
      }
      if (h->base_offset < s.next_offset) break;  // offsets must grow
      s.index_batch(*h, pos, config.index_interval_bytes);
      s.next_offset = h->last_offset() + 1;
      pos += h->total_size();
    }
    clean = pos == end;
    s.size = pos;
    return pos;
  }

  int64_t total_size() const {
    int64_t n = 0;
    for (const auto& s : segments) n += s->size;
    return n;
  }
};

Result<std::unique_ptr<Log>> Log::open(const fs::path& dir, LogConfig config, bool recover) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot create " + dir.string() + ": " + ec.message()};
  std::unique_ptr<Log> log(new Log());
  log->impl_ = std::make_unique<Impl>();
  Impl& d = *log->impl_;
  d.dir = dir;
  d.config = config;

  std::vector<int64_t> bases;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (e.path().extension() == ".log" && name.size() == 24) bases.push_back(std::stoll(name.substr(0, 20)));
    if (e.path().extension() == ".deleted" || e.path().extension() == ".cleaned") fs::remove(e.path(), ec);
  }
  std::sort(bases.begin(), bases.end());
  for (size_t i = 0; i < bases.size(); ++i) {
    auto s = std::make_shared<Segment>(dir, bases[i]);
    bool last = i + 1 == bases.size();
    bool usable = !recover && !last && s->offset_index.open_readonly() && s->time_index.open_readonly();
    if (usable) {
      // A sealed segment after a clean shutdown: trust its indexes; find its end from the
      // next segment's base and its timestamps from the last time index entry.
      s->size = static_cast<int64_t>(fs::file_size(s->log_path, ec));
      s->next_offset = bases[i + 1];
      uint8_t t[kTimeEntry];
      if (s->time_index.count() && s->time_index.read(s->time_index.count() - 1, t)) {
        s->max_timestamp = static_cast<int64_t>(wire::load_be64(t));
        s->offset_of_max_timestamp = s->base + static_cast<int32_t>(wire::load_be32(t + 8));
      }
      // The newest timestamp may lie after the last index entry: scan that tail.
      int fd = ::open(s->log_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        Fd guard(fd);
        int64_t pos = s->position_floor(s->next_offset);
        while (auto h = header_at(fd, pos, s->size)) {
          if (h->max_timestamp > s->max_timestamp) {
            s->max_timestamp = h->max_timestamp;
            s->offset_of_max_timestamp = h->last_offset();
          }
          pos += h->total_size();
        }
      }
    } else {
      // The active segment is always scanned (it may have been appended after its index was
      // written); after a crash every segment is, with CRC checks.
      if (auto st = s->offset_index.open_writable(config.segment_index_bytes, 0); !st.ok()) return st.error();
      if (auto st = s->time_index.open_writable(config.segment_index_bytes, 0); !st.ok()) return st.error();
      bool clean = false;
      auto valid = d.scan(*s, recover || last, clean);
      if (!valid.ok()) return valid.error();
      if (!clean) {
        int64_t file_size = static_cast<int64_t>(fs::file_size(s->log_path, ec));
        if (!last)
          return Error{ErrorCode::KAFKA_STORAGE_ERROR,
                       "corrupt record batch in " + s->log_path.string() + " at byte " +
                           std::to_string(*valid) + " (not at the tail of the log)"};
        spdlog::warn("truncating torn tail of {}: {} bytes after byte {} are not a whole valid batch",
                     s->log_path.string(), file_size - *valid, *valid);
        if (::truncate(s->log_path.c_str(), *valid) != 0) return io_error("cannot truncate", s->log_path);
      }
      if (!last) {
        s->offset_index.seal();
        s->time_index.seal();
      }
    }
    d.segments.push_back(std::move(s));
  }
  if (d.segments.empty()) {
    if (auto st = d.roll(0); !st.ok()) return st.error();
  } else {
    auto& a = *d.active();
    if (auto st = d.activate(a); !st.ok()) return st.error();
  }
  d.log_start = d.segments.front()->base;
  d.log_end = d.active()->next_offset;
  d.last_append_ms = now_ms();
  if (d.active()->size > 0) d.active()->first_append_ms = now_ms();
  return log;
}

Log::~Log() { close(); }

Result<AppendInfo> Log::append(std::span<uint8_t> batches, int32_t leader_epoch) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "log " + d.dir.string() + " is closed"};
  int64_t now = now_ms();
  auto seg = d.active();
  int64_t bytes = static_cast<int64_t>(batches.size());
  bool too_big = seg->size > 0 && seg->size + bytes > d.config.segment_bytes;
  bool too_old = seg->size > 0 && seg->first_append_ms >= 0 && now - seg->first_append_ms >= d.config.segment_ms;
  bool index_full = seg->offset_index.full() || seg->time_index.full();
  if (too_big || too_old || index_full) {
    if (auto st = d.roll(d.log_end); !st.ok()) return st.error();
    seg = d.active();
  }

  if (!seg->fd) {
    // Released while idle: reopen the descriptor and map the indexes again.
    if (auto st = d.activate(*seg); !st.ok()) return st.error();
  }
  d.last_append_ms = now;

  AppendInfo info;
  info.first_offset = Offset(d.log_end);
  info.log_append_time = d.config.message_timestamp_log_append ? now : -1;
  int64_t next = d.log_end;
  std::vector<std::pair<BatchHeader, int64_t>> placed;
  for (size_t pos = 0; pos < batches.size();) {
    uint8_t* b = batches.data() + pos;
    patch_base_offset(b, next);
    patch_leader_epoch(b, leader_epoch);
    if (d.config.message_timestamp_log_append) set_log_append_time(b, now);
    auto h = read_batch_header({b, batches.size() - pos});
    if (!h.ok()) return h.error();
    placed.emplace_back(*h, seg->size + static_cast<int64_t>(pos));
    info.records += h->records_count;
    if (h->max_timestamp > info.max_timestamp) {
      info.max_timestamp = h->max_timestamp;
      info.offset_of_max_timestamp = Offset(h->last_offset());
    }
    next = h->last_offset() + 1;
    pos += static_cast<size_t>(h->total_size());
  }
  // The bytes are in the page cache once pwrite returns: a kill -9 now loses nothing.
  size_t done = 0;
  while (done < batches.size()) {
    ssize_t n = ::pwrite(seg->fd->fd, batches.data() + done, batches.size() - done, seg->size + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      // Nothing becomes visible: size and log end stay where they were.
      return io_error("write to", seg->log_path);
    }
    done += static_cast<size_t>(n);
  }
  for (const auto& [h, pos] : placed) seg->index_batch(h, pos, d.config.index_interval_bytes);
  if (seg->first_append_ms < 0) seg->first_append_ms = now;
  seg->size += bytes;
  seg->next_offset = next;
  d.log_end = next;
  d.unflushed += bytes;
  info.last_offset = Offset(next - 1);
  info.bytes = bytes;
  return info;
}

Result<ReadResult> Log::read(Offset start, int32_t max_bytes, Offset max_offset, bool min_one_batch) const {
  const Impl& d = *impl_;
  struct Snap {
    std::shared_ptr<Segment> seg;
    int64_t size;
    std::shared_ptr<Fd> fd;
    int64_t pos;  // where to start scanning
  };
  std::vector<Snap> segs;  // segments and their sizes as of now
  ReadResult rr;
  {
    std::lock_guard lk(d.mu);
    rr.log_start_offset = Offset(d.log_start);
    rr.log_end_offset = Offset(d.log_end);
    if (start.value() < d.log_start || start.value() > d.log_end)
      return Error{ErrorCode::OFFSET_OUT_OF_RANGE,
                   "offset " + std::to_string(start.value()) + " is outside [" + std::to_string(d.log_start) +
                       ", " + std::to_string(d.log_end) + "]"};
    for (const auto& s : d.segments)
      if (s->next_offset > start.value()) segs.push_back({s, s->size, s->fd, 0});
    // Index lookups happen under the mutex: a roll may unmap the active index.
    if (!segs.empty()) segs.front().pos = segs.front().seg->position_floor(start.value());
  }
  int64_t limit = std::min(max_offset.value(), rr.log_end_offset.value());
  for (auto& [seg, seg_size, held, first_pos] : segs) {
    if (start.value() >= limit) break;
    auto fd = seg->open_read(held);
    if (!fd) return io_error("cannot open", seg->log_path);
    int64_t pos = first_pos;
    int64_t from = -1, to = -1;
    while (auto h = header_at(fd->fd, pos, seg_size)) {
      if (h->base_offset >= limit) break;
      if (h->last_offset() >= start.value()) {
        int64_t size = h->total_size();
        if (from < 0) {
          if (size > max_bytes && !min_one_batch) break;
          from = pos;
        } else if (pos + size - from > max_bytes) {
          break;
        }
        to = pos + size;
        rr.records += h->records_count;
      }
      pos += h->total_size();
    }
    if (from >= 0) {
      rr.slice = FileSlice{fd, fd->fd, from, to - from};
      return rr;
    }
    // Nothing here at or after `start` (it was the segment's end): try the next segment.
  }
  return rr;
}

std::optional<TimestampOffset> Log::offset_for_timestamp(int64_t ts) const {
  const Impl& d = *impl_;
  std::vector<std::tuple<std::shared_ptr<Segment>, int64_t, std::shared_ptr<Fd>, int64_t>> segs;
  {
    std::lock_guard lk(d.mu);  // index lookups under the mutex (a roll may unmap them)
    for (const auto& s : d.segments)
      if (s->max_timestamp >= ts) segs.emplace_back(s, s->size, s->fd, s->position_floor(s->time_floor(ts)));
  }
  for (auto& [seg, seg_size, held, start_pos] : segs) {
    auto fd = seg->open_read(held);
    if (!fd) continue;
    int64_t pos = start_pos;
    while (auto h = header_at(fd->fd, pos, seg_size)) {
      if (h->max_timestamp >= ts) {
        // The batch holds it; find the exact record when the batch is not compressed.
        TimestampOffset found{h->max_timestamp, Offset(h->base_offset)};
        if (h->compression() == 0) {
          std::vector<uint8_t> buf(static_cast<size_t>(h->total_size()));
          if (::pread(fd->fd, buf.data(), buf.size(), pos) == static_cast<ssize_t>(buf.size())) {
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
  return std::nullopt;
}

std::optional<TimestampOffset> Log::max_timestamp() const {
  std::lock_guard lk(impl_->mu);
  std::optional<TimestampOffset> best;
  for (const auto& s : impl_->segments)
    if (s->max_timestamp >= 0 && (!best || s->max_timestamp > best->timestamp))
      best = TimestampOffset{s->max_timestamp, Offset(s->offset_of_max_timestamp)};
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
int64_t Log::size_bytes() const {
  std::lock_guard lk(impl_->mu);
  return impl_->total_size();
}
int Log::segment_count() const {
  std::lock_guard lk(impl_->mu);
  return static_cast<int>(impl_->segments.size());
}

int Log::apply_retention(int64_t now) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return 0;
  int deleted = 0;
  auto expired = [&](const Segment& s) {
    return d.config.retention_ms >= 0 && s.size > 0 && s.max_timestamp >= 0 &&
           now - s.max_timestamp > d.config.retention_ms;
  };
  // An expired active segment is rolled first so it can go too (Kafka does the same).
  if (expired(*d.active())) {
    if (auto st = d.roll(d.log_end); !st.ok()) spdlog::error("roll failed: {}", st.error().message);
  }
  int64_t total = d.total_size();
  while (d.segments.size() > 1) {
    Segment& s = *d.segments.front();
    bool by_size = d.config.retention_bytes >= 0 && total - s.size >= d.config.retention_bytes;
    if (!expired(s) && !by_size) break;
    spdlog::info("retention deletes segment {} ({} bytes, {})", s.log_path.string(), s.size,
                 by_size ? "retention.bytes" : "retention.ms");
    total -= s.size;
    std::error_code ec;
    // Readers holding the descriptor keep reading: unlink does not disturb an open file.
    fs::remove(s.log_path, ec);
    s.offset_index.remove_file();
    s.time_index.remove_file();
    d.segments.erase(d.segments.begin());
    ++deleted;
  }
  d.log_start = std::max(d.log_start, d.segments.front()->base);
  return deleted;
}

void Log::maybe_roll(int64_t now) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  auto a = d.active();
  if (!d.closed && a->size > 0 && a->first_append_ms >= 0 && now - a->first_append_ms >= d.config.segment_ms)
    if (auto st = d.roll(d.log_end); !st.ok()) spdlog::error("roll failed: {}", st.error().message);
}

void Log::set_config(LogConfig config) {
  std::lock_guard lk(impl_->mu);
  impl_->config = config;
}
const LogConfig& Log::config() const { return impl_->config; }

Status Log::flush() {
  Impl& d = *impl_;
  std::shared_ptr<Fd> fd;
  fs::path path;
  {
    std::lock_guard lk(d.mu);
    if (d.closed || d.unflushed == 0) return {};
    d.unflushed = 0;
    fd = d.active()->fd;
    path = d.active()->log_path;
  }
  // fsync outside the lock: appends continue meanwhile. (A roll syncs the old segment itself.)
  if (fd && ::fdatasync(fd->fd) != 0) return io_error("fdatasync", path);
  // Indexes are not synced: after a crash they are rebuilt from the log by recovery.
  return {};
}

bool Log::release_if_idle(int64_t now, int64_t idle_ms) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  auto a = d.active();
  if (d.closed || !a->fd || now - d.last_append_ms < idle_ms) return false;
  d.deactivate(*a);
  d.unflushed = 0;  // deactivate synced it
  return true;
}

bool Log::dirty() const {
  std::lock_guard lk(impl_->mu);
  return impl_->unflushed > 0;
}

void Log::close() {
  if (!impl_) return;
  std::lock_guard lk(impl_->mu);
  if (impl_->closed) return;
  impl_->closed = true;
  if (!impl_->segments.empty()) impl_->deactivate(*impl_->active());
}

Status Log::remove() {
  close();
  std::error_code ec;
  fs::remove_all(impl_->dir, ec);
  if (ec) return Status(ErrorCode::KAFKA_STORAGE_ERROR, "cannot remove " + impl_->dir.string() + ": " + ec.message());
  return {};
}

const fs::path& Log::dir() const { return impl_->dir; }

}  // namespace kb::storage
