// The listener security settings kbroker uses (TLS and SASL on SSL, SASL_PLAINTEXT and
// SASL_SSL listeners), with Kafka's names, types and defaults. Each may also be written under
// a listener's prefix, `listener.name.<listener in lower case>.<property>`, which wins for that
// listener (BrokerConfig::listener_raw); a mechanism's JAAS configuration is written only that
// way: `listener.name.<listener>.<mechanism in lower case>.sasl.jaas.config`. All are read at
// start-up, except the key and trust stores, which keep Kafka's listener-only update mode:
// dynamic per broker under a listener's prefix (dynamic_listener_property), reloaded without a
// restart (server/listener_security.h).
#include "config/config.h"
#include "config/parse.h"

namespace kb::config::detail {

namespace {

std::string check_mechanisms(std::string_view v) {
  for (const auto& m : split_list(v))
    if (m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512" && m != "GSSAPI" && m != "OAUTHBEARER")
      return "unknown SASL mechanism " + m + " (kbroker serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)";
  return "";
}

}  // namespace

const std::vector<PropertyDef>& security_transport_properties() {
  using T = Type;
  constexpr auto null = std::nullopt;
  static const std::vector<PropertyDef> defs = {
      Def("ssl.keystore.type", T::String, "JKS",
          "Format of the key store: PEM or PKCS12 (JKS, Kafka's default, is refused: convert it with keytool)").listener_only(),
      Def("ssl.keystore.location", T::String, null,
          "Key store of SSL/SASL_SSL listeners: a PEM file with the private key and certificate chain, or a "
          "PKCS12 file").listener_only(),
      Def("ssl.keystore.password", T::Password, null, "Password of a PKCS12 key store").listener_only(),
      Def("ssl.keystore.key", T::Password, null, "The private key as inline PEM (instead of ssl.keystore.location)").listener_only(),
      Def("ssl.keystore.certificate.chain", T::Password, null,
          "The certificate chain as inline PEM (with ssl.keystore.key)").listener_only(),
      Def("ssl.key.password", T::Password, null, "Password of an encrypted PEM private key").listener_only(),
      Def("ssl.truststore.type", T::String, "JKS", "Format of the trust store: PEM or PKCS12").listener_only(),
      Def("ssl.truststore.location", T::String, null,
          "CA certificates that verify client certificates (ssl.client.auth) and, for kbroker's own "
          "connections, other brokers").listener_only(),
      Def("ssl.truststore.password", T::Password, null, "Password of a PKCS12 trust store").listener_only(),
      Def("ssl.truststore.certificates", T::Password, null, "Trusted certificates as inline PEM").listener_only(),
      Def("ssl.client.auth", T::String, "none",
          "Client certificates on SSL listeners: required, requested or none (SASL_SSL listeners take it only "
          "under their listener.name prefix, as Kafka does)")
          .in({"required", "requested", "none"}),
      Def("ssl.enabled.protocols", T::List, "TLSv1.2,TLSv1.3", "TLS versions served: TLSv1.2, TLSv1.3"),
      Def("ssl.cipher.suites", T::List, "",
          "Cipher suites by their IANA (Java) names; empty: OpenSSL's defaults"),
      Def("ssl.allow.dn.changes", T::Bool, "false",
          "Whether a reloaded key store may bring a certificate with another subject"),
      Def("ssl.allow.san.changes", T::Bool, "false",
          "Whether a reloaded key store may bring a certificate with other subject alternative names"),
      Def("ssl.principal.mapping.rules", T::String, "DEFAULT",
          "How a client certificate's subject becomes the principal's name (KIP-371 rules: "
          "RULE:pattern/replacement/[LU], DEFAULT)"),
      Def("sasl.enabled.mechanisms", T::List, "GSSAPI",
          "SASL mechanisms of SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI and OAUTHBEARER "
          "are refused on a SASL listener)")
          .check(check_mechanisms),
      Def("sasl.jaas.config", T::Password, null,
          "JAAS configuration; kbroker reads it per listener and mechanism: "
          "listener.name.<listener>.<mechanism>.sasl.jaas.config (PLAIN users as user_<name>=\"password\")"),
      Def("sasl.server.max.receive.size", T::Int, "524288",
          "Largest request a SASL listener reads before the client has authenticated"),
      Def("connections.max.reauth.ms", T::Long, "0",
          "Lifetime of a SASL session: a client must authenticate again before it ends (KIP-368); 0: never"),
      // kbroker's own connections (server/peer_security.h).
      Def("security.inter.broker.protocol", T::String, "PLAINTEXT",
          "Kafka's alternative to inter.broker.listener.name: the listener named after this protocol is the "
          "inter-broker one (set one of the two)")
          .in({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}),
      Def("sasl.mechanism.inter.broker.protocol", T::String, "GSSAPI",
          "How this broker logs in to a SASL inter-broker listener: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (GSSAPI, "
          "Kafka's default, is refused), with the username/password of that listener's <mechanism>.sasl.jaas.config")
          .per_broker(),
      Def("sasl.mechanism.controller.protocol", T::String, "GSSAPI",
          "How this node logs in to a SASL controller listener: PLAIN (SCRAM's credentials live in the metadata "
          "log the controllers replicate; GSSAPI is refused), with the username/password of that listener's "
          "plain.sasl.jaas.config"),
      Def("ssl.endpoint.identification.algorithm", T::String, "https",
          "https: kbroker's own TLS connections check the other broker's certificate names the host (or IP "
          "address) connected to; empty: not checked")
          .per_broker(),
  };
  return defs;
}

std::optional<std::string> listener_property_base(std::string_view name) {
  constexpr std::string_view kPrefix = "listener.name.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = name.substr(kPrefix.size());
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  std::string_view property = rest.substr(dot + 1);
  // <mechanism>.sasl.jaas.config: the mechanism is in lower case, as Kafka writes it.
  constexpr std::string_view kJaas = ".sasl.jaas.config";
  if (property.size() > kJaas.size() && property.substr(property.size() - kJaas.size()) == kJaas)
    property = property.substr(property.find('.') + 1);
  for (const auto& d : security_transport_properties())
    if (d.name == property) return d.name;
  return std::nullopt;
}

}  // namespace kb::config::detail

namespace kb::config {

const PropertyDef* dynamic_listener_property(std::string_view name) {
  auto base = detail::listener_property_base(name);
  const PropertyDef* d = base ? find_broker_property(*base) : nullptr;
  return d && d->listener_only ? d : nullptr;
}

}  // namespace kb::config
