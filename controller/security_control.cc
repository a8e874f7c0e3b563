// ACLs and SCRAM credentials through the metadata log, with the rules of Kafka's
// AclControlManager and ScramControlManager.
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "config/scram_users.h"
#include "config/settings.h"
#include "controller/controller.h"

namespace kb::controller {

std::vector<Status> Controller::create_acls(const std::vector<security::AclBinding>& acls) {
  std::lock_guard lk(mu_);
  auto img = image();
  std::set<security::AclBinding> existing;
  for (const auto& [id, b] : img->acls_by_id()) existing.insert(b);
  std::vector<Status> results;
  std::vector<size_t> written;  // results that depend on the batch
  std::vector<const security::AclBinding*> added;
  std::vector<MetadataRecord> records;
  for (const auto& b : acls) {
    Status s = security::validate(b);
    if (s.ok() && b.resource_type == security::ResourceType::CLUSTER && b.resource_name != security::kClusterName)
      s = Status(ErrorCode::INVALID_REQUEST, "The only valid name for the CLUSTER resource is kafka-cluster");
    if (s.ok() && existing.insert(b).second) {
      records.push_back(acl_record(Uuid::random(), b));
      added.push_back(&b);
    }
    if (s.ok()) written.push_back(results.size());
    results.push_back(std::move(s));
  }
  if (written.empty()) return results;
  // commit() also answers an empty batch: NOT_CONTROLLER on a standby, as for a real write.
  Status committed = commit(std::move(records));
  for (size_t i : written) results[i] = committed;
  if (committed.ok())
    for (const auto* b : added) spdlog::info("ACL created: {}", security::to_string(*b));
  return results;
}

std::vector<AclDeleteResult> Controller::delete_acls(const std::vector<security::AclBindingFilter>& filters) {
  std::lock_guard lk(mu_);
  auto img = image();
  std::vector<AclDeleteResult> results;
  std::set<Uuid> removed;
  std::vector<MetadataRecord> records;
  for (const auto& f : filters) {
    AclDeleteResult r;
    if (f.has_unknown()) {
      r.error = ErrorCode::INVALID_REQUEST;
      r.message = "The filter has an UNKNOWN resource type, pattern type, operation or permission type";
    } else {
      for (const auto& [id, b] : img->acls_by_id()) {
        if (!f.matches(b)) continue;
        r.deleted.push_back(b);
        if (removed.insert(id).second) {
          metadata::RemoveAccessControlEntryRecord rec;
          rec.id = id;
          records.push_back(std::move(rec));
        }
      }
    }
    results.push_back(std::move(r));
  }
  Status committed = commit(std::move(records));
  if (committed.ok()) {
    for (const Uuid& id : removed) spdlog::info("ACL deleted: {}", security::to_string(img->acls_by_id().at(id)));
    return results;
  }
  for (auto& r : results) {
    if (r.error != ErrorCode::NONE) continue;
    r.error = committed.code();
    r.message = committed.error().message;
    r.deleted.clear();
  }
  return results;
}

std::vector<ScramAlterResult> Controller::alter_scram_credentials(const std::vector<ScramDeletion>& deletions,
                                                                  const std::vector<ScramUpsertion>& upsertions) {
  std::lock_guard lk(mu_);
  auto img = image();
  // Users in the order first named, and how often: one alteration per user and request.
  std::vector<std::string> order;
  std::map<std::string, int> times;
  auto count = [&](const std::string& user) {
    if (times[user]++ == 0) order.push_back(user);
  };
  for (const auto& d : deletions) count(d.user);
  for (const auto& u : upsertions) count(u.user);

  std::map<std::string, Status> outcome;
  std::vector<MetadataRecord> records;
  auto check_name_and_mechanism = [](const std::string& user,
                                     int8_t mechanism) -> Result<security::ScramMechanism> {
    auto m = security::scram_mechanism(mechanism);
    if (!m) return Error{ErrorCode::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism"};
    if (user.empty()) return Error{ErrorCode::UNACCEPTABLE_CREDENTIAL, "Username must not be empty"};
    return *m;
  };
  for (const auto& d : deletions) {
    if (times[d.user] > 1) continue;
    auto m = check_name_and_mechanism(d.user, d.mechanism);
    if (!m.ok()) {
      outcome[d.user] = m.error();
    } else if (!img->scram_credential(m.value(), d.user)) {
      outcome[d.user] = Status(ErrorCode::RESOURCE_NOT_FOUND, "Attempt to delete a user credential that does not exist");
    } else {
      metadata::RemoveUserScramCredentialRecord r;
      r.name = d.user;
      r.mechanism = d.mechanism;
      records.push_back(std::move(r));
      outcome[d.user] = {};
    }
  }
  for (const auto& u : upsertions) {
    if (times[u.user] > 1) continue;
    auto m = check_name_and_mechanism(u.user, u.mechanism);
    if (!m.ok()) {
      outcome[u.user] = m.error();
    } else if (u.iterations < security::kScramMinIterations) {
      outcome[u.user] = Status(ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too few iterations");
    } else if (u.iterations > security::kScramMaxIterations) {
      outcome[u.user] = Status(ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too many iterations");
    } else {
      auto c = security::credential_from_salted(m.value(), u.salted_password, u.salt, u.iterations);
      records.push_back(scram_record(u.user, m.value(), c));
      outcome[u.user] = {};
    }
  }
  Status committed = commit(std::move(records));
  std::vector<ScramAlterResult> results;
  for (const auto& user : order) {
    ScramAlterResult r{user, ErrorCode::NONE, {}};
    Status s = times[user] > 1 ? Status(ErrorCode::DUPLICATE_RESOURCE,
                                        "A user credential cannot be altered twice in the same request")
                               : outcome[user];
    if (s.ok() && !committed.ok()) s = committed;
    if (!s.ok()) {
      r.error = s.code();
      r.message = s.error().message;
    } else {
      spdlog::info("SCRAM credentials of user {} altered", user);
    }
    results.push_back(std::move(r));
  }
  return results;
}

std::vector<MetadataRecord> Controller::bootstrap_scram_records() const {
  std::vector<MetadataRecord> out;
  auto users = config::parse_scram_users(config_.settings().bootstrap_scram_users);
  if (!users.ok()) return out;  // refused when the configuration was loaded
  for (const auto& u : users.value()) {
    auto m = security::scram_mechanism(u.mechanism);
    if (!m) continue;
    std::string salt = security::random_bytes(32);
    out.push_back(scram_record(u.name, *m, security::make_credential(*m, u.password, salt, u.iterations)));
    spdlog::info("bootstrap.scram.users: {} credential of user {} written into the new cluster's metadata",
                 u.mechanism, u.name);
  }
  return out;
}

}  // namespace kb::controller
