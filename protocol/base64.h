// Base64 with the standard alphabet (RFC 4648 section 4), as SASL/SCRAM messages, HTTP Basic
// credentials and Confluent's serialized Protobuf schemas carry it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kb {

inline constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Padded to a multiple of four characters.
std::string base64_encode(std::string_view bytes);
// Padding optional (Java's decoder, which Kafka and Confluent use, accepts input without it);
// nullopt for any other character or an impossible length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kb
