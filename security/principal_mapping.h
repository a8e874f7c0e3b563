// `ssl.principal.mapping.rules` (KIP-371), as Kafka's SslPrincipalMapper applies them to the
// subject of a client certificate (an RFC 2253 distinguished name such as
// "CN=app1,OU=Services,O=Acme,C=DE") to give the principal's name:
//
//   RULE:^CN=(.*?),OU=Services.*$/$1/L, RULE:^CN=([^,]*).*$/$1/, DEFAULT
//
// Rules are tried in order; a RULE applies when its pattern matches the whole name and gives
// the replacement ($1... for groups), lower- or upper-cased with a trailing L or U; DEFAULT
// gives the name unchanged. When no rule applies the client is not authenticated.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::security {

class PrincipalMapper {
 public:
  // INVALID_CONFIG naming the rule that cannot be read (or whose pattern is no regex).
  static Result<PrincipalMapper> parse(std::string_view rules);

  // The principal's name, or nullopt when no rule applies.
  std::optional<std::string> map(const std::string& distinguished_name) const;

 private:
  struct Rule {
    bool is_default = false;
    std::string text;  // as configured, for messages
    std::regex pattern;
    std::string replacement;
    char case_change = 0;  // 'L', 'U' or 0
  };
  std::vector<Rule> rules_;
};

}  // namespace kb::security
