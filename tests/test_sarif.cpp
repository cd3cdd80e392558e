// Unit tests of report/sarif: the SARIF 2.1.0 shape code-scanning viewers need, locations in the user's code,
// code flows, fingerprints, escaping; golden files for a raw run and for a symbolized model.
#include <criterion/criterion.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "report/merge.h"
#include "report/reader.h"
#include "report/resolve.h"
#include "report/sarif.h"
#include "tests/e2e_support.h"

// Criterion keeps the pointers it compares: the strings must outlive the assertion, not be temporaries.
#define EXPECT_TEXT(actual, expected, ...)                                                   \
  do {                                                                                       \
    const std::string actual_text = (actual);                                                \
    const std::string expected_text = (expected);                                            \
    cr_expect_str_eq(actual_text.c_str(), expected_text.c_str() __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)
#define EXPECT_OTHER_TEXT(actual, other)                        \
  do {                                                          \
    const std::string actual_text = (actual);                   \
    const std::string other_text = (other);                     \
    cr_expect_str_neq(actual_text.c_str(), other_text.c_str()); \
  } while (0)

using e2e::array_of;
using e2e::integer_of;
using e2e::Json;
using e2e::member;
using e2e::string_of;

namespace {

const char app[] = "/work/app/build/server";
const char libc[] = "/lib/x86_64-linux-gnu/libc.so.6";
const char strip[] = "/work/app/";

fh::Frame frame(const std::string& module, uint64_t offset, const std::string& function, const std::string& file,
                int line, bool inlined = false) {
  fh::Frame f;
  f.pc = 0x555500000000 + offset;
  f.module = module;
  f.offset = offset;
  f.function = function;
  f.file = file;
  f.line = line;
  f.inlined = inlined;
  return f;
}

// A symbolized deadlock as a real run gives it: glibc's frame first, a libstdc++ header inlined into the user's
// function, main, glibc's start code.
fh::HazardGroup cache_deadlock() {
  fh::Hazard h;
  h.kind = fh::HazardKind::deadlock;
  h.pid = 11;
  h.ppid = 10;
  h.call = "pthread_mutex_lock";
  h.lock = fh::LockRef{0x1000, fh::LockType::mutex, "", true};
  h.owner = fh::Owner{7, "worker", fh::Relation::vanished, ""};
  h.stack = {
      frame(libc, 0x97e2d, "___pthread_mutex_lock", "./nptl/pthread_mutex_lock.c", 93),
      frame(app, 0x1250, "std::mutex::lock()", "/usr/include/c++/12/bits/std_mutex.h", 100, true),
      frame(app, 0x1250, "lock_cache()", "/work/app/src/cache.cpp", 42),
      frame(app, 0x1400, "main", "/work/app/src/main.cpp", 10),
      frame(libc, 0x271ca, "__libc_start_call_main", "../sysdeps/nptl/libc_start_call_main.h", 58),
  };
  h.acquired_at = {frame(app, 0x1100, "worker_loop()", "/work/app/src/worker.cpp", 17),
                   frame(libc, 0x94ac3, "start_thread", "./nptl/pthread_create.c", 442)};
  fh::ForkContext fork;
  fork.parent_pid = 10;
  fork.forking_tid = 10;
  fork.stack = {frame(libc, 0xea6a0, "fork", "./posix/fork.c", 49),
                frame(app, 0x1380, "spawn_child()", "/work/app/src/server.cpp", 88)};
  h.fork = fork;
  fh::HazardGroup g;
  g.hazard = h;
  g.occurrences = 2;
  g.pids = {11, 12};
  return g;
}

// An unsafe call in a vendored library outside the source root.
fh::HazardGroup malloc_in_vendor() {
  fh::Hazard h;
  h.kind = fh::HazardKind::unsafe_call;
  h.pid = 13;
  h.ppid = 10;
  h.call = "malloc";
  h.klass = fh::CallClass::non_portable;
  h.why = "allocates";
  h.count = 3;
  h.site = frame("/opt/vendor/libutil.so", 0x5a0, "make_buffer", "/opt/vendor/util.c", 5);
  h.stack = {*h.site, frame(app, 0x1400, "main", "/work/app/src/main.cpp", 12)};
  fh::HazardGroup g;
  g.hazard = h;
  g.pids = {13};
  return g;
}

// A deadlock in a program without debug information: only modules.
fh::HazardGroup stripped_deadlock() {
  fh::HazardGroup g = cache_deadlock();
  for (fh::Frame& f : g.hazard.stack) {
    f.file.clear();
    f.line = 0;
  }
  g.hazard.stack.erase(g.hazard.stack.begin() + 1);  // no debug information, no inlined frames
  g.hazard.acquired_at.clear();
  g.hazard.fork.reset();
  g.occurrences = 1;
  g.pids = {14};
  return g;
}

Json parsed(const std::string& sarif) {
  std::string error;
  std::optional<Json> json = e2e::parse_json(sarif, &error);
  cr_assert(json.has_value(), "SARIF output is not JSON (%s):\n%s", error.c_str(), sarif.c_str());
  return *json;
}

const std::vector<Json>& results_of(const Json& sarif) {
  return array_of(member(&array_of(sarif.get("runs"))[0], "results"));
}

const Json* artifact_of(const Json* location) {
  return member(member(location, "physicalLocation"), "artifactLocation");
}

// Writes `actual` over the golden file when FORKHAZARD_UPDATE_GOLDEN=1 (then check the diff by eye), otherwise
// compares byte for byte.
void expect_golden(const std::string& actual, const std::string& path) {
  const char* update = std::getenv("FORKHAZARD_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  cr_assert(e2e::file_exists(path), "%s is missing (cwd must be the project root)", path.c_str());
  std::string expected = e2e::read_file(path);
  if (actual != expected) {
    std::string actual_path = "/tmp/forkhazard-" + path.substr(path.rfind('/') + 1);
    std::ofstream(actual_path, std::ios::binary) << actual;
    cr_assert_fail("output differs from %s: see `diff %s %s`; FORKHAZARD_UPDATE_GOLDEN=1 rewrites it", path.c_str(),
                   path.c_str(), actual_path.c_str());
  }
}

}  // namespace

Test(sarif, has_the_sarif_2_1_0_shape) {
  Json sarif = parsed(fh::to_sarif({cache_deadlock(), malloc_in_vendor(), stripped_deadlock()}, strip));
  EXPECT_TEXT(string_of(sarif.get("version")), "2.1.0");
  EXPECT_TEXT(string_of(sarif.get("$schema")), "https://json.schemastore.org/sarif-2.1.0.json");
  const std::vector<Json>& runs = array_of(sarif.get("runs"));
  cr_assert_eq(runs.size(), 1u);
  const Json* driver = member(member(&runs[0], "tool"), "driver");
  EXPECT_TEXT(string_of(member(driver, "name")), "forkhazard");
  cr_expect(!string_of(member(driver, "version")).empty());
  cr_expect_null(member(driver, "informationUri"), "no made-up URI");
  const std::vector<Json>& rules = array_of(member(driver, "rules"));
  cr_assert_eq(rules.size(), 3u, "one rule per hazard kind");
  EXPECT_TEXT(string_of(rules[0].get("id")), "deadlock");
  EXPECT_TEXT(string_of(rules[1].get("id")), "unsafe-call");
  EXPECT_TEXT(string_of(rules[2].get("id")), "possible-deadlock");
  const char* levels[] = {"error", "warning", "warning"};
  for (size_t i = 0; i < rules.size(); ++i) {
    cr_expect(!string_of(rules[i].get("name")).empty());
    for (const char* text : {"shortDescription", "fullDescription", "help"})
      cr_expect(!string_of(member(rules[i].get(text), "text")).empty(), "rule %zu: no %s.text", i, text);
    EXPECT_TEXT(string_of(member(rules[i].get("defaultConfiguration"), "level")), levels[i]);
  }
  cr_expect(e2e::contains(string_of(member(rules[0].get("help"), "text")), "pthread_atfork"));
  cr_expect(e2e::contains(string_of(member(rules[1].get("help"), "text")), "_exit"));
  cr_expect(e2e::contains(string_of(member(rules[1].get("help"), "text")), "posix_spawn"));
  cr_expect(e2e::contains(string_of(member(rules[2].get("help"), "text")), "pthread_atfork"));
  cr_expect_not_null(member(member(member(&runs[0], "originalUriBaseIds"), "%SRCROOT%"), "description"));

  const std::vector<Json>& results = results_of(sarif);
  cr_assert_eq(results.size(), 3u, "one result per merged hazard");
  // Each result has its hazard's level: malloc is non-portable, a note below its rule's default warning.
  const char* result_levels[] = {"error", "note", "error"};
  for (size_t r = 0; r < results.size(); ++r) {
    const Json& result = results[r];
    long long index = integer_of(result.get("ruleIndex"));
    cr_assert(index >= 0 && index < static_cast<long long>(rules.size()), "ruleIndex %lld", index);
    EXPECT_TEXT(string_of(result.get("ruleId")), string_of(rules[index].get("id")));
    EXPECT_TEXT(string_of(result.get("level")), result_levels[r]);
    cr_expect(!string_of(member(result.get("message"), "text")).empty());
    const std::vector<Json>& locations = array_of(result.get("locations"));
    cr_assert_eq(locations.size(), 1u);
    cr_expect(!string_of(member(artifact_of(&locations[0]), "uri")).empty());
    std::string fingerprint = string_of(member(result.get("partialFingerprints"), "forkhazardSignature/v1"));
    cr_expect_eq(fingerprint.size(), 16u, "fingerprint %s", fingerprint.c_str());
    cr_expect_eq(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  EXPECT_TEXT(string_of(results[0].get("ruleId")), "deadlock");
  EXPECT_TEXT(string_of(results[1].get("ruleId")), "unsafe-call");
}

Test(sarif, deadlock_is_located_at_the_innermost_user_frame) {
  Json sarif = parsed(fh::to_sarif({cache_deadlock()}, strip));
  const Json& result = results_of(sarif).at(0);
  const Json* location = &array_of(result.get("locations")).at(0);
  // Not glibc's ./nptl frame, not the inlined /usr/include header frame: the user's lock_cache().
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "src/cache.cpp");
  EXPECT_TEXT(string_of(member(artifact_of(location), "uriBaseId")), "%SRCROOT%");
  cr_expect_eq(integer_of(member(member(member(location, "physicalLocation"), "region"), "startLine")), 42);
  EXPECT_TEXT(string_of(member(&array_of(member(location, "logicalLocations")).at(0), "fullyQualifiedName")),
              "lock_cache()");
  EXPECT_TEXT(string_of(member(result.get("message"), "text")),
              "pthread_mutex_lock(0x1000) would block forever: the mutex is held by thread 7 \"worker\", which "
              "vanished at fork() (2 occurrences in processes 11, 12).");
}

Test(sarif, relative_glibc_sources_are_not_user_code) {
  fh::HazardGroup g = cache_deadlock();
  g.hazard.stack.erase(g.hazard.stack.begin(), g.hazard.stack.begin() + 3);  // main, then ../sysdeps
  std::swap(g.hazard.stack[0], g.hazard.stack[1]);                           // ../sysdeps in front of main
  Json sarif = parsed(fh::to_sarif({g}, strip));
  const Json* location = &array_of(results_of(sarif).at(0).get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "src/main.cpp");
  cr_expect_eq(integer_of(member(member(member(location, "physicalLocation"), "region"), "startLine")), 10);
}

Test(sarif, falls_back_to_any_source_then_to_the_module) {
  fh::HazardGroup only_glibc = cache_deadlock();
  only_glibc.hazard.stack = {only_glibc.hazard.stack[0], only_glibc.hazard.stack[4]};
  Json sarif = parsed(fh::to_sarif({only_glibc, stripped_deadlock()}, strip));
  const Json* first = &array_of(results_of(sarif).at(0).get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(first), "uri")), "./nptl/pthread_mutex_lock.c");
  cr_expect_eq(integer_of(member(member(member(first, "physicalLocation"), "region"), "startLine")), 93);

  // Without source, the program's own module rather than libc's in front of it.
  const Json* module = &array_of(results_of(sarif).at(1).get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(module), "uri")), "file:///work/app/build/server");
  cr_expect_null(member(artifact_of(module), "uriBaseId"));
  cr_expect_null(member(member(module, "physicalLocation"), "region"), "a module has no line");
}

