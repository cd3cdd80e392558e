// Unit tests of report/suppress: the file format, pattern matching, applying rules and counting their hits.
#include <criterion/criterion.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "report/suppress.h"
#include "tests/expect_text.h"


namespace {

fh::Frame frame(const std::string& module, const std::string& function, const std::string& file) {
  fh::Frame f;
  f.pc = 0x5000;
  f.module = module;
  f.offset = 0x1000;
  f.function = function;
  f.file = file;
  f.line = file.empty() ? 0 : 12;
  return f;
}

fh::HazardGroup group(fh::HazardKind kind, fh::Stack stack, int64_t occurrences = 1) {
  fh::HazardGroup g;
  g.hazard.kind = kind;
  g.hazard.call = kind == fh::HazardKind::deadlock ? "pthread_mutex_lock" : "malloc";
  g.hazard.stack = std::move(stack);
  g.occurrences = occurrences;
  g.pids = {42};
  return g;
}

// The deadlock of examples/mutex_held_by_worker, symbolized.
fh::HazardGroup cache_deadlock(int64_t occurrences = 1) {
  return group(fh::HazardKind::deadlock,
               {frame("/lib/x86_64-linux-gnu/libforkhazard.so", "pthread_mutex_lock", ""),
                frame("/home/me/app/build/server", "lock_cache", "/home/me/app/src/cache.c"),
                frame("/home/me/app/build/server", "main", "/home/me/app/src/main.c")},
               occurrences);
}

fh::HazardGroup malloc_in_child(int64_t occurrences = 1) {
  return group(fh::HazardKind::unsafe_call,
               {frame("/home/me/app/build/libutil.so", "make_buffer", "/home/me/app/src/util.c"),
                frame("/home/me/app/build/server", "child_main", "/home/me/app/src/child.c")},
               occurrences);
}

fh::Suppressions parsed(const std::string& text) {
  fh::Suppressions rules;
  std::string error;
  bool ok = fh::parse_suppressions(text, "supp.txt", &rules, &error);
  cr_assert(ok, "unexpected parse error: %s", error.c_str());
  return rules;
}

std::string parse_error(const std::string& text) {
  fh::Suppressions rules;
  std::string error;
  cr_assert_not(fh::parse_suppressions(text, "supp.txt", &rules, &error), "accepted:\n%s", text.c_str());
  cr_expect(rules.rules.empty(), "a file with an error adds no rules");
  return error;
}

// How many of `groups` survive the rules of `text`.
size_t remaining(const std::string& text, std::vector<fh::HazardGroup> groups) {
  fh::Suppressions rules = parsed(text);
  fh::apply_suppressions(&rules, &groups);
  return groups.size();
}

}  // namespace

Test(suppress, parses_kinds_comments_and_blank_lines) {
  fh::Suppressions rules = parsed(
      "# forkhazard suppressions\n"
      "\n"
      "deadlock:lock_cache\n"
      "   \t\n"
      "  # indented comment\n"
      "  unsafe-call : ^make_buffer$  \r\n"
      "deadlock:ns::Cache::lock*\n");
  cr_assert_eq(rules.rules.size(), 3u);
  cr_expect(rules.rules[0].kind == fh::HazardKind::deadlock);
  EXPECT_TEXT(rules.rules[0].pattern, "lock_cache");
  EXPECT_TEXT(rules.rules[0].file, "supp.txt");
  cr_expect_eq(rules.rules[0].line, 3);
  cr_expect_eq(rules.rules[0].hits, 0);
  cr_expect(rules.rules[1].kind == fh::HazardKind::unsafe_call);
  EXPECT_TEXT(rules.rules[1].pattern, "^make_buffer$");
  cr_expect_eq(rules.rules[1].line, 6);
  EXPECT_TEXT(rules.rules[2].pattern, "ns::Cache::lock*");  // split at the first ':' only
  cr_expect_eq(rules.rules[2].line, 7);
}

Test(suppress, appends_to_existing_rules) {
  fh::Suppressions rules = parsed("deadlock:a\n");
  std::string error;
  cr_assert(fh::parse_suppressions("unsafe-call:b", "more.txt", &rules, &error), "%s", error.c_str());
  cr_assert_eq(rules.rules.size(), 2u);
  EXPECT_TEXT(rules.rules[1].pattern, "b");
  EXPECT_TEXT(rules.rules[1].file, "more.txt");
  cr_expect_eq(rules.rules[1].line, 1, "a last line without newline counts");
}

