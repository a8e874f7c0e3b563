// Log: the read side (read, replay, lookups by timestamp); see log_impl.h.
#include "storage/log.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "protocol/record_batch.h"
#include "storage/log_impl.h"

namespace kb::storage {

Status Log::Impl::snapshot(size_t i, Snapshot& out) {
  out.seg = segments[i];
  out.size = out.seg->size;
  out.next_offset = out.seg->next_offset;
  if (i + 1 == segments.size()) {
    last_used_ms = now_ms();
    (void)ensure_active_open();  // reads need neither the indexes nor a writable descriptor
    if (out.seg->fd) {
      out.fd = out.seg->fd;
    } else {
      auto f = open_file(out.seg->log_path, O_RDONLY);
      if (!f.ok()) return f.error();
      out.fd = std::move(f.value());
    }
    // An index that could not be mapped (no disk space for it): the lookup scans from the
    // start of the segment.
    if (out.seg->offset_index.mapped()) out.offsets = out.seg->offset_index.view();
    if (out.seg->time_index.mapped()) out.times = out.seg->time_index.view();
  }
  return {};
}

Status Log::Impl::open_snapshot(Snapshot& s) {
  if (s.fd) return {};
  auto f = cache->get(*s.seg);
  if (!f.ok()) return f.error();
  s.files = std::move(f.value());
  s.offsets = s.files->offsets;
  s.times = s.files->times;
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

}  // namespace kb::storage
