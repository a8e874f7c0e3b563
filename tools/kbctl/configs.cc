#include "tools/kbctl/configs.h"

#include <algorithm>
#include <iostream>

#include "protocol/messages/describe_configs_request.h"
#include "protocol/messages/describe_configs_response.h"
#include "protocol/messages/incremental_alter_configs_request.h"
#include "protocol/messages/incremental_alter_configs_response.h"

namespace kb::kbctl {

const char* source_name(int8_t source) {
  switch (source) {
    case 1:
      return "DYNAMIC_TOPIC_CONFIG";
    case 2:
      return "DYNAMIC_BROKER_CONFIG";
    case 3:
      return "DYNAMIC_DEFAULT_BROKER_CONFIG";
    case 4:
      return "STATIC_BROKER_CONFIG";
    case 5:
      return "DEFAULT_CONFIG";
    case 6:
      return "DYNAMIC_BROKER_LOGGER_CONFIG";
    default:
      return "UNKNOWN";
  }
}

Json config_json(const ConfigEntry& c) {
  return {{"name", c.name},
          {"value", c.sensitive || !c.value ? Json(nullptr) : Json(*c.value)},
          {"source", source_name(c.source)},
          {"read_only", c.read_only},
          {"sensitive", c.sensitive}};
}

std::vector<ConfigEntry> describe_configs(Client& client, int8_t type, const std::string& name,
                                          const std::optional<std::vector<std::string>>& keys,
                                          std::optional<int32_t> node) {
  msg::DescribeConfigsRequest req;
  auto& r = req.resources.emplace_back();
  r.resource_type = type;
  r.resource_name = name;
  if (keys && !keys->empty())
    r.configuration_keys = *keys;
  else
    r.configuration_keys.reset();
  int32_t answered = node.value_or(-1);
  auto resp = must(
      node ? client.call<msg::DescribeConfigsRequest, msg::DescribeConfigsResponse>(*node, req, 4)
           : client.call_any<msg::DescribeConfigsRequest, msg::DescribeConfigsResponse>(req, 4, &answered));
  const bool v0 = client.last_version() == 0;
  std::vector<ConfigEntry> out;
  for (const auto& res : resp.results) {
    auto code = static_cast<ErrorCode>(res.error_code);
    if (code != ErrorCode::NONE) {
      std::string what = (type == kTopicResource ? "topic " : "broker ") + name;
      if (code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        throw Failure(kExitNotFound,
                      what + " does not exist (" + client.refusal(answered, code, res.error_message) + ")");
      fail(Error{code, what + ": " + client.refusal(answered, code, res.error_message)});
    }
    for (const auto& c : res.configs) {
      ConfigEntry e;
      e.name = c.name;
      e.value = c.value;
      e.read_only = c.read_only;
      e.sensitive = c.is_sensitive;
      e.source = v0 ? (c.is_default ? kSourceDefault : (type == kTopicResource ? kSourceTopic : int8_t(4)))
                    : c.config_source;
      out.push_back(std::move(e));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

void alter_configs(Context& ctx, int8_t type, const std::string& name, const std::vector<std::string>& sets,
                   const std::vector<std::string>& deletes, const std::string& what,
                   std::optional<int32_t> node) {
  auto& client = ctx.client();
  msg::IncrementalAlterConfigsRequest req;
  auto& r = req.resources.emplace_back();
  r.resource_type = type;
  r.resource_name = name;
  Json set_json = Json::object();
  Table t({"CONFIG", "CHANGE", "VALUE"});
  for (const auto& kv : sets) {
    auto [k, v] = split_assignment(kv, "--set");
    auto& c = r.configs.emplace_back();
    c.name = k;
    c.config_operation = 0;  // SET
    c.value = v;
    set_json[k] = v;
    t.add({k, "set", v});
  }
  for (const auto& k : deletes) {
    auto& c = r.configs.emplace_back();
    c.name = k;
    c.config_operation = 1;  // DELETE
    c.value.reset();
    t.add({k, "deleted", "-"});
  }
  int32_t answered = node.value_or(-1);
  using Req = msg::IncrementalAlterConfigsRequest;
  using Resp = msg::IncrementalAlterConfigsResponse;
  auto resp =
      must(node ? client.call<Req, Resp>(*node, req, 1) : client.call_any<Req, Resp>(req, 1, &answered));
  for (const auto& res : resp.responses) {
    auto code = static_cast<ErrorCode>(res.error_code);
    if (code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
      throw Failure(kExitNotFound,
                    what + " does not exist (" + client.refusal(answered, code, res.error_message) + ")");
    if (code != ErrorCode::NONE)
      fail(Error{code, what + ": " + client.refusal(answered, code, res.error_message)});
  }
  print_result(ctx, {{"resource", what}, {"set", set_json}, {"deleted", deletes}}, t);
}

}  // namespace kb::kbctl
