// The async-signal-safe toolkit: everything the shim runs in a forked child or at fork is built on this
// (raw write(2) through a stack buffer, number formatting, escaping) and never on stdio or the allocator.
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace fh {

// The system calls the shim makes for itself, through syscall(2): libc's open, read, write, close and
// nanosleep are cancellation points, and the shim must never become one where the program called none (a
// fork, a report in a child with a cancellation pending). Same results and errno as libc's wrappers.
namespace sys {
inline int open(const char* path, int flags, mode_t mode = 0) {
  return static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
inline ssize_t read(int fd, void* buf, size_t n) { return ::syscall(SYS_read, fd, buf, n); }
inline ssize_t write(int fd, const void* buf, size_t n) { return ::syscall(SYS_write, fd, buf, n); }
inline int close(int fd) { return static_cast<int>(::syscall(SYS_close, fd)); }
inline int nanosleep(const struct timespec* ts) { return static_cast<int>(::syscall(SYS_nanosleep, ts, nullptr)); }
}  // namespace sys

// Buffered writer to a file descriptor, into a buffer its owner provides (BufferedWriter below: on the stack).
// flush() writes with write(2) (sys::write: not a cancellation point), retrying on EINTR and short writes.
// errno is left as the caller had it.
class SafeWriter {
 public:
  SafeWriter(const SafeWriter&) = delete;
  SafeWriter& operator=(const SafeWriter&) = delete;

  SafeWriter& str(const char* s);
  SafeWriter& str(const char* s, size_t n);
  SafeWriter& chr(char c);
  SafeWriter& dec(int64_t v);
  SafeWriter& udec(uint64_t v);
  SafeWriter& hex(uint64_t v);  // 0x-prefixed
  // A protocol value: bytes outside 0x21..0x7e and '%' ',' '=' become %XX (shim/protocol.h).
  SafeWriter& escaped(const char* s, size_t max_len = SIZE_MAX);
  // A comma-separated list of 0x-prefixed PCs, or "-" when empty.
  SafeWriter& pcs(const uintptr_t* pcs, size_t n);
  // A raw-protocol line (shim/protocol.def): its record word, then ` key=` before each value.
  SafeWriter& rec(const char* record) { return str(record); }
  SafeWriter& key(const char* name) { return chr(' ').str(name).chr('='); }
  void flush();

 protected:
  SafeWriter(int fd, char* buf, size_t cap) : fd_(fd), cap_(cap), buf_(buf) {}
  ~SafeWriter() = default;

 private:
  int fd_;
  size_t len_ = 0;
  size_t cap_;
  char* buf_;
};

// A SafeWriter with its buffer inside (N bytes of the caller's stack); flushes when it goes out of scope. The
// default size keeps write(2) calls few; a report on a small signal stack uses a small one.
template <size_t N = 2048>
class BufferedWriter : public SafeWriter {
 public:
  explicit BufferedWriter(int fd) : SafeWriter(fd, storage_, N) {}
  ~BufferedWriter() { flush(); }

 private:
  char storage_[N];
};
using StackWriter = BufferedWriter<>;

size_t safe_strlen(const char* s);
// Copies at most cap-1 bytes and always terminates (cap > 0).
void safe_strcpy(char* dst, const char* src, size_t cap);
bool safe_streq(const char* a, const char* b);
// Parses a decimal integer from [s, s+n); false on anything else.
bool safe_parse_int(const char* s, size_t n, long* out);

}  // namespace fh
