// The authorizer's settings (Kafka: authorizer.class.name in KafkaConfig, super.users and
// allow.everyone.if.no.acl.found read by StandardAuthorizer). kbroker's authorizer is built in:
// the class name only switches it on, under kbroker's own name or Kafka's KRaft one.
#include "config/config.h"
#include "config/parse.h"

namespace kb::config::detail {

namespace {

// AclAuthorizer keeps ACLs in ZooKeeper and cannot run in KRaft mode (Kafka refuses it there
// too); any other class is code kbroker cannot load, and running without it would allow more.
std::string check_authorizer_class(std::string_view v) {
  if (v.empty() || v == "kbroker" || v == "org.apache.kafka.metadata.authorizer.StandardAuthorizer") return "";
  if (v == "kafka.security.authorizer.AclAuthorizer")
    return "AclAuthorizer keeps ACLs in ZooKeeper; kbroker (KRaft) uses "
           "org.apache.kafka.metadata.authorizer.StandardAuthorizer, or kbroker";
  return "kbroker cannot load Java classes; use kbroker or org.apache.kafka.metadata.authorizer.StandardAuthorizer";
}

// "User:alice;User:bob": a name without its "User:" type would never match anyone.
std::string check_super_users(std::string_view v) {
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find(';', start);
    if (end == std::string_view::npos) end = v.size();
    std::string item = trim(v.substr(start, end - start));
    if (!item.empty() && item.find(':') == std::string::npos)
      return "'" + item + "' is not a principal; write User:" + item + " (several separated by ';')";
    start = end + 1;
  }
  return "";
}

}  // namespace

const std::vector<PropertyDef>& authorizer_properties() {
  using T = Type;
  static const std::vector<PropertyDef> defs = {
      Def("authorizer.class.name", T::String, "",
          "Turns ACL authorization on: kbroker or org.apache.kafka.metadata.authorizer.StandardAuthorizer (both "
          "kbroker's built-in authorizer); empty: everyone may do everything. Read at start-up")
          .check(check_authorizer_class),
      Def("super.users", T::String, "",
          "Principals allowed everything whatever the ACLs say, separated by ';' (User:admin;User:broker); "
          "read at start-up")
          .check(check_super_users),
      Def("allow.everyone.if.no.acl.found", T::Bool, "false",
          "With an authorizer: whether a resource that no ACL applies to is open to everyone (Kafka's "
          "default false denies it); read at start-up"),
  };
  return defs;
}

}  // namespace kb::config::detail
