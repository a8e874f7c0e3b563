#include "replication/producer_state.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>

#include "protocol/crc32c.h"
#include "protocol/wire.h"
#include "storage/files.h"
#include "storage/log.h"

namespace kb::replication {

namespace fs = std::filesystem;

namespace {

constexpr int16_t kSnapshotVersion = 1;
constexpr size_t kSnapshotCrcOffset = 2;
constexpr size_t kSnapshotEntriesOffset = 6;
// producer_id, epoch, last_sequence, last_offset, offset_delta, timestamp, coordinator_epoch,
// current_txn_first_offset
constexpr size_t kSnapshotEntryBytes = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

// Kafka's inSequence: the next batch starts right after the last one, wrapping at INT32_MAX.
bool in_sequence(int32_t last_seq, int32_t next_seq) {
  return int64_t{next_seq} == int64_t{last_seq} + 1 ||
         (next_seq == 0 && last_seq == std::numeric_limits<int32_t>::max());
}

// The first sequence of a batch whose last one is `last_seq` (the inverse of last_sequence).
int32_t first_sequence(int32_t last_seq, int32_t last_offset_delta) {
  if (last_seq < last_offset_delta) return std::numeric_limits<int32_t>::max() - (last_offset_delta - last_seq) + 1;
  return last_seq - last_offset_delta;
}

ProducerBatchMetadata metadata_of(const BatchHeader& h) {
  return ProducerBatchMetadata{h.base_sequence, last_sequence(h.base_sequence, h.last_offset_delta), h.base_offset,
                               h.last_offset(), h.max_timestamp};
}

void add_batch(ProducerStateEntry& e, int16_t epoch, const ProducerBatchMetadata& b) {
  if (epoch != e.epoch) {
    // A new epoch (or, replicated, an older one the leader accepted): the sequence space
    // starts over, so the old batches can no longer be duplicates.
    e.epoch = epoch;
    e.batches.clear();
  }
  e.batches.push_back(b);
  if (e.batches.size() > ProducerStateManager::kBatchesToRetain) e.batches.pop_front();
}

// A control batch's record: key {version int16, type int16 (0 ABORT, 1 COMMIT)}, value
// {version int16, coordinator_epoch int32} (Kafka's EndTransactionMarker).
struct Marker {
  bool abort = false;
  int32_t coordinator_epoch = -1;
};

Marker read_marker(std::span<const uint8_t> batch) {
  Marker m;
  if (batch.empty()) return m;
  bool first = true;
  (void)for_each_record(batch, [&](const RecordView& r) {
    if (!first) return;
    first = false;
    if (r.key && r.key->size() >= 4)
      m.abort = wire::load_be16(reinterpret_cast<const uint8_t*>(r.key->data()) + 2) == 0;
    if (r.value && r.value->size() >= 6)
      m.coordinator_epoch = static_cast<int32_t>(wire::load_be32(reinterpret_cast<const uint8_t*>(r.value->data()) + 2));
  });
  return m;
}

}  // namespace

int32_t last_sequence(int32_t base_seq, int32_t last_offset_delta) {
  if (base_seq > std::numeric_limits<int32_t>::max() - last_offset_delta)
    return last_offset_delta - (std::numeric_limits<int32_t>::max() - base_seq) - 1;
  return base_seq + last_offset_delta;
}

ProducerAppendCheck ProducerStateManager::check(std::span<const BatchHeader> batches, AppendOrigin origin,
                                                const TxnVerification& verification) const {
  ProducerAppendCheck out;
  const bool coordinator = origin == AppendOrigin::Coordinator;
  // The producers' state as the earlier batches of this request leave it.
  std::map<int64_t, ProducerStateEntry> updated;
  for (const BatchHeader& h : batches) {
    if (h.producer_id < 0) continue;
    const int64_t pid = h.producer_id;
    if (h.base_sequence < 0 && !coordinator) {
      out.error = ErrorCode::INVALID_RECORD;
      out.message = "Invalid sequence number " + std::to_string(h.base_sequence) +
                    " in record batch with producerId " + std::to_string(pid);
      return out;
    }
    const ProducerStateEntry* current = find(pid);
    const int32_t last_seq = last_sequence(h.base_sequence, h.last_offset_delta);
    // A retry of a batch already written: compared with the stored state, as Kafka does.
    if (current && current->epoch == h.producer_epoch && !coordinator)
      for (const auto& b : current->batches)
        if (b.first_seq == h.base_sequence && b.last_seq == last_seq) {
          out.duplicate = b;
          return out;
        }
    auto [it, inserted] = updated.try_emplace(pid);
    ProducerStateEntry& entry = it->second;
    if (inserted && current) entry = *current;
    const int64_t offset = h.base_offset;
    if (h.producer_epoch < entry.epoch) {
      // Kafka answers INVALID_PRODUCER_EPOCH here since 2.7 (PRODUCER_FENCED before): the
      // producer can abort and go on rather than die.
      out.error = ErrorCode::INVALID_PRODUCER_EPOCH;
      out.message = "Epoch of producer " + std::to_string(pid) + " at offset " + std::to_string(offset) + " in " +
                    name_ + " is " + std::to_string(h.producer_epoch) + ", which is smaller than the last seen epoch " +
                    std::to_string(entry.epoch);
      return out;
    }
    // Without an open transaction here, only the coordinator knows whether this partition
    // is in the producer's transaction: a batch it was not asked about could open one that
    // no marker ever ends (a hanging transaction).
    if (verification.required && h.is_transactional() && entry.current_txn_first_offset < 0 &&
        !verified(pid, verification.guard)) {
      out.error = ErrorCode::INVALID_TXN_STATE;
      out.message = "Transactional batch of producer " + std::to_string(pid) + " at offset " + std::to_string(offset) +
                    " in partition " + name_ + " was not verified to be part of an ongoing transaction";
      return out;
    }
    if (coordinator) {
      // No sequence to check (Kafka checks sequences for client appends only).
    } else if (h.producer_epoch != entry.epoch) {
      if (h.base_sequence != 0 && entry.epoch != -1) {
        out.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
        out.message = "Invalid sequence number for new epoch of producer " + std::to_string(pid) + " at offset " +
                      std::to_string(offset) + " in partition " + name_ + ": " + std::to_string(h.producer_epoch) +
                      " (request epoch), " + std::to_string(h.base_sequence) + " (seq. number), " +
                      std::to_string(entry.epoch) + " (current producer epoch)";
        return out;
      }
    } else {
      // A producer this replica knows nothing of (its state expired, or its records were
      // deleted and the state lost with a restart) may go on at any sequence (KIP-360).
      const bool unknown = !current || current->epoch == -1;
      if (!unknown && !in_sequence(entry.last_seq(), h.base_sequence)) {
        out.error = ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER;
        out.message = "Out of order sequence number for producer " + std::to_string(pid) + " at offset " +
                      std::to_string(offset) + " in partition " + name_ + ": " + std::to_string(h.base_sequence) +
                      " (incoming seq. number), " + std::to_string(entry.last_seq()) +
                      " (current end sequence number)";
        return out;
      }
    }
    if (entry.current_txn_first_offset >= 0 && !h.is_transactional()) {
      out.error = ErrorCode::INVALID_TXN_STATE;
      out.message = "Expected transactional write from producer " + std::to_string(pid) + " at offset " +
                    std::to_string(offset) + " in partition " + name_;
      return out;
    }
    if (entry.current_txn_first_offset < 0 && h.is_transactional()) entry.current_txn_first_offset = offset;
    if (h.base_sequence >= 0) {
      add_batch(entry, h.producer_epoch, metadata_of(h));
    } else if (h.producer_epoch != entry.epoch) {  // as update() records a batch without a sequence
      entry.epoch = h.producer_epoch;
      entry.batches.clear();
    }
  }
  return out;
}

ProducerAppendCheck ProducerStateManager::check_marker(int64_t producer_id, int16_t producer_epoch,
                                                       int32_t coordinator_epoch) const {
  ProducerAppendCheck out;
  const ProducerStateEntry* e = find(producer_id);
  if (!e) return out;
  if (producer_epoch < e->epoch) {
    out.error = ErrorCode::INVALID_PRODUCER_EPOCH;
    out.message = "Epoch of producer " + std::to_string(producer_id) + " in " + name_ + " is " +
                  std::to_string(producer_epoch) + ", which is smaller than the last seen epoch " +
                  std::to_string(e->epoch);
  } else if (e->coordinator_epoch > coordinator_epoch) {
    out.error = ErrorCode::TRANSACTION_COORDINATOR_FENCED;
    out.message = "Invalid coordinator epoch for producerId " + std::to_string(producer_id) + " in " + name_ +
                  ": " + std::to_string(coordinator_epoch) + " (zombie), " + std::to_string(e->coordinator_epoch) +
                  " (current)";
  }
  return out;
}

uint64_t ProducerStateManager::start_verification(int64_t producer_id, int64_t now_ms) {
  if (const ProducerStateEntry* e = find(producer_id); e && e->current_txn_first_offset >= 0) return 0;
  // Process-wide, so a guard handed out by an earlier replica object of this partition never
  // matches one of a later one.
  static std::atomic<uint64_t> next_guard{1};
  auto [it, created] = verifications_.try_emplace(producer_id);
  if (created) it->second = PendingVerification{next_guard.fetch_add(1), now_ms};
  return it->second.guard;
}

bool ProducerStateManager::verified(int64_t producer_id, uint64_t guard) const {
  auto it = verifications_.find(producer_id);
  return guard != 0 && it != verifications_.end() && it->second.guard == guard;
}

std::optional<storage::AbortedTxn> ProducerStateManager::update(const BatchHeader& h, std::span<const uint8_t> batch) {
  if (h.producer_id < 0) return std::nullopt;
  // The transaction is open here now, or just ended: a pending verification is spent.
  if (h.is_transactional()) verifications_.erase(h.producer_id);
  auto& entry = producers_[h.producer_id];
  if (h.producer_epoch < entry.epoch)
    spdlog::warn("{}: producer {} appended at epoch {}, older than its last seen epoch {} (offset {})", name_,
                 h.producer_id, h.producer_epoch, entry.epoch, h.base_offset);
  if (h.is_control()) {
    // A transaction marker: it carries no sequence; the epoch moves, and the producer's
    // transaction here ends (Kafka's appendEndTxnMarker). The entry stays even without
    // batches: its epochs fence older markers and producers.
    const Marker m = read_marker(batch);
    if (h.producer_epoch != entry.epoch) {
      entry.epoch = h.producer_epoch;
      entry.batches.clear();
    }
    entry.coordinator_epoch = m.coordinator_epoch;
    entry.marker_timestamp = h.max_timestamp;
    last_marker_offset_ = std::max(last_marker_offset_, h.base_offset);
    const int64_t first = entry.current_txn_first_offset;
    if (first < 0) return std::nullopt;  // a marker without data here changes no offset
    entry.current_txn_first_offset = -1;
    ongoing_.erase(first);
    unreplicated_[h.base_offset] = first;
    if (!m.abort) return std::nullopt;
    // Kafka's lastStableOffset(completedTxn): where the LSO would be with this one ended.
    const int64_t lso = ongoing_.empty() ? h.base_offset + 1 : ongoing_.begin()->first;
    return storage::AbortedTxn{h.producer_id, first, h.base_offset, lso};
  }
  if (h.base_sequence < 0) {
    if (h.producer_epoch != entry.epoch) {
      entry.epoch = h.producer_epoch;
      entry.batches.clear();
    }
  } else {
    add_batch(entry, h.producer_epoch, metadata_of(h));
  }
  // An emptied batch the cleaner kept for the producer state holds no data: it opens no
  // transaction (its marker may be gone already).
  if (h.is_transactional() && h.records_count > 0 && entry.current_txn_first_offset < 0) {
    entry.current_txn_first_offset = h.base_offset;
    ongoing_[h.base_offset] = h.producer_id;
  }
  if (entry.batches.empty() && entry.current_txn_first_offset < 0 && entry.coordinator_epoch < 0)
    producers_.erase(h.producer_id);
  return std::nullopt;
}

std::vector<storage::AbortedTxn> ProducerStateManager::update_all(std::span<const uint8_t> batches) {
  std::vector<storage::AbortedTxn> aborted;
  for (size_t pos = 0; pos + batch::kHeaderSize <= batches.size();) {
    auto h = read_batch_header(batches.subspan(pos));
    if (!h.ok() || h->total_size() <= 0 || static_cast<uint64_t>(h->total_size()) > batches.size() - pos)
      break;  // the caller validated the batches
    if (auto a = update(*h, batches.subspan(pos, static_cast<size_t>(h->total_size())))) aborted.push_back(*a);
    pos += static_cast<size_t>(h->total_size());
  }
  return aborted;
}

int64_t ProducerStateManager::first_unstable_offset(int64_t high_watermark) {
  // A marker below the high watermark is on every ISR member: its transaction is stable.
  while (!unreplicated_.empty() && unreplicated_.begin()->first < high_watermark)
    unreplicated_.erase(unreplicated_.begin());
  int64_t first = ongoing_.empty() ? INT64_MAX : ongoing_.begin()->first;
  for (const auto& [marker, txn_first] : unreplicated_) first = std::min(first, txn_first);
  return first;
}

std::optional<ProducerStateManager::OpenTxn> ProducerStateManager::oldest_open_txn() const {
  if (ongoing_.empty()) return std::nullopt;
  const auto& [first, pid] = *ongoing_.begin();
  const ProducerStateEntry* e = find(pid);
  return OpenTxn{pid, first, e ? e->last_timestamp() : -1};
}

void ProducerStateManager::rebuild_ongoing() {
  ongoing_.clear();
  for (const auto& [pid, e] : producers_)
    if (e.current_txn_first_offset >= 0) ongoing_[e.current_txn_first_offset] = pid;
}

size_t ProducerStateManager::remove_expired(int64_t now_ms, int64_t expiration_ms) {
  size_t removed = 0;
  for (auto it = producers_.begin(); it != producers_.end();) {
    // A producer in a transaction stays until the transaction ends (Kafka's rule).
    bool expired = it->second.current_txn_first_offset < 0 && now_ms - it->second.last_timestamp() >= expiration_ms;
    if (expired) {
      it = producers_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  std::erase_if(verifications_, [&](const auto& v) { return now_ms - v.second.started_ms >= expiration_ms; });
  return removed;
}

void ProducerStateManager::truncate(storage::Log& log, Offset end) {
  // A cut marker reopens its transaction, whose start only the log knows.
  bool lost_history = last_marker_offset_ >= end.value();
  for (auto it = producers_.begin(); it != producers_.end();) {
    auto& batches = it->second.batches;
    const bool had = !batches.empty();
    while (!batches.empty() && batches.back().last_offset >= end.value()) batches.pop_back();
    if (it->second.current_txn_first_offset >= end.value()) it->second.current_txn_first_offset = -1;
    if (had && batches.empty()) {
      lost_history = true;
      it = producers_.erase(it);
    } else {
      ++it;
    }
  }
  rebuild_ongoing();
  unreplicated_.erase(unreplicated_.lower_bound(end.value()), unreplicated_.end());
  if (lost_history) {
    // What this producer did before its retained batches is only in the log now.
    spdlog::info("{}: rebuilding the producer state after truncation to {}", name_, end.value());
    return load(log);
  }
  for (const auto& [offset, path] : list_snapshots(log.dir()))
    if (offset > end.value()) {
      std::error_code ec;
      fs::remove(path, ec);
    }
}

void ProducerStateManager::clear(const fs::path& dir) {
  producers_.clear();
  verifications_.clear();
  ongoing_.clear();
  unreplicated_.clear();
  last_marker_offset_ = -1;
  for (const auto& [offset, path] : list_snapshots(dir)) {
    std::error_code ec;
    fs::remove(path, ec);
  }
}

void ProducerStateManager::load(storage::Log& log) {
  producers_.clear();
  verifications_.clear();
  ongoing_.clear();
  unreplicated_.clear();
  last_marker_offset_ = -1;
  const int64_t end = log.log_end_offset().value();
  int64_t from = 0;
  for (const auto& [offset, path] : list_snapshots(log.dir())) {
    if (offset > end) {
      // Written before the log was cut below it (a crash lost its tail): it describes
      // batches that are not there.
      std::error_code ec;
      fs::remove(path, ec);
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto decoded = decode_snapshot(bytes);
    if (!decoded) {
      spdlog::warn("{}: ignoring the damaged producer snapshot {}", name_, path.string());
      continue;
    }
    // The newest one that parses wins (the map is in offset order).
    producers_ = std::move(*decoded);
    from = offset;
  }
  rebuild_ongoing();
  // Markers before the snapshot are unknown: any may be just below it.
  if (from > 0) last_marker_offset_ = from - 1;
  if (from > 0 && from >= end) return;
  size_t batches = 0;
  std::vector<storage::AbortedTxn> aborted;
  auto s = log.for_each_batch(Offset(from), Offset(end), [&](std::span<const uint8_t> bytes, const BatchHeader& h) {
    if (auto a = update(h, bytes)) aborted.push_back(*a);
    ++batches;
    return Status{};
  });
  // The index of segments recovered after a crash may lack entries (a kill between the
  // marker's append and its index entry) or hold entries of a cut tail: what the scan found
  // is the truth from there on. Segments before are trusted (flushed before the crash).
  const int64_t rebuild_from = std::max(from, log.recovered_from().value());
  if (rebuild_from < end) {
    std::erase_if(aborted, [&](const storage::AbortedTxn& t) { return t.last_offset < rebuild_from; });
    if (auto st = log.rebuild_txn_index_from(Offset(rebuild_from), aborted); !st.ok())
      spdlog::error("{}: cannot rebuild the transaction index: {}", name_, st.error().message);
  }
  if (!s.ok())
    spdlog::error("{}: rebuilding the producer state stopped at a batch that cannot be read: {}", name_,
                  s.error().message);
  if (!producers_.empty())
    spdlog::info("{}: producer state of {} producers loaded ({} batches scanned from offset {}, {} open "
                 "transactions)",
                 name_, producers_.size(), batches, from, ongoing_.size());
}

Status ProducerStateManager::write_snapshot(const storage::Log& log, std::optional<int64_t> at) const {
  const int64_t end = at.value_or(log.log_end_offset().value());
  auto bytes = encode_snapshot(producers_);
  const fs::path path = log.dir() / snapshot_file_name(end);
  if (auto s = storage::write_file_atomically(
          path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      !s.ok())
    return s;
  for (const auto& [offset, p] : list_snapshots(log.dir()))
    if (offset != end) {
      std::error_code ec;
      fs::remove(p, ec);
    }
  return {};
}

const ProducerStateEntry* ProducerStateManager::find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

std::vector<uint8_t> ProducerStateManager::encode_snapshot(const std::map<int64_t, ProducerStateEntry>& producers) {
  wire::Writer w;
  w.write_int16(kSnapshotVersion);
  w.write_uint32(0);  // the CRC, once the entries are written
  w.write_int32(static_cast<int32_t>(producers.size()));
  for (const auto& [pid, e] : producers) {
    w.write_int64(pid);
    w.write_int16(e.epoch);
    if (e.batches.empty()) {
      // Known from its markers only (Kafka writes such entries the same way).
      w.write_int32(-1);
      w.write_int64(-1);
      w.write_int32(0);
    } else {
      // Kafka's snapshot keeps only the last batch of each producer.
      const ProducerBatchMetadata& b = e.batches.back();
      w.write_int32(b.last_seq);
      w.write_int64(b.last_offset);
      w.write_int32(static_cast<int32_t>(b.last_offset - b.first_offset));
    }
    w.write_int64(e.last_timestamp());
    w.write_int32(e.coordinator_epoch);
    w.write_int64(e.current_txn_first_offset);
  }
  std::vector<uint8_t> out = std::move(w.buffer());
  wire::store_be32(out.data() + kSnapshotCrcOffset,
                   crc32c(out.data() + kSnapshotEntriesOffset, out.size() - kSnapshotEntriesOffset));
  return out;
}

std::optional<std::map<int64_t, ProducerStateEntry>> ProducerStateManager::decode_snapshot(
    std::span<const uint8_t> bytes) {
  if (bytes.size() < kSnapshotEntriesOffset + 4) return std::nullopt;
  wire::Reader r(bytes);
  if (r.read_int16() != kSnapshotVersion) return std::nullopt;
  const uint32_t crc = r.read_uint32();
  if (crc != crc32c(bytes.data() + kSnapshotEntriesOffset, bytes.size() - kSnapshotEntriesOffset)) return std::nullopt;
  const int32_t count = r.read_int32();
  if (count < 0 || static_cast<size_t>(count) * kSnapshotEntryBytes != r.remaining()) return std::nullopt;
  std::map<int64_t, ProducerStateEntry> out;
  for (int32_t i = 0; i < count; ++i) {
    const int64_t pid = r.read_int64();
    ProducerStateEntry e;
    e.epoch = r.read_int16();
    ProducerBatchMetadata b;
    b.last_seq = r.read_int32();
    b.last_offset = r.read_int64();
    const int32_t delta = r.read_int32();
    b.timestamp = r.read_int64();
    e.coordinator_epoch = r.read_int32();
    e.current_txn_first_offset = r.read_int64();
    if (delta < 0) return std::nullopt;
    if (b.last_offset < 0) {
      e.marker_timestamp = b.timestamp;
    } else {
      b.first_offset = b.last_offset - delta;
      b.first_seq = first_sequence(b.last_seq, delta);
      e.batches.push_back(b);
    }
    out[pid] = std::move(e);
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

std::string ProducerStateManager::snapshot_file_name(int64_t offset) {
  std::string digits = std::to_string(offset);
  return std::string(digits.size() < 20 ? 20 - digits.size() : 0, '0') + digits + kSnapshotSuffix;
}

std::map<int64_t, fs::path> ProducerStateManager::list_snapshots(const fs::path& dir) {
  std::map<int64_t, fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string_view suffix = kSnapshotSuffix;
    if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) continue;
    int64_t offset = 0;
    auto [p, err] = std::from_chars(name.data(), name.data() + 20, offset);
    if (err == std::errc() && p == name.data() + 20) out[offset] = e.path();
  }
  return out;
}

}  // namespace kb::replication
