// Log: the transaction index of its segments and the log cleaner's swap; see log_impl.h.
#include "storage/log.h"

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "storage/log_impl.h"

namespace kb::storage {

namespace fs = std::filesystem;

Status Log::append_aborted_txn(const AbortedTxn& txn) {
  Impl& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.closed) return d.closed_error();
  // The segment of the marker: the active one, unless a roll came in between.
  size_t i = d.segment_for(txn.last_offset);
  Segment& s = i < d.segments.size() ? *d.segments[i] : d.active();
  if (auto st = append_txn_index(s.path_with(kTxnIndexSuffix), txn); !st.ok()) return d.io_failed(st);
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
    if (auto st = write_txn_index(s.path_with(kTxnIndexSuffix), expected); !st.ok()) return d.io_failed(st);
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
