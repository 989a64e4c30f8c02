// Reading /proc files with as few system calls as the kernel allows (Linux
// only; shared by memory_linux.cc and proc_tree.cc). Free of Node-API.
//
// A read from offset 0 makes the kernel generate a /proc file afresh. Files
// with one record (statm, status, stat, meminfo: seq_file single_open) come
// back whole from ONE pread when the buffer is big enough, so a short read is
// the end of the file. Files of many records (children) are filled one seq
// buffer (at least a page) at a time, so only a read shorter than a page less
// one record is known to have reached the end; a longer one reads on.
#pragma once

#if defined(__linux__)
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace perfprobe {

// A read shorter than this (and than what was asked) has reached the end of
// any /proc file: the kernel's seq buffer is at least one 4 KiB page, and a
// record of the files read here is far shorter than 64 bytes.
constexpr size_t kProcShortReadBytes = 4096 - 64;

inline ssize_t PreadNoEintr(int fd, void* buf, size_t size, off_t offset) {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size, offset);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Reads the file behind `fd` from offset 0 into buf (NUL-terminated), one
// pread when it fits (the common case), more only for a long file. When the
// file is longer than the buffer (size - 1 bytes), the text is cut after its
// last space or newline (so no number is ever read cut short) and *complete is
// false; otherwise *complete is true.
// Returns the length kept, or -1 on error (errno set).
inline ssize_t PreadProcFile(int fd, char* buf, size_t size, bool* complete) {
  *complete = false;
  if (fd < 0 || size < 2) {
    errno = EBADF;
    return -1;
  }
  size_t got = 0;
  for (;;) {
    size_t want = size - 1 - got;
    ssize_t n = PreadNoEintr(fd, buf + got, want, static_cast<off_t>(got));
    if (n < 0) return -1;
    got += static_cast<size_t>(n);
    size_t un = static_cast<size_t>(n);
    if (un == 0 || (un < want && un < kProcShortReadBytes)) {
      *complete = true;
      break;
    }
    if (got == size - 1) {  // the buffer is full: does anything follow?
      char next;
      ssize_t more = PreadNoEintr(fd, &next, 1, static_cast<off_t>(got));
      if (more < 0) return -1;
      *complete = more == 0;
      break;
    }
  }
  if (!*complete) {  // keep whole tokens only
    while (got > 0 && buf[got - 1] != '\n' && buf[got - 1] != ' ') --got;
  }
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

// The same into a growable buffer: when the file does not fit, the buffer
// doubles and the file is read again from offset 0 (a fresh, consistent
// copy), up to maxBytes; beyond that the text is cut as above.
inline ssize_t PreadProcFile(int fd, std::vector<char>* buf, size_t maxBytes, bool* complete) {
  if (maxBytes < 2) maxBytes = 2;
  if (buf->size() < 256) buf->resize(maxBytes < 256 ? maxBytes : 256);
  for (;;) {
    ssize_t n = PreadProcFile(fd, buf->data(), buf->size(), complete);
    if (n < 0 || *complete || buf->size() >= maxBytes) return n;
    buf->resize(buf->size() * 2 > maxBytes ? maxBytes : buf->size() * 2);
  }
}

// openat(2) with O_CLOEXEC, retried on EINTR.
inline int OpenAt(int dir, const char* name, int flags) {
  int fd;
  do {
    fd = ::openat(dir, name, flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Appends the numeric names (pids, tids) of the directory open at `dirFd`
// to *out, listed from its start with getdents64 (no glibc wrapper before
// 2.30; no DIR to allocate, so a kept descriptor is listed again as it is).
// False when the directory cannot be listed (its process exited).
inline bool ListNumericNames(int dirFd, std::vector<int32_t>* out) {
  if (::lseek(dirFd, 0, SEEK_SET) != 0) return false;
  struct Dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  alignas(8) char dents[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dirFd, dents, sizeof dents);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    for (long off = 0; off < n;) {
      const Dirent64* d = reinterpret_cast<const Dirent64*>(dents + off);
      if (d->name[0] >= '1' && d->name[0] <= '9') {
        char* end = nullptr;
        long id = std::strtol(d->name, &end, 10);
        if (*end == '\0' && id <= INT32_MAX) out->push_back(static_cast<int32_t>(id));
      }
      off += d->reclen;
    }
  }
}

// The same by path, opened and closed around the listing.
inline bool ListNumericNames(const char* path, std::vector<int32_t>* out) {
  int fd = OpenAt(AT_FDCWD, path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  bool ok = ListNumericNames(fd, out);
  ::close(fd);
  return ok;
}

// A small /proc file by path, opened and closed around one read (the
// fallback for processes beyond the descriptor budget): read(fd) reads it;
// errno is what the read left.
template <typename Read>
inline ssize_t ReadPathWith(const char* path, Read read) {
  int fd = OpenAt(AT_FDCWD, path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd);
  int err = errno;
  ::close(fd);
  errno = err;
  return n;
}

inline ssize_t ReadPath(const char* path, char* buf, size_t size) {
  bool complete;
  return ReadPathWith(path, [&](int fd) { return PreadProcFile(fd, buf, size, &complete); });
}

// The same into a growable buffer, up to maxBytes (a children file of many threads).
inline ssize_t ReadPath(const char* path, std::vector<char>* buf, size_t maxBytes) {
  bool complete;
  return ReadPathWith(path, [&](int fd) { return PreadProcFile(fd, buf, maxBytes, &complete); });
}

}  // namespace perfprobe
#endif
