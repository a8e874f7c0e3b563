#include <catch2/catch.hpp>

#include "security/jaas.h"
#include "security/principal_mapping.h"

using namespace kb;
using namespace kb::security;

TEST_CASE("sasl.jaas.config: a PLAIN login module with its users and the broker's own credentials") {
  auto modules = parse_jaas(
      "org.apache.kafka.common.security.plain.PlainLoginModule required\n"
      "  username=\"admin\" password=\"admin-secret\"\n"
      "  user_admin=\"admin-secret\" user_alice=\"a \\\"quoted\\\" pw\" user_bob=bare;");
  REQUIRE(modules.ok());
  REQUIRE(modules->size() == 1);
  const JaasModule& m = modules->front();
  CHECK(m.login_module == "org.apache.kafka.common.security.plain.PlainLoginModule");
  CHECK(m.flag == "required");
  CHECK(m.options.at("username") == "admin");
  auto users = plain_users(m);
  CHECK(users.size() == 3);
  CHECK(users.at("alice") == "a \"quoted\" pw");
  CHECK(users.at("bob") == "bare");
}

TEST_CASE("sasl.jaas.config: several modules, and the mistakes people make") {
  auto two = parse_jaas("a.B required x=\"1\"; c.D optional;");
  REQUIRE(two.ok());
  CHECK(two->size() == 2);
  CHECK(two->at(1).options.empty());

  auto message = [](std::string_view text) { return parse_jaas(text).error().message; };
  CHECK(message("a.B required username=\"x\"") ==
        "sasl.jaas.config: ';' expected at the end of a.B's options at character 26");
  CHECK(message("a.B mandatory;").find("control flag") != std::string::npos);
  CHECK(message("a.B required username=\"open;") .find("a value expected for option username") != std::string::npos);
  CHECK(message("a.B required =x;").find("key=value") != std::string::npos);
  CHECK(parse_jaas("").code() == ErrorCode::INVALID_CONFIG);
}

TEST_CASE("ssl.principal.mapping.rules: the first rule that matches the whole name gives the principal") {
  auto mapper = PrincipalMapper::parse(
      "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
      "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, "
      "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT");
  REQUIRE(mapper.ok());
  CHECK(mapper->map("CN=kafka-client,OU=ServiceUsers,O=Acme,C=DE") == "kafka-client");
  CHECK(mapper->map("CN=Duke,OU=JavaSoft,O=Sun,L=Santa Clara,ST=CA,C=US") == "duke@javasoft");
  CHECK(mapper->map("OU=x,cn=app.one,O=y") == "APP.ONE");
  CHECK(mapper->map("O=no-common-name") == "O=no-common-name");  // DEFAULT
}

TEST_CASE("ssl.principal.mapping.rules: no DEFAULT and no match means no principal; bad rules are refused") {
  auto strict = PrincipalMapper::parse("RULE:^CN=([^,]*),O=Acme$/$1/");
  REQUIRE(strict.ok());
  CHECK(strict->map("CN=a,O=Acme") == "a");
  CHECK_FALSE(strict->map("CN=a,O=Other").has_value());
  CHECK(PrincipalMapper::parse("RULE:^CN=(a\\/b)$/$1/")->map("CN=a/b") == "a/b");

  CHECK(PrincipalMapper::parse("RULE:^CN=(.*$/$1/").error().message ==
        "ssl.principal.mapping.rules: invalid rule: RULE:^CN=(.*$/$1/");
  CHECK(PrincipalMapper::parse("RULE:no-replacement").code() == ErrorCode::INVALID_CONFIG);
  CHECK(PrincipalMapper::parse("SOMETHING").code() == ErrorCode::INVALID_CONFIG);
  CHECK(PrincipalMapper::parse("RULE:a/b/X").code() == ErrorCode::INVALID_CONFIG);
  CHECK(PrincipalMapper::parse("DEFAULT")->map("CN=x") == "CN=x");
}
