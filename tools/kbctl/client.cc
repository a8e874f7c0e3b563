#include "tools/kbctl/client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/find_coordinator_request.h"
#include "protocol/messages/find_coordinator_response.h"
#include "protocol/messages/metadata_request.h"

namespace kb::kbctl {

namespace {

// ApiVersions v3 (KIP-511) is flexible; a broker that does not know it answers in v0.
constexpr int16_t kApiVersionsVersion = 3;

std::string api_name(int16_t key) {
  const auto* info = msg::find_api_key(key);
  return info ? std::string(info->name) : "api " + std::to_string(key);
}

}  // namespace

Result<std::vector<runtime::PeerAddress>> parse_brokers(const std::string& list) {
  std::vector<runtime::PeerAddress> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string entry = list.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) continue;
    // PLAINTEXT://host:port as in listeners, or host:port
    if (auto scheme = entry.find("://"); scheme != std::string::npos) entry = entry.substr(scheme + 3);
    auto colon = entry.rfind(':');
    int port = -1;
    if (colon != std::string::npos && colon + 1 < entry.size()) {
      try {
        size_t used = 0;
        port = std::stoi(entry.substr(colon + 1), &used);
        if (used != entry.size() - colon - 1) port = -1;
      } catch (const std::exception&) {
        port = -1;
      }
    }
    if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535)
      return Error{ErrorCode::INVALID_REQUEST, "broker address '" + entry + "' is not host:port"};
    std::string host = entry.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    out.push_back({host, static_cast<uint16_t>(port)});
    if (end == list.size()) break;
  }
  if (out.empty()) return Error{ErrorCode::INVALID_REQUEST, "no broker address given"};
  return out;
}

Client::Client(ClientOptions options) : opts_(std::move(options)), peer_(opts_.client_id) {
  int32_t id = -1;
  for (const auto& a : opts_.bootstrap) nodes_[id--] = a;
}

