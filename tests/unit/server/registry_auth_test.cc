// The Schema Registry's HTTP Basic authentication against the image's SCRAM users and the
// JAAS PLAIN users, and the super-user rule for the global config and mode.
#include <catch2/catch.hpp>

#include "controller/metadata_image.h"
#include "protocol/base64.h"
#include "server/registry_auth.h"

using namespace kb;
using namespace kb::server;

namespace {

std::string basic(const std::string& user_password) { return "Basic " + base64_encode(user_password); }

}  // namespace

TEST_CASE("Basic auth accepts SCRAM and PLAIN users with their passwords and nothing else") {
  auto image = std::make_shared<controller::MetadataImage>();
  auto cred = security::make_credential(security::ScramMechanism::SHA_512, "alice-pw", "salt", 4096);
  REQUIRE(image->apply(controller::scram_record("alice", security::ScramMechanism::SHA_512, cred)).ok());
  BasicAuthenticator auth([image] { return image; }, {{"plain", "plain-pw"}}, {"User:alice"});

  auto ok = auth.authenticate(basic("alice:alice-pw"));
  CHECK(ok.allowed);
  CHECK(ok.principal == "User:alice");
  CHECK(auth.authenticate("basic " + base64_encode("plain:plain-pw")).allowed);  // the scheme in any case
  for (const std::string& bad : {basic("alice:wrong"), basic("plain:alice-pw"), basic("nobody:x"), basic("alice"),
                                 std::string(), std::string("Bearer abc"), std::string("Basic !!!")}) {
    INFO(bad);
    auto d = auth.authenticate(bad);
    CHECK_FALSE(d.allowed);
    CHECK(d.status == 401);
    CHECK(d.message == "Unauthorized");
    CHECK(d.challenge.starts_with("Basic"));
  }

  CHECK(auth.authorize("User:alice", "PUT /config").allowed);
  auto denied = auth.authorize("User:plain", "PUT /mode");
  CHECK_FALSE(denied.allowed);
  CHECK(denied.status == 403);
  CHECK(denied.error_code == 40301);
  CHECK(auth.authorize("User:plain", "PUT /config/{subject}").allowed);
  CHECK(auth.authorize("User:plain", "POST /subjects/{subject}/versions").allowed);
}