Test(suppress, errors_name_the_line) {
  const std::string expected = ", expected kind:pattern with kind deadlock, possible-deadlock or unsafe-call";
  EXPECT_TEXT(parse_error("deadlock:a\n# ok\nlock_cache\n"),
              "forkhazard: supp.txt:3: no ':' in \"lock_cache\"" + expected);
  EXPECT_TEXT(parse_error("\nrace:lock_cache\n"), "forkhazard: supp.txt:2: unknown kind \"race\"" + expected);
  EXPECT_TEXT(parse_error("unsafe-call:   \n"), "forkhazard: supp.txt:1: empty pattern for unsafe-call" + expected);
  EXPECT_TEXT(parse_error("Deadlock:x\n"), "forkhazard: supp.txt:1: unknown kind \"Deadlock\"" + expected);
  EXPECT_TEXT(parse_error(":x\n"), "forkhazard: supp.txt:1: unknown kind \"\"" + expected);
  // Only whole lines are comments, as in the sanitizers: a trailing '#' is part of the pattern.
  fh::Suppressions rules = parsed("deadlock:f # why\n");
  EXPECT_TEXT(rules.rules[0].pattern, "f # why");
}

Test(suppress, load_reads_a_file_or_says_why_not) {
  char dir_pattern[] = "/tmp/forkhazard-supp.XXXXXX";
  const char* dir = mkdtemp(dir_pattern);
  cr_assert(dir != nullptr);
  std::string path = std::string(dir) + "/supp.txt";
  std::ofstream(path) << "# comment\nunsafe-call:malloc\n";
  fh::Suppressions rules;
  std::string error;
  cr_assert(fh::load_suppressions(path, &rules, &error), "%s", error.c_str());
  cr_assert_eq(rules.rules.size(), 1u);
  EXPECT_TEXT(rules.rules[0].file, path);
  cr_expect_eq(rules.rules[0].line, 2);

  std::string missing = std::string(dir) + "/missing.txt";
  cr_expect_not(fh::load_suppressions(missing, &rules, &error));
  EXPECT_TEXT(error, "forkhazard: " + missing + ": cannot read: No such file or directory");
  cr_expect_not(fh::load_suppressions(dir, &rules, &error));
  EXPECT_TEXT(error, "forkhazard: " + std::string(dir) + ": cannot read: Is a directory");

  std::ofstream(path) << "deadlock:ok\nbogus\n";
  cr_expect_not(fh::load_suppressions(path, &rules, &error));
  EXPECT_TEXT(error, "forkhazard: " + path +
                         ":2: no ':' in \"bogus\", expected kind:pattern with kind deadlock, possible-deadlock or unsafe-call");
  cr_expect_eq(rules.rules.size(), 1u);
  unlink(path.c_str());
  rmdir(dir);
}

Test(suppress, pattern_matching) {
  using fh::suppression_pattern_matches;
  // Anywhere in the text unless anchored.
  cr_expect(suppression_pattern_matches("cache", "lock_cache_entry"));
  cr_expect_not(suppression_pattern_matches("cache", "lock_cach"));
  cr_expect(suppression_pattern_matches("^lock", "lock_cache"));
  cr_expect_not(suppression_pattern_matches("^cache", "lock_cache"));
  cr_expect(suppression_pattern_matches("cache$", "lock_cache"));
  cr_expect_not(suppression_pattern_matches("lock$", "lock_cache"));
  cr_expect(suppression_pattern_matches("^lock_cache$", "lock_cache"));
  cr_expect_not(suppression_pattern_matches("^lock_cache$", "lock_cache2"));
  cr_expect_not(suppression_pattern_matches("^lock_cache$", "my_lock_cache"));
  // '*' is any run, also empty, also across '/' and ':'.
  cr_expect(suppression_pattern_matches("lock*entry", "lock_cache_entry"));
  cr_expect(suppression_pattern_matches("lock*entry", "lockentry"));
  cr_expect_not(suppression_pattern_matches("lock*entry", "entry_lock"));
  cr_expect(suppression_pattern_matches("^/usr/lib/*/libssl.so*", "/usr/lib/x86_64-linux-gnu/libssl.so.3"));
  cr_expect(suppression_pattern_matches("ns::*::lock", "ns::Cache::lock"));
  cr_expect(suppression_pattern_matches("^*cache$", "lock_cache"));
  cr_expect(suppression_pattern_matches("*", "x"));
  // A later occurrence of the anchored tail still matches (the first "a" is not the last).
  cr_expect(suppression_pattern_matches("a$", "aXa"));
  cr_expect(suppression_pattern_matches("a*b$", "ab_ab"));
  cr_expect_not(suppression_pattern_matches("a*b$", "ab_a"));
  // An empty text (an unknown function) matches nothing, as in the sanitizers.
  cr_expect_not(suppression_pattern_matches("*", ""));
  cr_expect_not(suppression_pattern_matches("^", ""));
}

