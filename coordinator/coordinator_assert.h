// KB_COORDINATOR_ASSERT(cond, "what broke"): an invariant of the coordinators' own code (never
// of input: a client's bad request gets an error code). A stand-in until the project-wide
// KB_ASSERT lands; it follows the same switch: on in Debug builds and whenever KB_ASSERTIONS is
// defined (the sanitizer build), where a failure prints the place and aborts. In Release a
// failure logs one error line and the code goes on, as it did before the check existed: a
// coordinator that stopped would strand every group it serves.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace kb::coordinator::detail {

[[noreturn]] inline void coordinator_assert_abort(const char* cond, const char* file, int line, const char* message) {
  std::fprintf(stderr, "%s:%d: KB_COORDINATOR_ASSERT(%s) failed: %s\n", file, line, cond, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace kb::coordinator::detail

#if defined(KB_ASSERTIONS) || !defined(NDEBUG)
#define KB_COORDINATOR_ASSERT(cond, message) \
  ((cond) ? static_cast<void>(0)             \
          : ::kb::coordinator::detail::coordinator_assert_abort(#cond, __FILE__, __LINE__, message))
#else
#define KB_COORDINATOR_ASSERT(cond, message) \
  ((cond) ? static_cast<void>(0) : spdlog::error("{}:{}: invariant broken: {} ({})", __FILE__, __LINE__, message, #cond))
#endif