Test(sarif, absolute_paths_outside_the_source_root_are_file_uris) {
  Json sarif = parsed(fh::to_sarif({malloc_in_vendor()}, strip));
  const Json& result = results_of(sarif).at(0);
  const Json* location = &array_of(result.get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "file:///opt/vendor/util.c");
  cr_expect_null(member(artifact_of(location), "uriBaseId"));
  cr_expect_eq(integer_of(member(member(member(location, "physicalLocation"), "region"), "startLine")), 5);
  EXPECT_TEXT(string_of(member(result.get("message"), "text")),
              "malloc() is not async-signal-safe (allocates) in the child of a multithreaded fork(); class "
              "non-portable; called 3 times at this site (in process 13).");
  const Json* properties = result.get("properties");
  cr_expect_eq(integer_of(member(properties, "occurrences")), 1);
  EXPECT_TEXT(string_of(member(properties, "class")), "non-portable");
  cr_assert_eq(array_of(member(properties, "pids")).size(), 1u);
  cr_expect_eq(integer_of(&array_of(member(properties, "pids"))[0]), 13);
}

Test(sarif, code_flow_has_every_frame) {
  Json sarif = parsed(fh::to_sarif({cache_deadlock(), stripped_deadlock()}, strip));
  size_t expected_sizes[] = {5, 4};
  for (size_t r = 0; r < 2; ++r) {
    const Json& result = results_of(sarif).at(r);
    const std::vector<Json>& flows = array_of(result.get("codeFlows"));
    cr_assert_eq(flows.size(), 1u);
    const std::vector<Json>& thread_flows = array_of(flows[0].get("threadFlows"));
    cr_assert_eq(thread_flows.size(), 1u);
    const std::vector<Json>& steps = array_of(thread_flows[0].get("locations"));
    cr_assert_eq(steps.size(), expected_sizes[r], "one step per frame, inlined ones included");
    for (size_t i = 0; i < steps.size(); ++i) {
      std::string text = string_of(member(member(steps[i].get("location"), "message"), "text"));
      cr_expect(text.rfind("#" + std::to_string(i) + " ", 0) == 0, "step %zu: %s", i, text.c_str());
      cr_expect_not_null(member(steps[i].get("location"), "physicalLocation"));
    }
  }
  const std::vector<Json>& steps = array_of(
      member(&array_of(member(&array_of(results_of(sarif)[0].get("codeFlows"))[0], "threadFlows"))[0], "locations"));
  EXPECT_TEXT(string_of(member(member(steps[2].get("location"), "message"), "text")), "#2 lock_cache()");
  EXPECT_TEXT(string_of(member(artifact_of(steps[1].get("location")), "uri")),
              "file:///usr/include/c++/12/bits/std_mutex.h");
}

