// The YAML config loader (BrokerConfig::from_yaml), which main() runs on the operator's file:
// any text must load or be refused with ConfigError (which main reports as a configuration
// error); any other exception would end the broker with std::terminate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto config = kb::config::BrokerConfig::from_yaml(text);
    (void)config.node_id();
  } catch (const kb::config::ConfigError&) {
  }
  return 0;
}
