// KBROKER_<PROPERTY> environment variables: the container way to configure a broker, as
// Kafka's (KAFKA_*) and Redpanda's images allow. The name maps to a property by the table,
// not by a fixed rewrite: KBROKER_LOG_DIRS is the property whose name, with dots and dashes
// read as underscores and upper-cased, is LOG_DIRS. So no escape is needed for Kafka names
// whose words are joined differently, and a name two properties could claim is refused.
#include <algorithm>
#include <cctype>

#include "config/config.h"
#include "config/parse.h"

namespace kb::config {

namespace {

constexpr std::string_view kPrefix = "KBROKER_";

std::string env_form(std::string_view property) {
  std::string out;
  for (char c : property)
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const std::vector<std::string>& environment_variables_not_properties() {
  // Read by scripts/cluster and the integration tests (the binary to run); never a property.
  static const std::vector<std::string> names = {"KBROKER_BIN"};
  return names;
}

std::vector<EnvSetting> environment_settings(const std::vector<std::string>& environment) {
  std::vector<EnvSetting> out;
  const auto& skip = environment_variables_not_properties();
  for (const auto& entry : environment) {
    if (entry.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    auto eq = entry.find('=');
    std::string variable = entry.substr(0, eq);
    if (std::find(skip.begin(), skip.end(), variable) != skip.end()) continue;
    std::string value = eq == std::string::npos ? "" : entry.substr(eq + 1);
    std::string wanted = variable.substr(kPrefix.size());
    std::vector<std::string> matches;
    if (!wanted.empty())
      for (const auto& d : broker_properties())
        if (env_form(d.name) == wanted) matches.push_back(d.name);
    if (matches.empty())
      throw ConfigError(variable + ": no broker property is named " +
                        (wanted.empty() ? std::string("by it") : wanted) +
                        " (KBROKER_ variables set properties: KBROKER_LOG_DIRS is log.dirs; "
                        "`kbroker --help` lists them all)");
    if (matches.size() > 1)
      throw ConfigError(variable + ": names more than one property (" + detail::join(matches, ", ") +
                        "); set it in the configuration file or with --set");
    out.push_back({variable, matches.front(), value});
  }
  std::sort(out.begin(), out.end(), [](const EnvSetting& a, const EnvSetting& b) { return a.variable < b.variable; });
  return out;
}

}  // namespace kb::config