Test(sarif, related_locations_show_the_acquisition_and_the_fork) {
  Json sarif = parsed(fh::to_sarif({cache_deadlock()}, strip));
  const std::vector<Json>& related = array_of(results_of(sarif).at(0).get("relatedLocations"));
  cr_assert_eq(related.size(), 3u, "two acquisition frames and the fork site");
  for (size_t i = 0; i < related.size(); ++i)
    cr_expect_eq(integer_of(related[i].get("id")), static_cast<long long>(i + 1));
  std::string acquired = string_of(member(related[0].get("message"), "text"));
  cr_expect(e2e::contains(acquired, "acquired here by thread 7 \"worker\""), "%s", acquired.c_str());
  EXPECT_TEXT(string_of(member(artifact_of(&related[0]), "uri")), "src/worker.cpp");
  EXPECT_TEXT(string_of(member(related[2].get("message"), "text")), "fork() called here");
  EXPECT_TEXT(string_of(member(artifact_of(&related[2]), "uri")), "src/server.cpp",
              "the fork site in the user's code, not glibc's fork.c");
  cr_expect_eq(integer_of(member(member(member(&related[2], "physicalLocation"), "region"), "startLine")), 88);
}

Test(sarif, fingerprints_follow_the_signature) {
  fh::HazardGroup moved = cache_deadlock();
  for (fh::Frame& f : moved.hazard.stack) f.pc += 0x10000;  // another layout, same code
  fh::HazardGroup other = cache_deadlock();
  other.hazard.stack[3].offset = 0x1404;
  Json sarif = parsed(fh::to_sarif({cache_deadlock(), moved, other}, strip));
  auto fingerprint = [&](size_t i) {
    return string_of(member(results_of(sarif).at(i).get("partialFingerprints"), "forkhazardSignature/v1"));
  };
  EXPECT_TEXT(fingerprint(0), fingerprint(1));
  EXPECT_OTHER_TEXT(fingerprint(0), fingerprint(2));
}

