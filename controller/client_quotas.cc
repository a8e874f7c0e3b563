#include "controller/client_quotas.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

namespace kb::controller {

namespace {

bool known_type(std::string_view t) { return t == kQuotaUser || t == kQuotaClientId || t == kQuotaIp; }

bool has_type(const ClientQuotaEntity& e, std::string_view type) {
  return std::any_of(e.begin(), e.end(), [&](const QuotaEntityPart& p) { return p.type == type; });
}

// The keys an entity may carry and whether their values are whole numbers (Kafka's
// QuotaConfigs: the byte rates are LONG, connection_creation_rate INT, the others DOUBLE).
struct QuotaKey {
  std::string_view name;
  bool integral;
};
constexpr QuotaKey kClientKeys[] = {{kProducerByteRate, true},
                                    {kConsumerByteRate, true},
                                    {kRequestPercentage, false},
                                    {kControllerMutationRate, false}};
constexpr QuotaKey kIpKeys[] = {{kConnectionCreationRate, true}};

}  // namespace

Result<ClientQuotaEntity> make_quota_entity(std::vector<QuotaEntityPart> parts) {
  if (parts.empty()) return Error{ErrorCode::INVALID_REQUEST, "Invalid empty client quota entity"};
  std::sort(parts.begin(), parts.end());
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& p = parts[i];
    if (i > 0 && parts[i - 1].type == p.type)
      return Error{ErrorCode::INVALID_REQUEST, "Invalid empty client quota entity, duplicate entity entry " + p.type};
    if (!known_type(p.type))
      return Error{ErrorCode::UNSUPPORTED_VERSION, "Unhandled client quota entity type: " + p.type};
    if (p.name && p.name->empty()) return Error{ErrorCode::INVALID_REQUEST, "Empty " + p.type + " not supported"};
  }
  if (has_type(parts, kQuotaIp) && parts.size() > 1)
    return Error{ErrorCode::INVALID_REQUEST,
                 "Invalid quota entity combination, IP quota entities cannot be combined with User or ClientId "
                 "quota entities."};
  return parts;
}

Status check_quota_op(const ClientQuotaEntity& entity, std::string_view key, double value, bool remove) {
  const bool ip = has_type(entity, kQuotaIp);
  const QuotaKey* found = nullptr;
  for (const auto& k : ip ? std::span<const QuotaKey>(kIpKeys) : std::span<const QuotaKey>(kClientKeys))
    if (k.name == key) found = &k;
  if (!found) return Status(ErrorCode::INVALID_REQUEST, "Invalid configuration key " + std::string(key));
  if (remove) return {};
  if (!(value > 0.0))  // also NaN
    return Status(ErrorCode::INVALID_REQUEST, "Quota " + std::string(key) + " must be greater than 0");
  if (found->integral) {
    if (value > static_cast<double>(std::numeric_limits<int64_t>::max()))
      return Status(ErrorCode::INVALID_REQUEST, "Proposed value for " + std::string(key) + " is too large for a LONG.");
    if (std::abs(value - std::round(value)) > 1e-6)
      return Status(ErrorCode::INVALID_REQUEST, std::string(key) + " cannot be a fractional value.");
  }
  return {};
}

Result<std::vector<std::pair<ClientQuotaEntity, ClientQuotaValues>>> describe_client_quotas(
    const ClientQuotaMap& quotas, const std::vector<QuotaFilterPart>& filter, bool strict) {
  std::map<std::string, std::optional<std::string>> exact;  // type -> name (nullopt: the default)
  std::vector<std::string> any;
  for (const auto& c : filter) {
    if (c.type.empty()) return Error{ErrorCode::INVALID_REQUEST, "Invalid empty entity type."};
    if (exact.count(c.type) || std::find(any.begin(), any.end(), c.type) != any.end())
      return Error{ErrorCode::INVALID_REQUEST, "Entity type " + c.type + " cannot appear more than once in the filter."};
    if (!known_type(c.type)) return Error{ErrorCode::UNSUPPORTED_VERSION, "Unsupported entity type " + c.type};
    switch (static_cast<QuotaMatch>(c.match_type)) {
      case QuotaMatch::kExact:
        if (!c.match)
          return Error{ErrorCode::INVALID_REQUEST, "Request specified MATCH_TYPE_EXACT, but set match string to null."};
        exact[c.type] = c.match;
        break;
      case QuotaMatch::kDefault:
        if (c.match)
          return Error{ErrorCode::INVALID_REQUEST, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."};
        exact[c.type] = std::nullopt;
        break;
      case QuotaMatch::kAny:
        if (c.match)
          return Error{ErrorCode::INVALID_REQUEST,
                       "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."};
        any.push_back(c.type);
        break;
      default:
        return Error{ErrorCode::UNSUPPORTED_VERSION, "Unknown match type " + std::to_string(c.match_type)};
    }
  }
  auto named = [&](std::string_view t) {
    return exact.count(std::string(t)) || std::find(any.begin(), any.end(), t) != any.end();
  };
  if (named(kQuotaIp) && (named(kQuotaUser) || named(kQuotaClientId)))
    return Error{ErrorCode::INVALID_REQUEST,
                 "Invalid entity filter component combination. IP filter component should not be used with user or "
                 "clientId filter component."};
  std::vector<std::pair<ClientQuotaEntity, ClientQuotaValues>> out;
  for (const auto& [entity, values] : quotas) {
    if (strict && entity.size() != exact.size() + any.size()) continue;
    auto part = [&](const std::string& type) -> const QuotaEntityPart* {
      for (const auto& p : entity)
        if (p.type == type) return &p;
      return nullptr;
    };
    bool match = true;
    for (const auto& [type, name] : exact) {
      const QuotaEntityPart* p = part(type);
      if (!p || p->name != name) match = false;
    }
    // "Any specified name": a named entity of the type, not its default.
    for (const auto& type : any) {
      const QuotaEntityPart* p = part(type);
      if (!p || !p->name) match = false;
    }
    if (match) out.emplace_back(entity, values);
  }
  return out;
}

std::string quota_entity_text(const ClientQuotaEntity& entity) {
  std::string s;
  for (const auto& p : entity) {
    if (!s.empty()) s += ',';
    s += p.type + '=' + (p.name ? *p.name : "<default>");
  }
  return s;
}

}  // namespace kb::controller
