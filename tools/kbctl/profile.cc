#include "tools/kbctl/profile.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "tools/kbctl/kbctl.h"

namespace kb::kbctl {

namespace {

std::string default_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) return std::string(xdg) + "/kbctl/kbctl.yaml";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.config/kbctl/kbctl.yaml";
  return {};
}

std::string scalar(const YAML::Node& n, const std::string& key, const std::string& path) {
  if (!n.IsScalar()) usage_error(path + ": " + key + ": expected a single value");
  return n.as<std::string>();
}

}  // namespace

Profile load_profile() {
  Profile p;
  const char* env = std::getenv("KBCTL_CONFIG");
  const bool named = env && *env;
  std::string path = named ? std::string(env) : default_path();
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) {
    if (named) usage_error("KBCTL_CONFIG: no such file: " + path);
    return p;
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    usage_error(path + ": not valid YAML: " + e.what());
  }
  p.path = path;
  if (root.IsNull()) return p;
  if (!root.IsMap()) usage_error(path + ": expected keys (brokers, format, timeout.ms, client.id)");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "brokers") {
      if (v.IsSequence()) {
        std::string joined;
        for (const auto& b : v) {
          if (!joined.empty()) joined += ',';
          joined += scalar(b, key, path);
        }
        p.brokers = joined;
      } else {
        p.brokers = scalar(v, key, path);
      }
    } else if (key == "format") {
      p.format = scalar(v, key, path);
    } else if (key == "client.id") {
      p.client_id = scalar(v, key, path);
    } else if (key == "timeout.ms") {
      auto ms = parse_int(scalar(v, key, path));
      if (!ms || *ms <= 0) usage_error(path + ": timeout.ms: expected a positive number of milliseconds");
      p.timeout_ms = *ms;
    } else {
      usage_error(path + ": unknown key '" + key + "' (brokers, format, timeout.ms, client.id)");
    }
  }
  return p;
}

}  // namespace kb::kbctl