Test(sarif, escapes_text_and_uris) {
  fh::HazardGroup g = cache_deadlock();
  g.hazard.owner->name = "w\"\\\n\x01\xff\xc3\xa9";  // quote, backslash, newline, control, invalid byte, é
  g.hazard.stack[2].function = "Cache<char const*>::lock(\"x\")";
  g.hazard.stack[2].file = "/work/app/src/my dir/c#1%.cpp";
  std::string out = fh::to_sarif({g}, strip);
  Json sarif = parsed(out);
  const Json& result = results_of(sarif).at(0);
  std::string text = string_of(member(result.get("message"), "text"));
  // The name is the program's choice: shown printable (shared with the terminal text), then JSON-escaped.
  cr_expect(e2e::contains(text, "thread 7 \"w\"\\x5c\\x0a\\x01\\xff\xc3\xa9\""), "%s", text.c_str());
  const Json* location = &array_of(result.get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "src/my%20dir/c%231%25.cpp");
  EXPECT_TEXT(string_of(member(&array_of(member(location, "logicalLocations")).at(0), "fullyQualifiedName")),
              "Cache<char const*>::lock(\"x\")");
}

Test(sarif, kinds_unknown_to_this_forkhazard_get_a_rule) {
  fh::HazardGroup future = malloc_in_vendor();
  future.hazard.kind = fh::HazardKind::other;
  future.hazard.kind_spelling = "leak";
  Json sarif = parsed(fh::to_sarif({future, cache_deadlock(), future}, strip));
  const Json* driver = member(member(&array_of(sarif.get("runs"))[0], "tool"), "driver");
  const std::vector<Json>& rules = array_of(member(driver, "rules"));
  cr_assert_eq(rules.size(), 4u, "the three rules and one for the new kind");
  EXPECT_TEXT(string_of(rules[3].get("id")), "leak");
  EXPECT_TEXT(string_of(results_of(sarif).at(0).get("ruleId")), "leak");
  cr_expect_eq(integer_of(results_of(sarif).at(0).get("ruleIndex")), 3);
  cr_expect_eq(integer_of(results_of(sarif).at(2).get("ruleIndex")), 3);
  EXPECT_TEXT(string_of(results_of(sarif).at(0).get("level")), "warning", "an unknown kind is not known to be harmless");
  cr_expect_null(member(results_of(sarif).at(0).get("properties"), "class"), "class is for unsafe calls");
}

