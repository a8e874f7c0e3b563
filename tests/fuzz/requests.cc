// Every request the broker serves, at every version: the input is a request frame as the
// network hands it to dispatch (api key, api version, header, body; no length prefix). The
// api key and version are taken from the frame (a version outside the request's range wraps
// into it, so no input is wasted). The header and body decode as dispatch and the handlers
// decode them; a body that decodes must encode to bytes that decode back and encode to the
// same bytes (the round trip every response and forwarded request relies on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <tuple>
#include <vector>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/message_samples.h"
#include "protocol/wire.h"

namespace {

using namespace kb;

template <class M>
std::vector<uint8_t> encode(const M& m, int16_t v) {
  wire::Writer w;
  m.encode(w, v);
  return w.buffer();
}

template <class M>
void round_trip(std::span<const uint8_t> body, int16_t v) {
  M m;
  wire::Reader r(body);
  if (!m.decode(r, v)) return;
  auto bytes = encode(m, v);
  M back;
  wire::Reader again(bytes);
  if (!back.decode(again, v) || again.remaining() != 0) std::abort();  // our own encoding refused
  if (encode(back, v) != bytes) std::abort();                         // the round trip changed it
}

template <class... Ms>
void dispatch(int16_t key, std::span<const uint8_t> body, int16_t v, std::tuple<Ms...>*) {
  ((key == Ms::kApiKey ? round_trip<Ms>(body, v) : void()), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  auto key = static_cast<int16_t>(wire::load_be16(data));
  const msg::ApiKeyInfo* info = msg::find_api_key(key);
  if (!info) return 0;
  int range = info->max_version - info->min_version + 1;
  auto v = static_cast<int16_t>(info->min_version + wire::load_be16(data + 2) % range);
  std::vector<uint8_t> frame(data, data + size);
  wire::store_be16(frame.data() + 2, static_cast<uint16_t>(v));

  wire::Reader r(std::span<const uint8_t>(frame.data(), frame.size()));
  msg::RequestHeader header;
  if (!header.decode(r, msg::request_header_version(key, v))) return 0;
  size_t at = r.position();
  dispatch(key, std::span<const uint8_t>(frame.data() + at, frame.size() - at), v,
           static_cast<msg::samples::AllRequests*>(nullptr));
  return 0;
}
