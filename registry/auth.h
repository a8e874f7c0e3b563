// The Schema Registry's authentication seam: every REST request passes its Authorization
// header (empty when absent) to an Authenticator before anything else happens, then, once its
// route is known, asks authorize() whether that principal may use it. AllowEveryone lets every
// request in; HTTP Basic authentication against the broker's user store (the same as SASL's)
// is server/registry_auth.h.
#pragma once

#include <string>
#include <string_view>

namespace kb::registry {

struct AuthDecision {
  bool allowed = true;
  std::string principal;  // who it is, for logs and later authorization ("User:alice")
  // When refused: the HTTP status (401 or 403), the message of the error body and, for 401,
  // the WWW-Authenticate challenge to send (e.g. `Basic realm="SchemaRegistry"`).
  int status = 401;
  std::string message;
  std::string challenge;
  int error_code = 0;  // of the error body; 0: the status (Confluent's 401), 40301 for a 403
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Called on the request's thread for every request; must not block.
  virtual AuthDecision authenticate(std::string_view authorization_header) = 0;
  // Whether `principal` may use `route` ("PUT /config", as Rest's handler table names it).
  virtual AuthDecision authorize(const std::string& principal, std::string_view route) {
    (void)route;
    AuthDecision d;
    d.principal = principal;
    return d;
  }
};

class AllowEveryone : public Authenticator {
 public:
  AuthDecision authenticate(std::string_view) override {
    AuthDecision d;
    d.principal = "User:ANONYMOUS";
    return d;
  }
};

}  // namespace kb::registry
