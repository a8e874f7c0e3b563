// BrokerSettings::from and the per-line type rules (settings.h).
#include "config/settings.h"

#include <memory>
#include <stdexcept>

#include "config/config.h"

namespace kb::config {
namespace {

// Which property types may fill a field of type T: the same rules as BrokerConfig's getters,
// without get_long's widening of Int (an Int property is an int32_t field).
template <typename T>
bool fits(Type t);
template <>
bool fits<bool>(Type t) { return t == Type::Bool; }
template <>
bool fits<int32_t>(Type t) { return t == Type::Int; }
template <>
bool fits<int64_t>(Type t) { return t == Type::Long; }
template <>
[[maybe_unused]] bool fits<double>(Type t) { return t == Type::Double; }
template <>
bool fits<std::string>(Type t) { return t == Type::String || t == Type::Password; }
template <>
bool fits<std::vector<std::string>>(Type t) { return t == Type::List; }
template <>
bool fits<std::optional<std::string>>(Type t) { return t == Type::String || t == Type::Password; }
template <>
bool fits<std::optional<int64_t>>(Type t) { return t == Type::Long; }

template <typename T>
void check(const char* property) {
  const PropertyDef* d = find_broker_property(property);
  if (!d) throw std::logic_error(std::string("BrokerSettings: unknown broker property ") + property);
  if (!fits<T>(d->type))
    throw std::logic_error(std::string("BrokerSettings: broker property ") + property +
                           " does not fit its field's type");
}

void read(const BrokerConfig& c, const char* p, bool& out) { out = c.get_bool(p); }
void read(const BrokerConfig& c, const char* p, int32_t& out) { out = c.get_int(p); }
void read(const BrokerConfig& c, const char* p, int64_t& out) { out = c.get_long(p); }
[[maybe_unused]] void read(const BrokerConfig& c, const char* p, double& out) { out = c.get_double(p); }
void read(const BrokerConfig& c, const char* p, std::string& out) { out = c.get_string(p); }
void read(const BrokerConfig& c, const char* p, std::vector<std::string>& out) { out = c.get_list(p); }
void read(const BrokerConfig& c, const char* p, std::optional<std::string>& out) { out = c.raw(p); }
void read(const BrokerConfig& c, const char* p, std::optional<int64_t>& out) {
  out = c.raw(p) ? std::optional<int64_t>(c.get_long(p)) : std::nullopt;
}

}  // namespace

BrokerSettings BrokerSettings::from(const BrokerConfig& config) {
  BrokerSettings s;
#define KB_SETTING_READ(type, field, property) \
  check<type>(property);                       \
  read(config, property, s.field);
  KB_BROKER_SETTINGS(KB_SETTING_READ)
#undef KB_SETTING_READ
  return s;
}

const BrokerSettings& BrokerConfig::settings() const {
  if (settings_) return *settings_;
  static const BrokerSettings built_in = BrokerSettings::from(BrokerConfig{});
  return built_in;
}

void BrokerConfig::derive_settings() { settings_ = std::make_shared<const BrokerSettings>(BrokerSettings::from(*this)); }

const std::vector<SettingInfo>& broker_setting_infos() {
  static const std::vector<SettingInfo> infos{
#define KB_SETTING_INFO(type, field, property) {#field, property, &fits<type>},
      KB_BROKER_SETTINGS(KB_SETTING_INFO)
#undef KB_SETTING_INFO
  };
  return infos;
}

}  // namespace kb::config
