#include "storage/segment.h"

#include <fcntl.h>

#include <cstdio>
#include <utility>

#include "protocol/wire.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {
std::atomic<uint64_t> next_segment_id{1};
}

std::string segment_file_name(int64_t base, const char* ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(base));
  return std::string(buf) + ext;
}

std::optional<BatchHeader> header_at(int fd, int64_t pos, int64_t end) {
  if (pos < 0 || pos + static_cast<int64_t>(batch::kHeaderSize) > end) return std::nullopt;
  uint8_t buf[batch::kHeaderSize];
  if (!pread_exact(fd, buf, sizeof buf, pos)) return std::nullopt;
  auto h = read_batch_header({buf, sizeof buf});
  if (!h.ok() || h->batch_length < batch::kMinBatchLength || pos + h->total_size() > end) return std::nullopt;
  return *h;
}

Segment::Segment(const fs::path& dir, int64_t b, const std::string& suffix)
    : id(next_segment_id.fetch_add(1)),
      base(b),
      log_path(dir / (segment_file_name(b, ".log") + suffix)),
      offset_index(dir / (segment_file_name(b, ".index") + suffix), kOffsetEntrySize),
      time_index(dir / (segment_file_name(b, ".timeindex") + suffix), kTimeEntrySize),
      next_offset(b) {}

fs::path Segment::path_with(const char* ext) const { return log_path.parent_path() / segment_file_name(base, ext); }

bool Segment::index_batch(const BatchHeader& h, int64_t position, int32_t interval) {
  if (h.max_timestamp > max_timestamp) {
    max_timestamp = h.max_timestamp;
    offset_of_max_timestamp = h.last_offset();
  }
  bool whole = true;
  // Kafka checks the bytes appended before this batch, so the first batch of a segment is
  // never indexed (a lookup that finds no entry starts at position 0 anyway).
  if (bytes_since_index > interval) {
    if (!offset_index.full()) {
      uint8_t e[kOffsetEntrySize];
      wire::store_be32(e, static_cast<uint32_t>(h.last_offset() - base));
      wire::store_be32(e + 4, static_cast<uint32_t>(position));
      whole = offset_index.append(e).ok();
    }
    if (max_timestamp > last_time_entry && !time_index.full()) {
      uint8_t t[kTimeEntrySize];
      wire::store_be64(t, static_cast<uint64_t>(max_timestamp));
      wire::store_be32(t + 8, static_cast<uint32_t>(offset_of_max_timestamp - base));
      if (time_index.append(t).ok()) last_time_entry = max_timestamp;
      else whole = false;
    }
    bytes_since_index = 0;
  }
  bytes_since_index += h.total_size();
  return whole;
}

void Segment::add_final_time_entry() {
  if (max_timestamp <= last_time_entry || !time_index.mapped()) return;
  uint8_t t[kTimeEntrySize];
  wire::store_be64(t, static_cast<uint64_t>(max_timestamp));
  wire::store_be32(t + 8, static_cast<uint32_t>(offset_of_max_timestamp - base));
  const size_t before = time_index.count();
  time_index.append_final(t);  // the slot append() keeps reserved
  if (time_index.count() > before) last_time_entry = max_timestamp;
}

Status Segment::open_active(int64_t index_max_bytes) {
  if (!fd) {
    auto f = open_file(log_path, O_RDWR | O_CREAT);
    if (!f.ok()) return f.error();
    fd = std::move(f.value());
  }
  if (auto s = offset_index.map_writable(index_max_bytes); !s.ok()) return s;
  return time_index.map_writable(index_max_bytes);
}

void Segment::keep_reserve(int64_t bytes) {
  if (bytes <= 0 || !fd || reserved_end - size >= bytes / 2) return;
  // KEEP_SIZE: blocks past the end of the file, which later writes use without allocating.
  if (::fallocate(fd->fd(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size), static_cast<off_t>(bytes)) == 0)
    reserved_end = size + bytes;
}

void Segment::drop_reserve() {
  if (!fd || reserved_end <= size) return;
  (void)::fallocate(fd->fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size),
                    static_cast<off_t>(reserved_end - size));
  reserved_end = 0;
}

std::shared_ptr<FileHandle> Segment::seal() {
  if (max_timestamp > last_time_entry && !time_index.mapped())
    (void)time_index.map_writable(0);  // room for the final entry
  add_final_time_entry();
  (void)offset_index.unmap(true);
  (void)time_index.unmap(true);
  if (max_timestamp > last_time_entry) time_index.clear();  // unmapped: unlinks the stale file
  return std::exchange(fd, nullptr);
}

void Segment::release() {
  fd.reset();
  (void)offset_index.unmap(false);
  (void)time_index.unmap(false);
}

}  // namespace kb::storage
