// Suppressions, as the sanitizers have them: a file of `kind:pattern` lines (kind: deadlock, possible-deadlock,
// unsafe-call), `#` comments and blank lines allowed, `*` matching any run of characters. A pattern matches a
// hazard when it matches the function, the source file or the module path of any frame of the hazard's stack
// (or its call site). Like the sanitizers' patterns it matches anywhere in the text unless anchored with ^ or $.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "report/merge.h"
#include "report/model.h"

namespace fh {

struct Suppression {
  HazardKind kind = HazardKind::deadlock;
  std::string pattern;
  std::string file;   // where it was read, for messages
  int line = 0;
  int64_t hits = 0;   // occurrences suppressed
};

struct Suppressions {
  std::vector<Suppression> rules;
};

// Parses `text` (read from `file`); on the first malformed line returns false with
// "forkhazard: FILE:LINE: <what is wrong>" in *error. Rules are appended to *out.
bool parse_suppressions(std::string_view text, const std::string& file, Suppressions* out, std::string* error);

// Reads and parses a file; an unreadable file is an error "forkhazard: FILE: cannot read: <strerror>".
bool load_suppressions(const std::string& file, Suppressions* out, std::string* error);

// Whether `pattern` (with * wildcards, ^/$ anchors) matches `text`.
bool suppression_pattern_matches(std::string_view pattern, std::string_view text);

// Removes the groups a rule matches (the first matching rule takes the hit: += occurrences).
void apply_suppressions(Suppressions* rules, std::vector<HazardGroup>* groups);

// "forkhazard: used suppressions:\n     3 deadlock:lock_cache (supp.txt:2)\n"; empty when none was used.
std::string format_used_suppressions(const Suppressions& rules);

}  // namespace fh
