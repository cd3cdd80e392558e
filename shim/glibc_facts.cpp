// The version-dependent facts of the running glibc (see glibc_facts.h).
#include "shim/glibc_facts.h"

#include <gnu/libc-version.h>

#include "symbols/safe_io.h"

namespace fh::glibc_facts {

Facts g_facts;

namespace {
bool at_least(Version v, Version w) { return v.major > w.major || (v.major == w.major && v.minor >= w.minor); }
}  // namespace

Version parse_version(const char* text) {
  Version v;
  long major = 0, minor = 0;
  const char* p = text;
  if (p == nullptr || *p < '0' || *p > '9') return {};
  for (; *p >= '0' && *p <= '9'; p++) major = major * 10 + (*p - '0');
  if (*p++ != '.' || *p < '0' || *p > '9') return {};
  for (; *p >= '0' && *p <= '9'; p++) minor = minor * 10 + (*p - '0');
  if (major > 1000 || minor > 1000) return {};
  v.major = static_cast<int>(major);
  v.minor = static_cast<int>(minor);
  return v;
}

Facts facts_for(Version v) {
  Facts f;
  f.version = v;
  f.known = at_least(v, oldest_known) && at_least(newest_known, v);
  f.lock_words = f.known;
  f.popen_reset_by_fork = at_least(v, Version{2, 41});
  return f;
}

void init(int notice_fd) {
  g_facts = facts_for(parse_version(gnu_get_libc_version()));
  if (g_facts.known || notice_fd < 0) return;
  StackWriter(notice_fd).str("forkhazard: glibc ").str(gnu_get_libc_version())
      .str(" is not one this shim knows (2.35 to 2.41): it reports unsafe calls but judges no lock by its words\n");
}

bool reset_by_fork(Family family) { return family == Family::popen && g_facts.popen_reset_by_fork; }

}  // namespace fh::glibc_facts
