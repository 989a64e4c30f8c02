// A minimal test harness for the native tests (no dependency to install).
//   TEST(name) { CHECK(cond); CHECK_EQ(a, b); CHECK_NEAR(a, b, tol); }
// Each TEST registers itself; main() in test_main.cc runs them all (or those
// whose name contains argv[1]) and exits non-zero on any failed check.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace perfprobe::test {

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& Registry() {
  static std::vector<Case> cases;
  return cases;
}

inline int& Failures() {
  static int failures = 0;
  return failures;
}

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { Registry().push_back({name, std::move(fn)}); }
};

inline void Fail(const char* file, int line, const std::string& what) {
  ++Failures();
  std::fprintf(stderr, "  FAILED %s:%d: %s\n", file, line, what.c_str());
}

}  // namespace perfprobe::test

#define PP_CONCAT2(a, b) a##b
#define PP_CONCAT(a, b) PP_CONCAT2(a, b)
#define TEST(name)                                                                               \
  static void PP_CONCAT(test_fn_, name)();                                                       \
  static ::perfprobe::test::Registrar PP_CONCAT(test_reg_, name)(#name, PP_CONCAT(test_fn_, name)); \
  static void PP_CONCAT(test_fn_, name)()

#define CHECK(cond) \
  do { if (!(cond)) ::perfprobe::test::Fail(__FILE__, __LINE__, "CHECK(" #cond ")"); } while (0)

#define CHECK_EQ(a, b)                                                                      \
  do {                                                                                      \
    auto va_ = (a); auto vb_ = (b);                                                         \
    if (!(va_ == vb_))                                                                      \
      ::perfprobe::test::Fail(__FILE__, __LINE__, "CHECK_EQ(" #a ", " #b "): " +             \
                              std::to_string(va_) + " != " + std::to_string(vb_));          \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                               \
  do {                                                                                      \
    double va_ = (a), vb_ = (b);                                                            \
    if (!(std::fabs(va_ - vb_) <= (tol)))                                                   \
      ::perfprobe::test::Fail(__FILE__, __LINE__, "CHECK_NEAR(" #a ", " #b "): " +           \
                              std::to_string(va_) + " vs " + std::to_string(vb_));          \
  } while (0)