Test(suppress, matches_function_file_or_module_of_any_frame) {
  cr_expect_eq(remaining("deadlock:lock_cache", {cache_deadlock()}), 0u, "function of an outer frame");
  cr_expect_eq(remaining("deadlock:^main$", {cache_deadlock()}), 0u, "outermost frame");
  cr_expect_eq(remaining("deadlock:src/cache.c$", {cache_deadlock()}), 0u, "source file");
  cr_expect_eq(remaining("deadlock:/build/server", {cache_deadlock()}), 0u, "module path");
  cr_expect_eq(remaining("deadlock:libforkhazard", {cache_deadlock()}), 0u, "module of the innermost frame");
  cr_expect_eq(remaining("deadlock:^lock_cache.c", {cache_deadlock()}), 1u, "anchored at no text's start");
  cr_expect_eq(remaining("deadlock:unlock_cache", {cache_deadlock()}), 1u, "nothing named so");
  cr_expect_eq(remaining("deadlock:nothing\ndeadlock:lock.cache", {cache_deadlock()}), 1u, "'.' is literal");
}

Test(suppress, matches_the_call_site) {
  fh::HazardGroup g = group(fh::HazardKind::unsafe_call, {});
  g.hazard.site = frame("/opt/app", "spawn_helper", "src/spawn.c");
  cr_expect_eq(remaining("unsafe-call:spawn_helper", {g}), 0u);
  cr_expect_eq(remaining("unsafe-call:src/spawn.c", {g}), 0u);
  cr_expect_eq(remaining("unsafe-call:other", {g}), 1u);
}

Test(suppress, kind_must_match) {
  cr_expect_eq(remaining("unsafe-call:lock_cache", {cache_deadlock()}), 1u);
  cr_expect_eq(remaining("deadlock:make_buffer", {malloc_in_child()}), 1u);
  cr_expect_eq(remaining("unsafe-call:make_buffer", {malloc_in_child()}), 0u);
  fh::HazardGroup future = cache_deadlock();
  future.hazard.kind = fh::HazardKind::other;
  future.hazard.kind_spelling = "leak";
  cr_expect_eq(remaining("deadlock:lock_cache\nunsafe-call:lock_cache", {future}), 1u,
               "a kind unknown to this forkhazard cannot be suppressed by the known kinds");
}

