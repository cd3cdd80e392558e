// End-to-end tests of reports for people and CI: bare LD_PRELOAD with log_path read back post-mortem by
// `forkhazard report`, suppressions, SARIF located at the culprit, corrupt files beside good ones, bad flags.
// Nothing is ever preloaded into this test runner: the shim goes only into the examples' environment.
#include <criterion/criterion.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e_support.h"

using namespace e2e;

namespace {

std::string absolute(const std::string& path) { return std::filesystem::absolute(path).string(); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Runs an example with only the shim preloaded (no CLI): reports go to DIR/raw/fh.<pid>.
Run run_bare(const std::string& dir, const char* example) {
  std::filesystem::create_directory(dir + "/raw");
  return run_command_in(dir, {std::string("build/examples/") + example},
                        {"LD_PRELOAD=" + absolute(kShim), "FORKHAZARD_OPTIONS=log_path=" + dir + "/raw/fh"});
}

Json parse_or_fail(const std::string& path) {
  std::string error;
  std::optional<Json> parsed = parse_json(read_file(path), &error);
  cr_assert(parsed.has_value(), "%s does not parse: %s", path.c_str(), error.c_str());
  return *parsed;
}

// The line of `needle` in the file (1-based), 0 if absent.
int line_of(const std::string& file, const std::string& needle) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); n++)
    if (line.find(needle) != std::string::npos) return n;
  return 0;
}

}  // namespace

