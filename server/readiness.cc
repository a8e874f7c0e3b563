#include "server/readiness.h"

#include <nlohmann/json.hpp>

namespace kb::server {

namespace {

const char* health_name(storage::LogDirState::Health h) {
  switch (h) {
    case storage::LogDirState::Health::online:
      return "online";
    case storage::LogDirState::Health::full:
      return "full";
    case storage::LogDirState::Health::failed:
      return "offline";
  }
  return "unknown";
}

}  // namespace

Readiness assess_readiness(const ReadinessState& s) {
  Readiness r;
  if (s.stopping) r.reasons.push_back("shutting down");
  if (s.controller_id < 0) r.reasons.push_back("no active controller is known");
  switch (s.registration) {
    case ReadinessState::Registration::absent:
      r.reasons.push_back("not registered with the controller yet");
      break;
    case ReadinessState::Registration::fenced:
      r.reasons.push_back("fenced by the controller");
      break;
    case ReadinessState::Registration::unfenced:
      break;
  }
  if (!s.caught_up) r.reasons.push_back("not caught up with the metadata log");
  nlohmann::ordered_json dirs = nlohmann::ordered_json::array();
  for (const auto& d : s.log_dirs) {
    if (d.health == storage::LogDirState::Health::full)
      r.reasons.push_back("log dir " + d.path.string() + " is full");
    if (d.health == storage::LogDirState::Health::failed)
      r.reasons.push_back("log dir " + d.path.string() + " is offline: " + d.error);
    dirs.push_back(
        {{"path", d.path.string()},
         {"state", health_name(d.health)},
         {"error", d.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(d.error)}});
  }
  r.ready = r.reasons.empty();
  nlohmann::ordered_json body{{"status", r.ready ? "ready" : "not ready"},
                              {"node_id", s.node_id},
                              {"reasons", r.reasons},
                              {"controller_id", s.controller_id},
                              {"caught_up", s.caught_up},
                              {"fenced", s.registration == ReadinessState::Registration::fenced},
                              {"log_dirs", dirs}};
  r.json = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  return r;
}

}  // namespace kb::server
