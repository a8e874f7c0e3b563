#include "security/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace kb::security {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

Error invalid(std::string what) { return Error{ErrorCode::INVALID_CONFIG, std::move(what)}; }

// OpenSSL's reason for the last failure, and an empty error queue for the next call.
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  std::string reason = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error" : "unknown error";
  ERR_clear_error();
  return reason;
}

Result<std::string> read_file(const std::string& path, const char* setting) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid(std::string(setting) + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Bio memory(const std::string& text) { return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free); }

int give_password(char* buf, int size, int, void* password) {
  const std::string& p = *static_cast<const std::string*>(password);
  if (static_cast<int>(p.size()) > size) return -1;
  std::copy(p.begin(), p.end(), buf);
  return static_cast<int>(p.size());
}

// Every certificate in PEM text, in order (other PEM blocks are skipped).
std::vector<Cert> pem_certificates(const std::string& text) {
  std::vector<Cert> out;
  Bio bio = memory(text);
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c, &X509_free);
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

struct KeyAndChain {
  Key key{nullptr, &EVP_PKEY_free};
  std::vector<Cert> chain;  // the leaf first
};

Result<KeyAndChain> read_pkcs12(const std::string& bytes, const std::string& password, const char* setting) {
  Bio bio = memory(bytes);
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(d2i_PKCS12_bio(bio.get(), nullptr), &PKCS12_free);
  if (!p12) return invalid(std::string(setting) + ": not a PKCS12 file (" + openssl_reason() + ")");
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), password.c_str(), &key, &cert, &ca) != 1)
    return invalid(std::string(setting) + ": cannot open the PKCS12 file (wrong password?): " + openssl_reason());
  KeyAndChain out;
  out.key.reset(key);
  if (cert) out.chain.emplace_back(cert, &X509_free);
  for (int i = 0; ca && i < sk_X509_num(ca); ++i) out.chain.emplace_back(sk_X509_value(ca, i), &X509_free);
  sk_X509_free(ca);  // the certificates now belong to `out`
  return out;
}

Result<KeyAndChain> read_keystore(const TlsSettings& s) {
  if (s.keystore_type == "JKS")
    return invalid("ssl.keystore.type=JKS is a Java format kbroker cannot read: convert it with `keytool "
                   "-importkeystore -srckeystore keystore.jks -destkeystore keystore.p12 -deststoretype PKCS12` and "
                   "set ssl.keystore.type=PKCS12, or use PEM");
  if (s.keystore_type == "PKCS12") {
    auto bytes = read_file(s.keystore_location, "ssl.keystore.location");
    if (!bytes.ok()) return bytes.error();
    return read_pkcs12(*bytes, s.keystore_password, "ssl.keystore.location");
  }
  if (s.keystore_type != "PEM") return invalid("ssl.keystore.type: " + s.keystore_type + " (PEM or PKCS12)");
  std::string key_text = s.keystore_key, chain_text = s.keystore_certificate_chain;
  if (!s.keystore_location.empty()) {
    auto text = read_file(s.keystore_location, "ssl.keystore.location");
    if (!text.ok()) return text.error();
    key_text = chain_text = *text;
  }
  KeyAndChain out;
  Bio bio = memory(key_text);
  std::string password = s.key_password;
  out.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, give_password, &password));
  if (!out.key)
    return invalid("ssl.keystore: no readable private key (" + openssl_reason() +
                   (s.key_password.empty() ? "; an encrypted key needs ssl.key.password)" : ")"));
  out.chain = pem_certificates(chain_text);
  if (out.chain.empty()) return invalid("ssl.keystore: no certificate found");
  return out;
}

