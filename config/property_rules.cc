// The rules that read the property table (properties.cc): lookups, synonyms, checking and
// normalising one value, Kafka's wording of what a property expects, and --help.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "config/config.h"
#include "config/parse.h"

namespace kb::config {

using detail::join;
using detail::split_list;

namespace {

std::string fmt_number(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e18) return std::to_string(static_cast<int64_t>(d));
  std::ostringstream o;
  o << d;
  return o.str();
}

const char* kafka_type_name(Type t) {
  switch (t) {
    case Type::Bool:
      return "BOOLEAN";
    case Type::Int:
      return "INT";
    case Type::Long:
      return "LONG";
    case Type::Double:
      return "DOUBLE";
    case Type::String:
      return "STRING";
    case Type::List:
      return "LIST";
    case Type::Password:
      return "PASSWORD";
  }
  return "STRING";
}

const char* help_type_name(Type t) {
  switch (t) {
    case Type::Bool:
      return "boolean";
    case Type::Int:
      return "int";
    case Type::Long:
      return "long";
    case Type::Double:
      return "double";
    case Type::String:
      return "string";
    case Type::List:
      return "list";
    case Type::Password:
      return "password";
  }
  return "string";
}

const PropertyDef* find_in(const std::vector<PropertyDef>& defs, std::string_view name) {
  for (const auto& d : defs)
    if (d.name == name) return &d;
  return nullptr;
}

}  // namespace

const PropertyDef* find_broker_property(std::string_view name) { return find_in(broker_properties(), name); }
const PropertyDef* find_topic_property(std::string_view name) { return find_in(topic_properties(), name); }

std::vector<std::string> broker_synonyms(std::string_view topic_config) {
  std::vector<std::string> out;
  for (const auto& s : detail::synonyms_of(topic_config)) out.emplace_back(s.broker_name);
  return out;
}

std::optional<std::map<std::string, int32_t>> parse_per_ip_overrides(std::string_view value, std::string& why) {
  std::map<std::string, int32_t> out;
  for (const auto& item : split_list(value)) {
    // The count follows the last ':', so an IPv6 address keeps its own colons.
    const size_t colon = item.rfind(':');
    std::optional<int64_t> count;
    if (colon != std::string::npos) count = detail::parse_long(detail::trim(item.substr(colon + 1)));
    std::string host = colon == std::string::npos ? "" : detail::trim(item.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || !count || *count < 0 || *count > std::numeric_limits<int32_t>::max()) {
      why = "'" + item + "' is not host:count with a count of at least 0 (e.g. hostName:100,127.0.0.1:200)";
      return std::nullopt;
    }
    out[host] = static_cast<int32_t>(*count);
  }
  return out;
}

std::string check_value(const PropertyDef& d, std::string_view raw) {
  const std::string value = detail::trim(raw);
  switch (d.type) {
    case Type::Bool: {
      std::string v = detail::lower(value);
      if (v != "true" && v != "false") return "Expected value to be either true or false";
      break;
    }
    case Type::Int:
    case Type::Long: {
      auto x = detail::parse_long(value);
      if (!x || (d.type == Type::Int && (*x < INT32_MIN || *x > INT32_MAX)))
        return std::string("Not a number of type ") + kafka_type_name(d.type);
      if (d.min && static_cast<double>(*x) < *d.min) return "Value must be at least " + fmt_number(*d.min);
      if (d.max && static_cast<double>(*x) > *d.max)
        return "Value must be no more than " + fmt_number(*d.max);
      break;
    }
    case Type::Double: {
      char* end = nullptr;
      double x = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(x)) return "Not a number of type DOUBLE";
      if (d.min && x < *d.min) return "Value must be at least " + fmt_number(*d.min);
      if (d.max && x > *d.max) return "Value must be no more than " + fmt_number(*d.max);
      break;
    }
    case Type::List:
      for (const auto& item : split_list(value))
        if (!d.one_of.empty() && std::find(d.one_of.begin(), d.one_of.end(), item) == d.one_of.end())
          return "String must be one of: " + join(d.one_of, ", ");
      break;
    case Type::String:
    case Type::Password:
      if (!d.one_of.empty() && std::find(d.one_of.begin(), d.one_of.end(), value) == d.one_of.end())
        return "String must be one of: " + join(d.one_of, ", ");
      break;
  }
  return d.check ? d.check(value) : "";
}

namespace detail {

std::string normalize(const PropertyDef& def, std::string_view value) {
  std::string v = trim(value);
  switch (def.type) {
    case Type::Bool:
      return lower(v);
    case Type::Int:
    case Type::Long:
      return std::to_string(parse_long(v).value_or(0));
    case Type::List:
      return join(split_list(v), ",");
    default:
      return v;
  }
}

std::string expectation(const PropertyDef& d) {
  std::string range;
  if (d.min && d.max)
    range = " from " + fmt_number(*d.min) + " to " + fmt_number(*d.max);
  else if (d.min)
    range = " >= " + fmt_number(*d.min);
  else if (d.max)
    range = " <= " + fmt_number(*d.max);
  switch (d.type) {
    case Type::Bool:
      return "true or false";
    case Type::Int:
      return "a 32-bit integer" + range;
    case Type::Long:
      return "a 64-bit integer" + range;
    case Type::Double:
      return "a number" + range;
    case Type::List:
      return d.one_of.empty() ? "a comma-separated list or YAML sequence"
                              : "a comma-separated list or YAML sequence of: " + join(d.one_of, ", ");
    case Type::String:
    case Type::Password:
      return d.one_of.empty() ? "a string" : "one of: " + join(d.one_of, ", ");
  }
  return "a value";
}

}  // namespace detail

std::string properties_help() {
  std::ostringstream o;
  std::vector<std::string> not_used;
  for (const auto& d : broker_properties()) {
    if (d.not_used) {
      not_used.push_back(d.name);
      continue;
    }
    o << "  " << d.name << "  (" << help_type_name(d.type) << ", default ";
    if (!d.default_value)
      o << "null";
    else if (d.default_value->empty())
      o << "\"\"";
    else if (d.sensitive())
      o << "[hidden]";
    else
      o << *d.default_value;
    if (!d.one_of.empty()) o << ", one of " << join(d.one_of, "|");
    if (d.min && d.max)
      o << ", " << fmt_number(*d.min) << ".." << fmt_number(*d.max);
    else if (d.min)
      o << ", >= " << fmt_number(*d.min);
    if (!d.topic_synonym.empty()) o << ", topic default of " << d.topic_synonym;
    if (d.dynamic) o << ", dynamic: AlterConfigs may change it at run time";
    o << ")\n      " << d.doc << "\n";
  }
  o << "\n  Kafka 3.9 properties accepted for compatibility (type and range checked) and not used by kbroker:\n";
  size_t width = 0;
  for (const auto& n : not_used) {
    if (width > 0 && width + n.size() + 2 > 100) {
      o << "\n";
      width = 0;
    }
    o << (width == 0 ? "      " : "  ") << n;
    width += n.size() + (width == 0 ? 6 : 2);
  }
  o << "\n";
  return o.str();
}

}  // namespace kb::config
