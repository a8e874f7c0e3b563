#include "server/listener_security.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "config/parse.h"
#include "config/settings.h"
#include "security/jaas.h"

namespace kb::server {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t from = 0;
  while (from <= text.size()) {
    size_t comma = text.find(',', from);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(from, comma - from);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    from = comma + 1;
  }
  return out;
}

Error invalid(const std::string& listener, const std::string& why) {
  return Error{ErrorCode::INVALID_CONFIG, "listener " + listener + ": " + why};
}

Result<std::shared_ptr<const SaslConfig>> sasl_config(const config::BrokerConfig& c, const config::Listener& l,
                                                      ScramLookup scram_lookup) {
  auto sasl = std::make_shared<SaslConfig>();
  sasl->enabled_mechanisms = split_list(c.listener_raw(l.name, "sasl.enabled.mechanisms").value_or(""));
  // Kafka takes connections.max.reauth.ms per listener too.
  sasl->max_reauth_ms = std::stoll(c.listener_raw(l.name, "connections.max.reauth.ms").value_or("0"));
  if (sasl->enabled_mechanisms.empty())
    return invalid(l.name, "a " + l.security_protocol + " listener needs a mechanism in sasl.enabled.mechanisms");
  for (const auto& m : sasl->enabled_mechanisms) {
    if (security::scram_mechanism(m)) {
      sasl->scram_lookup = scram_lookup;
      continue;
    }
    if (m != "PLAIN")
      return invalid(l.name, "sasl.enabled.mechanisms: kbroker does not serve " + m +
                                 " (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)");
    const std::string key = config::BrokerConfig::listener_key(l.name, "plain.sasl.jaas.config");
    auto text = c.raw(key);
    if (!text) return invalid(l.name, "PLAIN needs its users in " + key + " (user_<name>=\"<password>\")");
    auto modules = security::parse_jaas(*text);
    if (!modules.ok()) return invalid(l.name, key + ": " + modules.error().message);
    for (const auto& module : *modules) sasl->plain_users.merge(security::plain_users(module));
    if (sasl->plain_users.empty())
      return invalid(l.name, key + " names no user (user_<name>=\"<password>\")");
  }
  return std::shared_ptr<const SaslConfig>(std::move(sasl));
}

}  // namespace

security::TlsSettings tls_settings(const config::BrokerConfig& c, const config::Listener& l) {
  auto get = [&](const char* property) { return c.listener_raw(l.name, property).value_or(""); };
  security::TlsSettings s;
  s.keystore_type = get("ssl.keystore.type");
  s.keystore_location = get("ssl.keystore.location");
  s.keystore_password = get("ssl.keystore.password");
  s.keystore_key = get("ssl.keystore.key");
  s.keystore_certificate_chain = get("ssl.keystore.certificate.chain");
  s.key_password = get("ssl.key.password");
  s.truststore_type = get("ssl.truststore.type");
  s.truststore_location = get("ssl.truststore.location");
  s.truststore_password = get("ssl.truststore.password");
  s.truststore_certificates = get("ssl.truststore.certificates");
  // Kafka reads ssl.client.auth of a SASL_SSL listener only under its prefix (SASL
  // authenticates those clients; a certificate is asked for only when that listener says so).
  const std::string own_client_auth = config::BrokerConfig::listener_key(l.name, "ssl.client.auth");
  s.client_auth = l.security_protocol == "SSL" ? get("ssl.client.auth") : c.raw(own_client_auth).value_or("none");
  s.enabled_protocols = split_list(get("ssl.enabled.protocols"));
  s.cipher_suites = split_list(get("ssl.cipher.suites"));
  return s;
}


Result<std::map<std::string, std::shared_ptr<const ListenerSecurity>>> make_listener_security(
    const config::BrokerConfig& c, ScramLookup scram_lookup) {
  std::map<std::string, std::shared_ptr<const ListenerSecurity>> out;
  for (const auto& l : c.listeners()) {
    if (l.security_protocol == "PLAINTEXT") continue;
    auto sec = std::make_shared<ListenerSecurity>();
    sec->protocol = l.security_protocol;
    if (l.security_protocol == "SSL" || l.security_protocol == "SASL_SSL") {
      auto tls = security::make_server_context(tls_settings(c, l));
      if (!tls.ok()) return invalid(l.name, tls.error().message);
      sec->tls = *tls;
    }
    if (l.security_protocol == "SSL") {
      auto mapper = security::PrincipalMapper::parse(c.listener_raw(l.name, "ssl.principal.mapping.rules").value_or(""));
      if (!mapper.ok()) return invalid(l.name, "ssl.principal.mapping.rules: " + mapper.error().message);
      sec->principal_mapper = std::make_shared<const security::PrincipalMapper>(std::move(*mapper));
    } else {
      auto sasl = sasl_config(c, l, scram_lookup);
      if (!sasl.ok()) return sasl.error();
      sec->sasl = *sasl;
      sec->sasl_max_receive_bytes = c.settings().sasl_server_max_receive_size;
    }
    out.emplace(l.name, std::move(sec));
  }
  return out;
}

