// Native tests of the /proc parsers (proc_parse.h): the awkward texts the
// kernel can hand back.
#include <cmath>
#include <cstdint>

#include "check.h"
#include "proc_parse.h"

using namespace perfprobe;

#if defined(__linux__)
TEST(proc_parse_parent_after_the_last_parenthesis) {
  CHECK_EQ(ParseParent("1234 (node) S 1 1234 1234 0 -1"), 1);
  // comm may hold spaces and parentheses (a process can name itself so).
  CHECK_EQ(ParseParent("77 (a) b (c) R 4321 77 77 0"), 4321);
  CHECK_EQ(ParseParent("77 ((() Z 9 77"), 9);
  CHECK_EQ(ParseParent("no parenthesis here"), -1);
  CHECK_EQ(ParseParent("12 (cut)"), -1);
  CHECK_EQ(ParseParent("12 (cut) "), -1);
}

TEST(proc_parse_statm_resident_pages) {
  CHECK_EQ(ParseStatmRss("1000 250 10 5 0 100 0\n", 4096.0), 250.0 * 4096.0);
  CHECK_EQ(ParseStatmRss("0 0 0 0 0 0 0\n", 4096.0), 0.0);
  CHECK(std::isnan(ParseStatmRss("", 4096.0)));
  CHECK(std::isnan(ParseStatmRss("1000", 4096.0)));
  CHECK(std::isnan(ParseStatmRss("x y", 4096.0)));
}

TEST(proc_parse_hwm_from_status) {
  CHECK_EQ(ParseHwm("Name:\tnode\nVmPeak:\t  9000 kB\nVmHWM:\t    123456 kB\nVmRSS:\t 100 kB\n"), 123456.0 * 1024.0);
  // A zombie has no Vm lines; "VmHWM" must start a line.
  CHECK(std::isnan(ParseHwm("Name:\tnode\nState:\tZ (zombie)\n")));
  CHECK(std::isnan(ParseHwm("XVmHWM:\t5 kB\n")));
  CHECK(std::isnan(ParseHwm("Name:\tn\nVmHWM:\t kB\n")));
}
#endif
