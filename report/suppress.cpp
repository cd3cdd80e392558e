// Suppression files: parsing `kind:pattern` lines, matching patterns against frames, counting hits.
#include "report/suppress.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>

namespace fh {

namespace {

std::string_view trim(std::string_view text) {
  const char* space = " \t\r\f\v";
  size_t first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

// Whether `pattern` (only literal characters and '*') matches all of `text`. Backtracks over the last '*' only,
// which is enough: a later '*' can always absorb what an earlier one would have taken.
bool glob_matches(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool frame_matches(const Suppression& rule, const Frame& frame) {
  return suppression_pattern_matches(rule.pattern, frame.function) ||
         suppression_pattern_matches(rule.pattern, frame.file) ||
         suppression_pattern_matches(rule.pattern, frame.module);
}

bool rule_matches(const Suppression& rule, const Hazard& hazard) {
  if (rule.kind != hazard.kind) return false;
  for (const Frame& frame : hazard.stack)
    if (frame_matches(rule, frame)) return true;
  // A CPython program's own frames: `deadlock:app.py`, `possible-deadlock:child_main`.
  for (const PyFrame& frame : hazard.python_stack)
    if (suppression_pattern_matches(rule.pattern, frame.function) || suppression_pattern_matches(rule.pattern, frame.file))
      return true;
  return hazard.site && frame_matches(rule, *hazard.site);
}

// "deadlock, possible-deadlock or unsafe-call": every kind a rule can name, spelled from the model.
std::string known_kinds() {
  const size_t n = std::size(known_hazard_kinds);
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) text += i + 1 == n ? " or " : ", ";
    text += spelling(known_hazard_kinds[i], {});
  }
  return text;
}

}  // namespace

// The sanitizers' TemplateMatch (sanitizer_common/sanitizer_common.cpp): a leading '^' anchors at the start, a
// trailing '$' at the end, otherwise the pattern may match anywhere; '*' is any run; an empty text never
// matches. Unlike TemplateMatch this backtracks, so "a$" also matches "aXa".
bool suppression_pattern_matches(std::string_view pattern, std::string_view text) {
  if (text.empty()) return false;
  bool at_start = !pattern.empty() && pattern.front() == '^';
  if (at_start) pattern.remove_prefix(1);
  bool at_end = !pattern.empty() && pattern.back() == '$';
  if (at_end) pattern.remove_suffix(1);
  std::string glob;
  if (!at_start) glob += '*';
  glob += pattern;
  if (!at_end) glob += '*';
  return glob_matches(glob, text);
}

bool parse_suppressions(std::string_view text, const std::string& file, Suppressions* out, std::string* error) {
  std::vector<Suppression> rules;
  int line_number = 0;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;  // only whole-line comments, as in the sanitizers

    std::string what;
    size_t colon = line.find(':');
    std::string_view kind_word = trim(line.substr(0, colon));
    std::string_view pattern = colon == std::string_view::npos ? std::string_view() : trim(line.substr(colon + 1));
    std::optional<HazardKind> kind = parse_hazard_kind(kind_word);
    if (colon == std::string_view::npos)
      what = "no ':' in \"" + std::string(line) + "\"";
    else if (!kind)
      what = "unknown kind \"" + std::string(kind_word) + "\"";
    else if (pattern.empty())
      what = "empty pattern for " + std::string(kind_word);
    if (!what.empty()) {
      if (error)
        *error = "forkhazard: " + file + ":" + std::to_string(line_number) + ": " + what +
                 ", expected kind:pattern with kind " + known_kinds();
      return false;
    }
    rules.push_back(Suppression{*kind, std::string(pattern), file, line_number, 0});
  }
  out->rules.insert(out->rules.end(), rules.begin(), rules.end());
  return true;
}

bool load_suppressions(const std::string& file, Suppressions* out, std::string* error) {
  std::string text;
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  int failure = fd < 0 ? errno : 0;
  while (failure == 0) {
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failure = errno;  // EISDIR for a directory, which open() accepts
    else text.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0) close(fd);
  if (failure != 0) {
    if (error) *error = "forkhazard: " + file + ": cannot read: " + std::strerror(failure);
    return false;
  }
  return parse_suppressions(text, file, out, error);
}

void apply_suppressions(Suppressions* rules, std::vector<HazardGroup>* groups) {
  std::vector<HazardGroup> kept;
  for (HazardGroup& group : *groups) {
    Suppression* match = nullptr;
    for (Suppression& rule : rules->rules) {
      if (rule_matches(rule, group.hazard)) {
        match = &rule;
        break;
      }
    }
    if (match)
      match->hits += group.occurrences;
    else
      kept.push_back(std::move(group));
  }
  *groups = std::move(kept);
}

std::string format_used_suppressions(const Suppressions& rules) {
  std::string out;
  for (const Suppression& rule : rules.rules) {
    if (rule.hits <= 0) continue;
    if (out.empty()) out = "forkhazard: used suppressions:\n";
    char hits[32];
    std::snprintf(hits, sizeof hits, "%6lld", static_cast<long long>(rule.hits));
    out += std::string(hits) + " " + std::string(spelling(rule.kind, {})) + ":" + rule.pattern + " (" + rule.file +
           ":" + std::to_string(rule.line) + ")\n";
  }
  return out;
}

}  // namespace fh
