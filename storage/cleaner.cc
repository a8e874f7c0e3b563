#include "storage/cleaner.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <set>
#include <unordered_map>

#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"
#include "runtime/loop_thread.h"
#include "storage/files.h"
#include "storage/segment.h"
#include "storage/txn_index.h"

namespace kb::storage {

namespace fs = std::filesystem;

namespace {

Error corrupt(const std::string& what) { return Error{ErrorCode::CORRUPT_MESSAGE, what}; }

// Zigzag varints of the record format over [p, end); false when the bytes run out.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool uvarint(uint64_t& v, int max_bytes) {
    v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (p == end) return false;
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool varint(int32_t& v) {
    uint64_t u;
    if (!uvarint(u, 5)) return false;
    uint32_t x = static_cast<uint32_t>(u);
    v = static_cast<int32_t>((x >> 1) ^ (~(x & 1) + 1));
    return true;
  }
  bool varlong(int64_t& v) {
    uint64_t u;
    if (!uvarint(u, 10)) return false;
    v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool skip(int64_t n) {
    if (n < 0 || end - p < n) return false;
    p += n;
    return true;
  }
};

// One record as stored: what the cleaner decides on, and the bytes it copies when kept.
struct RawRecord {
  int64_t offset = 0;
  int64_t timestamp = 0;
  int8_t attributes = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  bool null_value = false;
  std::span<const uint8_t> tail;  // key, value and headers exactly as stored
};

// The records of one whole batch; a compressed batch is decompressed into `plain`, which the
// returned views point into (else they point into `batch`).
Result<std::vector<RawRecord>> parse_records(std::span<const uint8_t> batch, const BatchHeader& h,
                                             std::vector<uint8_t>& plain) {
  auto body = batch.subspan(batch::kHeaderSize, static_cast<size_t>(h.total_size()) - batch::kHeaderSize);
  if (h.compression() != 0) {
    auto d = decompress(h.compression(), body, kMaxDecompressedBatchBytes);
    if (!d.ok()) return d.error();
    plain = std::move(d.value());
    body = plain;
  }
  std::vector<RawRecord> out;
  out.reserve(static_cast<size_t>(std::max(h.records_count, 0)));
  Cursor c{body.data(), body.data() + body.size()};
  auto bad = [&] {
    return corrupt("malformed record in the batch at offset " + std::to_string(h.base_offset));
  };
  for (int32_t i = 0; i < h.records_count; ++i) {
    int32_t len;
    if (!c.varint(len) || len < 1 || c.end - c.p < len) return bad();
    Cursor r{c.p, c.p + len};
    c.p += len;
    RawRecord rec;
    rec.attributes = static_cast<int8_t>(*r.p++);
    int64_t ts_delta;
    if (!r.varlong(ts_delta) || !r.varint(rec.offset_delta)) return bad();
    const uint8_t* tail = r.p;
    int32_t klen, vlen;
    if (!r.varint(klen) || klen < -1) return bad();
    if (klen >= 0) {
      rec.key = std::string_view(reinterpret_cast<const char*>(r.p), static_cast<size_t>(klen));
      if (!r.skip(klen)) return bad();
    }
    if (!r.varint(vlen) || vlen < -1) return bad();
    rec.null_value = vlen < 0;
    if (vlen > 0 && !r.skip(vlen)) return bad();
    rec.tail = std::span<const uint8_t>(tail, static_cast<size_t>(r.end - tail));
    rec.offset = h.base_offset + rec.offset_delta;
    rec.timestamp = h.base_timestamp + ts_delta;
    out.push_back(rec);
  }
  return out;
}

bool has_delete_horizon(const BatchHeader& h) { return h.attributes & batch::kDeleteHorizonMask; }

// A batch rebuilt from `original` with only `kept`: same base offset, last offset delta,
// producer fields and codec. With `horizon`, the delete horizon goes into the base timestamp
// (attribute bit 6) and every record's timestamp delta is re-based on it. No records left
// gives Kafka's empty batch header (kept for the producer's state).
Result<std::vector<uint8_t>> rebuild_batch(std::span<const uint8_t> original, const BatchHeader& h,
                                           const std::vector<const RawRecord*>& kept,
                                           std::optional<int64_t> horizon) {
  std::vector<uint8_t> out(original.begin(), original.begin() + batch::kHeaderSize);
  uint16_t attrs = static_cast<uint16_t>(h.attributes);
  int64_t base_ts = h.base_timestamp, max_ts = h.max_timestamp;
  if (kept.empty()) {
    attrs &= static_cast<uint16_t>(~(batch::kCompressionMask | batch::kDeleteHorizonMask));
    base_ts = h.max_timestamp;
  } else {
    if (horizon) {
      base_ts = *horizon;
      attrs |= batch::kDeleteHorizonMask;
    }
    wire::Writer recs, one;
    int64_t newest = -1;
    for (const RawRecord* r : kept) {
      one.buffer().clear();
      one.write_int8(r->attributes);
      one.write_varlong(r->timestamp - base_ts);
      one.write_varint(r->offset_delta);
      one.write_raw(r->tail);
      recs.write_varint(static_cast<int32_t>(one.buffer().size()));
      recs.write_raw(one.buffer());
      newest = std::max(newest, r->timestamp);
    }
    if (!h.timestamp_type_log_append()) max_ts = newest;  // LogAppendTime keeps the broker's time
    if (h.compression() != 0) {
      auto packed = compress(h.compression(), recs.buffer());
      if (!packed.ok()) return packed.error();
      out.insert(out.end(), packed->begin(), packed->end());
    } else {
      out.insert(out.end(), recs.buffer().begin(), recs.buffer().end());
    }
  }
  wire::store_be32(out.data() + batch::kBatchLength, static_cast<uint32_t>(out.size() - batch::kLogOverhead));
  wire::store_be16(out.data() + batch::kAttributes, attrs);
  wire::store_be64(out.data() + batch::kBaseTimestamp, static_cast<uint64_t>(base_ts));
  wire::store_be64(out.data() + batch::kMaxTimestamp, static_cast<uint64_t>(max_ts));
  wire::store_be32(out.data() + batch::kRecordsCount, static_cast<uint32_t>(kept.size()));
  wire::store_be32(out.data() + batch::kCrc, compute_batch_crc(out));
  return out;
}

// What the cleaner needs to know about transactions and producers, from every batch header
// of the log (kbroker keeps no transaction index or producer snapshot yet).
struct LogScan {
  // Producer id -> [first offset, marker offset) of each aborted transaction.
  std::unordered_map<int64_t, std::vector<std::pair<int64_t, int64_t>>> aborted;
  // Producer id -> last offset of its last data batch (kept even when emptied).
  std::unordered_map<int64_t, int64_t> last_data_batch;
  // First offset of a transaction with no marker yet: nothing from there on is cleaned.
  int64_t first_unstable = INT64_MAX;