Result<std::vector<Cert>> read_truststore(const TlsSettings& s) {
  if (s.truststore_type == "JKS")
    return invalid("ssl.truststore.type=JKS is a Java format kbroker cannot read: use PEM or PKCS12");
  if (s.truststore_type == "PKCS12") {
    auto bytes = read_file(s.truststore_location, "ssl.truststore.location");
    if (!bytes.ok()) return bytes.error();
    auto p12 = read_pkcs12(*bytes, s.truststore_password, "ssl.truststore.location");
    if (!p12.ok()) return p12.error();
    return std::move(p12->chain);
  }
  if (s.truststore_type != "PEM") return invalid("ssl.truststore.type: " + s.truststore_type + " (PEM or PKCS12)");
  std::string text = s.truststore_certificates;
  if (!s.truststore_location.empty()) {
    auto file = read_file(s.truststore_location, "ssl.truststore.location");
    if (!file.ok()) return file.error();
    text = *file;
  }
  auto certs = pem_certificates(text);
  if (certs.empty()) return invalid("ssl.truststore: no certificate found");
  return certs;
}

bool has_keystore(const TlsSettings& s) { return !s.keystore_location.empty() || !s.keystore_key.empty(); }
bool has_truststore(const TlsSettings& s) {
  return !s.truststore_location.empty() || !s.truststore_certificates.empty();
}

Status use_keystore(SSL_CTX* ctx, const TlsSettings& s) {
  auto ks = read_keystore(s);
  if (!ks.ok()) return ks.error();
  if (X509_check_private_key(ks->chain[0].get(), ks->key.get()) != 1) {
    ERR_clear_error();
    return invalid("ssl.keystore: the private key does not match the certificate");
  }
  if (SSL_CTX_use_certificate(ctx, ks->chain[0].get()) != 1 || SSL_CTX_use_PrivateKey(ctx, ks->key.get()) != 1)
    return invalid("ssl.keystore: " + openssl_reason());
  for (size_t i = 1; i < ks->chain.size(); ++i)
    if (SSL_CTX_add1_chain_cert(ctx, ks->chain[i].get()) != 1) return invalid("ssl.keystore: " + openssl_reason());
  return {};
}

Status use_truststore(SSL_CTX* ctx, const TlsSettings& s) {
  auto certs = read_truststore(s);
  if (!certs.ok()) return certs.error();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (const Cert& c : *certs)
    if (X509_STORE_add_cert(store, c.get()) != 1) return invalid("ssl.truststore: " + openssl_reason());
  return {};
}

Status use_protocols(SSL_CTX* ctx, const std::vector<std::string>& protocols) {
  static const std::map<std::string, int> kVersions = {{"TLSv1.2", TLS1_2_VERSION}, {"TLSv1.3", TLS1_3_VERSION}};
  int lowest = 0, highest = 0;
  for (const auto& p : protocols) {
    auto it = kVersions.find(p);
    if (it == kVersions.end()) return invalid("ssl.enabled.protocols: " + p + " is not supported (TLSv1.2, TLSv1.3)");
    lowest = lowest ? std::min(lowest, it->second) : it->second;
    highest = std::max(highest, it->second);
  }
  if (!highest) return invalid("ssl.enabled.protocols: empty");
  SSL_CTX_set_min_proto_version(ctx, lowest);
  SSL_CTX_set_max_proto_version(ctx, highest);
  return {};
}

