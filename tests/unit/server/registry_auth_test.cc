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

TEST_CASE("a verified Basic password is remembered, but never for a changed or deleted SCRAM credential") {
  using security::ScramMechanism;
  auto image = std::make_shared<controller::MetadataImage>();
  auto set_password = [&](const std::string& password, const std::string& salt) {
    auto next = std::make_shared<controller::MetadataImage>(*image);
    auto cred = security::make_credential(ScramMechanism::SHA_512, password, salt, 4096);
    REQUIRE(next->apply(controller::scram_record("alice", ScramMechanism::SHA_512, cred)).ok());
    image = next;
  };
  set_password("first-pw", "salt-1");
  BasicAuthenticator auth([&image] { return image; }, {}, {});

  CHECK(auth.authenticate(basic("alice:first-pw")).allowed);
  CHECK(auth.verified_from_cache() == 0);
  CHECK(auth.authenticate(basic("alice:first-pw")).allowed);
  CHECK(auth.verified_from_cache() == 1);
  CHECK_FALSE(auth.authenticate(basic("alice:first-pw-")).allowed);  // a wrong one is still checked

  set_password("second-pw", "salt-2");
  CHECK_FALSE(auth.authenticate(basic("alice:first-pw")).allowed);
  CHECK(auth.authenticate(basic("alice:second-pw")).allowed);
  // The same password again with a new salt is a new credential too: verified afresh.
  set_password("second-pw", "salt-3");
  const auto hits = auth.verified_from_cache();
  CHECK(auth.authenticate(basic("alice:second-pw")).allowed);
  CHECK(auth.verified_from_cache() == hits);

  image = std::make_shared<controller::MetadataImage>();  // alice deleted
  CHECK_FALSE(auth.authenticate(basic("alice:second-pw")).allowed);
}
