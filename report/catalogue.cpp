// The catalogue listing (see catalogue.h).
#include "report/catalogue.h"

#include <cstdio>

#include "shim/unsafe.h"

namespace fh {

namespace {

struct Row {
  const char* name;
  const char* cls;
  const char* family;
  const char* why;
  Family family_index;
};

#define FH_UNSAFE(name, cls, family, why) {#name, #cls, #family, why, Family::family},
const Row rows[] = {
#include "shim/interpose.def"
};

std::string dashes(const char* word) {
  std::string s(word);
  for (char& c : s)
    if (c == '_') c = '-';
  return s;
}

}  // namespace

std::string format_catalogue() {
  std::string out =
      "Calls forkhazard reports in the child of a multithreaded fork() before exec (unsafe-call), once per call\n"
      "site. hang-prone: takes a glibc lock that fork() does not reset (a deadlock when a vanished thread was\n"
      "inside the same family at fork); non-portable: the allocator and stdio, undefined by POSIX, kept\n"
      "working by glibc (FORKHAZARD_OPTIONS=mode=glibc drops them).\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-18s %-13s %-8s %s\n", "function", "class", "family", "why");
  out += line;
  for (const Row& r : rows) {
    std::snprintf(line, sizeof line, "%-18s %-13s %-8s %s\n", r.name, dashes(r.cls).c_str(),
                  std::string(r.family) == "none" ? "-" : r.family, r.why);
    out += line;
  }
  char total[64];
  std::snprintf(total, sizeof total, "\n%zu functions\n", sizeof rows / sizeof rows[0]);
  out += total;
  return out;
}

std::optional<CallFamily> catalogued_family(std::string_view call) {
  for (const Row& r : rows)
    if (call == r.name) return CallFamily{r.family, static_cast<int>(r.family_index)};
  return std::nullopt;
}

std::string family_calls(std::string_view family) {
  std::string calls;
  for (const Row& r : rows) {
    if (family != r.family) continue;
    if (!calls.empty()) calls += '/';
    calls += r.name;
  }
  return calls;
}

}  // namespace fh
