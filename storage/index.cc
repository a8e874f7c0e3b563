#include "storage/index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "protocol/wire.h"

namespace kb::storage {

namespace fs = std::filesystem;

OffsetEntry decode_offset_entry(const uint8_t* e) {
  return {static_cast<int32_t>(wire::load_be32(e)), static_cast<int32_t>(wire::load_be32(e + 4))};
}
TimeEntry decode_time_entry(const uint8_t* e) {
  return {static_cast<int64_t>(wire::load_be64(e)), static_cast<int32_t>(wire::load_be32(e + 8))};
}

namespace {
// Index of the first entry whose key is > target (binary search over a sorted index).
template <class Key>
size_t upper_bound(const IndexView& v, int64_t target, Key key) {
  size_t lo = 0, hi = v.count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (key(v.entry(mid)) <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
}  // namespace

int64_t lookup_position(const IndexView& v, int64_t base, int64_t target) {
  if (v.count == 0) return 0;
  size_t i = upper_bound(v, target - base, [](const uint8_t* e) { return int64_t(decode_offset_entry(e).relative_offset); });
  if (i == 0) return 0;
  return decode_offset_entry(v.entry(i - 1)).position;
}

int64_t lookup_time(const IndexView& v, int64_t base, int64_t ts) {
  if (v.count == 0) return base;
  // Last entry with timestamp < ts == last entry with timestamp <= ts - 1.
  size_t i = upper_bound(v, ts - 1, [](const uint8_t* e) { return decode_time_entry(e).timestamp; });
  if (i == 0) return base;
  return base + decode_time_entry(v.entry(i - 1)).relative_offset;
}

namespace {
// Disk blocks are reserved four pages at a time (2,048 offset entries, ~8 MiB of log at the
// default index.interval.bytes): a reservation is rare, an active partition holds 32 KiB
// more than a sparse file would, and a reservation always ends on a page boundary (a store
// faults a whole page in).
size_t reserve_chunk() {
  static const size_t chunk = 4 * static_cast<size_t>(std::max(4096L, ::sysconf(_SC_PAGESIZE)));
  return chunk;
}
}  // namespace

Status Index::reserve(size_t entries, int fd) {
  const size_t cap = capacity_ * entry_size_;
  const size_t need = std::min(entries * entry_size_, cap);
  if (need <= reserved_) return {};
  std::shared_ptr<FileHandle> own;
  if (fd < 0) {
    auto f = open_file(path_, O_RDWR);
    if (!f.ok()) return f.error();
    own = std::move(f.value());
    fd = own->fd();
  }
  // A chunk ahead when there is room for it, else exactly what is needed (blocks reserved
  // earlier are still there: reserving them again costs no space).
  const size_t chunk = reserve_chunk();
  for (size_t want : {std::min((need + chunk - 1) / chunk * chunk, cap), need}) {
    int err;
    do {
      err = ::posix_fallocate(fd, static_cast<off_t>(reserved_), static_cast<off_t>(want - reserved_));
    } while (err == EINTR);
    if (err == 0) {
      reserved_ = want;
      return {};
    }
    if (want == need) return io_error("cannot reserve disk space for", path_, err);
  }
  return {};
}

Status Index::map_writable(int64_t max_bytes) {
  if (map_) return {};
  size_t wanted = max_bytes > 0 ? static_cast<size_t>(max_bytes) / entry_size_ : 0;
  capacity_ = std::max(wanted, count_ + 2);
  reserved_ = 0;
  size_t bytes = capacity_ * entry_size_;
  std::error_code ec;
  const bool existed = fs::exists(path_, ec);
  auto f = open_file(path_, O_RDWR | O_CREAT);
  if (!f.ok()) return f.error();
  auto fail = [&](Error e) {
    capacity_ = 0;
    reserved_ = 0;
    // An empty index file left behind would be trusted by the next clean open.
    if (!existed || count_ == 0) ::unlink(path_.c_str());
    return Status(std::move(e));
  };
  // Blocks for the existing entries and the next two before anything is mapped: a full disk
  // is an error here, never a SIGBUS on a later store.
  if (auto s = reserve(count_ + 2, (*f)->fd()); !s.ok()) return fail(s.error());
  struct stat st;
  if (::fstat((*f)->fd(), &st) != 0) return fail(io_error("cannot stat", path_, errno));
  // The rest of the mapping is a sparse extension: blocks are reserved as entries arrive.
  if (static_cast<size_t>(st.st_size) != bytes && ::ftruncate((*f)->fd(), static_cast<off_t>(bytes)) != 0)
    return fail(io_error("cannot size", path_, errno));
  auto m = map_file(path_, bytes, true);
  if (!m.ok()) return fail(m.error());
  map_ = std::move(m.value());
  return {};
}

Status Index::unmap(bool trim) {
  map_.reset();  // readers holding a view keep their own reference
  capacity_ = 0;
  reserved_ = 0;
  if (trim && ::truncate(path_.c_str(), static_cast<off_t>(count_ * entry_size_)) != 0 && errno != ENOENT)
    return io_error("cannot trim", path_, errno);
  return {};
}

Status Index::append(const uint8_t* entry) {
  if (!map_ || count_ + 1 >= capacity_)
    return Error{ErrorCode::KAFKA_STORAGE_ERROR, "index " + path_.string() + " is not writable or full"};
  // This entry and the final one after it.
  if (auto s = reserve(count_ + 2); !s.ok()) return s;
  std::memcpy(map_->data() + count_ * entry_size_, entry, entry_size_);
  ++count_;
  return {};
}

void Index::append_final(const uint8_t* entry) {
  if (!map_ || count_ >= capacity_ || (count_ + 1) * entry_size_ > reserved_) return;
  std::memcpy(map_->data() + count_ * entry_size_, entry, entry_size_);
  ++count_;
}

void Index::clear() {
  count_ = 0;
  if (!map_) ::unlink(path_.c_str());
}

bool Index::read_entry(size_t i, uint8_t* out) const {
  if (i >= count_) return false;
  if (map_) {
    std::memcpy(out, map_->data() + i * entry_size_, entry_size_);
    return true;
  }
  auto f = open_file(path_, O_RDONLY);
  return f.ok() && pread_exact((*f)->fd(), out, entry_size_, static_cast<int64_t>(i * entry_size_));
}

bool Index::load_sealed(int64_t segment_size, std::string& why) {
  map_.reset();
  capacity_ = 0;
  count_ = 0;
  std::error_code ec;
  auto size = fs::file_size(path_, ec);
  // A segment that never held a batch may never have had its index written (it is created
  // with the first entry): nothing to index, nothing to rebuild.
  if (ec && segment_size == 0 && ec == std::errc::no_such_file_or_directory) return true;
  if (ec) {
    why = "missing";
    return false;
  }
  if (size % entry_size_ != 0) {
    why = "size " + std::to_string(size) + " is not a whole number of entries";
    return false;
  }
  count_ = size / entry_size_;
  if (count_ == 0) return true;
  uint8_t last[kTimeEntrySize], prev[kTimeEntrySize];
  if (!read_entry(count_ - 1, last) || (count_ > 1 && !read_entry(count_ - 2, prev))) {
    why = "unreadable";
    return false;
  }
  // A preallocated file left untrimmed ends in zero entries: the last entry would not be
  // after the one before it.
  if (entry_size_ == kOffsetEntrySize) {
    auto l = decode_offset_entry(last);
    bool ok = l.relative_offset >= 0 && l.position >= 0 && l.position < segment_size;
    if (ok && count_ > 1) {
      auto p = decode_offset_entry(prev);
      ok = l.relative_offset > p.relative_offset && l.position > p.position;
    }
    if (!ok) why = "last entry out of order or past the segment";
    return ok;
  }
  auto l = decode_time_entry(last);
  bool ok = l.relative_offset >= 0;
  if (ok && count_ > 1) {
    auto p = decode_time_entry(prev);
    ok = l.timestamp > p.timestamp && l.relative_offset >= p.relative_offset;
  }
  if (!ok) why = "last entry out of order";
  return ok;
}

IndexView map_sealed_index(const fs::path& path, size_t entry_size) {
  IndexView v;
  v.entry_size = entry_size;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || size < entry_size) return v;
  auto m = map_file(path, size, false);
  if (!m.ok()) return v;
  v.map = std::move(m.value());
  v.count = size / entry_size;
  return v;
}

}  // namespace kb::storage
