#include "coordinator/group/internal_batches.h"

#include <algorithm>
#include <optional>

#include "protocol/wire.h"
#include "storage/files.h"

namespace kb::coordinator {

std::vector<uint8_t> InternalBatchBuilder::build() const {
  auto plain = RecordBatchBuilder::build();
  if (codec_ == 0 || plain.empty()) return plain;
  auto packed = recompress_batch(plain, codec_);
  return packed.ok() ? std::move(packed.value()) : plain;
}

namespace {

// The records of one batch, all or nothing: a batch that turns out malformed halfway gives fn
// none of its records.
Status visit_batch(std::span<const uint8_t> batch, const BatchHeader& h,
                   const std::function<void(const StoredGroupRecord&)>& fn) {
  std::vector<uint8_t> plain;
  std::span<const uint8_t> readable = batch;
  if (h.compression() != 0) {
    auto r = recompress_batch(batch, 0);  // decompressed within the produce path's bound
    if (!r.ok()) return r.error();
    plain = std::move(r.value());
    readable = plain;
  }
  const int64_t producer = h.is_transactional() ? h.producer_id : -1;
  std::vector<StoredGroupRecord> records;
  auto walked = for_each_record(readable, [&](const RecordView& r) {
    records.push_back(StoredGroupRecord{r.offset, r.key, r.value, producer, TxnMarker::None});
  });
  if (!walked.ok()) return walked;
  if (h.is_control()) {
    // A transaction marker: one record, key {version int16, type int16}, type 1 COMMIT.
    if (records.size() != 1 || !records.front().key || records.front().key->size() < 4)
      return Status(ErrorCode::CORRUPT_MESSAGE, "a control batch that is not a transaction marker");
    const auto* k = reinterpret_cast<const uint8_t*>(records.front().key->data());
    records.front().marker = wire::load_be16(k + 2) == 1 ? TxnMarker::Commit : TxnMarker::Abort;
  }
  for (const auto& r : records) fn(r);
  return {};
}

struct DamagedBatch {
  Offset next;  // where the batch after it starts
  int32_t records = 0;
};

// The batch at `at` failed its CRC: where it ends, if its header can still be trusted that
// far (the offsets it claims lie ahead, its length is sane).
std::optional<DamagedBatch> skip_damaged(const storage::Log& log, Offset at, Offset end) {
  auto rr = log.read(at, static_cast<int32_t>(batch::kHeaderSize), end, true);
  if (!rr.ok() || !rr->slice || rr->slice->size < static_cast<int64_t>(batch::kHeaderSize)) return std::nullopt;
  std::vector<uint8_t> bytes(batch::kHeaderSize);
  if (!storage::pread_exact(rr->slice->fd, bytes.data(), bytes.size(), rr->slice->position)) return std::nullopt;
  auto h = read_batch_header(bytes);
  if (!h.ok() || h->batch_length < batch::kMinBatchLength || h->last_offset_delta < 0 ||
      h->base_offset < at.value() || h->total_size() > rr->slice->size)
    return std::nullopt;
  return DamagedBatch{Offset(h->last_offset() + 1), std::max(h->records_count, 1)};
}

}  // namespace

Status replay_batches(const storage::Log& log, Offset from, Offset end,
                      const std::function<void(const StoredGroupRecord&)>& fn, SkippedRecords& skipped) {
  Offset next = from;
  while (next < end) {
    auto st = log.for_each_batch(next, end, [&](std::span<const uint8_t> batch, const BatchHeader& h) -> Status {
      next = Offset(h.last_offset() + 1);
      if (auto s = visit_batch(batch, h, fn); !s.ok())
        skipped.add(h.base_offset, s.error().message, std::max(h.records_count, 1));
      return {};
    });
    if (st.ok() || st.code() != ErrorCode::CORRUPT_MESSAGE) return st;
    // Damaged on disk: the batch starting at `next` (the first after the last good one).
    auto damaged = skip_damaged(log, next, end);
    if (!damaged) {
      skipped.add(next.value(), st.error().message + "; nothing after it could be read");
      return {};
    }
    skipped.add(next.value(), st.error().message, damaged->records);
    next = damaged->next;
  }
  return {};
}

}  // namespace kb::coordinator
