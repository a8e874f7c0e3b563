// SASL PLAIN (RFC 4616) as Kafka's PlainSaslServer reads it: "[authzid] NUL authcid NUL
// passwd", where the authorization id, when given, must be the user. The password check is the
// caller's (against the listener's configured users), with same_secret().
#pragma once

#include <string>
#include <string_view>

#include "protocol/types.h"

namespace kb::security {

struct PlainCredentials {
  std::string user;
  std::string password;
};

// SASL_AUTHENTICATION_FAILED with Kafka's message for a malformed token.
Result<PlainCredentials> parse_plain(std::string_view token);
// The client's token for `user` and `password` (kbctl, inter-broker connections).
std::string plain_token(std::string_view user, std::string_view password);

// Equal bytes, compared in time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b);

}  // namespace kb::security