Test(suppress, possible_deadlocks_have_their_own_kind) {
  fh::Suppressions rules = parsed("possible-deadlock:log_message\n");
  cr_assert_eq(rules.rules.size(), 1u);
  cr_expect(rules.rules[0].kind == fh::HazardKind::possible_deadlock);
  EXPECT_TEXT(rules.rules[0].pattern, "log_message");

  fh::HazardGroup predicted = cache_deadlock(2);
  predicted.hazard.kind = fh::HazardKind::possible_deadlock;
  cr_expect_eq(remaining("possible-deadlock:lock_cache", {predicted}), 0u, "function of a frame");
  cr_expect_eq(remaining("possible-deadlock:/build/server", {predicted}), 0u, "module path");
  cr_expect_eq(remaining("possible-deadlock:^main$", {predicted}), 0u);
  cr_expect_eq(remaining("possible-deadlock:unlock_cache", {predicted}), 1u);
  cr_expect_eq(remaining("deadlock:lock_cache", {predicted}), 1u, "a deadlock rule leaves a prediction alone");
  cr_expect_eq(remaining("possible-deadlock:lock_cache", {cache_deadlock()}), 1u,
               "and a prediction rule leaves a deadlock alone");

  fh::Suppressions counted = parsed("deadlock:lock_cache\npossible-deadlock:lock_cache\n");
  std::vector<fh::HazardGroup> groups = {cache_deadlock(1), predicted};
  fh::apply_suppressions(&counted, &groups);
  cr_expect(groups.empty());
  EXPECT_TEXT(fh::format_used_suppressions(counted),
              "forkhazard: used suppressions:\n"
              "     1 deadlock:lock_cache (supp.txt:1)\n"
              "     2 possible-deadlock:lock_cache (supp.txt:2)\n");
}

Test(suppress, removes_exactly_the_matched_groups_and_counts_occurrences) {
  fh::Suppressions rules = parsed(
      "unsafe-call:nothing_here\n"
      "deadlock:lock_cache\n"
      "deadlock:main\n"            // matches too, but the rule before takes the hit
      "unsafe-call:libutil.so\n");
  std::vector<fh::HazardGroup> groups = {cache_deadlock(3), malloc_in_child(2)};
  groups.push_back(group(fh::HazardKind::deadlock, {frame("/opt/other", "other_lock", "other.c")}, 5));
  fh::apply_suppressions(&rules, &groups);
  cr_assert_eq(groups.size(), 1u);
  EXPECT_TEXT(groups[0].hazard.stack[0].function, "other_lock");
  cr_expect_eq(groups[0].occurrences, 5, "a kept group is unchanged");
  cr_expect_eq(rules.rules[0].hits, 0);
  cr_expect_eq(rules.rules[1].hits, 3, "hits count occurrences, not groups");
  cr_expect_eq(rules.rules[2].hits, 0, "the first matching rule takes the hit");
  cr_expect_eq(rules.rules[3].hits, 2);

  // Applied again (another run's hazards), hits add up.
  std::vector<fh::HazardGroup> more = {cache_deadlock(1)};
  fh::apply_suppressions(&rules, &more);
  cr_expect(more.empty());
  cr_expect_eq(rules.rules[1].hits, 4);

  EXPECT_TEXT(fh::format_used_suppressions(rules),
              "forkhazard: used suppressions:\n"
              "     4 deadlock:lock_cache (supp.txt:2)\n"
              "     2 unsafe-call:libutil.so (supp.txt:4)\n");
}

Test(suppress, used_listing_is_empty_when_nothing_was_used) {
  fh::Suppressions rules = parsed("deadlock:lock_cache\n");
  EXPECT_TEXT(fh::format_used_suppressions(rules), "");
  std::vector<fh::HazardGroup> groups = {malloc_in_child()};
  fh::apply_suppressions(&rules, &groups);
  cr_expect_eq(groups.size(), 1u);
  EXPECT_TEXT(fh::format_used_suppressions(rules), "");
  EXPECT_TEXT(fh::format_used_suppressions(fh::Suppressions{}), "");
}

Test(suppress, used_listing_aligns_large_counts) {
  fh::Suppressions rules = parsed("deadlock:a\n");
  rules.rules[0].hits = 1234567;
  EXPECT_TEXT(fh::format_used_suppressions(rules),
              "forkhazard: used suppressions:\n1234567 deadlock:a (supp.txt:1)\n");
}

// A CPython program's own frames match too (its C stack is the interpreter's): by file or by function.
Test(suppress, matches_python_frames) {
  fh::HazardGroup g = group(fh::HazardKind::deadlock, {frame("/usr/bin/python3.11", "PyThread_acquire_lock_timed", "")});
  g.hazard.python_stack = {{"/srv/app/jobs.py", 30, "child_main"}};
  cr_expect_eq(remaining("deadlock:jobs.py", {g}), 0u, "a Python file");
  cr_expect_eq(remaining("deadlock:^child_main$", {g}), 0u, "a Python function");
  cr_expect_eq(remaining("deadlock:other.py", {g}), 1u);
}