Test(e2e_report, bare_preload_then_post_mortem_report, .timeout = 60) {
  std::string dir = fresh_dir();
  Run bare = run_bare(dir, "mutex_held_by_worker");
  cr_assert_eq(bare.result.exit_code, 0, "the example itself exits 0; stderr:\n%s", bare.err.c_str());
  cr_assert(contains(bare.out, "exited with status 66"), "the child was not ended by the shim:\n%s", bare.out.c_str());
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/raw")) files.push_back(entry.path().string());
  cr_assert_eq(files.size(), 1u, "expected one raw report file (the child's), got %zu", files.size());

  Run report = run_command_in(dir, {kCli, "report", "--json", dir + "/report.json", dir + "/raw"}, {});
  cr_assert_eq(report.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", report.result.exit_code, report.err.c_str());
  Json json = parse_or_fail(dir + "/report.json");
  const std::vector<Json>& hazards = array_of(json.get("hazards"));
  cr_assert_eq(hazards.size(), 1u);
  cr_assert_eq(string_of(hazards[0].get("kind")), "deadlock");
  cr_assert_eq(parse_address(string_of(member(hazards[0].get("lock"), "addr"))), bare.truth.lock);
  // Symbolized from the recorded module map: the culprit's function and its source line.
  int line = line_of("examples/mutex_held_by_worker.c", "pthread_mutex_lock(&table_lock); // the owner vanished");
  cr_assert_gt(line, 0, "examples/mutex_held_by_worker.c no longer has the culprit's line");
  bool found = false;
  for (const Json& frame : array_of(hazards[0].get("stack")))
    if (frame_is(frame, "child_locks_the_mutex")) {
      found = true;
      cr_assert(contains(string_of(frame.get("file")), "mutex_held_by_worker.c"));
      cr_assert_eq(integer_of(frame.get("line")), line);
    }
  cr_assert(found, "no symbolized culprit frame:\n%s", describe_frames(hazards[0].get("stack")).c_str());
  cr_assert(contains(report.err, "child_locks_the_mutex"), "the text report lacks the culprit:\n%s", report.err.c_str());
  passed();
}

Test(e2e_report, suppression_turns_a_hazard_run_clean, .timeout = 60) {
  std::string dir = fresh_dir();
  write_text(dir + "/supp.txt", "# the worker's table lock is known\ndeadlock:child_locks_the_mutex\n");
  Run run = run_command_in(dir, {kCli, "run", "--json", dir + "/r.json", "--suppressions", dir + "/supp.txt", "--",
                                 "build/examples/mutex_held_by_worker"},
                           {});
  cr_assert_eq(run.result.exit_code, 0, "a suppressed hazard leaves the program's status; stderr:\n%s", run.err.c_str());
  cr_assert_eq(array_of(parse_or_fail(dir + "/r.json").get("hazards")).size(), 0u);
  cr_assert(contains(run.err, "deadlock:child_locks_the_mutex"), "used suppressions are not listed:\n%s",
            run.err.c_str());
  passed();
}

Test(e2e_report, suppression_of_something_else_changes_nothing, .timeout = 60) {
  std::string dir = fresh_dir();
  write_text(dir + "/supp.txt", "unsafe-call:child_locks_the_mutex\ndeadlock:no_such_function\n");
  Run run = run_command_in(dir, {kCli, "run", "--json", dir + "/r.json", "--suppressions", dir + "/supp.txt", "--",
                                 "build/examples/mutex_held_by_worker"},
                           {});
  cr_assert_eq(run.result.exit_code, kHazardExit, "stderr:\n%s", run.err.c_str());
  cr_assert_eq(array_of(parse_or_fail(dir + "/r.json").get("hazards")).size(), 1u);
  passed();
}

Test(e2e_report, suppressions_from_forkhazard_options, .timeout = 60) {
  std::string dir = fresh_dir();
  write_text(dir + "/supp.txt", "unsafe-call:child_allocates\n");
  Run run = run_command_in(dir, {kCli, "run", "--", "build/examples/malloc_in_child"},
                           {"FORKHAZARD_OPTIONS=suppressions=" + dir + "/supp.txt"});
  cr_assert_eq(run.result.exit_code, 0, "stderr:\n%s", run.err.c_str());
  passed();
}

Test(e2e_report, sarif_locates_the_culprit, .timeout = 60) {
  std::string dir = fresh_dir();
  Run run = run_command_in(dir, {kCli, "run", "--sarif", dir + "/out.sarif", "--", "build/examples/mutex_held_by_worker"},
                           {});
  cr_assert_eq(run.result.exit_code, kHazardExit, "stderr:\n%s", run.err.c_str());
  Json sarif = parse_or_fail(dir + "/out.sarif");
  cr_assert_eq(string_of(sarif.get("version")), "2.1.0");
  const Json& run0 = array_of(sarif.get("runs")).at(0);
  bool has_rule = false;
  for (const Json& rule : array_of(member(member(run0.get("tool"), "driver"), "rules")))
    if (string_of(rule.get("id")) == "deadlock") has_rule = true;
  cr_assert(has_rule, "no deadlock rule");
  const std::vector<Json>& results = array_of(run0.get("results"));
  cr_assert_eq(results.size(), 1u);
  cr_assert_eq(string_of(results[0].get("ruleId")), "deadlock");
  const Json* location = member(&array_of(results[0].get("locations")).at(0), "physicalLocation");
  cr_assert(contains(string_of(member(member(location, "artifactLocation"), "uri")), "examples/mutex_held_by_worker.c"),
            "location is not the example's source");
  int line = line_of("examples/mutex_held_by_worker.c", "pthread_mutex_lock(&table_lock); // the owner vanished");
  cr_assert_gt(line, 0, "examples/mutex_held_by_worker.c no longer has the culprit's line");
  cr_assert_gt(line, 0);
  cr_assert_eq(integer_of(member(member(location, "region"), "startLine")), line, "not the culprit's line");
  passed();
}

Test(e2e_report, corrupt_files_beside_good_ones, .timeout = 60) {
  std::string dir = fresh_dir();
  Run bare = run_bare(dir, "mutex_held_by_worker");
  cr_assert_eq(bare.result.exit_code, 0);
  write_text(dir + "/raw/garbage", "this is not a report\n");
  std::string good = read_file([&] {
    for (const auto& e : std::filesystem::directory_iterator(dir + "/raw"))
      if (e.path().filename().string().rfind("fh.", 0) == 0) return e.path().string();
    return std::string();
  }());
  write_text(dir + "/raw/truncated", good.substr(0, good.size() / 2));
  Run report = run_command_in(dir, {kCli, "report", "--json", dir + "/r.json", dir + "/raw"}, {});
  cr_assert(contains(report.err, dir + "/raw/garbage"), "the corrupt file is not named:\n%s", report.err.c_str());
  cr_assert(contains(report.err, dir + "/raw/truncated"), "the truncated file is not named:\n%s", report.err.c_str());
  cr_assert_eq(array_of(parse_or_fail(dir + "/r.json").get("hazards")).size(), 1u, "the good file was lost");
  cr_assert_neq(report.result.exit_code, 0);

  // Only bad files: the status says so.
  std::filesystem::remove_all(dir + "/raw");
  std::filesystem::create_directory(dir + "/raw");
  write_text(dir + "/raw/garbage", "nope\n");
  Run bad = run_command_in(dir, {kCli, "report", dir + "/raw"}, {});
  cr_assert_eq(bad.result.exit_code, 1, "exit %d; stderr:\n%s", bad.result.exit_code, bad.err.c_str());
  passed();
}

Test(e2e_report, unknown_flag_runs_nothing, .timeout = 60) {
  std::string dir = fresh_dir();
  std::string marker = dir + "/ran";
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{kCli, "run", "--bogus", "--", "/bin/touch", marker},
        std::vector<std::string>{kCli, "run", "--fail-on=sometimes", "--", "/bin/touch", marker},
        std::vector<std::string>{kCli, "run", "--exitcode", "0", "--", "/bin/touch", marker},
        std::vector<std::string>{kCli, "run", "--color=purple", "--", "/bin/touch", marker}}) {
    Run run = run_command_in(dir, argv, {});
    cr_assert_eq(run.result.exit_code, 2, "%s: exit %d", argv[2].c_str(), run.result.exit_code);
    cr_assert(!file_exists(marker), "%s: the command ran", argv[2].c_str());
    cr_assert(contains(run.err, "forkhazard: run: "), "%s: no one-line message:\n%s", argv[2].c_str(), run.err.c_str());
  }
  passed();
}

