// The async-signal-safe toolkit: everything the shim runs in a forked child or at fork is built on this
// (raw write(2) through a stack buffer, number formatting, escaping) and never on stdio or the allocator.
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace fh {

// The system calls the shim makes for itself: libc's open, read, write, close and nanosleep are cancellation
// points, and the shim must never become one where the program called none (a fork, a report in a child with a
// cancellation pending). Same results and errno as libc's wrappers.
namespace sys {

template <class T>
inline long word(T v) {
  if constexpr (std::is_null_pointer_v<T>) return 0;
  else if constexpr (std::is_pointer_v<T>) return reinterpret_cast<long>(v);
  else return static_cast<long>(v);
}

// syscall(2) made here, as sanitizers make theirs: never through the exported syscall(), which the shim
// interposes (a wrapper call and its checks for each of our own calls). -1 with errno set on failure.
template <class... A>
inline long call(long number, A... args) {
  static_assert(sizeof...(A) <= 6, "six arguments at most");
#if defined(__x86_64__)
  long a[6] = {word(args)...};
  register long r10 asm("r10") = a[3];
  register long r8 asm("r8") = a[4];
  register long r9 asm("r9") = a[5];
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(number), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
#else
  return ::syscall(number, word(args)...);
#endif
}

inline int open(const char* path, int flags, mode_t mode = 0) {
  return static_cast<int>(call(SYS_openat, AT_FDCWD, path, flags, mode));
}
inline ssize_t read(int fd, void* buf, size_t n) { return call(SYS_read, fd, buf, n); }
inline ssize_t write(int fd, const void* buf, size_t n) { return call(SYS_write, fd, buf, n); }
inline int close(int fd) { return static_cast<int>(call(SYS_close, fd)); }
inline int nanosleep(const struct timespec* ts) { return static_cast<int>(call(SYS_nanosleep, ts, nullptr)); }
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