namespace {

bool serves_tls(const config::Listener& l) { return l.security_protocol == "SSL" || l.security_protocol == "SASL_SSL"; }

std::string files_stamp(const security::TlsSettings& s) {
  std::string out;
  for (const auto& path : {s.keystore_location, s.truststore_location}) {
    std::error_code ec;
    const auto size = path.empty() ? 0 : std::filesystem::file_size(path, ec);
    const auto time = path.empty() ? std::filesystem::file_time_type{} : std::filesystem::last_write_time(path, ec);
    out += std::to_string(size) + "@" + std::to_string(time.time_since_epoch().count()) + ";";
  }
  return out;
}

}  // namespace

void TlsReloader::start(const config::BrokerConfig& current, Apply apply) {
  std::lock_guard lk(mu_);
  loaded_.clear();
  for (const auto& l : current.listeners()) {
    if (!serves_tls(l)) continue;
    auto s = tls_settings(current, l);
    auto tls = security::make_server_context(s);  // what the network built from the same settings
    loaded_[l.name] = Loaded{s, files_stamp(s), tls.ok() ? *tls : nullptr};
  }
  apply_ = std::move(apply);
}

Result<std::map<std::string, TlsReloader::Loaded>> TlsReloader::pending(const config::BrokerConfig& next) const {
  std::map<std::string, Loaded> out;
  for (const auto& l : next.listeners()) {
    auto was = loaded_.find(l.name);
    if (was == loaded_.end()) continue;  // not a TLS listener, or not started yet
    Loaded now{tls_settings(next, l), "", nullptr};
    now.files_stamp = files_stamp(now.settings);
    if (now.settings == was->second.settings && now.files_stamp == was->second.files_stamp) continue;
    auto tls = security::make_server_context(now.settings);
    if (!tls.ok()) return invalid(l.name, "the new key or trust store cannot be used: " + tls.error().message);
    now.tls = *tls;
    const auto before = security::own_certificate_names(was->second.tls);
    const auto after = security::own_certificate_names(now.tls);
    auto allowed = [&](const char* property) { return next.listener_raw(l.name, property).value_or("false") == "true"; };
    if ((before.subject != after.subject && !allowed("ssl.allow.dn.changes")) ||
        (before.alt_names != after.alt_names && !allowed("ssl.allow.san.changes")))
      return invalid(l.name, "the new key store's certificate names " + after.subject + " [" +
                                 config::detail::join(after.alt_names, ", ") + "], the one served " + before.subject +
                                 " [" + config::detail::join(before.alt_names, ", ") +
                                 "] (Kafka refuses other names unless ssl.allow.dn.changes / ssl.allow.san.changes)");
    out.emplace(l.name, std::move(now));
  }
  return out;
}

Status TlsReloader::check(const config::BrokerConfig& next) const {
  std::lock_guard lk(mu_);
  auto changes = pending(next);
  if (!changes.ok()) return changes.error();
  return {};
}

void TlsReloader::stop() {
  std::lock_guard lk(mu_);
  apply_ = nullptr;
}

void TlsReloader::reload(const config::BrokerConfig& next) {
  std::lock_guard lk(mu_);
  if (!apply_) return;
  auto changes = pending(next);
  if (!changes.ok()) {
    // Checked when the change was accepted; a store file changed again since.
    spdlog::error("key or trust store not reloaded, the old one stays: {}", changes.error().message);
    return;
  }
  for (auto& [name, loaded] : *changes) {
    spdlog::info("listener {}: key and trust stores reloaded (key store {}), new connections use them", name,
                 loaded.settings.keystore_location.empty() ? std::string("inline") : loaded.settings.keystore_location);
    apply_(name, loaded.tls);
    loaded_[name] = std::move(loaded);
  }
}

}  // namespace kb::server
