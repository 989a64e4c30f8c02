// Runs every TEST registered by the native test files.
#include <cstring>

#include "check.h"

int main(int argc, char** argv) {
  using namespace perfprobe::test;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0, failedCases = 0;
  for (const Case& c : Registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    int before = Failures();
    std::fprintf(stderr, "[ RUN  ] %s\n", c.name);
    c.fn();
    bool ok = Failures() == before;
    failedCases += ok ? 0 : 1;
    ++ran;
    std::fprintf(stderr, "[ %s ] %s\n", ok ? " OK " : "FAIL", c.name);
  }
  std::printf("%d passed, %d failed\n", ran - failedCases, failedCases);
  return failedCases == 0 && ran > 0 ? 0 : 1;
}
