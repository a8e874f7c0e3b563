#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "security/principal_mapping.h"
#include "security/tls.h"

using namespace kb;
using namespace kb::security;

namespace {

// A key and a certificate for `subject` ("CN=..,O=.."), signed by `issuer` (self-signed when null).
struct Identity {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string key_pem, cert_pem;
};

std::string pem_of(auto write, auto* object) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio, object);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

Identity make_identity(const std::vector<std::pair<std::string, std::string>>& subject, const Identity* issuer,
                       bool ca = false) {
  Identity id;
  id.key.reset(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  id.cert.reset(X509_new(), &X509_free);
  X509* c = id.cert.get();
  X509_set_version(c, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_NAME* name = X509_get_subject_name(c);
  for (const auto& [field, value] : subject)
    X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_ASC, reinterpret_cast<const unsigned char*>(value.c_str()),
                               -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509_set_pubkey(c, id.key.get());
  if (ca) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c, c, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(c, issuer ? issuer->key.get() : id.key.get(), EVP_sha256());
  id.key_pem = pem_of([](BIO* b, EVP_PKEY* k) { PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); },
                      id.key.get());
  id.cert_pem = pem_of([](BIO* b, X509* x) { PEM_write_bio_X509(b, x); }, c);
  return id;
}

// Files of this run, removed when the tests end.
struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("kb-tls-test-" + std::to_string(getpid()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

std::string write_file(const std::string& name, const std::string& text) {
  static TempDir dir;
  auto path = (dir.path / name).string();
  std::ofstream(path) << text;
  return path;
}

// Runs a TLS handshake between two contexts through an in-memory pipe; the server's SSL on
// success (for the peer's certificate), nullptr when either side failed.
std::shared_ptr<SSL> handshake(const TlsContext& server_ctx, const TlsContext& client_ctx) {
  std::shared_ptr<SSL> server(SSL_new(server_ctx.get()), &SSL_free);
  std::shared_ptr<SSL> client(SSL_new(client_ctx.get()), &SSL_free);
  BIO *a = nullptr, *b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(server.get(), a, a);
  SSL_set_bio(client.get(), b, b);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  SSL_set_tlsext_host_name(client.get(), "localhost");
  for (int i = 0; i < 20; ++i) {
    int rs = SSL_do_handshake(server.get());
    int rc = SSL_do_handshake(client.get());
    if (rs == 1 && rc == 1) {
      // TLS 1.3: the server learns of a refused client certificate only when it reads.
      char byte;
      SSL_write(client.get(), "x", 1);
      if (SSL_read(server.get(), &byte, 1) != 1) return nullptr;
      return server;
    }
    auto fatal = [](SSL* s, int r) {
      int e = SSL_get_error(s, r);
      return r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
    };
    if (fatal(server.get(), rs) || fatal(client.get(), rc)) return nullptr;
  }
  return nullptr;
}

struct Pki {
  Identity ca = make_identity({{"CN", "test-ca"}}, nullptr, true);
  Identity server = make_identity({{"CN", "localhost"}}, &ca);
  Identity client = make_identity({{"C", "DE"}, {"O", "Acme"}, {"OU", "Services"}, {"CN", "app1"}}, &ca);
  Identity stranger_ca = make_identity({{"CN", "other-ca"}}, nullptr, true);
  Identity stranger = make_identity({{"CN", "intruder"}}, &stranger_ca);
};

}  // namespace

TEST_CASE("TLS: a PEM key store in one file serves a client that trusts its CA") {
  Pki pki;
  TlsSettings server;
  server.keystore_location = write_file("server.pem", pki.server.key_pem + pki.server.cert_pem + pki.ca.cert_pem);
  TlsSettings client;
  client.truststore_location = write_file("ca.pem", pki.ca.cert_pem);
  auto s = make_server_context(server);
  REQUIRE(s.ok());
  auto c = make_client_context(client);
  REQUIRE(c.ok());
  auto ssl = handshake(*s, *c);
  REQUIRE(ssl);
  CHECK(peer_subject(ssl.get()).empty());  // no client certificate asked for

  TlsSettings distrustful;
  distrustful.truststore_certificates = pki.stranger_ca.cert_pem;
  CHECK_FALSE(handshake(*s, *make_client_context(distrustful)));
}

TEST_CASE("mTLS: ssl.client.auth=required takes trusted client certificates only; the subject maps to a principal") {
  Pki pki;
  TlsSettings server;
  server.keystore_key = pki.server.key_pem;
  server.keystore_certificate_chain = pki.server.cert_pem;
  server.truststore_certificates = pki.ca.cert_pem;
  server.client_auth = "required";
  auto s = make_server_context(server);
  REQUIRE(s.ok());

  auto client_with = [&](const Identity* id) {
    TlsSettings c;
    c.truststore_certificates = pki.ca.cert_pem;
    if (id) {
      c.keystore_key = id->key_pem;
      c.keystore_certificate_chain = id->cert_pem;
    }
    auto ctx = make_client_context(c);
    REQUIRE(ctx.ok());
    return *ctx;
  };
  auto ssl = handshake(*s, client_with(&pki.client));
  REQUIRE(ssl);
  const std::string subject = peer_subject(ssl.get());
  CHECK(subject == "CN=app1,OU=Services,O=Acme,C=DE");
  auto mapper = PrincipalMapper::parse("RULE:^CN=([^,]*),OU=Services.*$/$1/, DEFAULT");
  CHECK(mapper->map(subject) == "app1");

  CHECK_FALSE(handshake(*s, client_with(nullptr)));
  CHECK_FALSE(handshake(*s, client_with(&pki.stranger)));

  server.client_auth = "requested";
  auto lenient = make_server_context(server);
  REQUIRE(lenient.ok());
  auto anonymous = handshake(*lenient, client_with(nullptr));
  REQUIRE(anonymous);
  CHECK(peer_subject(anonymous.get()).empty());
}

TEST_CASE("TLS settings that cannot work are refused with the setting named") {
  Pki pki;
  auto message = [](const TlsSettings& s) { return make_server_context(s).error().message; };
  TlsSettings s;
  CHECK(message(s).find("needs ssl.keystore.location") != std::string::npos);
  s.keystore_location = "/nonexistent/server.pem";
  CHECK(message(s) == "ssl.keystore.location: cannot read /nonexistent/server.pem");
  s.keystore_location.clear();
  s.keystore_key = pki.client.key_pem;
  s.keystore_certificate_chain = pki.server.cert_pem;
  CHECK(message(s) == "ssl.keystore: the private key does not match the certificate");
  s.keystore_key = pki.server.key_pem;
  s.keystore_type = "JKS";
  CHECK(message(s).find("keytool -importkeystore") != std::string::npos);
  s.keystore_type = "PEM";
  s.client_auth = "required";
  CHECK(message(s).find("needs ssl.truststore.location") != std::string::npos);
  s.client_auth = "sometimes";
  CHECK(message(s).find("ssl.client.auth: sometimes") == 0);
  s.client_auth = "none";
  s.enabled_protocols = {"TLSv1.1"};
  CHECK(message(s) == "ssl.enabled.protocols: TLSv1.1 is not supported (TLSv1.2, TLSv1.3)");
  s.enabled_protocols = {"TLSv1.2", "TLSv1.3"};
  s.cipher_suites = {"TLS_NOT_A_SUITE"};
  CHECK(message(s) == "ssl.cipher.suites: unknown cipher suite TLS_NOT_A_SUITE");
  s.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"};
  CHECK(make_server_context(s).ok());
}

TEST_CASE("TLS cipher suites by their Kafka (IANA) names decide what is negotiated") {
  Pki pki;
  TlsSettings server;
  server.keystore_key = pki.server.key_pem;
  server.keystore_certificate_chain = pki.server.cert_pem;
  server.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"};  // TLS 1.2 only
  TlsSettings client;
  client.truststore_certificates = pki.ca.cert_pem;
  auto ssl = handshake(*make_server_context(server), *make_client_context(client));
  REQUIRE(ssl);
  CHECK(std::string(SSL_get_version(ssl.get())) == "TLSv1.2");
  CHECK(std::string(SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl.get()))) ==
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");

  client.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  CHECK_FALSE(handshake(*make_server_context(server), *make_client_context(client)));
}

TEST_CASE("TLS: a context's own certificate names, what a key-store reload compares") {
  Pki pki;
  TlsSettings server;
  server.keystore_key = pki.server.key_pem;
  server.keystore_certificate_chain = pki.server.cert_pem;
  auto first = make_server_context(server);
  REQUIRE(first.ok());
  auto names = own_certificate_names(*first);
  CHECK(names.subject == "CN=localhost");
  CHECK(names.alt_names.empty());
  // The same key store again: the same names; another subject: other names.
  CHECK(own_certificate_names(*make_server_context(server)) == names);
  TlsSettings client_cert;
  client_cert.keystore_key = pki.client.key_pem;
  client_cert.keystore_certificate_chain = pki.client.cert_pem;
  CHECK(own_certificate_names(*make_server_context(client_cert)).subject == "CN=app1,OU=Services,O=Acme,C=DE");
  CHECK(own_certificate_names(nullptr) == CertificateNames{});
}
