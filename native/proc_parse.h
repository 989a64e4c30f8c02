// Parsers of the /proc files the process tree reads (Linux only): pure
// functions of the text, tested in native/test/test_proc_parse.cc. Free of
// Node-API.
#pragma once

#if defined(__linux__)
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace perfprobe {

// Parent pid from /proc/<pid>/stat: "pid (comm) state ppid ...". comm may
// hold spaces and parentheses, so parse after the LAST ')'.
inline int32_t ParseParent(const char* stat) {
  const char* close = std::strrchr(stat, ')');
  if (!close) return -1;
  const char* p = close + 1;
  while (*p == ' ') ++p;
  if (!*p) return -1;
  ++p;  // state character
  while (*p == ' ') ++p;
  return static_cast<int32_t>(std::strtol(p, nullptr, 10));
}

// statm: "size resident shared ..." in pages; NaN when unparsable.
inline double ParseStatmRss(const char* text, double pageBytes) {
  char* end = nullptr;
  std::strtoull(text, &end, 10);  // size
  if (end == text) return std::numeric_limits<double>::quiet_NaN();
  const char* p = end;
  unsigned long long resident = std::strtoull(p, &end, 10);
  if (end == p) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(resident) * pageBytes;
}

// "VmHWM:\t  123456 kB" from status, in bytes; NaN when absent (a zombie).
inline double ParseHwm(const char* status) {
  const char* p = std::strstr(status, "\nVmHWM:");
  if (!p) return std::numeric_limits<double>::quiet_NaN();
  p += 7;
  char* end = nullptr;
  double kib = std::strtod(p, &end);
  if (end == p) return std::numeric_limits<double>::quiet_NaN();
  return kib * 1024.0;
}

}  // namespace perfprobe
#endif
