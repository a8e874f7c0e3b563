// /ready on the metrics listener: whether this broker should take traffic now (a load
// balancer's or orchestrator's readiness probe), with the reasons when not. /health only says
// the process is alive.
//
// Not ready (503) while: no active controller is known; this broker is not registered with
// the controller in this incarnation, or is fenced; it has not caught up with the metadata log
// (its replicas have not taken their roles yet); a log dir is offline (failed) or full;
// it is shutting down. Ready (200) otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/log_manager.h"

namespace kb::server {

struct ReadinessState {
  int32_t node_id = -1;
  bool stopping = false;
  int32_t controller_id = -1;  // the quorum's leader; -1: unknown
  enum class Registration { absent, fenced, unfenced } registration = Registration::absent;
  bool caught_up = false;  // the replicas took their roles
  std::vector<storage::LogDirInfo> log_dirs;
};

struct Readiness {
  bool ready = false;
  std::vector<std::string> reasons;  // empty when ready
  std::string json;                  // the /ready body
};

Readiness assess_readiness(const ReadinessState& s);

}  // namespace kb::server
