#include "storage/file_cache.h"

#include <fcntl.h>

#include <vector>

#include "storage/segment.h"

namespace kb::storage {

Result<std::shared_ptr<const SegmentFiles>> FileCache::get(const Segment& s) {
  {
    std::lock_guard lk(mu_);
    if (auto it = entries_.find(s.id); it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.files;
    }
  }
  auto gone = [&] {
    return Error{ErrorCode::OFFSET_OUT_OF_RANGE, "segment " + s.log_path.string() + " was deleted by retention"};
  };
  if (s.deleted.load()) return gone();
  auto f = open_file(s.log_path, O_RDONLY);
  if (!f.ok()) {
    if (s.deleted.load()) return gone();
    return f.error();
  }
  auto files = std::make_shared<SegmentFiles>();
  files->log = std::move(f.value());
  files->offsets = map_sealed_index(s.offset_index.path(), kOffsetEntrySize);
  files->times = map_sealed_index(s.time_index.path(), kTimeEntrySize);

  std::vector<std::shared_ptr<const SegmentFiles>> evicted;  // closed after the mutex is released
  std::shared_ptr<const SegmentFiles> result;
  {
    std::lock_guard lk(mu_);
    if (auto it = entries_.find(s.id); it != entries_.end()) {
      result = it->second.files;  // another reader opened it first
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    } else {
      result = files;
      lru_.push_front(s.id);
      entries_.emplace(s.id, Entry{files, lru_.begin()});
      while (entries_.size() > max_open_) {
        auto victim = entries_.find(lru_.back());
        evicted.push_back(std::move(victim->second.files));
        entries_.erase(victim);
        lru_.pop_back();
      }
    }
  }
  // Deletion sets `deleted` before erasing; checking after inserting means a deleted
  // segment never stays cached (it would keep its disk space allocated).
  if (s.deleted.load()) erase(s.id);
  return result;
}

void FileCache::erase(uint64_t id) {
  std::shared_ptr<const SegmentFiles> dropped;
  std::lock_guard lk(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    dropped = std::move(it->second.files);
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
}

size_t FileCache::open_count() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

std::shared_ptr<FileCache> FileCache::default_cache() {
  static auto cache = std::make_shared<FileCache>(256);
  return cache;
}

}  // namespace kb::storage