  bool is_aborted(int64_t producer_id, int64_t offset) const {
    auto it = aborted.find(producer_id);
    if (it == aborted.end()) return false;
    for (const auto& [first, marker] : it->second)
      if (offset >= first && offset < marker) return true;
    return false;
  }
};

// Control record key: version int16, type int16 (0 ABORT, 1 COMMIT).
std::optional<int16_t> marker_type(std::span<const uint8_t> batch) {
  std::optional<int16_t> type;
  (void)for_each_record(batch, [&](const RecordView& r) {
    if (!type && r.key && r.key->size() >= 4)
      type = static_cast<int16_t>(wire::load_be16(reinterpret_cast<const uint8_t*>(r.key->data()) + 2));
  });
  return type;
}

Result<LogScan> scan_log(const Log& log, int64_t from, int64_t to) {
  LogScan s;
  std::unordered_map<int64_t, int64_t> open;  // producer id -> first offset of its open transaction
  std::vector<uint8_t> buf;
  int64_t next = from;
  while (next < to) {
    auto rr = log.read(Offset(next), INT32_MAX, Offset(to), true);
    if (!rr.ok()) return rr.error();
    if (!rr->slice || rr->slice->size <= 0) break;
    const FileSlice& sl = *rr->slice;
    const int64_t end = sl.position + sl.size;
    for (int64_t pos = sl.position; pos < end;) {
      auto h = header_at(sl.fd, pos, end);
      if (!h)
        return corrupt("unreadable batch header at byte " + std::to_string(pos) + " of " +
                       log.dir().string());
      next = h->last_offset() + 1;
      if (h->producer_id >= 0) {
        if (h->is_control()) {
          buf.resize(static_cast<size_t>(h->total_size()));
          if (!pread_exact(sl.fd, buf.data(), buf.size(), pos))
            return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot read " + log.dir().string()};
          auto type = marker_type(buf);
          if (auto it = open.find(h->producer_id); it != open.end()) {
            if (type && *type == 0) s.aborted[h->producer_id].emplace_back(it->second, h->base_offset);
            open.erase(it);
          }
        } else {
          s.last_data_batch[h->producer_id] = h->last_offset();
          // An emptied batch the cleaner kept for the producer state holds no data: it opens
          // no transaction (its marker may be gone already).
          if (h->is_transactional() && h->records_count > 0)
            open.emplace(h->producer_id, h->base_offset);  // keeps the first
        }
      }
      pos += h->total_size();
    }
  }
  for (const auto& [pid, first] : open) s.first_unstable = std::min(s.first_unstable, first);
  return s;
}

// Key -> offset of its newest record in the dirty section, bounded in memory.
class OffsetMap {
 public:
  explicit OffsetMap(int64_t memory) : memory_(memory) {}
  void put(std::string_view key, int64_t offset) {
    auto [it, inserted] = map_.try_emplace(std::string(key), offset);
    if (inserted)
      used_ += static_cast<int64_t>(key.size()) + kEntryOverhead;
    else
      it->second = offset;
  }
  // -1 when the key is not in the dirty section.
  int64_t get(std::string_view key) const {
    auto it = map_.find(std::string(key));
    return it == map_.end() ? -1 : it->second;
  }
  bool full() const { return used_ >= memory_; }
  size_t size() const { return map_.size(); }

