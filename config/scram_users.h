// SCRAM users written into a new cluster's metadata log (kbroker's `kafka-storage format
// --add-scram`): the `bootstrap.scram.users` property holds entries in the storage tool's syntax,
// `SCRAM-SHA-256=[name=admin,password=admin-secret]`, optionally with `iterations=8192`,
// separated by spaces, ',' or ';'. Parsed here (config-time checks); the controller turns them
// into UserScramCredentialRecords.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::config {

struct ScramUserSpec {
  std::string mechanism;  // "SCRAM-SHA-256" or "SCRAM-SHA-512"
  std::string name;
  std::string password;
  int32_t iterations = 4096;
  bool operator==(const ScramUserSpec&) const = default;
};

// INVALID_CONFIG naming what is wrong: an unknown mechanism, a missing name or password, an
// unknown key, iterations outside Kafka's 4096..16384, the same user and mechanism twice.
Result<std::vector<ScramUserSpec>> parse_scram_users(std::string_view text);

}  // namespace kb::config
