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

}  // namespace kb::server
