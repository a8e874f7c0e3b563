// The value of a Kafka `records` field. A decoded request borrows the bytes from its frame
// (zero copy; the broker owns the frame, keeps it alive while the request lives, and may patch
// base offsets in place). An answer may carry file slices instead, sent with sendfile.
#pragma once

#include <span>
#include <vector>

#include "protocol/file_slice.h"
#include "protocol/wire.h"

namespace kb {

struct Records {
  std::span<const uint8_t> bytes;
  std::vector<FileSlice> files;
  std::vector<uint8_t> owned;  // if non-empty, encoded instead of `bytes`
  bool is_null = false;

  std::span<const uint8_t> data() const {
    return owned.empty() ? bytes : std::span<const uint8_t>(owned);
  }
  int64_t size() const {
    int64_t n = static_cast<int64_t>(data().size());
    for (const auto& f : files) n += f.size;
    return n;
  }
  // The request frame is writable memory owned by the broker (see RequestContext::frame).
  std::span<uint8_t> mutable_bytes() const {
    return {const_cast<uint8_t*>(bytes.data()), bytes.size()};
  }
  void decode(wire::Reader& r, bool compact, bool nullable) {
    int64_t n = compact ? static_cast<int64_t>(r.read_uvarint()) - 1 : r.read_int32();
    if (n < 0) {
      is_null = true;
      if (!nullable || n < -1) r.fail();
      return;
    }
    is_null = false;
    bytes = r.read_raw(static_cast<size_t>(n));
  }
  void encode(wire::Writer& w, bool compact) const {
    if (is_null && files.empty() && data().empty()) {
      if (compact) w.write_uvarint(0);
      else w.write_int32(-1);
      return;
    }
    int64_t n = size();
    if (compact) w.write_uvarint(static_cast<uint64_t>(n + 1));
    else w.write_int32(static_cast<int32_t>(n));
    w.write_raw(data());
    for (const auto& f : files) w.write_file_slice(f);
  }
  bool operator==(const Records& o) const {
    auto a = data(), b = o.data();
    return is_null == o.is_null && a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin()) && files.size() == o.files.size();
  }
};

}  // namespace kb