 private:
  static constexpr int64_t kEntryOverhead = 64;  // node, hash bucket and string header, roughly
  int64_t memory_;
  int64_t used_ = 0;
  std::unordered_map<std::string, int64_t> map_;
};

// Everything one pass decides batch by batch.
struct Pass {
  const OffsetMap& map;
  const LogScan& scan;
  int64_t now;
  int64_t delete_retention_ms;
  // Producer id -> whether its open transaction kept any data so far in this pass (its
  // marker stays while so).
  std::unordered_map<int64_t, bool> txn_has_data;
  CleanStats& stats;

  void note_horizon(int64_t horizon) {
    if (stats.next_delete_horizon < 0 || horizon < stats.next_delete_horizon)
      stats.next_delete_horizon = horizon;
  }
  int64_t new_horizon() const {
    return delete_retention_ms > INT64_MAX - now ? INT64_MAX : now + delete_retention_ms;
  }

  // nullopt: keep the batch as it is; an empty vector: drop it; else the rewritten batch.
  Result<std::optional<std::vector<uint8_t>>> filter(std::span<const uint8_t> b, const BatchHeader& h) {
    using Out = std::optional<std::vector<uint8_t>>;
    stats.records_read += h.records_count;
    if (h.is_control()) {
      bool had_data = false;
      if (auto it = txn_has_data.find(h.producer_id); it != txn_has_data.end()) {
        had_data = it->second;
        txn_has_data.erase(it);
      }
      if (had_data) return Out{};  // its transaction still has data: the marker stays
      if (has_delete_horizon(h)) {
        if (now >= h.base_timestamp) {
          stats.records_removed += h.records_count;
          return Out{std::vector<uint8_t>{}};
        }
        note_horizon(h.base_timestamp);
        return Out{};
      }
      std::vector<uint8_t> plain;
      auto records = parse_records(b, h, plain);
      if (!records.ok()) return records.error();
      std::vector<const RawRecord*> all;
      for (const auto& r : *records) all.push_back(&r);
      int64_t horizon = new_horizon();
      note_horizon(horizon);
      auto rebuilt = rebuild_batch(b, h, all, horizon);
      if (!rebuilt.ok()) return rebuilt.error();
      return Out{std::move(rebuilt.value())};
    }

    const bool aborted = h.is_transactional() && scan.is_aborted(h.producer_id, h.base_offset);
    std::vector<uint8_t> plain;
    auto records = parse_records(b, h, plain);
    if (!records.ok()) return records.error();
    std::vector<const RawRecord*> kept;
    bool tombstones = false;
    for (const auto& r : *records) {
      if (aborted) continue;
      // Kafka keeps a record iff no newer record of its key is in the dirty section.
      if (r.key && map.get(*r.key) > r.offset) continue;
      if (r.null_value && r.key) {
        if (has_delete_horizon(h) && now >= h.base_timestamp) continue;  // the tombstone has served
        tombstones = true;
      }
      kept.push_back(&r);
    }
    if (h.is_transactional() && !kept.empty()) txn_has_data[h.producer_id] = true;
    stats.records_removed += static_cast<int64_t>(records->size() - kept.size());

    std::optional<int64_t> horizon;
    if (tombstones) {
      horizon = has_delete_horizon(h) ? h.base_timestamp : new_horizon();
      note_horizon(*horizon);
    }
    const bool needs_horizon = tombstones && !has_delete_horizon(h);
    if (kept.size() == records->size() && !needs_horizon) return Out{};
    if (kept.empty()) {
      auto last = scan.last_data_batch.find(h.producer_id);
      bool producers_last =
          h.producer_id >= 0 && last != scan.last_data_batch.end() && last->second == h.last_offset();
      if (!producers_last) return Out{std::vector<uint8_t>{}};
    }
    // A batch that keeps its horizon keeps its base timestamp: deltas stay as they are.
    auto rebuilt = rebuild_batch(b, h, kept, tombstones ? horizon : std::nullopt);
    if (!rebuilt.ok()) return rebuilt.error();
    return Out{std::move(rebuilt.value())};
  }
};

void remove_cleaned_files(const fs::path& dir, int64_t base) {
  for (const char* ext : {".log", ".index", ".timeindex", kTxnIndexSuffix}) {
    std::error_code ec;
    fs::remove(dir / (segment_file_name(base, ext) + ".cleaned"), ec);
  }
}

}  // namespace

Cleaner::Cleaner(int64_t map_memory_bytes, std::function<int64_t()> clock)
    : map_memory_bytes_(std::max<int64_t>(map_memory_bytes, 1 << 20)), clock_(std::move(clock)) {
  if (!clock_) clock_ = now_ms;
}

Result<CleanStats> Cleaner::clean(Log& log, int64_t first_dirty) {
  auto view = log.cleaner_view();
  if (!view) return Error{ErrorCode::KAFKA_STORAGE_ERROR, "log " + log.dir().string() + " is closed"};
  const LogConfig cfg = log.config();
  const int64_t now = clock_();
  if (first_dirty < view->log_start || first_dirty > view->log_end) first_dirty = view->log_start;
  CleanStats stats;
  stats.first_dirty = stats.end = first_dirty;

  auto scan = scan_log(log, view->log_start, view->log_end);
  if (!scan.ok()) return scan.error();

  // The cleanable end: never the active segment, nothing from an open transaction on, and
  // no segment holding a record younger than min.compaction.lag.ms.
  int64_t end = std::min(view->active_base, scan->first_unstable);
  if (cfg.min_compaction_lag_ms > 0)
    for (const auto& s : view->sealed)
      if (s.next_offset > first_dirty && s.largest_timestamp > now - cfg.min_compaction_lag_ms) {
        end = std::min(end, s.base);
        break;
      }
  std::vector<Log::SealedSegment> segs;
  for (const auto& s : view->sealed)
    if (s.next_offset <= end) segs.push_back(s);
  if (segs.empty()) return stats;

  // The offset map over the dirty section. When the map fills, the pass ends after the last
  // batch mapped; the next pass goes on from there.
  OffsetMap map(map_memory_bytes_);
  int64_t mapped_end = first_dirty;
  std::vector<uint8_t> buf, plain;
  bool full = false;
  for (const auto& s : segs) {
    if (full) break;
    if (s.next_offset <= first_dirty) continue;
    auto f = open_file(s.segment->log_path, O_RDONLY);
    if (!f.ok()) return f.error();
    for (int64_t pos = 0; pos < s.size;) {
      auto h = header_at((*f)->fd(), pos, s.size);
      if (!h)
        return corrupt("unreadable batch at byte " + std::to_string(pos) + " of " +
                       s.segment->log_path.string());
      pos += h->total_size();
      if (h->last_offset() < first_dirty || h->is_control()) continue;
      if (h->is_transactional() && scan->is_aborted(h->producer_id, h->base_offset)) continue;
      buf.resize(static_cast<size_t>(h->total_size()));
      if (!pread_exact((*f)->fd(), buf.data(), buf.size(), pos - h->total_size()))
        return Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot read " + s.segment->log_path.string()};
      auto records = parse_records(buf, *h, plain);
      if (!records.ok()) return records.error();
      for (const auto& r : *records)
        if (r.key && r.offset >= first_dirty) map.put(*r.key, r.offset);
      if (map.full()) {
        mapped_end = pos < s.size ? h->last_offset() + 1 : s.next_offset;
        full = true;
        spdlog::info("cleaner offset map full ({} keys) at offset {} of {}", map.size(), mapped_end,
                     log.dir().string());
        break;
      }
    }
    if (!full) mapped_end = s.next_offset;
  }
  stats.end = std::max(first_dirty, mapped_end);

  // Rewrite every segment from the log start that the pass covers.
  Pass pass{map, *scan, now, cfg.delete_retention_ms, {}, stats};
  const int32_t interval = cfg.index_interval_bytes;
  for (const auto& s : segs) {
    if (s.base >= stats.end) break;
    if (stop_ && stop_->load()) break;
    auto in = open_file(s.segment->log_path, O_RDONLY);
    if (!in.ok()) return in.error();
    Segment out(log.dir(), s.base, ".cleaned");
    auto of = open_file(out.log_path, O_RDWR | O_CREAT | O_TRUNC);
    if (!of.ok()) return of.error();
    auto fail = [&](Error e) -> Result<CleanStats> {
      out.release();
      remove_cleaned_files(log.dir(), s.base);
      return e;
    };
    int64_t index_bytes = std::max<int64_t>(
        cfg.segment_index_bytes, (s.size / std::max<int32_t>(interval, 1) + 3) * int64_t(kTimeEntrySize));
    if (auto st = out.offset_index.map_writable(index_bytes); !st.ok()) return fail(st.error());
    if (auto st = out.time_index.map_writable(index_bytes); !st.ok()) return fail(st.error());
    bool changed = false;
    std::set<int64_t> dropped_markers;  // offsets of the control batches this segment loses
    for (int64_t pos = 0; pos < s.size;) {
      auto h = header_at((*in)->fd(), pos, s.size);
      if (!h)
        return fail(corrupt("unreadable batch at byte " + std::to_string(pos) + " of " +
                            s.segment->log_path.string()));
      buf.resize(static_cast<size_t>(h->total_size()));
      if (!pread_exact((*in)->fd(), buf.data(), buf.size(), pos))
        return fail(Error{ErrorCode::KAFKA_STORAGE_ERROR, "cannot read " + s.segment->log_path.string()});
      if (compute_batch_crc(buf) != h->crc)
        return fail(corrupt("CRC mismatch in the batch at offset " + std::to_string(h->base_offset) + " of " +
                            s.segment->log_path.string()));
      pos += h->total_size();
      stats.bytes_read += h->total_size();
      auto decided = pass.filter(buf, *h);
      if (!decided.ok()) return fail(decided.error());
      std::span<const uint8_t> keep = buf;
      if (decided->has_value()) {
        changed = true;
        keep = **decided;
        if (keep.empty()) {
          if (h->is_control()) dropped_markers.insert(h->base_offset);
          continue;
        }
      }
      auto kh = read_batch_header(keep);
      if (!kh.ok()) return fail(kh.error());
      if (auto st = pwrite_all((*of)->fd(), keep.data(), keep.size(), out.size, out.log_path); !st.ok())
        return fail(st.error());
      if (out.size == 0) out.first_batch_timestamp = kh->max_timestamp;
      out.index_batch(*kh, out.size, interval);
      out.size += static_cast<int64_t>(keep.size());
    }
    if (!changed) {  // nothing to drop here: the segment stays as it is
      stats.bytes_written += s.size;
      out.release();
      remove_cleaned_files(log.dir(), s.base);
      continue;
    }
    out.seal();
    if (!s.aborted_txns.empty()) {
      // The transaction index goes along, without the aborted transactions whose marker the
      // pass removed: a consumer told of one would wait for that marker and drop the
      // producer's later records (Kafka rebuilds the cleaned segment's index the same way).
      for (const auto& t : s.aborted_txns)
        if (!dropped_markers.count(t.last_offset)) out.aborted_txns.push_back(t);
      std::string bytes(out.aborted_txns.size() * kTxnEntrySize, '\0');
      for (size_t i = 0; i < out.aborted_txns.size(); ++i)
        encode_txn_entry(out.aborted_txns[i], reinterpret_cast<uint8_t*>(bytes.data()) + i * kTxnEntrySize);
      const fs::path txn_path = log.dir() / (segment_file_name(s.base, kTxnIndexSuffix) + ".cleaned");
      auto tf = open_file(txn_path, O_RDWR | O_CREAT | O_TRUNC);
      if (!tf.ok()) return fail(tf.error());
      if (auto st = pwrite_all((*tf)->fd(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, txn_path);
          !st.ok())
        return fail(st.error());
      if (auto st = sync_fd((*tf)->fd(), txn_path); !st.ok()) return fail(st.error());
    }
    // The copy keeps the old file's time: retention and segment age go by it, as in Kafka.
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = s.last_modified_ms / 1000;
    times[1].tv_nsec = (s.last_modified_ms % 1000) * 1000000;
    if (::futimens((*of)->fd(), times) != 0)
      spdlog::warn("cannot set the time of {}: {}", out.log_path.string(), std::strerror(errno));
    Status st = sync_fd((*of)->fd(), out.log_path);
    if (st.ok()) st = sync_path(out.offset_index.path());
    if (st.ok()) st = sync_path(out.time_index.path());
    if (!st.ok()) return fail(st.error());
    if (auto r = log.replace_cleaned_segment(s.segment, s.size, out); !r.ok()) return fail(r.error());
    stats.bytes_written += out.size;
    ++stats.segments_rewritten;
  }
  return stats;
}

// ---- LogCleaner ---------------------------------------------------------------------------

// One of the log.cleaner.threads: its own Cleaner (a share of the dedupe buffer) on a loop
// of its own.
struct LogCleaner::Worker {
  Worker(std::string name, int64_t map_memory_bytes, std::function<int64_t()> clock)
      : cleaner(map_memory_bytes, std::move(clock)), loop(std::move(name)) {}
  Cleaner cleaner;
  uint64_t round = 0;                       // under mu_: the round the worker runs next
  std::shared_ptr<runtime::Timer> backoff;  // under mu_: set while it sleeps the backoff
  runtime::LoopThread loop;                 // last: stopped before the rest goes
};

LogCleaner::LogCleaner(CleanerOptions options, Targets targets)
    : options_(std::move(options)), targets_(std::move(targets)) {
  if (!options_.clock) options_.clock = now_ms;
}

LogCleaner::~LogCleaner() { stop(); }

int64_t LogCleaner::now() const { return options_.clock(); }

void LogCleaner::start() {
  std::lock_guard lk(mu_);
  if (started_ || stop_) return;
  started_ = true;
  start_workers_locked();
}

void LogCleaner::start_workers_locked() {
  const int64_t share = options_.dedupe_buffer_size / std::max(options_.threads, 1);
  for (int i = 0; i < options_.threads; ++i) {
    auto& w = *workers_.emplace_back(std::make_unique<Worker>("kb-cleaner-" + std::to_string(i), share, options_.clock));
    w.cleaner.set_stop_flag(&stopping_);
    schedule_locked(w, 0);
  }
}

void LogCleaner::schedule_locked(Worker& w, int64_t delay_ms) {
  if (w.backoff) w.backoff->cancel();
  w.backoff.reset();
  const uint64_t round = ++w.round;
  auto fn = [this, &w, round] { run_round(w, round); };
  if (delay_ms <= 0) w.loop.post(std::move(fn));
  else w.backoff = w.loop.after_ms(delay_ms, std::move(fn));
}

void LogCleaner::run_round(Worker& w, uint64_t round) {
  {
    std::lock_guard lk(mu_);
    if (stop_ || round != w.round) return;
    w.backoff.reset();  // awake: reconfigure() leaves it be
  }
  const bool worked = clean_with(w.cleaner);
  std::lock_guard lk(mu_);
  if (stop_) return;
  // After some progress another log may be waiting; otherwise sleep log.cleaner.backoff.ms.
  schedule_locked(w, worked ? 0 : std::max<int64_t>(options_.backoff_ms, 1));
}

void LogCleaner::stop() {
  std::vector<std::unique_ptr<Worker>> workers;
  {
    std::lock_guard lk(mu_);
    shut_down_ = true;
    stop_ = true;
    stopping_.store(true);
    workers.swap(workers_);
  }
  for (auto& w : workers) w->loop.stop(runtime::LoopThread::kNoDeadline);
}

void LogCleaner::reconfigure(int threads, int64_t backoff_ms) {
  std::vector<std::unique_ptr<Worker>> old;
  {
    std::lock_guard lk(mu_);
    if (shut_down_) return;
    if (backoff_ms != options_.backoff_ms) {
      options_.backoff_ms = backoff_ms;
      for (auto& w : workers_)
        if (w->backoff) schedule_locked(*w, 0);  // sleeping: a round now, then the new backoff
    }
    if (threads == options_.threads) return;
    if (!started_) {  // start() uses the new count
      options_.threads = threads;
      return;
    }
    stop_ = true;
    stopping_.store(true);
    old.swap(workers_);
  }
  for (auto& w : old) w->loop.stop(runtime::LoopThread::kNoDeadline);
  old.clear();
  std::lock_guard lk(mu_);
  stop_ = false;
  stopping_.store(false);
  options_.threads = threads;
  if (shut_down_) return;
  start_workers_locked();
}

bool LogCleaner::clean_filthiest() {
  Cleaner cleaner(options_.dedupe_buffer_size / std::max(options_.threads, 1), options_.clock);
  return clean_with(cleaner);
}

std::map<TopicPartition, int64_t>& LogCleaner::checkpoints_locked(const fs::path& dir) {
  auto it = checkpoints_.find(dir);
  if (it != checkpoints_.end()) return it->second;
  auto read = read_offset_checkpoint(dir / kCleanerCheckpointFile);
  if (!read.ok()) {
    // Losing it only makes the next passes clean more than needed.
    spdlog::warn("ignoring the cleaner checkpoint: {}", read.error().message);
    return checkpoints_[dir];
  }
  return checkpoints_[dir] = std::move(read.value());
}

Status LogCleaner::write_checkpoint(const fs::path& dir) {
  std::lock_guard wl(checkpoint_write_mu_);
  std::map<TopicPartition, int64_t> copy;
  {
    std::lock_guard lk(mu_);
    copy = checkpoints_locked(dir);
  }
  return write_file_atomically(dir / kCleanerCheckpointFile, format_offset_checkpoint(copy));
}

void LogCleaner::forget(const TopicPartition& tp, const fs::path& log_dir) {
  {
    std::lock_guard lk(mu_);
    checkpoints_locked(log_dir).erase(tp);
    delete_horizons_.erase(tp);
  }
  if (auto s = write_checkpoint(log_dir); !s.ok()) spdlog::warn("cleaner checkpoint: {}", s.error().message);
}

std::optional<int64_t> LogCleaner::checkpoint_of(const TopicPartition& tp, const fs::path& log_dir) {
  std::lock_guard lk(mu_);
  auto& m = checkpoints_locked(log_dir);
  auto it = m.find(tp);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

bool LogCleaner::clean_with(Cleaner& cleaner) {
  const int64_t now = this->now();
  struct Candidate {
    Target target;
    int64_t first_dirty = 0;
    double ratio = 0;
    bool urgent = false;
  };
  std::optional<Candidate> best;
  for (auto& t : targets_()) {
    const LogConfig& c = t.log->config();
    if (!c.compact) continue;
    int64_t first_dirty = -1, horizon = -1;
    {
      std::lock_guard lk(mu_);
      if (stop_ || in_progress_.count(t.tp)) continue;
      auto& points = checkpoints_locked(t.log_dir);
      if (auto it = points.find(t.tp); it != points.end()) first_dirty = it->second;
      if (auto it = delete_horizons_.find(t.tp); it != delete_horizons_.end()) horizon = it->second;
    }
    auto v = t.log->cleaner_view();
    if (!v) continue;
    if (first_dirty < v->log_start || first_dirty > v->log_end) first_dirty = v->log_start;
    // Kafka's dirty ratio: dirty bytes (sealed segments from the first dirty offset up to the
    // cleanable end) over all bytes up to the cleanable end.
    int64_t clean_bytes = 0, dirty_bytes = 0, earliest_dirty = -1;
    for (const auto& s : v->sealed) {
      if (s.next_offset <= first_dirty) {
        clean_bytes += s.size;
        continue;
      }
      if (c.min_compaction_lag_ms > 0 && s.largest_timestamp > now - c.min_compaction_lag_ms) break;
      dirty_bytes += s.size;
      if (earliest_dirty < 0 && s.first_timestamp >= 0) earliest_dirty = s.first_timestamp;
    }
    double ratio = dirty_bytes > 0 ? double(dirty_bytes) / double(dirty_bytes + clean_bytes) : 0.0;
    bool lag_due = dirty_bytes > 0 && earliest_dirty >= 0 && c.max_compaction_lag_ms < INT64_MAX &&
                   now - earliest_dirty > c.max_compaction_lag_ms;
    bool horizon_due = horizon >= 0 && now >= horizon;
    bool ratio_due = dirty_bytes > 0 && ratio >= c.min_cleanable_dirty_ratio;
    if (!lag_due && !horizon_due && !ratio_due) continue;
    Candidate cand{t, first_dirty, ratio, lag_due || horizon_due};
    if (!best || (cand.urgent && !best->urgent) || (cand.urgent == best->urgent && cand.ratio > best->ratio))
      best = std::move(cand);
  }
  if (!best) return false;
  const TopicPartition tp = best->target.tp;
  {
    std::lock_guard lk(mu_);
    if (stop_ || !in_progress_.insert(tp).second) return false;
  }
  auto r = cleaner.clean(*best->target.log, best->first_dirty);
  bool progressed = false;
  if (r.ok()) {
    progressed = r->end > best->first_dirty || r->segments_rewritten > 0;
    {
      std::lock_guard lk(mu_);
      checkpoints_locked(best->target.log_dir)[tp] = r->end;
      if (r->next_delete_horizon >= 0)
        delete_horizons_[tp] = r->next_delete_horizon;
      else
        delete_horizons_.erase(tp);
    }
    if (auto s = write_checkpoint(best->target.log_dir); !s.ok())
      spdlog::warn("cannot write the cleaner checkpoint: {}", s.error().message);
    runs_.fetch_add(1);
    bytes_cleaned_.fetch_add(static_cast<uint64_t>(r->bytes_read));
    spdlog::info(
        "log cleaner: {} cleaned up to offset {} (dirty from {}, ratio {:.2f}): {} segments rewritten, "
        "{} -> {} bytes, {} of {} records removed",
        tp.to_string(), r->end, r->first_dirty, best->ratio, r->segments_rewritten, r->bytes_read,
        r->bytes_written, r->records_removed, r->records_read);
  } else {
    spdlog::warn("log cleaner: cleaning {} stopped: {}", tp.to_string(), r.error().message);
  }
  std::lock_guard lk(mu_);
  in_progress_.erase(tp);
  return progressed;
}

}  // namespace kb::storage
