// Kafka's primitive wire types: big-endian integers, unsigned varints (flexible versions),
// zigzag varints (record format), strings, bytes and arrays in their classic and compact
// forms, and tagged-field sections. Reader never reads out of bounds and never throws: the
// first error makes it fail (ok() false) and every later read returns zero/empty.
#pragma once

#include <cassert>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/file_slice.h"
#include "protocol/types.h"

namespace kb::wire {

// Kafka's strings carry at most 32767 bytes in every form, the compact (uvarint) one included:
// its generated codecs refuse a longer string both when reading and when writing.
constexpr size_t kMaxStringBytes = 0x7fff;

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence
// (Kafka strings are UTF-8; kafka-python decodes them strictly).
inline std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  // s[n] is the first byte cut off; while it continues a character (10xxxxxx), that character
  // began before the cut and goes too (a sequence is at most 4 bytes long).
  size_t n = max;
  for (int back = 0; n > 0 && back < 3 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80; ++back) --n;
  return s.substr(0, n);
}

// What a string field holds: free text (error messages, documentation, reasons) may be cut
// to fit; anything else (names, ids) over the limit is a bug upstream of the encoder, since
// such strings are refused when they arrive.
enum class StringKind { kName, kText };

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}
inline uint64_t load_be64(const uint8_t* p) {
  return uint64_t(load_be32(p)) << 32 | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, uint32_t(v >> 32));
  store_be32(p + 4, uint32_t(v));
}

