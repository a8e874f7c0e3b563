#include "server/readiness.h"

#include <catch2/catch.hpp>

using kb::server::assess_readiness;
using kb::server::ReadinessState;
using Health = kb::storage::LogDirState::Health;

namespace {

ReadinessState ready_state() {
  ReadinessState s;
  s.node_id = 2;
  s.controller_id = 1;
  s.registration = ReadinessState::Registration::unfenced;
  s.caught_up = true;
  s.log_dirs.push_back({"/data/a", Health::online, ""});
  return s;
}

}  // namespace

TEST_CASE("a registered, unfenced, caught-up broker with online log dirs is ready") {
  auto r = assess_readiness(ready_state());
  CHECK(r.ready);
  CHECK(r.reasons.empty());
  CHECK(r.json.find("\"status\":\"ready\"") != std::string::npos);
}

TEST_CASE("readiness names every reason a broker should not take traffic") {
  auto s = ready_state();
  s.controller_id = -1;
  s.registration = ReadinessState::Registration::fenced;
  s.caught_up = false;
  s.log_dirs.push_back({"/data/b", Health::full, "No space left on device"});
  s.log_dirs.push_back({"/data/c", Health::failed, "I/O error"});
  auto r = assess_readiness(s);
  CHECK_FALSE(r.ready);
  CHECK(r.reasons == std::vector<std::string>{"no active controller is known", "fenced by the controller",
                                              "not caught up with the metadata log",
                                              "log dir /data/b is full",
                                              "log dir /data/c is offline: I/O error"});
  CHECK(r.json.find("\"status\":\"not ready\"") != std::string::npos);
  CHECK(r.json.find("\"state\":\"full\"") != std::string::npos);
}

TEST_CASE("a broker not registered in this run, or shutting down, is not ready") {
  auto s = ready_state();
  s.registration = ReadinessState::Registration::absent;
  CHECK(assess_readiness(s).reasons == std::vector<std::string>{"not registered with the controller yet"});
  s = ready_state();
  s.stopping = true;
  CHECK(assess_readiness(s).reasons == std::vector<std::string>{"shutting down"});
}
