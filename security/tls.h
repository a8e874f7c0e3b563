// TLS contexts from Kafka's ssl.* settings, for SSL and SASL_SSL listeners (server side) and
// for kbroker's own connections to other brokers (client side), and the principal name of a
// client certificate.
//
// Accepted key stores: PEM (Kafka's ssl.keystore.type=PEM): a file holding the private key and
// the certificate chain (ssl.keystore.location), or the two inline (ssl.keystore.key and
// ssl.keystore.certificate.chain), the key optionally encrypted with ssl.key.password; and
// PKCS12 files (ssl.keystore.type=PKCS12, with ssl.keystore.password). JKS, a Java format, is
// refused with a message saying to convert it (keytool -importkeystore -deststoretype PKCS12).
// Trust stores: PEM files or inline certificates (ssl.truststore.certificates); PKCS12 files.
//
// Cipher suites are named as Kafka (Java) names them, which are the IANA names
// (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256); protocols as TLSv1.2 and
// TLSv1.3. No I/O beyond reading the named files; no threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "protocol/types.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace kb::security {

struct TlsSettings {
  std::string keystore_type = "PEM";  // PEM or PKCS12
  std::string keystore_location;
  std::string keystore_password;                 // PKCS12
  std::string keystore_key;                      // inline PEM private key
  std::string keystore_certificate_chain;        // inline PEM chain
  std::string key_password;                      // an encrypted PEM key's password
  std::string truststore_type = "PEM";
  std::string truststore_location;
  std::string truststore_password;               // PKCS12
  std::string truststore_certificates;           // inline PEM certificates
  std::string client_auth = "none";              // none, requested, required (server side)
  std::vector<std::string> enabled_protocols = {"TLSv1.2", "TLSv1.3"};
  std::vector<std::string> cipher_suites;        // empty: OpenSSL's defaults

  bool operator==(const TlsSettings&) const = default;
};

using TlsContext = std::shared_ptr<SSL_CTX>;

// INVALID_CONFIG naming the setting and what is wrong (an unreadable file, a key that does not
// match its certificate, an unknown protocol or cipher suite...).
Result<TlsContext> make_server_context(const TlsSettings& s);
// Verifies the server against the trust store (or the system's when none is given); presents
// the key store's certificate when one is configured (mTLS).
Result<TlsContext> make_client_context(const TlsSettings& s);

// What Kafka compares when a listener's key store is reloaded (ssl.allow.dn.changes,
// ssl.allow.san.changes): the subject (RFC 2253) and the sorted subject alternative names
// ("DNS:kb-1", "IP Address:10.0.0.5") of a context's own certificate; empty without one.
struct CertificateNames {
  std::string subject;
  std::vector<std::string> alt_names;
  bool operator==(const CertificateNames&) const = default;
};
CertificateNames own_certificate_names(const TlsContext& ctx);

// The subject of the peer's verified certificate as an RFC 2253 name ("CN=app,O=Acme,C=DE",
// what Kafka's X500Principal.getName() gives and ssl.principal.mapping.rules match); empty
// when the peer sent none.
std::string peer_subject(SSL* ssl);

}  // namespace kb::security