Test(e2e_report, malformed_suppressions_file_runs_nothing, .timeout = 60) {
  std::string dir = fresh_dir();
  write_text(dir + "/supp.txt", "deadlock:ok\n\nthis line has no kind\n");
  Run run = run_command_in(dir, {kCli, "run", "--suppressions", dir + "/supp.txt", "--", "/bin/touch", dir + "/ran"}, {});
  cr_assert_eq(run.result.exit_code, 2);
  cr_assert(contains(run.err, dir + "/supp.txt:3:"), "the bad line is not named:\n%s", run.err.c_str());
  cr_assert(!file_exists(dir + "/ran"));
  passed();
}

Test(e2e_report, fail_on_and_exitcode, .timeout = 60) {
  std::string dir = fresh_dir();
  Run unsafe_only = run_command_in(dir, {kCli, "run", "--fail-on=deadlock", "--", "build/examples/malloc_in_child"}, {});
  cr_assert_eq(unsafe_only.result.exit_code, 0, "an unsafe call does not fail a --fail-on=deadlock run");
  // malloc in the child is a note: by default (--fail-on=warning) it stays in the report and does not fail.
  Run notes_only = run_command_in(dir, {kCli, "run", "--", "build/examples/malloc_in_child"}, {});
  cr_assert_eq(notes_only.result.exit_code, 0, "a note failed a default run");
  Run custom = run_command_in(dir, {kCli, "run", "--fail-on=note", "--exitcode", "9", "--",
                                    "build/examples/malloc_in_child"}, {});
  cr_assert_eq(custom.result.exit_code, 9);
  passed();
}