Test(sarif, possible_deadlock_has_its_rule_level_sentence_and_acquisition) {
  fh::HazardGroup g = cache_deadlock();
  g.hazard.kind = fh::HazardKind::possible_deadlock;
  g.hazard.owner->name = "logger";
  g.hazard.overflow = fh::Overflow{2, 0, 5};
  fh::HazardGroup hang_prone = malloc_in_vendor();
  hang_prone.hazard.call = "setenv";
  hang_prone.hazard.klass = fh::CallClass::hang_prone;
  hang_prone.hazard.why = "takes envlock";
  hang_prone.hazard.count = 1;
  hang_prone.hazard.owner = fh::Owner{8, "env", fh::Relation::vanished, ""};
  Json sarif = parsed(fh::to_sarif({g, hang_prone, malloc_in_vendor()}, strip));
  const Json& result = results_of(sarif).at(0);
  EXPECT_TEXT(string_of(result.get("ruleId")), "possible-deadlock");
  cr_expect_eq(integer_of(result.get("ruleIndex")), 2);
  EXPECT_TEXT(string_of(result.get("level")), "warning");
  EXPECT_TEXT(string_of(member(result.get("message"), "text")),
              "pthread_mutex_lock(0x1000) took the mutex while it was free, but thread 7 \"logger\", which vanished "
              "at fork(), used it in the parent. Had the fork come while thread 7 held it, this call would never "
              "have returned (2 occurrences in processes 11, 12).");
  const Json* location = &array_of(result.get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "src/cache.cpp");
  const std::vector<Json>& related = array_of(result.get("relatedLocations"));
  cr_assert_eq(related.size(), 3u, "two acquisition frames and the fork site");
  cr_expect(e2e::contains(string_of(member(related[0].get("message"), "text")), "acquired here by thread 7 \"logger\""));
  const Json* overflow = member(result.get("properties"), "overflow");
  cr_expect_eq(integer_of(member(overflow, "held")), 2);
  cr_expect_eq(integer_of(member(overflow, "threads")), 0);
  cr_expect_eq(integer_of(member(overflow, "sites")), 5);

  const Json& setenv_result = results_of(sarif).at(1);
  EXPECT_TEXT(string_of(setenv_result.get("level")), "warning", "hang-prone");
  EXPECT_TEXT(string_of(member(setenv_result.get("message"), "text")),
              "setenv() is not async-signal-safe (takes envlock) in the child of a multithreaded fork(); class "
              "hang-prone; thread 8 \"env\" was inside the glibc env lock family (setenv/unsetenv/putenv/clearenv) "
              "when it vanished at fork(): if it held that lock, this call never returns (in process 13).");
  cr_expect_null(member(setenv_result.get("properties"), "overflow"), "no overflow, no property");
  EXPECT_TEXT(string_of(results_of(sarif).at(2).get("level")), "note", "non-portable");
}