// IANA (Java) names to OpenSSL's: TLS 1.3 suites keep their IANA names in OpenSSL; TLS 1.2
// ones are found through SSL_CIPHER_standard_name.
Status use_cipher_suites(SSL_CTX* ctx, const std::vector<std::string>& suites) {
  if (suites.empty()) return {};
  std::map<std::string, std::string> openssl_name;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> all(SSL_CTX_new(TLS_method()), &SSL_CTX_free);
  SSL_CTX_set_cipher_list(all.get(), "ALL:COMPLEMENTOFALL");
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(all.get());
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (const char* standard = SSL_CIPHER_standard_name(c)) openssl_name[standard] = SSL_CIPHER_get_name(c);
  }
  std::string tls12, tls13;
  for (const auto& suite : suites) {
    auto it = openssl_name.find(suite);
    if (it == openssl_name.end()) return invalid("ssl.cipher.suites: unknown cipher suite " + suite);
    const bool is_tls13 = it->second == suite;  // TLS 1.3 suites: the same name in both
    std::string& list = is_tls13 ? tls13 : tls12;
    list += (list.empty() ? "" : ":") + it->second;
  }
  if (!tls12.empty() && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1)
    return invalid("ssl.cipher.suites: " + openssl_reason());
  if (SSL_CTX_set_ciphersuites(ctx, tls13.c_str()) != 1) return invalid("ssl.cipher.suites: " + openssl_reason());
  // Only TLS 1.3 suites named: TLS 1.2 would have none; only TLS 1.2 ones: TLS 1.3 has none.
  if (tls12.empty()) SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (tls13.empty()) SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_get_min_proto_version(ctx) > SSL_CTX_get_max_proto_version(ctx))
    return invalid("ssl.cipher.suites: none of them is usable with ssl.enabled.protocols");
  return {};
}

Result<TlsContext> new_context(const SSL_METHOD* method, const TlsSettings& s) {
  TlsContext ctx(SSL_CTX_new(method), &SSL_CTX_free);
  if (!ctx) return invalid("TLS: " + openssl_reason());
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (auto st = use_protocols(ctx.get(), s.enabled_protocols); !st.ok()) return st.error();
  if (auto st = use_cipher_suites(ctx.get(), s.cipher_suites); !st.ok()) return st.error();
  return ctx;
}

}  // namespace

Result<TlsContext> make_server_context(const TlsSettings& s) {
  if (!has_keystore(s))
    return invalid("an SSL listener needs ssl.keystore.location (or ssl.keystore.key and "
                   "ssl.keystore.certificate.chain)");
  auto ctx = new_context(TLS_server_method(), s);
  if (!ctx.ok()) return ctx;
  if (auto st = use_keystore(ctx->get(), s); !st.ok()) return st.error();
  int verify = SSL_VERIFY_NONE;
  if (s.client_auth == "requested")
    verify = SSL_VERIFY_PEER;
  else if (s.client_auth == "required")
    verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  else if (s.client_auth != "none")
    return invalid("ssl.client.auth: " + s.client_auth + " (none, requested or required)");
  if (verify != SSL_VERIFY_NONE) {
    if (!has_truststore(s))
      return invalid("ssl.client.auth=" + s.client_auth + " needs ssl.truststore.location to verify clients");
    if (auto st = use_truststore(ctx->get(), s); !st.ok()) return st.error();
  }
  SSL_CTX_set_verify(ctx->get(), verify, nullptr);
  return ctx;
}

Result<TlsContext> make_client_context(const TlsSettings& s) {
  auto ctx = new_context(TLS_client_method(), s);
  if (!ctx.ok()) return ctx;
  if (has_truststore(s)) {
    if (auto st = use_truststore(ctx->get(), s); !st.ok()) return st.error();
  } else {
    SSL_CTX_set_default_verify_paths(ctx->get());
  }
  if (has_keystore(s))
    if (auto st = use_keystore(ctx->get(), s); !st.ok()) return st.error();
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

namespace {

std::string subject_of(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string peer_subject(SSL* ssl) {
  Cert cert(SSL_get1_peer_certificate(ssl), &X509_free);
  return cert ? subject_of(cert.get()) : std::string();
}

CertificateNames own_certificate_names(const TlsContext& ctx) {
  CertificateNames out;
  X509* cert = ctx ? SSL_CTX_get0_certificate(ctx.get()) : nullptr;  // owned by the context
  if (!cert) return out;
  out.subject = subject_of(cert);
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
    GENERAL_NAME_print(bio.get(), sk_GENERAL_NAME_value(names, i));
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    out.alt_names.emplace_back(data, static_cast<size_t>(len));
  }
  GENERAL_NAMES_free(names);
  std::sort(out.alt_names.begin(), out.alt_names.end());
  return out;
}

}  // namespace kb::security