Test(e2e_report, help_lists_every_option, .timeout = 60) {
  std::string dir = fresh_dir();
  Run shim = run_command_in(dir, {"/bin/true"}, {"LD_PRELOAD=" + absolute(kShim), "FORKHAZARD_OPTIONS=help=1"});
  Run cli = run_command_in(dir, {kCli, "run", "--help"}, {});
  cr_assert_eq(cli.result.exit_code, 0);
  for (const char* option : {"log_path", "on_deadlock", "on_unsafe", "mode", "exitcode", "lock_stack_depth",
                             "stack_depth", "suppressions", "help"}) {
    cr_assert(contains(shim.err, std::string("  ") + option + "="), "help=1 lacks %s:\n%s", option, shim.err.c_str());
    cr_assert(contains(cli.out, option), "forkhazard run --help lacks %s:\n%s", option, cli.out.c_str());
  }
  for (const char* flag : {"--json", "--sarif", "--suppressions", "--fail-on", "--exitcode", "--color"})
    cr_assert(contains(cli.out, flag), "forkhazard run --help lacks %s", flag);
  passed();
}

// Secure mode (AT_SECURE): a program that gains privileges at exec (here file capabilities, run as nobody) loads
// a preloaded library only by bare name from a trusted directory and only when that file is set-user-ID
// (ld.so(8)). The shim is installed so for this test, loaded, and must stay passive: no option read (log_path
// names a directory anyone can write), no report, nothing ended. The same binary run as root (not secure) writes
// its report there, which shows the installed copy loads. Needs root, setcap and setpriv (libcap2-bin,
// util-linux); skipped otherwise, saying why.
Test(e2e_report, secure_mode_is_passive, .timeout = 60) {
  const char* trusted = "/usr/lib/x86_64-linux-gnu";
  if (geteuid() != 0 || access("/usr/sbin/setcap", X_OK) != 0 || access("/usr/bin/setpriv", X_OK) != 0 ||
      access(trusted, W_OK) != 0)
    cr_skip_test("needs root, /usr/sbin/setcap, /usr/bin/setpriv and a writable %s", trusted);
  std::string dir = fresh_dir();
  std::filesystem::create_directory(dir + "/raw");
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  std::filesystem::permissions(dir + "/raw", std::filesystem::perms::all);
  std::string lib_name = "libforkhazard-secure-test-" + std::to_string(getpid()) + ".so";
  std::string lib = std::string(trusted) + "/" + lib_name;
  std::filesystem::copy_file(kShim, lib, std::filesystem::copy_options::overwrite_existing);
  chmod(lib.c_str(), 04755);
  std::string program = dir + "/malloc_in_child";
  std::filesystem::copy_file("build/examples/malloc_in_child", program);
  Run cap = run_command_in(dir, {"/usr/sbin/setcap", "cap_net_raw+ep", program}, {});
  std::vector<std::string> env = {"LD_PRELOAD=" + lib_name, "FORKHAZARD_OPTIONS=log_path=" + dir + "/raw/fh"};
  Run as_root = run_command_in(dir, {program}, env);
  size_t root_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/raw")) {
    root_files++;
    std::filesystem::remove(entry.path());
  }
  Run secure = run_command_in(dir, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", program},
                              env);
  size_t secure_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/raw")) {
    (void)entry;
    secure_files++;
  }
  std::filesystem::remove(lib);
  cr_assert_eq(cap.result.exit_code, 0, "setcap failed: %s", cap.err.c_str());
  cr_assert_eq(root_files, 1u, "the installed shim wrote %zu report files when not secure; stderr:\n%s", root_files,
               as_root.err.c_str());
  cr_assert_eq(secure.result.exit_code, 0, "the secure-mode run exited %d; stderr:\n%s", secure.result.exit_code,
               secure.err.c_str());
  cr_assert(contains(secure.out, "exited with status 0"), "the child did not run on natively:\n%s", secure.out.c_str());
  cr_assert(!contains(secure.err, "cannot be preloaded"), "the loader refused the shim, the test proves nothing:\n%s",
            secure.err.c_str());
  cr_assert(!contains(secure.err, "forkhazard"), "the shim spoke in secure mode:\n%s", secure.err.c_str());
  cr_assert_eq(secure_files, 0u, "the shim read log_path in secure mode and wrote %zu files", secure_files);
  passed();
}