Test(sarif, golden_possible_deadlock) {
  fh::ReadResult read;
  fh::read_raw_path("tests/golden/possible_deadlock.raw", read);
  cr_assert_eq(read.files, 1u, "tests/golden/possible_deadlock.raw is missing (cwd must be the project root)");
  cr_assert(read.errors.empty(), "%s", read.errors.empty() ? "" : read.errors[0].c_str());
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  for (fh::Report& report : read.reports) resolver.resolve(report);
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(read.reports);
  cr_assert_eq(groups.size(), 2u, "the two children's possible deadlocks merge");
  std::string out = fh::to_sarif(groups, "/nonexistent/");
  parsed(out);
  expect_golden(out, "tests/golden/possible_deadlock.sarif");
}

Test(sarif, no_hazards_is_an_empty_run) {
  std::string out = fh::to_sarif({}, strip);
  Json sarif = parsed(out);
  const Json* results = member(&array_of(sarif.get("runs")).at(0), "results");
  cr_assert_not_null(results, "an empty run still has a results array (a clean scan)");
  cr_expect(results->kind == Json::Kind::array && results->array.empty());
  EXPECT_TEXT(out.c_str() + out.size() - 2, "}\n", "the file ends with a newline");
}

Test(sarif, golden_model) {
  fh::HazardGroup g = cache_deadlock();
  g.hazard.owner->name = "w\"q";
  expect_golden(fh::to_sarif({g, malloc_in_vendor(), stripped_deadlock()}, strip), "tests/golden/sarif_model.sarif");
}

Test(sarif, golden_raw_run) {
  // Modules that exist on no machine: nothing symbolizes, frames keep module and offset, the output is the
  // same everywhere.
  fh::ReadResult read;
  fh::read_raw_path("tests/golden/sarif_run.raw", read);
  cr_assert_eq(read.files, 1u, "tests/golden/sarif_run.raw is missing (cwd must be the project root)");
  std::string errors;
  for (const std::string& e : read.errors) errors += e + "\n";
  cr_assert(read.errors.empty(), "%s", errors.c_str());
  cr_assert_eq(read.reports.size(), 5u);
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  for (fh::Report& report : read.reports) resolver.resolve(report);
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(read.reports);
  cr_assert_eq(groups.size(), 4u, "the two children's deadlocks merge");
  cr_expect_eq(groups[0].occurrences, 2);
  std::string out = fh::to_sarif(groups, "/nonexistent/");
  parsed(out);
  expect_golden(out, "tests/golden/sarif_run.sarif");
}

