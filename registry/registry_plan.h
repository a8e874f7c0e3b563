// Inside registry/: how a write is planned and answered (registry.cc runs plans,
// registry_writes.cc makes them). Not for callers of the registry.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "registry/registry.h"

namespace kb::registry {

// A write's plan against the view: refuse, answer at once (nothing to write, e.g. a schema
// already registered), or append `records` and answer from the view once they are applied.
struct WritePlan {
  using Action = std::function<void()>;
  std::optional<ApiError> error;
  std::vector<LogRecord> records;
  // Builds the answer from the view (after the records are applied, or at once when there are
  // none); runs under the registry's lock, the returned action runs outside it.
  std::function<Action(const Store&)> finish;
};

namespace plan {

inline WritePlan refuse(ApiError e) {
  WritePlan p;
  p.error = std::move(e);
  return p;
}

// Answers `result(view)` through `done` once `records` (possibly none) are applied.
template <class T>
WritePlan then(std::vector<LogRecord> records, Callback<T> done,
               std::function<Reply<T>(const Store&)> result) {
  WritePlan p;
  p.records = std::move(records);
  p.finish = [done = std::move(done), result = std::move(result)](const Store& view) {
    auto reply = std::make_shared<Reply<T>>(result(view));
    return std::function<void()>([done, reply] { done(std::move(*reply)); });
  };
  return p;
}

template <class T>
WritePlan answer(Callback<T> done, Reply<T> reply) {
  auto shared = std::make_shared<Reply<T>>(std::move(reply));
  return then<T>({}, std::move(done), [shared](const Store&) { return *shared; });
}

}  // namespace plan
}  // namespace kb::registry

namespace kb::registry {

template <class T>
void Registry::read_op(Callback<T> done, std::function<Reply<T>()> compute) {
  when_ready(
      [done, compute = std::move(compute)]() -> Action {
        auto reply = std::make_shared<Reply<T>>(compute());
        return [done, reply] { done(std::move(*reply)); };
      },
      [done](ApiError e) { done(std::move(e)); });
}

template <class T>
void Registry::write_op(Callback<T> done, std::function<WritePlan(const Store&)> plan) {
  submit(std::move(plan), [done](ApiError e) { done(std::move(e)); });
}

}  // namespace kb::registry
