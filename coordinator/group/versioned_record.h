// The coordinators' record framing in their internal topics (__consumer_offsets,
// __transaction_state): an int16 version, then the record encoded at that version, as Kafka
// writes keys and values there.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/wire.h"

namespace kb::coordinator {

template <class Message>
std::string encode_versioned(const Message& m, int16_t version) {
  wire::Writer w;
  w.write_int16(version);
  m.encode(w, version);
  const auto& b = w.buffer();
  return std::string(b.begin(), b.end());
}

inline wire::Reader reader_of(std::string_view bytes) {
  return wire::Reader(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Decodes bytes that start with their version. Kafka reads the value versions it knows, so
// trailing bytes of an unknown tagged section are not an error in flexible versions (the
// generated decoder keeps unknown tags); a version out of range is.
template <class Message>
std::optional<Message> decode_versioned(std::string_view bytes) {
  auto r = reader_of(bytes);
  int16_t version = r.read_int16();
  if (!r.ok() || version < Message::kMinVersion || version > Message::kMaxVersion) return std::nullopt;
  Message m;
  if (!m.decode(r, version) || r.remaining() != 0) return std::nullopt;
  return m;
}

}  // namespace kb::coordinator
