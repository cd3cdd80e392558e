// The async-signal-safe toolkit: everything the shim runs in a forked child or at fork is built on this
// (raw write(2) through a stack buffer, number formatting, escaping) and never on stdio or the allocator.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fh {

// Buffered writer to a file descriptor. The buffer lives inside the object (put it on the stack); flush()
// writes with write(2), retrying on EINTR and short writes. errno is left as the caller had it.
class SafeWriter {
 public:
  explicit SafeWriter(int fd) : fd_(fd) {}
  ~SafeWriter() { flush(); }
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
  void flush();

 private:
  int fd_;
  size_t len_ = 0;
  char buf_[2048];
};

size_t safe_strlen(const char* s);
// Copies at most cap-1 bytes and always terminates (cap > 0).
void safe_strcpy(char* dst, const char* src, size_t cap);
bool safe_streq(const char* a, const char* b);
// Parses a decimal integer from [s, s+n); false on anything else.
bool safe_parse_int(const char* s, size_t n, long* out);

}  // namespace fh
