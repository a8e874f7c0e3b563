#include "server/peer_security.h"

#include <algorithm>
#include <cctype>

#include "config/parse.h"
#include "security/jaas.h"
#include "security/sasl_client.h"
#include "security/scram.h"
#include "server/listener_security.h"

namespace kb::server {

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return s;
}

Error invalid(const std::string& why) { return Error{ErrorCode::INVALID_CONFIG, why}; }

// From listener.security.protocol.map, which also names the controller listener of a node
// that does not listen on it itself (process.roles=broker); an unmapped controller listener is
// PLAINTEXT, as the configuration loader reads it.
std::string protocol_of(const config::BrokerConfig& c, const std::string& listener) {
  for (const auto& l : c.listeners())
    if (l.name == listener) return l.security_protocol;
  for (const auto& entry : c.get_list("listener.security.protocol.map")) {
    auto colon = entry.find(':');
    if (colon != std::string::npos && upper(entry.substr(0, colon)) == listener) return upper(entry.substr(colon + 1));
  }
  return "PLAINTEXT";
}

bool listens_on(const config::BrokerConfig& c, const std::string& listener) {
  auto ls = c.listeners();
  return std::any_of(ls.begin(), ls.end(), [&](const config::Listener& l) { return l.name == listener; });
}

}  // namespace

std::string inter_broker_listener_name(const config::BrokerConfig& c) {
  if (auto name = c.raw("inter.broker.listener.name"); name && !name->empty()) return upper(*name);
  auto advertised = c.advertised_listeners();
  return advertised.empty() ? "" : advertised.front().name;
}

Result<runtime::PeerSecurity> make_peer_security(const config::BrokerConfig& c, PeerTraffic traffic) {
  const bool broker = traffic == PeerTraffic::Broker;
  std::string listener;
  if (broker) {
    listener = inter_broker_listener_name(c);
  } else {
    auto names = c.get_list("controller.listener.names");
    if (!names.empty()) listener = upper(names.front());
  }
  runtime::PeerSecurity sec;
  if (listener.empty()) return sec;  // a lone broker without those listeners talks to itself in process
  sec.protocol = protocol_of(c, listener);
  const std::string what = broker ? "inter-broker listener " + listener : "controller listener " + listener;

  if (sec.protocol == "SSL" || sec.protocol == "SASL_SSL") {
    config::Listener l{listener, "", 0, sec.protocol};
    auto tls = security::make_client_context(tls_settings(c, l));
    if (!tls.ok()) return invalid(what + ": " + tls.error().message);
    sec.tls = *tls;
    const std::string algorithm = c.listener_raw(listener, "ssl.endpoint.identification.algorithm").value_or("");
    if (!algorithm.empty() && config::detail::lower(algorithm) != "https")
      return invalid(what + ": ssl.endpoint.identification.algorithm: " + algorithm + " (https, or empty to not verify)");
    sec.verify_host = !algorithm.empty();
  }

  if (sec.protocol == "SASL_PLAINTEXT" || sec.protocol == "SASL_SSL") {
    const char* setting = broker ? "sasl.mechanism.inter.broker.protocol" : "sasl.mechanism.controller.protocol";
    sec.sasl_mechanism = upper(c.get_string(setting));
    if (auto st = security::check_client_mechanism(sec.sasl_mechanism, setting); !st.ok())
      return invalid(st.error().message + ", which the " + what + " (" + sec.protocol + ") needs");
    // As in Kafka's KRaft mode: the SCRAM credentials are records of the metadata log, which
    // the controllers replicate only once they have logged in to each other.
    if (!broker && security::scram_mechanism(sec.sasl_mechanism))
      return invalid(std::string(setting) + ": controllers cannot log in to each other with " + sec.sasl_mechanism +
                     " (its credentials live in the metadata log they replicate); use PLAIN on the " + what);
    if (listens_on(c, listener)) {
      std::vector<std::string> enabled;
      for (const auto& m : config::detail::split_list(c.listener_raw(listener, "sasl.enabled.mechanisms").value_or("")))
        enabled.push_back(upper(m));
      if (std::find(enabled.begin(), enabled.end(), sec.sasl_mechanism) == enabled.end())
        return invalid(std::string(setting) + " must be included in sasl.enabled.mechanisms of the " + what +
                       " when SASL is used on it (" + sec.sasl_mechanism + " is not)");
    }
    const std::string key = config::BrokerConfig::listener_key(listener, config::detail::lower(sec.sasl_mechanism) + ".sasl.jaas.config");
    auto text = c.raw(key);
    if (!text)
      return invalid(what + " uses " + sec.sasl_mechanism + ": its login is the username=\"...\" password=\"...\" of " + key);
    auto modules = security::parse_jaas(*text);
    if (!modules.ok()) return invalid(key + ": " + modules.error().message);
    for (const auto& m : *modules) {
      auto user = m.options.find("username");
      auto password = m.options.find("password");
      if (user == m.options.end() || password == m.options.end()) continue;
      sec.sasl_username = user->second;
      sec.sasl_password = password->second;
      break;
    }
    if (sec.sasl_username.empty())
      return invalid(key + ": no username=\"...\" password=\"...\" for kbroker's own login to the " + what);
  }
  return sec;
}

}  // namespace kb::server
