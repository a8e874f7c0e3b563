// Client quotas as Kafka keeps them in KRaft (ClientQuotaRecord, ClientQuotasImage): an entity
// is a set of (type, name) pairs over the types "user", "client-id" and "ip", a null name
// being that type's default entity; each entity carries quota values by key
// (producer_byte_rate, ...). Here are the entity, Kafka's validation of AlterClientQuotas
// entries and its DescribeClientQuotas filter; the image holds the map, the controller writes
// the records, server/client_quota_manager.* enforces them.
//
// Pure values and functions: any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace kb::controller {

inline constexpr std::string_view kQuotaUser = "user";
inline constexpr std::string_view kQuotaClientId = "client-id";
inline constexpr std::string_view kQuotaIp = "ip";

inline constexpr std::string_view kProducerByteRate = "producer_byte_rate";
inline constexpr std::string_view kConsumerByteRate = "consumer_byte_rate";
inline constexpr std::string_view kRequestPercentage = "request_percentage";
inline constexpr std::string_view kControllerMutationRate = "controller_mutation_rate";
inline constexpr std::string_view kConnectionCreationRate = "connection_creation_rate";

struct QuotaEntityPart {
  std::string type;
  std::optional<std::string> name;  // nullopt: the default entity of `type`
  auto operator<=>(const QuotaEntityPart&) const = default;
};
// Sorted by type, each type at most once (make_quota_entity checks it).
using ClientQuotaEntity = std::vector<QuotaEntityPart>;
using ClientQuotaValues = std::map<std::string, double, std::less<>>;
using ClientQuotaMap = std::map<ClientQuotaEntity, ClientQuotaValues>;

// Kafka's checks of an AlterClientQuotas entity (ClientQuotaControlManager.validateEntity):
// INVALID_REQUEST for no parts, a type twice, an empty name, ip together with user or
// client-id; UNSUPPORTED_VERSION for an unknown type. The parts sorted by type on success.
Result<ClientQuotaEntity> make_quota_entity(std::vector<QuotaEntityPart> parts);

// Kafka's checks of one quota key and value for `entity` (validateQuotaKeyValue):
// INVALID_REQUEST for a key the entity's kind does not have ("Invalid configuration key"),
// a value not above 0, a fraction for an integral key. A removal checks the key only.
Status check_quota_op(const ClientQuotaEntity& entity, std::string_view key, double value, bool remove);

// DescribeClientQuotas: one filter component.
enum class QuotaMatch : int8_t { kExact = 0, kDefault = 1, kAny = 2 };
struct QuotaFilterPart {
  std::string type;
  int8_t match_type = 0;
  std::optional<std::string> match;
};
// The entities of `quotas` the filter selects (ClientQuotasImage.describe), or the request's
// error: INVALID_REQUEST (empty or repeated type, a match string where the match type takes
// none or none where it takes one, ip with user or client-id), UNSUPPORTED_VERSION (unknown
// type or match type). `strict`: entities with types beyond the filter's are left out.
Result<std::vector<std::pair<ClientQuotaEntity, ClientQuotaValues>>> describe_client_quotas(
    const ClientQuotaMap& quotas, const std::vector<QuotaFilterPart>& filter, bool strict);

// "user=alice,client-id=<default>", for logs and errors.
std::string quota_entity_text(const ClientQuotaEntity& entity);

}  // namespace kb::controller
