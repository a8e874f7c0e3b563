// Kafka's `sasl.jaas.config` values (per listener and mechanism:
// `listener.name.<listener>.<mechanism>.sasl.jaas.config`), parsed as Kafka's JaasConfig
// reads them:
//
//   org.apache.kafka.common.security.plain.PlainLoginModule required
//       username="admin" password="admin-secret" user_admin="admin-secret" user_alice="pw";
//
// One or more login modules, each a class name, a control flag (required, requisite,
// sufficient, optional), options `key=value` (quoted with '"' or bare), and ';'. For PLAIN the
// `user_<name>` options are the users a listener accepts; `username` / `password` are what
// this broker sends when it connects to others.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::security {

struct JaasModule {
  std::string login_module;
  std::string flag;
  std::map<std::string, std::string> options;
};

// INVALID_CONFIG with where and why when the text is not a JAAS configuration.
Result<std::vector<JaasModule>> parse_jaas(std::string_view text);

// The `user_<name>="<password>"` options of a PLAIN login module: name -> password.
std::map<std::string, std::string> plain_users(const JaasModule& module);

}  // namespace kb::security
