// The image's SCRAM credentials and ACLs. Like Kafka's ScramImage and AclsImage, a record that
// contradicts the image (removing a credential or ACL that is not there, a second ACL with the
// same id, an unknown mechanism or an invalid binding) is refused: the log is then not one
// this controller wrote.
#include <string>

#include "controller/metadata_image.h"

namespace kb::controller {

namespace {

Status inconsistent(std::string what) { return Status(ErrorCode::UNKNOWN_SERVER_ERROR, std::move(what)); }

std::string bytes_text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }
std::vector<uint8_t> text_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

std::optional<security::ScramCredential> MetadataImage::scram_credential(security::ScramMechanism mechanism,
                                                                         const std::string& user) const {
  auto it = scram_.find(user);
  if (it == scram_.end()) return std::nullopt;
  auto m = it->second.find(mechanism);
  if (m == it->second.end()) return std::nullopt;
  return m->second;
}

std::vector<security::AclBinding> MetadataImage::acls() const {
  std::vector<security::AclBinding> v;
  v.reserve(acls_.size());
  for (const auto& [id, b] : acls_) v.push_back(b);
  return v;
}

Status MetadataImage::apply_one(const metadata::UserScramCredentialRecord& r) {
  auto mech = security::scram_mechanism(r.mechanism);
  if (!mech) return inconsistent("SCRAM credential of " + r.name + " with unknown mechanism " + std::to_string(r.mechanism));
  if (r.name.empty()) return inconsistent("SCRAM credential without a user name");
  security::ScramCredential c;
  c.salt = bytes_text(r.salt);
  c.stored_key = bytes_text(r.stored_key);
  c.server_key = bytes_text(r.server_key);
  c.iterations = r.iterations;
  scram_[r.name][*mech] = std::move(c);
  return {};
}

Status MetadataImage::apply_one(const metadata::RemoveUserScramCredentialRecord& r) {
  auto mech = security::scram_mechanism(r.mechanism);
  auto it = scram_.find(r.name);
  if (!mech || it == scram_.end() || it->second.erase(*mech) == 0)
    return inconsistent("removal of SCRAM credential " + std::to_string(r.mechanism) + " of " + r.name +
                        ", which does not exist");
  if (it->second.empty()) scram_.erase(it);
  return {};
}

Status MetadataImage::apply_one(const metadata::AccessControlEntryRecord& r) {
  security::AclBinding b = security::acl_binding(r.resource_type, r.resource_name, r.pattern_type, r.principal,
                                                 r.host, r.operation, r.permission_type);
  if (auto s = security::validate(b); !s.ok())
    return inconsistent("ACL " + r.id.to_string() + " is invalid: " + s.error().message);
  if (!acls_.emplace(r.id, std::move(b)).second)
    return inconsistent("a second ACL with id " + r.id.to_string());
  return {};
}

Status MetadataImage::apply_one(const metadata::RemoveAccessControlEntryRecord& r) {
  if (acls_.erase(r.id) == 0) return inconsistent("removal of ACL " + r.id.to_string() + ", which does not exist");
  return {};
}

void MetadataImage::security_records(std::vector<MetadataRecord>& out) const {
  for (const auto& [user, by_mechanism] : scram_)
    for (const auto& [mech, c] : by_mechanism) out.emplace_back(scram_record(user, mech, c));
  for (const auto& [id, b] : acls_) out.emplace_back(acl_record(id, b));
}

metadata::AccessControlEntryRecord acl_record(const Uuid& id, const security::AclBinding& b) {
  metadata::AccessControlEntryRecord r;
  r.id = id;
  r.resource_type = static_cast<int8_t>(b.resource_type);
  r.resource_name = b.resource_name;
  r.pattern_type = static_cast<int8_t>(b.pattern_type);
  r.principal = b.principal;
  r.host = b.host;
  r.operation = static_cast<int8_t>(b.operation);
  r.permission_type = static_cast<int8_t>(b.permission);
  return r;
}

metadata::UserScramCredentialRecord scram_record(const std::string& user, security::ScramMechanism mechanism,
                                                 const security::ScramCredential& c) {
  metadata::UserScramCredentialRecord r;
  r.name = user;
  r.mechanism = static_cast<int8_t>(mechanism);
  r.salt = text_bytes(c.salt);
  r.stored_key = text_bytes(c.stored_key);
  r.server_key = text_bytes(c.server_key);
  r.iterations = c.iterations;
  return r;
}

}  // namespace kb::controller