Test(sarif, golden_python) {
  fh::ReadResult read;
  fh::read_raw_path("tests/golden/python_deadlock.raw", read);
  cr_assert_eq(read.files, 1u, "tests/golden/python_deadlock.raw is missing (cwd must be the project root)");
  cr_assert(read.errors.empty(), "%s", read.errors.empty() ? "" : read.errors[0].c_str());
  fh::Symbolizer symbolizer;
  fh::FrameResolver resolver(symbolizer);
  for (fh::Report& report : read.reports) resolver.resolve(report);
  std::vector<fh::HazardGroup> groups = fh::merge_hazards(read.reports);
  cr_assert_eq(groups.size(), 1u);
  std::string out = fh::to_sarif(groups, "/nonexistent/");
  Json sarif = parsed(out);
  expect_golden(out, "tests/golden/python_deadlock.sarif");
  // Located at the program's own Python frame, not the interpreter's library or its C files.
  const Json& result = results_of(sarif).at(0);
  const Json* physical = member(&array_of(result.get("locations")).at(0), "physicalLocation");
  EXPECT_TEXT(string_of(member(member(physical, "artifactLocation"), "uri")), "file:///srv/app/jobs.py", "own frame");
  cr_expect_eq(integer_of(member(member(physical, "region"), "startLine")), 30);
  cr_expect(out.find("/srv/app/shipper.py") != std::string::npos, "the holder's Python frame is related:\n%s",
            out.c_str());
}

// A CPython program: the result is located at the innermost frame of the program's own Python code (not the
// interpreter's library, not a frozen module), and the holder's and the forking thread's Python frames at the fork
// are related locations.
Test(sarif, python_program_is_located_in_its_python_code) {
  fh::HazardGroup g = cache_deadlock();
  g.hazard.python_stack = {{"/usr/lib/python3.11/threading.py", 327, "wait"},
                           {"<frozen importlib._bootstrap>", 0, "_find_and_load"},
                           {"/work/app/jobs.py", 30, "child_main"},
                           {"/work/app/main.py", 5, "<module>"}};
  fh::ForkThread holder;
  holder.tid = 7;
  holder.name = "worker";
  holder.python_stack = {{"/usr/lib/python3.11/logging/__init__.py", 1113, "emit"}, {"/work/app/log.py", 12, "writer"}};
  fh::ForkThread forker;
  forker.tid = 10;
  forker.relation = fh::Relation::forker;
  forker.python_stack = {{"/work/app/main.py", 4, "spawn"}};
  g.hazard.fork->threads = {holder, forker};
  Json sarif = parsed(fh::to_sarif({g}, strip));
  const Json& result = results_of(sarif).at(0);
  const Json* location = &array_of(result.get("locations")).at(0);
  EXPECT_TEXT(string_of(member(artifact_of(location), "uri")), "jobs.py");
  cr_expect_eq(integer_of(member(member(member(location, "physicalLocation"), "region"), "startLine")), 30);
  bool holder_seen = false, fork_seen = false;
  for (const Json& related : array_of(result.get("relatedLocations"))) {
    std::string text = string_of(member(related.get("message"), "text"));
    std::string uri = string_of(member(member(member(&related, "physicalLocation"), "artifactLocation"), "uri"));
    holder_seen = holder_seen || (uri == "log.py" && text.find("vanished at fork() (writer)") != std::string::npos);
    fork_seen = fork_seen || (uri == "main.py" && text.find("fork() called here in Python (spawn)") != std::string::npos);
  }
  cr_expect(holder_seen, "no related location for the holder's Python frame");
  cr_expect(fork_seen, "no related location for the fork's Python frame");
}
