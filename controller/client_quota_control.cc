// The controller's side of AlterClientQuotas (Kafka's ClientQuotaControlManager).
#include <set>

#include "controller/controller.h"

namespace kb::controller {

std::vector<Status> Controller::alter_client_quotas(const std::vector<ClientQuotaAlteration>& entries,
                                                    bool validate_only) {
  std::lock_guard lk(mu_);
  std::vector<Status> out(entries.size());
  Status common = failed_;
  if (common.ok() && !active_.load()) common = Status(ErrorCode::NOT_CONTROLLER, kNotControllerMessage);
  std::vector<MetadataRecord> records;
  std::vector<size_t> valid;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto entity = make_quota_entity(entries[i].entity);
    if (!entity.ok()) {
      out[i] = Status(entity.error());
      continue;
    }
    std::vector<MetadataRecord> mine;
    std::set<std::string> keys;
    Status s;
    for (const auto& op : entries[i].ops) {
      if (!keys.insert(op.key).second) {
        s = Status(ErrorCode::INVALID_REQUEST, "Duplicate quota key " + op.key + " in one entity");
        break;
      }
      if (s = check_quota_op(*entity, op.key, op.value, op.remove); !s.ok()) break;
      metadata::ClientQuotaRecord r;
      for (const auto& p : *entity) {
        auto& e = r.entity.emplace_back();
        e.entity_type = p.type;
        e.entity_name = p.name;
      }
      r.key = op.key;
      r.value = op.remove ? 0 : op.value;
      r.remove = op.remove;
      mine.emplace_back(std::move(r));
    }
    if (!s.ok()) {
      out[i] = s;
      continue;
    }
    if (!common.ok()) {
      out[i] = common;
      continue;
    }
    valid.push_back(i);
    for (auto& r : mine) records.push_back(std::move(r));
  }
  if (validate_only || records.empty()) return out;
  if (records.size() > kMaxRecordsPerRequest) {
    for (size_t i : valid) out[i] = Status(ErrorCode::POLICY_VIOLATION, "Excessively large number of records");
    return out;
  }
  Status s = commit(std::move(records));
  if (!s.ok())
    for (size_t i : valid) out[i] = s;
  return out;
}

}  // namespace kb::controller