std::optional<runtime::PeerAddress> Client::address(int32_t node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::string Client::describe(int32_t node) const {
  auto a = address(node);
  std::string where = a ? a->host + ":" + std::to_string(a->port) : "address unknown";
  return node >= 0 ? "broker " + std::to_string(node) + " (" + where + ")" : "broker " + where;
}

std::string Client::refusal(int32_t node, ErrorCode code, const std::optional<std::string>& message) const {
  std::string s = describe(node) + " answered " + std::string(error_name(code));
  if (message && !message->empty()) s += ": " + *message;
  return s;
}

std::vector<int32_t> Client::node_ids() const {
  std::vector<int32_t> out;
  for (const auto& [id, a] : nodes_)
    if (id >= 0) out.push_back(id);
  return out;
}

std::vector<int32_t> Client::candidates() const {
  // Bootstrap entries first (ids -1, -2, ... in the order given), then the brokers learnt.
  std::vector<int32_t> out;
  for (const auto& [id, a] : nodes_)
    if (id < 0) out.insert(out.begin(), id);
  for (const auto& [id, a] : nodes_)
    if (id >= 0) out.push_back(id);
  return out;
}

Error Client::unreachable_all(const Error& last) const {
  std::string tried;
  for (const auto& a : opts_.bootstrap)
    tried += (tried.empty() ? "" : ",") + a.host + ":" + std::to_string(a.port);
  return Error{last.code, "no broker reachable (tried " + tried + "): " + last.message};
}

Result<std::vector<uint8_t>> Client::send(int32_t node, int16_t api_key, int16_t version,
                                          std::vector<uint8_t> body) {
  auto to = address(node);
  if (!to)
    return Error{ErrorCode::BROKER_NOT_AVAILABLE,
                 "broker " + std::to_string(node) + " is not in the metadata"};
  auto promise = std::make_shared<std::promise<Result<std::vector<uint8_t>>>>();
  auto future = promise->get_future();
  peer_.send(node, *to, api_key, version, std::move(body), opts_.timeout_ms,
             [promise](Result<std::vector<uint8_t>> r) { promise->set_value(std::move(r)); });
  // PeerClient answers every request within its timeout; the margin covers connecting.
  if (future.wait_for(std::chrono::milliseconds(opts_.timeout_ms + 5000)) != std::future_status::ready)
    return Error{ErrorCode::REQUEST_TIMED_OUT, describe(node) + " did not answer " + api_name(api_key)};
  auto r = future.get();
  if (!r.ok()) {
    std::string why =
        r.error().code == ErrorCode::REQUEST_TIMED_OUT
            ? "no answer to " + api_name(api_key) + " within " + std::to_string(opts_.timeout_ms) + " ms"
            : r.error().message;
    return Error{r.error().code, describe(node) + ": " + why};
  }
  return r;
}

Result<int16_t> Client::negotiate(int32_t node, int16_t api_key, int16_t our_min, int16_t our_max) {
  if (!versions_.count(node)) {
    msg::ApiVersionsRequest req;
    req.client_software_name = "kbctl";
    req.client_software_version = KBCTL_VERSION;
    msg::ApiVersionsResponse resp;
    for (int16_t v : {kApiVersionsVersion, int16_t(0)}) {
      wire::Writer w;
      req.encode(w, v);
      auto body = send(node, msg::ApiVersionsRequest::kApiKey, v, std::move(w.buffer()));
      if (!body.ok()) return body.error();
      wire::Reader r(std::span<const uint8_t>(body->data(), body->size()));
      resp = {};
      bool decoded = resp.decode(r, v);
      if (decoded && resp.error_code == 0) break;
      if (v == 0 || (decoded && resp.error_code != to_wire(ErrorCode::UNSUPPORTED_VERSION)))
        return Error{ErrorCode::UNSUPPORTED_VERSION, describe(node) + " refused ApiVersions"};
    }
    auto& table = versions_[node];
    for (const auto& k : resp.api_keys) table[k.api_key] = {k.min_version, k.max_version};
  }
  const auto& table = versions_[node];
  auto it = table.find(api_key);
  if (it == table.end())
    return Error{ErrorCode::UNSUPPORTED_VERSION, describe(node) + " does not serve " + api_name(api_key)};
  int16_t v = std::min(our_max, it->second.second);
  if (v < our_min || v < it->second.first)
    return Error{ErrorCode::UNSUPPORTED_VERSION, describe(node) + " serves " + api_name(api_key) +
                                                     " versions " + std::to_string(it->second.first) + "-" +
                                                     std::to_string(it->second.second) + ", kbctl speaks " +
                                                     std::to_string(our_min) + "-" + std::to_string(our_max)};
  return v;
}

Result<msg::MetadataResponse> Client::metadata(const std::optional<std::vector<std::string>>& topics) {
  msg::MetadataRequest req;
  req.allow_auto_topic_creation = false;
  if (topics) {
    req.topics.emplace();
    for (const auto& t : *topics) req.topics->emplace_back().name = t;
  } else {
    req.topics.reset();  // null: every topic (an empty list would be none)
  }
  int32_t answered = -1;
  auto r = call_any<msg::MetadataRequest, msg::MetadataResponse>(req, 12, &answered);
  if (!r.ok()) return r;
  for (const auto& b : r->brokers) {
    runtime::PeerAddress a{b.host, static_cast<uint16_t>(b.port)};
    nodes_[b.node_id] = a;
  }
  return r;
}

Result<int32_t> Client::controller_id() {
  auto md = metadata(std::vector<std::string>{});
  if (!md.ok()) return md.error();
  return md->controller_id;
}

Result<int32_t> Client::coordinator(const std::string& group) {
  if (node_ids().empty())
    if (auto md = metadata(std::vector<std::string>{}); !md.ok()) return md.error();
  msg::FindCoordinatorRequest req;
  req.key = group;
  req.key_type = 0;
  // A coordinator still loading (or a just-created offsets topic) answers
  // COORDINATOR_NOT_AVAILABLE for a moment: asked again for a few seconds, as clients do.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.timeout_ms);
  while (true) {
    int32_t answered = -1;
    auto r = call_any<msg::FindCoordinatorRequest, msg::FindCoordinatorResponse>(req, 3, &answered);
    if (!r.ok()) return r.error();
    auto code = static_cast<ErrorCode>(r->error_code);
    if (code == ErrorCode::NONE) {
      nodes_[r->node_id] = runtime::PeerAddress{r->host, static_cast<uint16_t>(r->port)};
      return r->node_id;
    }
    bool retriable =
        code == ErrorCode::COORDINATOR_NOT_AVAILABLE || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    if (!retriable || std::chrono::steady_clock::now() >= deadline)
      return Error{code, "finding the coordinator of group " + group + ": " +
                             refusal(answered, code, r->error_message)};
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace kb::kbctl
