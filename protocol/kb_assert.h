// KB_ASSERT(cond, "what broke"): an invariant of the code itself (never of input: bad input
// gets an error code). On in Debug builds and in the sanitizer build (-DKB_SANITIZE=ON, which
// defines KB_ASSERTIONS), off in Release: then the condition is not even evaluated, so it may
// cost something (take a lock, walk a list) without touching the hot path.
//
// A failed assertion prints the condition, its place and the message to stderr and aborts
// (a core dump, a sanitizer report with the stack). Any layer may include this header; it
// depends on nothing of ours.
#pragma once

#include <cstdio>
#include <cstdlib>

#if defined(KB_ASSERTIONS) || !defined(NDEBUG)
#define KB_ASSERTIONS_ON 1
#else
#define KB_ASSERTIONS_ON 0
#endif

namespace kb::detail {

[[noreturn]] inline void assertion_failed(const char* cond, const char* file, int line, const char* message) {
  std::fprintf(stderr, "%s:%d: KB_ASSERT(%s) failed: %s\n", file, line, cond, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace kb::detail

#if KB_ASSERTIONS_ON
#define KB_ASSERT(cond, message) \
  ((cond) ? static_cast<void>(0) : ::kb::detail::assertion_failed(#cond, __FILE__, __LINE__, message))
#else
// Compiled (so it keeps building) but never evaluated.
#define KB_ASSERT(cond, message) static_cast<void>(sizeof(static_cast<bool>(cond)))
#endif
