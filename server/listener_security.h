// What each listener's security protocol needs, built from the configuration at start-up:
// the TLS context of SSL and SASL_SSL listeners (ssl.* settings, with their
// listener.name.<listener>. overrides), how a client certificate becomes a principal
// (ssl.principal.mapping.rules), and the SASL settings of SASL_PLAINTEXT and SASL_SSL
// listeners (sasl.enabled.mechanisms, the PLAIN users of
// listener.name.<listener>.plain.sasl.jaas.config, connections.max.reauth.ms).
//
// Immutable once built; shared by the network threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "protocol/types.h"
#include "security/principal_mapping.h"
#include "security/scram.h"
#include "security/tls.h"
#include "server/sasl_session.h"

namespace kb::server {

struct ListenerSecurity {
  std::string protocol = "PLAINTEXT";  // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
  security::TlsContext tls;            // SSL and SASL_SSL
  // SSL: the client certificate's subject to a principal name.
  std::shared_ptr<const security::PrincipalMapper> principal_mapper;
  std::shared_ptr<const SaslConfig> sasl;  // SASL_PLAINTEXT and SASL_SSL
  // sasl.server.max.receive.size: the largest frame read before the client authenticated.
  int32_t sasl_max_receive_bytes = 524288;
};

using ScramLookup = std::function<std::optional<security::ScramCredential>(security::ScramMechanism, const std::string&)>;

// A listener's ssl.* settings, each from listener.name.<listener>.<setting> when set; for the
// server side of `l` and for kbroker's own connections to it.
security::TlsSettings tls_settings(const config::BrokerConfig& c, const config::Listener& l);

// Listener name -> its security; PLAINTEXT listeners are left out. INVALID_CONFIG naming the
// listener and the setting (a missing or unreadable key store, a JKS store, a mechanism
// kbroker does not serve, a SASL listener without a mechanism or PLAIN without users).
Result<std::map<std::string, std::shared_ptr<const ListenerSecurity>>> make_listener_security(
    const config::BrokerConfig& config, ScramLookup scram_lookup);

// Kafka's reconfiguration of a listener's key and trust stores without a restart (dynamic
// listener configs, `listener.name.<l>.ssl.keystore.location` and the other store settings on
// this broker's resource): a TLS listener whose store settings changed, or whose store files
// changed on disk (the same path set again: Kafka reloads then too), gets a new TLS context
// for new connections; open connections keep theirs.
//
// Thread-safe: check() runs on the network thread of an AlterConfigs, reload() on the
// metadata publisher's.
class TlsReloader {
 public:
  using Apply = std::function<void(const std::string& listener, security::TlsContext)>;
  // From now on `current` is what the listeners serve, and reload() hands new contexts to `apply`.
  void start(const config::BrokerConfig& current, Apply apply);
  // INVALID_CONFIG naming the listener when a store `next` would reload does not load, its key
  // does not match its certificate, or the certificate names another subject or other
  // alternative names than the one served (unless ssl.allow.dn.changes / ssl.allow.san.changes);
  // Kafka validates before it accepts the change.
  Status check(const config::BrokerConfig& next) const;
  // Reloads what changed in `next` (a store that fails the checks now is logged and the old one
  // kept).
  void reload(const config::BrokerConfig& next);
  // No more reloads (the network is stopping).
  void stop();

 private:
  struct Loaded {
    security::TlsSettings settings;
    std::string files_stamp;  // the store files' sizes and modification times when loaded
    security::TlsContext tls;
  };
  // The listeners `next` changes, with their new contexts; INVALID_CONFIG for the first that
  // does not load, or whose certificate changes its subject or alternative names while
  // ssl.allow.dn.changes / ssl.allow.san.changes say no (Kafka's rule). Under mu_.
  Result<std::map<std::string, Loaded>> pending(const config::BrokerConfig& next) const;

  mutable std::mutex mu_;
  std::map<std::string, Loaded> loaded_;  // per TLS listener
  Apply apply_;
};

}  // namespace kb::server
