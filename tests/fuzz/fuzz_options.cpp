// libFuzzer target: shim/options.cpp's options_parse over arbitrary text, into an Options guarded by canaries.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shim/options.h"

namespace {

// The parser writes only the Options fields: a byte beyond them on either side is a bug ASan cannot see
// (it is inside this struct), so the canaries check it.
struct Guarded {
  unsigned char before[64];
  fh::Options options;
  unsigned char after[64];
};

int dev_null() {
  static int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // options_parse takes a NUL-terminated string: the text up to the first NUL, as getenv would give it.
  std::string text(reinterpret_cast<const char*>(data), size);
  Guarded g;
  std::memset(&g, 0xa5, sizeof g);
  fh::options_set_defaults(&g.options);
  int problems = fh::options_parse(text.c_str(), &g.options, dev_null());
  for (unsigned char c : g.before)
    if (c != 0xa5) std::abort();
  for (unsigned char c : g.after)
    if (c != 0xa5) std::abort();
  if (problems < 0) std::abort();
  // Every string option stays terminated inside its field; every number inside its table range.
#define FH_OPTION_STRING(name, def, desc) \
  if (std::memchr(g.options.name, '\0', sizeof g.options.name) == nullptr) std::abort();
#define FH_OPTION_CHOICE(name, def, choices, desc) \
  if (g.options.name < 0) std::abort();
#define FH_OPTION_INT(name, def, lo, hi, desc) \
  if (g.options.name < (lo) || g.options.name > (hi)) std::abort();
#define FH_OPTION_BOOL(name, def, desc)
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL
  return 0;
}