struct UnknownTag {
  uint32_t tag = 0;
  std::vector<uint8_t> data;
  bool operator==(const UnknownTag&) const = default;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  bool ok() const { return ok_; }
  void fail() {
    ok_ = false;
    pos_ = data_.size();
  }
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }

  bool read_bool() { return read_int8() != 0; }
  int8_t read_int8() { return need(1) ? static_cast<int8_t>(data_[pos_++]) : 0; }
  int16_t read_int16() { return static_cast<int16_t>(read_fixed<uint16_t>(2)); }
  int32_t read_int32() { return static_cast<int32_t>(read_fixed<uint32_t>(4)); }
  int64_t read_int64() { return static_cast<int64_t>(read_fixed<uint64_t>(8)); }
  uint16_t read_uint16() { return read_fixed<uint16_t>(2); }
  uint32_t read_uint32() { return read_fixed<uint32_t>(4); }
  double read_float64() {
    uint64_t bits = read_fixed<uint64_t>(8);
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  Uuid read_uuid() {
    Uuid u;
    if (need(16)) {
      std::memcpy(u.bytes, data_.data() + pos_, 16);
      pos_ += 16;
    }
    return u;
  }
  uint32_t read_uvarint() {
    uint64_t v = read_uvarlong_n(5);
    if (v > 0xffffffffull) fail();
    return ok_ ? static_cast<uint32_t>(v) : 0;
  }
  uint64_t read_uvarlong() { return read_uvarlong_n(10); }
  int32_t read_varint() {
    uint32_t u = read_uvarint();
    return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  int64_t read_varlong() {
    uint64_t u = read_uvarlong();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }

  std::optional<std::string> read_nullable_string() {
    int16_t n = read_int16();
    if (n < 0) {
      if (n != -1) fail();
      return std::nullopt;
    }
    return take_string(static_cast<size_t>(n));
  }
  std::string read_string() {
    auto s = read_nullable_string();
    if (!s) fail();
    return s.value_or("");
  }
  // A compact string over kMaxStringBytes fails the read, as in Kafka ("string field had
  // invalid length"): a request carrying one is malformed.
  std::optional<std::string> read_compact_nullable_string() {
    uint32_t n = read_uvarint();
    if (!ok_ || n == 0) return std::nullopt;
    if (n - 1 > kMaxStringBytes) {
      fail();
      return std::nullopt;
    }
    return take_string(n - 1);
  }
  std::string read_compact_string() {
    auto s = read_compact_nullable_string();
    if (!s) fail();
    return s.value_or("");
  }
  std::optional<std::vector<uint8_t>> read_nullable_bytes() {
    int32_t n = read_int32();
    if (n < 0) {
      if (n != -1) fail();
      return std::nullopt;
    }
    return take_bytes(static_cast<size_t>(n));
  }
  std::vector<uint8_t> read_bytes() {
    auto b = read_nullable_bytes();
    if (!b) fail();
    return b.value_or(std::vector<uint8_t>{});
  }
  std::optional<std::vector<uint8_t>> read_compact_nullable_bytes() {
    uint32_t n = read_uvarint();
    if (!ok_ || n == 0) return std::nullopt;
    return take_bytes(n - 1);
  }
  std::vector<uint8_t> read_compact_bytes() {
    auto b = read_compact_nullable_bytes();
    if (!b) fail();
    return b.value_or(std::vector<uint8_t>{});
  }
  // Borrowed view of the next n bytes.
  std::span<const uint8_t> read_raw(size_t n) {
    if (!need(n)) return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  // Array lengths: -1 = null. A count whose elements cannot fit in the remaining bytes (each
  // takes at least `min_element_size` bytes, 1 if 0 is given) fails, so a lying count never
  // makes the decoder reserve memory the frame could not fill.
  int32_t read_array_length(size_t min_element_size = 1) {
    return check_count(read_int32(), min_element_size);
  }
  int32_t read_compact_array_length(size_t min_element_size = 1) {
    uint32_t n = read_uvarint();
    if (!ok_) return -1;
    return check_count(static_cast<int32_t>(static_cast<int64_t>(n) - 1), min_element_size);
  }
  // Reads a tagged-field section (flexible versions): a uvarint count, then per field a uvarint
  // tag, a uvarint size and that many bytes. Calls `on_tag(uint32_t tag, Reader& field)` with a
  // reader over exactly the field's bytes; on_tag returns false to reject the field (the reader
  // then fails). Like Kafka's decoder, the order of tags is not checked; encoders sort them.
  template <class OnTag>
  bool read_tagged_fields(OnTag&& on_tag) {
    uint32_t count = read_uvarint();
    for (uint32_t i = 0; i < count && ok_; ++i) {
      uint32_t tag = read_uvarint();
      uint32_t size = read_uvarint();
      auto bytes = read_raw(size);
      if (!ok_) break;
      Reader field(bytes);
      if (!on_tag(tag, field) || !field.ok()) fail();
    }
    return ok_;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || remaining() < n) {
      fail();
      return false;
    }
    return true;
  }
  template <class T>
  T read_fixed(size_t n) {
    if (!need(n)) return 0;
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    if constexpr (sizeof(T) == 2) return load_be16(p);
    if constexpr (sizeof(T) == 4) return load_be32(p);
    if constexpr (sizeof(T) == 8) return load_be64(p);
  }
  uint64_t read_uvarlong_n(int max_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (!need(1)) return 0;
      uint8_t b = data_[pos_++];
      v |= uint64_t(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return v;
    }
    fail();
    return 0;
  }
  std::string take_string(size_t n) {
    if (!need(n)) return {};
    std::string s(reinterpret_cast<const char*>(data_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<uint8_t> take_bytes(size_t n) {
    if (!need(n)) return {};
    std::vector<uint8_t> b(data_.begin() + pos_, data_.begin() + pos_ + n);
    pos_ += n;
    return b;
  }
  int32_t check_count(int32_t n, size_t min_element_size) {
    if (!ok_) return -1;
    if (min_element_size == 0) min_element_size = 1;
    if (n < -1 || (n > 0 && static_cast<size_t>(n) > remaining() / min_element_size)) {
      fail();
      return -1;
    }
    return n;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Appends Kafka primitives to a growing buffer. File slices (record data of Fetch answers)
// are not copied: they are remembered at their position and sent with sendfile.
class Writer {
 public:
  struct Part {
    std::span<const uint8_t> bytes;
    const FileSlice* file = nullptr;
  };

  Writer() { buf_.reserve(256); }

  void write_bool(bool v) { write_int8(v ? 1 : 0); }
  void write_int8(int8_t v) { buf_.push_back(static_cast<uint8_t>(v)); }
  void write_int16(int16_t v) { put<2>(static_cast<uint16_t>(v)); }
  void write_uint16(uint16_t v) { put<2>(v); }
  void write_int32(int32_t v) { put<4>(static_cast<uint32_t>(v)); }
  void write_uint32(uint32_t v) { put<4>(v); }
  void write_int64(int64_t v) { put<8>(static_cast<uint64_t>(v)); }
  void write_float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    put<8>(bits);
  }
  void write_uuid(const Uuid& u) { buf_.insert(buf_.end(), u.bytes, u.bytes + 16); }
  void write_uvarint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<uint8_t>(v));
  }
  void write_varint(int32_t v) {
    write_uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  void write_varlong(int64_t v) {
    write_uvarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  // Strings never exceed kMaxStringBytes on the wire: a longer one is cut at a UTF-8
  // boundary, so the frame stays well-formed (a wrapped int16 length would make the client
  // misread everything after it). Cuts are counted: truncated_text() for free text,
  // oversized_names() for anything else, which debug builds assert never happens.
  void write_string(std::string_view s, StringKind kind = StringKind::kName) {
    s = fit(s, kind);
    write_int16(static_cast<int16_t>(s.size()));
    write_raw(s);
  }
  void write_nullable_string(const std::optional<std::string>& s, StringKind kind = StringKind::kName) {
    if (!s) return write_int16(-1);
    write_string(*s, kind);
  }
  void write_compact_string(std::string_view s, StringKind kind = StringKind::kName) {
    s = fit(s, kind);
    write_uvarint(s.size() + 1);
    write_raw(s);
  }
  void write_compact_nullable_string(const std::optional<std::string>& s, StringKind kind = StringKind::kName) {
    if (!s) return write_uvarint(0);
    write_compact_string(*s, kind);
  }
  int truncated_text() const { return truncated_text_; }
  int oversized_names() const { return oversized_names_; }
  void write_bytes(std::span<const uint8_t> b) {
    write_int32(static_cast<int32_t>(b.size()));
    write_raw(b);
  }
  void write_nullable_bytes(const std::optional<std::vector<uint8_t>>& b) {
    if (!b) return write_int32(-1);
    write_bytes(*b);
  }
  void write_compact_bytes(std::span<const uint8_t> b) {
    write_uvarint(b.size() + 1);
    write_raw(b);
  }
  void write_compact_nullable_bytes(const std::optional<std::vector<uint8_t>>& b) {
    if (!b) return write_uvarint(0);
    write_compact_bytes(*b);
  }
  void write_array_length(int32_t n) { write_int32(n); }
  void write_compact_array_length(int32_t n) { write_uvarint(static_cast<uint64_t>(n + 1)); }
  void write_raw(std::span<const uint8_t> b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void write_raw(std::string_view s) { buf_.insert(buf_.end(), s.begin(), s.end()); }
  void write_file_slice(const FileSlice& f) {
    files_.push_back({buf_.size(), f});
    file_bytes_ += f.size;
  }

  size_t reserve_int32() {
    size_t at = buf_.size();
    buf_.resize(at + 4);
    return at;
  }
  void patch_int32(size_t at, int32_t v) { store_be32(buf_.data() + at, static_cast<uint32_t>(v)); }

  std::vector<uint8_t>& buffer() { return buf_; }
  const std::vector<uint8_t>& buffer() const { return buf_; }
  int64_t total_size() const { return static_cast<int64_t>(buf_.size()) + file_bytes_; }
  // The output in wire order: byte ranges of the buffer interleaved with file slices.
  std::vector<Part> parts() const {
    std::vector<Part> out;
    size_t from = 0;
    for (const auto& f : files_) {
      if (f.at > from) out.push_back({std::span<const uint8_t>(buf_.data() + from, f.at - from)});
      out.push_back({{}, &f.slice});
      from = f.at;
    }
    if (buf_.size() > from)
      out.push_back({std::span<const uint8_t>(buf_.data() + from, buf_.size() - from)});
    return out;
  }

 private:
  std::string_view fit(std::string_view s, StringKind kind) {
    if (s.size() <= kMaxStringBytes) return s;
    if (kind == StringKind::kText) {
      ++truncated_text_;
    } else {
      ++oversized_names_;
      assert(!"a name or id over 32767 bytes reached the encoder; refuse it where it comes in");
    }
    return utf8_prefix(s, kMaxStringBytes);
  }
  template <int N, class T>
  void put(T v) {
    size_t at = buf_.size();
    buf_.resize(at + N);
    if constexpr (N == 2) store_be16(buf_.data() + at, v);
    if constexpr (N == 4) store_be32(buf_.data() + at, v);
    if constexpr (N == 8) store_be64(buf_.data() + at, v);
  }
  struct FileAt {
    size_t at;
    FileSlice slice;
  };
  std::vector<uint8_t> buf_;
  std::vector<FileAt> files_;
  int64_t file_bytes_ = 0;
  int truncated_text_ = 0;
  int oversized_names_ = 0;
};

}  // namespace kb::wire
