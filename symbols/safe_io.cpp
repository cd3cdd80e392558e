// Async-signal-safe output and string helpers for the shim (see safe_io.h).
#include "symbols/safe_io.h"

#include <cerrno>
#include <unistd.h>

namespace fh {

SafeWriter& SafeWriter::str(const char* s, size_t n) {
  while (n > 0) {
    if (len_ == cap_) flush();
    size_t room = cap_ - len_;
    size_t take = n < room ? n : room;
    for (size_t i = 0; i < take; i++) buf_[len_ + i] = s[i];
    len_ += take;
    s += take;
    n -= take;
  }
  return *this;
}

SafeWriter& SafeWriter::str(const char* s) { return str(s, safe_strlen(s)); }

SafeWriter& SafeWriter::chr(char c) { return str(&c, 1); }

SafeWriter& SafeWriter::udec(uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return str(tmp + i, sizeof tmp - i);
}

SafeWriter& SafeWriter::dec(int64_t v) {
  if (v < 0) {
    chr('-');
    return udec(static_cast<uint64_t>(-(v + 1)) + 1);
  }
  return udec(static_cast<uint64_t>(v));
}

SafeWriter& SafeWriter::hex(uint64_t v) {
  char tmp[18];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  tmp[--i] = 'x';
  tmp[--i] = '0';
  return str(tmp + i, sizeof tmp - i);
}

SafeWriter& SafeWriter::escaped(const char* s, size_t max_len) {
  if (s == nullptr || *s == '\0') return chr('-');  // an empty value would read as a missing one
  for (size_t i = 0; i < max_len && s[i] != '\0'; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x21 || c > 0x7e || c == '%' || c == ',' || c == '=' || (i == 0 && c == '-')) {
      char esc[3] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};
      str(esc, 3);
    } else {
      chr(static_cast<char>(c));
    }
  }
  return *this;
}

SafeWriter& SafeWriter::pcs(const uintptr_t* pcs, size_t n) {
  if (n == 0) return chr('-');
  for (size_t i = 0; i < n; i++) {
    if (i != 0) chr(',');
    hex(pcs[i]);
  }
  return *this;
}

void SafeWriter::flush() {
  int saved = errno;
  size_t off = 0;
  while (off < len_) {
    ssize_t n = sys::write(fd_, buf_ + off, len_ - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to report a failed report; drop it rather than spin
    off += static_cast<size_t>(n);
  }
  len_ = 0;
  errno = saved;
}

size_t safe_strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

void safe_strcpy(char* dst, const char* src, size_t cap) {
  size_t i = 0;
  for (; i + 1 < cap && src[i] != '\0'; i++) dst[i] = src[i];
  dst[i] = '\0';
}

bool safe_streq(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) a++, b++;
  return *a == *b;
}

bool safe_parse_int(const char* s, size_t n, long* out) {
  if (n == 0) return false;
  bool neg = s[0] == '-';
  size_t i = neg ? 1 : 0;
  if (i == n) return false;
  long v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || v > 100000000000L) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

}  // namespace fh
