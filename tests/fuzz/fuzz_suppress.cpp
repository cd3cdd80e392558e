// libFuzzer target: report/suppress.cpp's parse_suppressions over arbitrary text, then every rule matched
// against names taken from the same input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "report/suppress.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fh::Suppressions rules;
  std::string error;
  bool ok = fh::parse_suppressions(text, "fuzz.supp", &rules, &error);
  if (!ok && error.rfind("forkhazard: fuzz.supp:", 0) != 0) std::abort();
  if (ok && !error.empty()) std::abort();
  // Patterns against a few texts: the input's lines (including empty ones) and fixed names.
  static const std::string_view names[] = {"", "lock_cache", "main", "/usr/lib/libc.so.6", "^$", "**"};
  size_t matched = 0;
  for (const fh::Suppression& rule : rules.rules) {
    for (std::string_view name : names) matched += fh::suppression_pattern_matches(rule.pattern, name);
    if (matched > 1000) break;
  }
  // The pattern matcher on its own: first line pattern, rest text.
  size_t newline = text.find('\n');
  if (newline != std::string_view::npos && size < 4096)
    (void)fh::suppression_pattern_matches(text.substr(0, newline), text.substr(newline + 1));
  // Hazards of every kind whose frames carry those names: apply counts the hits, then the summary prints them.
  std::vector<fh::HazardGroup> groups;
  for (fh::HazardKind kind : fh::known_hazard_kinds) {
    for (std::string_view name : names) {
      fh::HazardGroup& group = groups.emplace_back();
      group.hazard.kind = kind;
      fh::Frame& frame = group.hazard.stack.emplace_back();
      frame.function = std::string(name);
      frame.file = std::string(name);
      group.hazard.site.emplace().module = std::string(name);
    }
  }
  if (rules.rules.size() <= 64) fh::apply_suppressions(&rules, &groups);
  (void)fh::format_used_suppressions(rules);
  return 0;
}
