// End-to-end tests of the child traps (issue 3): unsafe calls in the child of a multithreaded fork, the deadlocks
// on glibc-internal state, condvars, function-local statics and semaphores, and silence on correct spawners.
// Every example runs under `build/forkhazard run --json` with an explicit environment (tests/e2e_support.h);
// each test checks the exit status and the report against the ground truth the example prints.
// Run from the project root (as `make test` does). Nothing is ever preloaded into this test runner.
#include <criterion/criterion.h>

#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "shim/python.h"
#include "shim/python_walk.h"
#include "tests/e2e_support.h"

extern char** environ;

namespace {

using namespace e2e;

// ---- the example's own account ----------------------------------------------------------------------------------

// The first `child PID exited with status S` / `child PID killed by signal N` line of the example.
struct ChildLine {
  int pid = -1;
  std::string text;
};

ChildLine child_line(const Run& run) {
  ChildLine line;
  for (size_t at = run.out.find("child "); at != std::string::npos; at = run.out.find("child ", at + 1)) {
    if (at != 0 && run.out[at - 1] != '\n') continue;
    size_t end = run.out.find('\n', at);
    std::string text = run.out.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!contains(text, " exited with status ") && !contains(text, " killed by signal ")) continue;
    line.text = text;
    if (std::sscanf(text.c_str(), "child %d", &line.pid) != 1) line.pid = -1;
    return line;
  }
  return line;
}

size_t count_of(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// ---- scripts: python3 and node, when the machine has them ----------------------------------------------------------

// `name` looked up in the test runner's PATH: its path, or "" when it is not there.
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "";
  while (true) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

// The interpreter's real executable: PATH may hold a wrapper script (pyenv's shims need the runner's environment,
// which the watched command does not get), so ask the interpreter itself, in the runner's environment.
std::string real_interpreter(const std::string& found, const std::vector<std::string>& ask) {
  std::string dir = fresh_dir();
  std::vector<std::string> argv = {found};
  argv.insert(argv.end(), ask.begin(), ask.end());
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) env.push_back(*var);
  RunResult result = run_command(argv, env, dir + "/stdout", dir + "/stderr", 20);
  std::string path = read_file(dir + "/stdout");
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  cr_assert(result.started && result.exit_code == 0 && !path.empty() && path[0] == '/',
            "%s cannot tell its own executable (exit %d): %s", found.c_str(), result.exit_code,
            read_file(dir + "/stderr").c_str());
  return path;
}

std::string python3_or_skip() {
  std::string found = find_on_path("python3");
  if (found.empty()) cr_skip_test("python3 is not on PATH: the Python examples cannot run here");
  return real_interpreter(found, {"-c", "import sys; print(sys.executable)"});
}

// An interpreter that has pytest: python3 on PATH, else Debian's (python3-pytest, which `make deps` installs).
std::string python3_with_pytest_or_skip() {
  std::string dir = fresh_dir();
  for (std::string python : {find_on_path("python3"), std::string("/usr/bin/python3")}) {
    if (python.empty() || access(python.c_str(), X_OK) != 0) continue;
    std::vector<std::string> env;
    for (char** var = environ; *var != nullptr; ++var) env.push_back(*var);
    RunResult result = run_command({python, "-c", "import pytest, sys; print(sys.executable)"}, env,
                                   dir + "/stdout", dir + "/stderr", 20);
    std::string path = read_file(dir + "/stdout");
    while (!path.empty() && path.back() == '\n') path.pop_back();
    if (result.started && result.exit_code == 0 && !path.empty() && path[0] == '/') return path;
  }
  cr_skip_test("no python3 with pytest (python3-pytest): the pytest example cannot run here");
}

std::string perl_with_threads_or_skip() {
  std::string found = find_on_path("perl");
  if (found.empty()) cr_skip_test("perl is not on PATH: the Perl example cannot run here");
  std::string dir = fresh_dir();
  RunResult result = run_command({found, "-Mthreads", "-Mthreads::shared", "-e", "1"}, base_env({}),
                                 dir + "/stdout", dir + "/stderr", 20);
  if (!result.started || result.exit_code != 0) cr_skip_test("this perl has no ithreads: the Perl example cannot run");
  return found;
}

std::string node_or_skip() {
  std::string found = find_on_path("node");
  if (found.empty()) cr_skip_test("node is not on PATH: the Node.js example cannot run here");
  return real_interpreter(found, {"-e", "console.log(process.execPath)"});
}

Run run_script(const std::string& interpreter, const char* script, const std::vector<std::string>& extra_env = {},
               const std::vector<std::string>& args = {}) {
  std::string path = std::string("examples/") + script;
  cr_assert(file_exists(path), "%s is missing (cwd must be the project root)", path.c_str());
  std::vector<std::string> argv = {interpreter, path};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_watched(script, argv, extra_env);
}

// ---- expectations --------------------------------------------------------------------------------------------------

bool no_hazard_header(const std::string& err) {
  return !contains(err, "forkhazard: deadlock") && !contains(err, "forkhazard: unsafe") &&
         !contains(err, "forkhazard: reported");
}

// Exactly one unsafe-call hazard, matching the ground truth (call, class) and made in the child at `culprit`.
// Its level follows its class: a hang-prone call is a warning, which fails the run by default (--fail-on
// warning); a non-portable one (the allocator, stdio) a note, which stays in the report and does not.
const Json& expect_one_unsafe_call(const Run& run, const char* culprit) {
  cr_assert_eq(run.truth.expect, "unsafe-call", "ground truth expects %s", run.truth.expect.c_str());
  bool note = run.truth.klass == "non-portable";
  int exit_code = note ? 0 : kHazardExit;
  cr_assert_eq(run.result.exit_code, exit_code, "exit status %d, expected %d; stderr:\n%s", run.result.exit_code,
               exit_code, run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards reported, expected exactly 1; stderr:\n%s", hazards.size(),
               run.err.c_str());
  const Json& hazard = hazards[0];
  cr_assert_eq(string_of(hazard.get("kind")), "unsafe-call", "kind is \"%s\"", string_of(hazard.get("kind")).c_str());
  cr_assert_eq(string_of(hazard.get("call")), run.truth.call, "call is \"%s\", expected \"%s\"",
               string_of(hazard.get("call")).c_str(), run.truth.call.c_str());
  cr_assert_eq(string_of(hazard.get("class")), run.truth.klass, "class is \"%s\", expected \"%s\"",
               string_of(hazard.get("class")).c_str(), run.truth.klass.c_str());
  cr_assert(!string_of(hazard.get("why")).empty(), "the hazard does not say why the call is unsafe");
  cr_assert_eq(string_of(hazard.get("level")), note ? "note" : "warning", "level is \"%s\"",
               string_of(hazard.get("level")).c_str());
  cr_assert_geq(integer_of(hazard.get("count")), 1, "count is %lld", integer_of(hazard.get("count")));

  ChildLine child = child_line(run);
  cr_assert_gt(child.pid, 0, "the example printed no child line:\n%s", run.out.c_str());
  cr_assert_eq(integer_of(hazard.get("pid")), child.pid, "the hazard names process %lld, the child was %d",
               integer_of(hazard.get("pid")), child.pid);

  cr_assert(any_frame_is(hazard.get("stack"), culprit), "no frame of the child's stack is %s:\n%s", culprit,
            describe_frames(hazard.get("stack")).c_str());
  const Json* site = hazard.get("site");
  cr_assert(site != nullptr && frame_is(*site, culprit), "the call site is \"%s\", expected %s",
            string_of(member(site, "function")).c_str(), culprit);

  const Json* fork = hazard.get("fork");
  cr_assert_gt(integer_of(member(fork, "parent_pid")), 0, "fork.parent_pid missing");
  bool vanished = false;
  for (const Json& thread : array_of(member(fork, "threads")))
    vanished = vanished || string_of(thread.get("relation")) == "vanished";
  cr_assert(vanished, "fork.threads lists no thread that vanished at fork");

  cr_assert(contains(run.err, "forkhazard: unsafe"), "no human report on stderr:\n%s", run.err.c_str());
  cr_assert(contains(run.err, run.truth.call), "the human report does not name %s:\n%s", run.truth.call.c_str(),
            run.err.c_str());
  return hazard;
}

struct ChildDeadlock {
  const char* call;        // the child's blocking call
  const char* lock_type;   // "condvar", "static-init", "libc:env", ...
  const char* culprit;     // a function of the example on the child's stack
  const char* owner_name;  // the name the owner gave itself
};

// `hazard` is the deadlock the ground truth describes: call, lock type (and address when the example knows it),
// the owner that vanished at fork, the culprit on the child's stack.
void expect_child_deadlock(const Run& run, const Json& hazard, const ChildDeadlock& want) {
  cr_assert_eq(string_of(hazard.get("kind")), "deadlock", "kind is \"%s\"", string_of(hazard.get("kind")).c_str());
  cr_assert_gt(integer_of(hazard.get("pid")), 0, "hazard.pid missing");
  cr_assert_eq(string_of(hazard.get("call")), want.call, "call is \"%s\", expected \"%s\"",
               string_of(hazard.get("call")).c_str(), want.call);
  const Json* lock = hazard.get("lock");
  cr_assert_eq(string_of(member(lock, "type")), want.lock_type, "lock.type is \"%s\", expected \"%s\"",
               string_of(member(lock, "type")).c_str(), want.lock_type);
  if (run.truth.lock != 0)
    cr_assert_eq(parse_address(string_of(member(lock, "addr"))), run.truth.lock,
                 "lock.addr is \"%s\", the example's is 0x%" PRIx64, string_of(member(lock, "addr")).c_str(),
                 run.truth.lock);

  const Json* owner = hazard.get("owner");
  cr_assert_eq(integer_of(member(owner, "tid")), run.truth.owner_tid, "owner.tid is %lld, the example's owner was %lld",
               integer_of(member(owner, "tid")), run.truth.owner_tid);
  cr_assert_eq(string_of(member(owner, "relation")), "vanished", "owner.relation is \"%s\"",
               string_of(member(owner, "relation")).c_str());
  cr_assert_eq(string_of(member(owner, "name")), want.owner_name, "owner.name is \"%s\", expected \"%s\"",
               string_of(member(owner, "name")).c_str(), want.owner_name);

  cr_assert(any_frame_is(hazard.get("stack"), want.culprit), "no frame of the child's stack is %s:\n%s",
            want.culprit, describe_frames(hazard.get("stack")).c_str());
  cr_assert_gt(integer_of(member(hazard.get("fork"), "parent_pid")), 0, "fork.parent_pid missing");
  cr_assert(fork_thread(hazard, run.truth.owner_tid) != nullptr, "fork.threads has no thread with the owner's tid %lld",
            run.truth.owner_tid);
  cr_assert(contains(run.err, "forkhazard: deadlock"), "no human deadlock report on stderr:\n%s", run.err.c_str());
}

// Exactly one hazard, the deadlock of the ground truth; the child ended with 66 instead of hanging.
const Json& expect_one_child_deadlock(const Run& run, const ChildDeadlock& want) {
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.truth.call, want.call, "the example's ground truth names %s", run.truth.call.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d, expected %d; stderr:\n%s", run.result.exit_code,
               kHazardExit, run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards reported, expected exactly 1; stderr:\n%s", hazards.size(),
               run.err.c_str());
  expect_child_deadlock(run, hazards[0], want);
  cr_assert(contains(child_line(run).text, "exited with status 66"), "the child did not exit 66:\n%s",
            run.out.c_str());
  return hazards[0];
}

void expect_no_report(const Run& run, const char* success_line) {
  cr_assert_eq(run.truth.expect, "none", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, 0, "exit status %d, expected 0; stdout:\n%s\nstderr:\n%s", run.result.exit_code,
               run.out.c_str(), run.err.c_str());
  cr_assert_eq(hazards_of(run).size(), 0u, "%zu hazards reported, expected none; stderr:\n%s", hazards_of(run).size(),
               run.err.c_str());
  cr_assert(no_hazard_header(run.err), "stderr reports a hazard:\n%s", run.err.c_str());
  cr_assert(contains(run.out, success_line), "the example did not print \"%s\":\n%s", success_line,
            run.out.c_str());
}

// A malloc or printf example under mode=glibc: the non-portable class is dropped, the child exits 0.
void expect_silent_under_glibc_mode(const Run& run) {
  cr_assert_eq(run.truth.klass, "non-portable", "ground truth names class %s", run.truth.klass.c_str());
  cr_assert_eq(run.result.exit_code, 0, "exit status %d, expected 0; stderr:\n%s", run.result.exit_code,
               run.err.c_str());
  cr_assert_eq(hazards_of(run).size(), 0u, "%zu hazards reported under mode=glibc, expected none; stderr:\n%s",
               hazards_of(run).size(), run.err.c_str());
  cr_assert(no_hazard_header(run.err), "stderr reports a hazard:\n%s", run.err.c_str());
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
}

}  // namespace

// ---- unsafe calls --------------------------------------------------------------------------------------------------

Test(e2e_child, malloc_in_child, .timeout = 60) {
  Run run = run_example("malloc_in_child");
  const Json& hazard = expect_one_unsafe_call(run, "child_allocates");
  cr_assert_eq(integer_of(hazard.get("count")), 3, "count is %lld: child_allocates calls malloc 3 times at one site",
               integer_of(hazard.get("count")));
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not go on to exit 0:\n%s",
            run.out.c_str());
  passed();
}

Test(e2e_child, malloc_in_child_glibc_mode, .timeout = 60) {
  Run run = run_example("malloc_in_child", {"FORKHAZARD_OPTIONS=mode=glibc"});
  expect_silent_under_glibc_mode(run);
  passed();
}

// on_unsafe=exit: the report, then the child ends with 66 at its first unsafe call.
Test(e2e_child, malloc_in_child_on_unsafe_exit, .timeout = 60) {
  Run run = run_example("malloc_in_child", {"FORKHAZARD_OPTIONS=on_unsafe=exit"});
  expect_one_unsafe_call(run, "child_allocates");
  cr_assert(contains(child_line(run).text, "exited with status 66"), "the child did not exit 66:\n%s",
            run.out.c_str());
  passed();
}

Test(e2e_child, malloc_in_child_on_unsafe_abort, .timeout = 60) {
  Run run = run_example("malloc_in_child", {"FORKHAZARD_OPTIONS=on_unsafe=abort"});
  expect_one_unsafe_call(run, "child_allocates");
  cr_assert(contains(child_line(run).text, "killed by signal 6"), "the child was not aborted:\n%s", run.out.c_str());
  passed();
}

// printf allocates and locks stdout inside: one report, for printf, and the line is printed.
Test(e2e_child, printf_in_child, .timeout = 60) {
  Run run = run_example("printf_in_child");
  const Json& hazard = expect_one_unsafe_call(run, "child_prints");
  cr_assert_eq(integer_of(hazard.get("count")), 1, "count is %lld", integer_of(hazard.get("count")));
  ChildLine child = child_line(run);
  cr_assert(contains(run.out, "child " + std::to_string(child.pid) + " says hello from printf"),
            "the child's printf did not print:\n%s", run.out.c_str());
  cr_assert(contains(child.text, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

Test(e2e_child, printf_in_child_glibc_mode, .timeout = 60) {
  Run run = run_example("printf_in_child", {"FORKHAZARD_OPTIONS=mode=glibc"});
  expect_silent_under_glibc_mode(run);
  cr_assert(contains(run.out, "says hello from printf"), "the child's printf did not print:\n%s", run.out.c_str());
  passed();
}

// exit() runs the parent's atexit handler in the child (its line appears twice): reported as exit only, not as
// the printf inside the handler. No vanished thread ever used the exit-handler registry: its lock was free at
// the fork and stays free, a note (every Ruby and Perl fork ends so).
Test(e2e_child, exit_in_child, .timeout = 60) {
  Run run = run_example("exit_in_child");
  expect_one_unsafe_call(run, "child_exits");  // class non-portable by the ground truth: a note, exit status 0
  ChildLine child = child_line(run);
  cr_assert(contains(child.text, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  cr_assert(contains(run.out, "atexit handler ran in pid " + std::to_string(child.pid)),
            "the child did not run the atexit handler:\n%s", run.out.c_str());
  cr_assert_eq(count_of(run.out, "atexit handler ran in pid "), 2u, "stdout:\n%s", run.out.c_str());
  passed();
}

// The workers registered exit handlers (they used the registry's lock): the race that did not strike this run,
// a warning.
Test(e2e_child, exit_in_child_registered, .timeout = 60) {
  Run run = run_example("exit_in_child", {}, {"registered"});
  expect_one_unsafe_call(run, "child_exits");  // class hang-prone by the ground truth: a warning, exit status 66
  passed();
}

// mode=glibc drops only the non-portable class: exit is still reported where it is hang-prone, not otherwise.
Test(e2e_child, exit_in_child_glibc_mode, .timeout = 60) {
  Run run = run_example("exit_in_child", {"FORKHAZARD_OPTIONS=mode=glibc"}, {"registered"});
  expect_one_unsafe_call(run, "child_exits");
  Run quiet = run_example("exit_in_child", {"FORKHAZARD_OPTIONS=mode=glibc"});
  cr_assert_eq(quiet.result.exit_code, 0, "exit status %d; stderr:\n%s", quiet.result.exit_code, quiet.err.c_str());
  cr_assert(hazards_of(quiet).empty(), "%zu hazards under mode=glibc; stderr:\n%s", hazards_of(quiet).size(),
            quiet.err.c_str());
  passed();
}

// A fortified build (-O2 -D_FORTIFY_SOURCE=2) calls __syslog_chk: reported once, as syslog, and none of the
// allocations syslog makes inside.
Test(e2e_child, syslog_in_child_fortified, .timeout = 60) {
  Run run = run_example("syslog_in_child_fortified");
  expect_one_unsafe_call(run, "child_logs");
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

Test(e2e_child, thread_in_child, .timeout = 60) {
  Run run = run_example("thread_in_child");
  expect_one_unsafe_call(run, "child_starts_thread");
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child's thread did not run and join:\n%s",
            run.out.c_str());
  passed();
}

// ---- hangs on glibc-internal locks: the shim explains, the watchdog judges -----------------------------------

// The worker was inside setenv/unsetenv (envlock) at the fork of the child that hung: the shim reports that
// child's setenv as an unsafe call naming the worker (a call in flight explains, it does not decide), and the
// watchdog of `forkhazard run` judges the wait itself (one thread, a private futex, no timeout) and ends the
// child with 66. Every earlier child called setenv when the worker was not inside: one unsafe-call report each.
Test(e2e_child, setenv_in_flight, .timeout = 60) {
  Run run = run_example("setenv_in_flight");
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d, expected %d; stderr:\n%s", run.result.exit_code,
               kHazardExit, run.err.c_str());
  cr_assert(contains(child_line(run).text, "exited with status 66"),
            "the parent did not stop at a child that exited 66:\n%s", run.out.c_str());
  int clean = -1;
  size_t at = run.out.find(" children exited 0 before the parent stopped");
  cr_assert(at != std::string::npos, "no summary line:\n%s", run.out.c_str());
  size_t line_start = run.out.rfind('\n', at);
  clean = std::atoi(run.out.c_str() + (line_start == std::string::npos ? 0 : line_start + 1));

  const Json* deadlock = nullptr;
  size_t deadlocks = 0, unsafe = 0;
  for (const Json& hazard : hazards_of(run)) {
    std::string kind = string_of(hazard.get("kind"));
    if (kind == "deadlock") {
      deadlock = &hazard;
      ++deadlocks;
      continue;
    }
    cr_assert_eq(kind, "unsafe-call", "hazard of kind \"%s\"", kind.c_str());
    cr_assert_eq(string_of(hazard.get("call")), "setenv", "unsafe call \"%s\"", string_of(hazard.get("call")).c_str());
    cr_assert_eq(string_of(hazard.get("class")), "hang-prone", "setenv's class is \"%s\"",
                 string_of(hazard.get("class")).c_str());
    cr_assert(any_frame_is(hazard.get("stack"), "child_sets_env"), "stack:\n%s",
              describe_frames(hazard.get("stack")).c_str());
    // Identical reports of several children are merged into one entry: count its occurrences.
    long long occurrences = integer_of(hazard.get("occurrences"));
    cr_assert_gt(occurrences, 0, "no occurrences in a merged entry");
    cr_assert_eq(array_of(hazard.get("pids")).size(), static_cast<size_t>(occurrences), "one pid per child");
    unsafe += static_cast<size_t>(occurrences);
  }
  cr_assert_eq(deadlocks, 1u, "%zu deadlocks, expected 1 (the child the parent stopped at); stderr:\n%s", deadlocks,
               run.err.c_str());
  cr_assert_eq(unsafe, static_cast<size_t>(clean) + 1,
               "%zu unsafe-call reports for %d children that exited 0 and the one that hung", unsafe, clean);
  expect_child_deadlock(run, *deadlock, {"setenv", "futex", "child_sets_env", "env-writer"});
  cr_assert_eq(integer_of(deadlock->get("pid")), child_line(run).pid, "the deadlock names process %lld",
               integer_of(deadlock->get("pid")));
  passed();
}

// The ground truth is a deadlock, the child ended with 66, and exactly one deadlock was reported (other kinds
// may stand beside it): returns it.
const Json* the_deadlock_that_ended_the_child(const Run& run) {
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  cr_assert(contains(child_line(run).text, "exited with status 66"), "the child did not exit 66:\n%s",
            run.out.c_str());
  const Json* deadlock = nullptr;
  for (const Json& hazard : hazards_of(run)) {
    if (string_of(hazard.get("kind")) != "deadlock") continue;
    cr_assert_null(deadlock, "more than one deadlock reported");
    deadlock = &hazard;
  }
  cr_assert_not_null(deadlock, "no deadlock reported; stderr:\n%s", run.err.c_str());
  return deadlock;
}

// exit() in the child runs an atexit handler that locks a mutex a worker held at fork: exit() is reported
// (hang-prone), and the lock inside it is still judged (a reported call does not switch judgement off).
Test(e2e_child, atexit_handler_lock, .timeout = 60) {
  Run run = run_example("atexit_handler_lock");
  const Json* deadlock = the_deadlock_that_ended_the_child(run);
  size_t unsafe_exit = 0;
  for (const Json& hazard : hazards_of(run))
    if (string_of(hazard.get("kind")) == "unsafe-call" && string_of(hazard.get("call")) == "exit") ++unsafe_exit;
  cr_assert_eq(unsafe_exit, 1u, "exit() reported %zu times", unsafe_exit);
  expect_child_deadlock(run, *deadlock, {"pthread_mutex_lock", "mutex", "flush_journal", "journal-writer"});
  cr_assert(any_frame_is(deadlock->get("stack"), "child_exits"), "the deadlock's stack does not reach child_exits:\n%s",
            describe_frames(deadlock->get("stack")).c_str());
  passed();
}

Test(e2e_child, condvar_destroy, .timeout = 60) {
  Run run = run_example("condvar_destroy");
  expect_one_child_deadlock(run, {"pthread_cond_destroy", "condvar", "child_destroys_cv", "cv-waiter"});
  cr_assert_neq(run.truth.lock, 0u, "the example printed no condvar address");
  passed();
}

Test(e2e_child, static_init_in_flight, .timeout = 60) {
  Run run = run_example("static_init_in_flight");
  expect_one_child_deadlock(run, {"__cxa_guard_acquire", "static-init", "child_uses_the_static", "static-builder"});
  cr_assert_neq(run.truth.lock, 0u, "the example printed no guard address");
  cr_assert(contains(run.out, "settings().verbosity = 3"), "the parent's static did not finish:\n%s",
            run.out.c_str());
  passed();
}

// A CPython threading.Lock is a semaphore: held by a thread across os.fork(), the child's acquire never returns.
// The interpreter's own unsafe calls in the child (its allocator, mostly) may be reported too.
// CPython >= 3.13: the Lock is a PyMutex with no owner recorded, parked on a semaphore the child made for the wait;
// nothing read ties the wait to a vanished thread, so it is a note (README, "The rule"): never an error, never
// ended, the child's alarm ends it as natively. Returns whether the run was such a one.
// `note`: the wait is said as a note (with handlers that may end a wait other than a lock acquisition, the
// watchdog leaves it silently).
static bool expect_python_pymutex_note(const Run& run, bool note = true) {
  if (!contains(run.out, "python-lock: pymutex")) {
    cr_assert(contains(run.out, "python-lock: semaphore"), "the example did not say its lock kind:\n%s", run.out.c_str());
    return false;
  }
  ChildLine child = child_line(run);
  cr_assert(contains(child.text, "killed by signal 9") || contains(child.text, "killed by signal 14"),
            "the child was not left to its parent's deadline or its own timer:\n%s", run.out.c_str());
  for (const Json& hazard : hazards_of(run))
    cr_assert_neq(string_of(hazard.get("kind")), "deadlock", "a deadlock judged; stderr:\n%s", run.err.c_str());
  if (note)
    cr_assert(contains(run.err, "forkhazard: note: process " + std::to_string(child.pid) + " waits in"),
              "no note on stderr:\n%s", run.err.c_str());
  return true;
}

// CPython 3.11 (3.13 takes the note path above): the holder's Python stack at the fork names its function in the example's
// file, the forking thread's names main; in text too.
// The names a Python example's report must carry: its file, the holder's function and the child's own.
struct PythonNames {
  const char* file = "python_lock_fork.py";
  const char* holder = "holder_keeps_lock";
  const char* child = "child_acquires";
  const char* forker = "main";
};

static void expect_python_stacks_at_fork(const Run& run, const Json& hazard, const PythonNames& names) {
  bool holder = false, forker = false;
  for (const Json& thread : array_of(member(hazard.get("fork"), "threads"))) {
    for (const Json& frame : array_of(thread.get("python_stack"))) {
      bool ours = contains(string_of(frame.get("file")), names.file) && integer_of(frame.get("line")) > 0;
      if (integer_of(thread.get("tid")) == run.truth.owner_tid)
        holder = holder || (ours && string_of(frame.get("function")) == names.holder);
      if (string_of(thread.get("relation")) == "forker")
        forker = forker || (ours && string_of(frame.get("function")) == names.forker);
    }
  }
  cr_assert(holder, "the holder's Python stack at the fork does not name %s; stderr:\n%s", names.holder, run.err.c_str());
  cr_assert(forker, "the forking thread's Python stack does not name %s; stderr:\n%s", names.forker, run.err.c_str());
  cr_assert(contains(run.err, "Python stack at fork():") && contains(run.err, std::string("in ") + names.holder),
            "no Python stack in the text report:\n%s", run.err.c_str());
}

// The child's own Python stack at its blocked acquire (the shim's report), in the example's file.
static void expect_child_python_stack(const Run& run, const Json& hazard, const PythonNames& names) {
  bool found = false;
  for (const Json& frame : array_of(hazard.get("python_stack")))
    found = found || (string_of(frame.get("function")) == names.child &&
                      contains(string_of(frame.get("file")), names.file) && integer_of(frame.get("line")) > 0);
  cr_assert(found, "the deadlock's python_stack does not name %s; stderr:\n%s", names.child, run.err.c_str());
  cr_assert(contains(run.err, "Python stack:") && contains(run.err, std::string("in ") + names.child),
            "no Python stack of the child in the text report:\n%s", run.err.c_str());
}

// `ended`: the child ended with 66 at its acquire (a lock acquisition is certain whatever its handlers); else it
// armed a timer of its own since the fork, and is reported and left to it (SIGALRM).
static void expect_python_lock_deadlock(const Run& run, bool ended = true, const PythonNames& names = {}) {
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d, expected %d; stdout:\n%s\nstderr:\n%s",
               run.result.exit_code, kHazardExit, run.out.c_str(), run.err.c_str());
  ChildLine child = child_line(run);
  if (ended)
    cr_assert(contains(child.text, "exited with status 66"), "the child was not ended with 66:\n%s", run.out.c_str());
  else
    cr_assert(contains(child.text, "killed by signal 14"), "the child was not left to its own timer:\n%s",
              run.out.c_str());

  const Json* deadlock = nullptr;
  size_t deadlocks = 0;
  for (const Json& hazard : hazards_of(run)) {
    std::string kind = string_of(hazard.get("kind"));
    if (kind == "deadlock") {
      deadlock = &hazard;
      ++deadlocks;
    } else {
      cr_assert_eq(kind, "unsafe-call", "hazard of kind \"%s\"", kind.c_str());
    }
  }
  cr_assert_eq(deadlocks, 1u, "%zu deadlocks, expected 1; stderr:\n%s", deadlocks, run.err.c_str());
  std::string call = string_of(deadlock->get("call"));
  cr_assert(call == "sem_wait" || call == "sem_timedwait" || call == "sem_clockwait", "call is \"%s\"", call.c_str());
  cr_assert_eq(string_of(member(deadlock->get("lock"), "type")), "semaphore", "lock.type is \"%s\"",
               string_of(member(deadlock->get("lock"), "type")).c_str());
  cr_assert_eq(integer_of(deadlock->get("pid")), child.pid, "the deadlock names process %lld, the child was %d",
               integer_of(deadlock->get("pid")), child.pid);
  // A lock acquisition: CPython's SIGINT handler does not make it one that only an interrupt could end.
  cr_assert_eq(integer_of(deadlock->get("interrupt_only"), 0), 0, "the deadlock says a SIGINT could end it");
  // The thread that took the semaphore is the holder: a deadlock is reported only where a vanished thread took or
  // used the semaphore (README, "The rule"), so it is always named.
  long long owner = integer_of(member(deadlock->get("owner"), "tid"), 0);
  cr_assert_eq(owner, run.truth.owner_tid, "owner.tid is %lld, the holder was %lld", owner, run.truth.owner_tid);
  // The stack is the interpreter's: its lock acquisition is there, symbolized (CPython 3.11: the exported
  // PyThread_acquire_lock_timed; 3.13, whose lock is a PyMutex parked on a per-thread semaphore: the parking
  // lot, exported, while the acquire function itself is static in a stripped binary).
  bool acquire = false;
  for (const Json& frame : array_of(deadlock->get("stack"))) {
    std::string function = string_of(frame.get("function"));
    acquire = acquire || contains(function, "acquire") || contains(function, "_PyParkingLot_Park");
  }
  cr_assert(acquire, "no frame of the child's stack acquires a lock:\n%s",
            describe_frames(deadlock->get("stack")).c_str());
  cr_assert(contains(run.err, "forkhazard: deadlock"), "no human deadlock report on stderr:\n%s", run.err.c_str());
  expect_python_stacks_at_fork(run, *deadlock, names);
  expect_child_python_stack(run, *deadlock, names);
}

// The walk by layout (shim/python_walk.h) read from outside, as `forkhazard inspect` reads a process and as the
// shim reads its own at a fork: a live interpreter's threads, blocked at known depths, give each the frames
// faulthandler itself wrote for them a moment before (file, line, function), whatever the version (3.11 by the
// table, 3.13 by its debug offsets).
Test(e2e_child, python_walk_matches_faulthandler, .timeout = 60) {
  std::string python = python3_or_skip();
  const char* script =
      "import ctypes, faulthandler, sys, threading, time\n"
      "go = threading.Event()\n"
      "def deep(n):\n"
      "    if n == 0:\n"
      "        go.wait()\n"
      "        return\n"
      "    deep(n - 1)\n"
      "ts = [threading.Thread(target=deep, args=(i * 7,)) for i in range(4)]\n"
      "for t in ts: t.start()\n"
      "time.sleep(0.3)\n"
      "rt = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime'))\n"
      "try: v = ctypes.c_ulong.in_dll(ctypes.pythonapi, 'Py_Version').value\n"
      "except ValueError: v = 0\n"
      "print(rt, v, flush=True)\n"
      "faulthandler.dump_traceback(sys.stdout, all_threads=True)\n"
      "print('END', flush=True)\n"
      "sys.stdin.read()\n"
      "go.set()\n";
  int out[2], in[2];
  cr_assert(pipe(out) == 0 && pipe(in) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(in[0], 0);
    close(out[0]), close(out[1]), close(in[0]), close(in[1]);
    execl(python.c_str(), python.c_str(), "-c", script, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  close(in[0]);
  std::string text;
  char buf[4096];
  for (ssize_t n; text.find("\nEND\n") == std::string::npos && (n = read(out[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  unsigned long long runtime = 0, version = 0;
  sscanf(text.c_str(), "%llu %llu", &runtime, &version);
  usleep(200 * 1000);  // the main thread reaches its read (its own frame only moves; the others are still)

  struct Remote {
    pid_t pid;
    bool read(uint64_t at, void* to, size_t n) {
      iovec local{to, n}, remote{reinterpret_cast<void*>(at), n};
      return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
    }
  } reader{pid};
  fh::shim::python::walk::Layout layout;
  bool known = fh::shim::python::walk::layout_for(reader, runtime, version, &layout);
  static char walked[64 * 1024];
  fh::shim::python::walk::Text walk_text{walked, sizeof walked};
  int threads = -1;
  if (known) {
    fh::shim::python::walk::Walker<Remote> walker(reader, layout);
    threads = walker.all_threads(runtime, 0, walk_text);
  }
  close(in[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  close(out[0]);
  cr_assert(runtime != 0, "the script printed no runtime address:\n%s", text.c_str());
  cr_assert(known, "no layout for this CPython (Py_Version %#llx)", version);
  cr_assert_eq(threads, 5, "%d threads walked, expected 5:\n%.*s", threads, static_cast<int>(walk_text.len), walked);

  std::string ours(walked, walk_text.len);
  size_t compared = 0;
  for (size_t at = 0; (at = text.find("Thread 0x", at)) != std::string::npos; at++) {
    unsigned long id = std::stoul(text.substr(at + 9, 18), nullptr, 16);
    auto frames = [&](const std::string& t) {
      std::vector<std::string> v;
      fh::shim::python::for_each_frame(t.data(), t.size(), id,
                                       [&](const char* f, size_t fl, long line, const char* fn, size_t fnl) {
                                         v.push_back(std::string(f, fl) + ":" + std::to_string(line) + " " +
                                                     std::string(fn, fnl));
                                       });
      return v;
    };
    std::vector<std::string> theirs = frames(text), mine = frames(ours);
    cr_assert_gt(theirs.size(), 3u, "faulthandler wrote %zu frames for thread %#lx", theirs.size(), id);
    cr_assert_eq(mine.size(), theirs.size(), "thread %#lx: %zu frames walked, faulthandler wrote %zu:\n%s\n---\n%s", id,
                 mine.size(), theirs.size(), text.c_str(), ours.c_str());
    for (size_t i = 0; i < mine.size(); i++)
      cr_assert_eq(mine[i], theirs[i], "thread %#lx frame %zu: walked \"%s\", faulthandler \"%s\"", id, i,
                   mine[i].c_str(), theirs[i].c_str());
    compared++;
  }
  cr_assert_eq(compared, 4u, "%zu worker threads compared:\n%s", compared, text.c_str());
  passed();
}

// A process that looks like a CPython to the shim's lookup but whose layout the walk does not know (3.12 with a
// 3.14-style runtime; 3.11 with a runtime of zeros, which the layout's check refuses): one notice, no Python
// stacks, nothing harmed (its fork and its child's exit as natively).
Test(e2e_child, python_layout_unknown, .timeout = 60) {
  for (const char* version : {"3.12", "3.11"}) {
    std::string program = "build/stress/foreign_python";
    cr_assert(file_exists(program), "%s is missing: `make test` builds it", program.c_str());
    Run run = run_command_in(fresh_dir(), {kCli, "run", "--", program, version}, {});
    cr_assert_eq(run.result.exit_code, 0, "%s: exit %d; stderr:\n%s", version, run.result.exit_code, run.err.c_str());
    cr_assert(contains(run.out, "foreign-python: done"), "%s: stdout:\n%s", version, run.out.c_str());
    std::string notice = std::string("forkhazard: this CPython ") + version + " has no layout forkhazard knows";
    cr_assert_eq(count_of(run.err, notice), 1u, "%s: expected one notice \"%s\"; stderr:\n%s", version,
                 notice.c_str(), run.err.c_str());
    cr_assert(!contains(run.err, "Python stack at fork") && !contains(run.err, "Python stack:"), "%s: a Python stack; stderr:\n%s",
              version, run.err.c_str());
  }
  passed();
}

// concurrent.futures.ProcessPoolExecutor (fork context) while a metrics thread keeps a Lock: the worker's task
// takes it and is ended at its acquire (3.11), the holder's Python stack at the fork (metrics_exporter) and the
// worker's own (record_task) in the report; the pool then says it is broken at once (natively it waits out
// its deadline and kills the worker). 3.13: the PyMutex note.
Test(e2e_child, python_process_pool_executor, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_pool_executor.py", {}, {"5"});
  if (expect_python_pymutex_note(run)) {
    cr_assert(contains(run.out, "pool: timed out"), "stdout:\n%s", run.out.c_str());
  } else {
    PythonNames names;
    names.file = "python_pool_executor.py", names.holder = "metrics_exporter", names.child = "record_task";
    names.forker = "main";
    expect_python_lock_deadlock(run, true, names);
    cr_assert(contains(run.out, "pool: broken"), "the pool did not break at once:\n%s", run.out.c_str());
  }
  passed();
}

// `forkhazard run -- python3 -m pytest`: a test forks while a thread of its module ships log records under a lock of
// its own (logging re-creates its handler locks in a child, not that one); the child's log call blocks on it.
// pytest's faulthandler is on (handlers for fatal signals) and CPython's SIGINT handler: a lock acquisition is
// certain whatever they are. 3.11: ended with 66 at once, the shipper's Python stack at the fork (emit, in the
// example) and the child's own (test_child_logs_after_fork); the test fails at once instead of waiting out its
// deadline. 3.13: the PyMutex note.
Test(e2e_child, python_pytest_fork, .timeout = 90) {
  std::string python = python3_with_pytest_or_skip();
  std::string dir = fresh_dir();
  std::string json_path = dir + "/report.json";
  Run run = run_command_in(dir, {kCli, "run", "--json", json_path, "--", python, "-m", "pytest", "-q", "-s", "-p",
                                 "no:cacheprovider", "examples/python_pytest_fork.py"},
                           {"FH_DEADLINE=10", "PYTHONDONTWRITEBYTECODE=1"});
  run.truth = parse_ground_truth(run.err);  // not stdout: pytest's failure report quotes the print's source there
  run.out += run.err;  // the example's lines go to stderr (-s: pytest leaves them alone)
  cr_assert(run.truth.found, "no ground-truth line; output:\n%s", run.out.c_str());
  std::optional<Json> parsed = parse_json(read_file(json_path), &run.json_error);
  cr_assert(parsed.has_value(), "the JSON report does not parse: %s", run.json_error.c_str());
  run.report = *parsed;
  run.has_json = true;
  if (contains(run.out, "python-lock: pymutex")) {
    cr_assert(contains(run.out, "killed by signal 9"), "the child was not left to the test's deadline:\n%s",
              run.out.c_str());
    for (const Json& hazard : hazards_of(run))
      cr_assert_neq(string_of(hazard.get("kind")), "deadlock", "a deadlock judged; stderr:\n%s", run.err.c_str());
  } else {
    PythonNames names;
    names.file = "python_pytest_fork.py", names.holder = "emit", names.child = "test_child_logs_after_fork";
    names.forker = "test_child_logs_after_fork";
    expect_python_lock_deadlock(run, true, names);
    cr_assert(contains(run.out, "1 failed"), "pytest did not report the test failed:\n%s", run.out.c_str());
  }
  passed();
}

Test(e2e_child, python_lock_fork, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {}, {"1"});
  if (!expect_python_pymutex_note(run)) expect_python_lock_deadlock(run);
  passed();
}

// The same with the handlers real programs have: a server's SIGTERM handler, pytest's faulthandler. A handler can
// interrupt a lock acquisition, never release the lock: ended all the same (it once stalled the run).
Test(e2e_child, python_lock_fork_sigterm_handler, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {}, {"1", "sigterm"});
  if (!expect_python_pymutex_note(run, false)) expect_python_lock_deadlock(run);
  passed();
}

Test(e2e_child, python_lock_fork_faulthandler, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {}, {"1", "faulthandler"});
  if (!expect_python_pymutex_note(run, false)) expect_python_lock_deadlock(run);
  passed();
}

// A timer the child armed itself before the acquire: its own timeout. Reported at once, left to it.
Test(e2e_child, python_lock_fork_own_timer, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {}, {"1", "alarm"});
  if (!expect_python_pymutex_note(run, false)) expect_python_lock_deadlock(run, false);
  passed();
}

// A child that started a thread pool before it acquires: every thread of it waits for good (the worker on the
// pool's queue), so the watchdog judges the process as a whole: the main thread's wait on the semaphore the
// vanished holder took is the fork's doing (the shim noted it); ended with 66, the worker's wait shown.
Test(e2e_child, python_lock_fork_thread_pool, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {}, {"5", "pool"});
  if (expect_python_pymutex_note(run, false)) return passed();
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d; stdout:\n%s\nstderr:\n%s", run.result.exit_code,
               run.out.c_str(), run.err.c_str());
  ChildLine child = child_line(run);
  cr_assert(contains(child.text, "exited with status 66"), "the child was not ended with 66:\n%s", run.out.c_str());
  std::vector<const Json*> deadlocks;
  for (const Json& hazard : hazards_of(run))
    if (string_of(hazard.get("kind")) == "deadlock") deadlocks.push_back(&hazard);
  cr_assert_eq(deadlocks.size(), 1u, "%zu deadlocks, expected 1; stderr:\n%s", deadlocks.size(), run.err.c_str());
  const Json& deadlock = *deadlocks[0];
  cr_assert_eq(integer_of(deadlock.get("pid")), child.pid);
  cr_assert_eq(integer_of(deadlock.get("interrupt_only"), 0), 0, "the deadlock says a SIGINT could end it");
  cr_assert_eq(integer_of(member(deadlock.get("owner"), "tid"), 0), run.truth.owner_tid, "owner.tid is not the holder");
  const std::vector<Json>& others = array_of(deadlock.get("other_threads"));
  cr_assert_eq(others.size(), 1u, "other_threads lists %zu threads, expected the pool's worker", others.size());
  bool queue = false;
  for (const Json& frame : array_of(others[0].get("stack")))
    queue = queue || contains(string_of(frame.get("function")), "SimpleQueue_get");
  cr_assert(queue, "the worker's stack does not wait on the pool's queue:\n%s",
            describe_frames(others[0].get("stack")).c_str());
  // Read from outside by the watchdog: the stacks at the fork (the shim's snapshot) and the child's own now.
  expect_python_stacks_at_fork(run, deadlock, PythonNames{});
  expect_child_python_stack(run, deadlock, PythonNames{});
  passed();
}

// Without the non-portable class, the interpreter's allocations drop out: the deadlock is the only report.
Test(e2e_child, python_lock_fork_glibc_mode, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_fork.py", {"FORKHAZARD_OPTIONS=mode=glibc"}, {"1"});
  if (expect_python_pymutex_note(run)) return passed();
  expect_python_lock_deadlock(run);
  cr_assert_eq(hazards_of(run).size(), 1u, "%zu hazards under mode=glibc, expected only the deadlock; stderr:\n%s",
               hazards_of(run).size(), run.err.c_str());
  passed();
}

// A threading.Lock a worker took and released before the fork: free at this fork, the child acquires it and goes
// on; every run reports the race (a possible-deadlock naming the worker), as for a mutex (logger_race).
Test(e2e_child, python_lock_race_predicted, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_race.py");
  if (contains(run.out, "python-lock: pymutex"))
    cr_skip_test("CPython >= 3.13: a Lock is a PyMutex, with no semaphore of its own to predict from");
  cr_assert(contains(run.out, "python-lock: semaphore"), "the example did not say its lock kind:\n%s", run.out.c_str());
  cr_assert_eq(run.truth.expect, "possible-deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "a warning fails the run by default; exit %d; stderr:\n%s",
               run.result.exit_code, run.err.c_str());
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not go on:\n%s", run.out.c_str());
  const Json* predicted = nullptr;
  for (const Json& hazard : hazards_of(run)) {
    std::string kind = string_of(hazard.get("kind"));
    if (kind == "possible-deadlock") {
      cr_assert_null(predicted, "two predictions; stderr:\n%s", run.err.c_str());
      predicted = &hazard;
    } else {
      cr_assert_eq(kind, "unsafe-call", "hazard of kind \"%s\"", kind.c_str());
    }
  }
  cr_assert_not_null(predicted, "no prediction; stderr:\n%s", run.err.c_str());
  std::string call = string_of(predicted->get("call"));
  cr_assert(call == "sem_trywait" || call == "sem_wait", "call is \"%s\"", call.c_str());
  cr_assert_eq(string_of(member(predicted->get("lock"), "type")), "semaphore");
  cr_assert_eq(integer_of(member(predicted->get("owner"), "tid")), run.truth.owner_tid);
  cr_assert_eq(string_of(member(predicted->get("owner"), "relation")), "vanished");
  passed();
}

// The same lock held across the fork by the forking thread only: nothing to predict.
Test(e2e_child, python_lock_race_forker_only, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_lock_race.py", {}, {"forker"});
  cr_assert_eq(run.result.exit_code, 0, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  for (const Json& hazard : hazards_of(run))
    cr_assert_eq(string_of(hazard.get("kind")), "unsafe-call", "a %s; stderr:\n%s",
                 string_of(hazard.get("kind")).c_str(), run.err.c_str());
  passed();
}

// ---- correct spawners: no report ---------------------------------------------------------------------------------

Test(e2e_child, spawners_while_locked, .timeout = 60) {
  Run run = run_example("spawners_while_locked");
  expect_no_report(run, "4 of 4 spawners exited 0");
  for (const char* how : {"posix_spawn: exit 0", "system: exit 0", "popen: exit 0", "vfork+execve: exit 0"})
    cr_assert(contains(run.out, how), "no \"%s\" line:\n%s", how, run.out.c_str());
  passed();
}

Test(e2e_child, fork_exec_busy, .timeout = 60) {
  Run run = run_example("fork_exec_busy");
  expect_no_report(run, "50 of 50 children exited 0");
  passed();
}

Test(e2e_child, python_spawn_busy, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_spawn_busy.py");
  expect_no_report(run, "20 of 20 runs exited 0");
  passed();
}

Test(e2e_child, node_spawn_busy, .timeout = 60) {
  std::string node = node_or_skip();
  Run run = run_script(node, "node_spawn_busy.js");
  expect_no_report(run, "20 of 20 spawnSync runs exited 0; execFileSync ok");
  passed();
}

// ---- waits no one can end, caught before they block; every fork seen -------------------------------------------

// The child hands a job to the pool it inherited and waits: a private condvar, one thread, no handler: the wait
// is a deadlock before it blocks. Taking the pool's lock, which the vanished workers used, is not predicted: they
// were parked at the fork on `job_ready`, which the program had never signalled, so they could not take it again
// at any fork before the program's first job (issue "No false warning" (a)).
Test(e2e_child, pool_wait_in_child, .timeout = 60) {
  Run run = run_example("pool_wait_in_child");
  const Json* deadlock = the_deadlock_that_ended_the_child(run);
  size_t predicted = 0;
  for (const Json& hazard : hazards_of(run)) {
    if (string_of(hazard.get("kind")) != "possible-deadlock") continue;
    ++predicted;
    cr_assert_eq(string_of(member(hazard.get("owner"), "name")), "pool-worker");
  }
  cr_assert_eq(string_of(deadlock->get("call")), "pthread_cond_wait");
  cr_assert_eq(string_of(member(deadlock->get("lock"), "type")), "condvar");
  cr_assert_eq(parse_address(string_of(member(deadlock->get("lock"), "addr"))), run.truth.lock, "lock.addr is %s",
               string_of(member(deadlock->get("lock"), "addr")).c_str());
  cr_assert(any_frame_is(deadlock->get("stack"), "child_runs_job"), "stack:\n%s",
            describe_frames(deadlock->get("stack")).c_str());
  cr_assert_eq(predicted, 0u, "the pool's lock predicted %zu times (its workers were parked)", predicted);
  passed();
}

// A library registers its atfork child handler from its constructor, possibly before the shim's: the shim's
// own child handler still runs first (it interposes __register_atfork), so the library's handler locking a lock
// a vanished worker held is judged inside fork() instead of hanging there.
Test(e2e_child, atfork_in_library, .timeout = 60) {
  Run run = run_example("atfork_in_library");
  expect_one_child_deadlock(run, {"pthread_mutex_lock", "mutex", "journal_child_started", "journal-writer"});
  passed();
}

// syscall(SYS_fork) runs no atfork handler and glibc resets nothing: the shim sees it anyway (it interposes
// syscall), and the child's malloc is hang-prone there (not merely non-portable).
Test(e2e_child, raw_fork_malloc, .timeout = 60) {
  Run run = run_example("raw_fork_malloc");
  const Json& hazard = expect_one_unsafe_call(run, "child_allocates");
  cr_assert_eq(integer_of(member(hazard.get("fork"), "raw")), 1, "the fork is not marked raw");
  passed();
}

// RTLD_DEEPBIND binds a library's calls past the shim: one warning naming it, no hazard.
Test(e2e_child, deepbind_dlopen, .timeout = 60) {
  Run run = run_example("deepbind_dlopen");
  expect_no_report(run, "loaded libm twice");
  cr_assert_eq(count_of(run.err, "RTLD_DEEPBIND"), 1u, "stderr:\n%s", run.err.c_str());
  cr_assert(contains(run.err, "forkhazard: dlopen(\"libm.so.6\""), "the warning does not name the library:\n%s",
            run.err.c_str());
  passed();
}

// A signal handler on an 8 KiB alternate stack allocates in the child: the shim writes its short report there
// (the full one needs about 16 KiB) and the child goes on, as it does natively.
Test(e2e_child, altstack_alloc, .timeout = 60) {
  Run run = run_example("altstack_alloc");
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not exit 0:\n%s\nstderr:\n%s",
            run.out.c_str(), run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  cr_assert_eq(string_of(hazards[0].get("kind")), "unsafe-call");
  cr_assert_eq(string_of(hazards[0].get("call")), "malloc");
  cr_assert_eq(integer_of(hazards[0].get("pid")), child_line(run).pid);
  passed();
}

// The same on 6400 bytes, with the report going to a file (as under `forkhazard run`): room only for the short
// report's small buffer. The size depends on the machine's signal frame (its xsave area): where the example does
// not survive it natively, the test is skipped, saying so.
Test(e2e_child, altstack_alloc_small_stack, .timeout = 60) {
  Run native = run_command_in(fresh_dir(), {"build/examples/altstack_alloc", "6400"}, {});
  if (!contains(native.out, "exited with status 0"))
    cr_skip_test("natively the child does not survive 6400 bytes of signal stack here:\n%s", native.out.c_str());
  Run run = run_watched("altstack_alloc", {"build/examples/altstack_alloc", "6400"}, {});
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not exit 0:\n%s\nstderr:\n%s",
            run.out.c_str(), run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  cr_assert_eq(string_of(hazards[0].get("call")), "malloc");
  passed();
}

// The least alternate stack the kernel accepts (sysconf(_SC_MINSIGSTKSZ)), where a handler's malloc survives
// natively with a few hundred bytes to spare (tests/contract/probe.c): the shim writes nothing there, lets the
// call go on, and writes the report when the child exits.
Test(e2e_child, hazard_on_minimal_signal_stack_reported_at_exit, .timeout = 60) {
  std::vector<std::string> probe = {"build/contract/probe", "altstack", "min", "malloc"};
  cr_assert(file_exists(probe[0]), "%s is missing: run `make test`", probe[0].c_str());
  Run native = run_command_in(fresh_dir(), probe, {});
  if (!contains(native.out, "altstack child: exited 0"))
    cr_skip_test("natively the handler does not survive the minimal signal stack here:\n%s", native.out.c_str());
  std::string dir = fresh_dir();
  std::vector<std::string> argv = {kCli, "run", "--json", dir + "/report.json", "--"};
  argv.insert(argv.end(), probe.begin(), probe.end());
  Run run = run_command_in(dir, argv, {});
  cr_assert(contains(run.out, "altstack child: exited 0"), "the child did not exit 0:\n%s\nstderr:\n%s",
            run.out.c_str(), run.err.c_str());
  std::string error;
  std::optional<Json> report = parse_json(read_file(dir + "/report.json"), &error);
  cr_assert(report.has_value(), "no JSON report: %s; stderr:\n%s", error.c_str(), run.err.c_str());
  const std::vector<Json>& hazards = array_of(report->get("hazards"));
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  cr_assert_eq(string_of(hazards[0].get("kind")), "unsafe-call");
  cr_assert_eq(string_of(hazards[0].get("call")), "malloc");
  // Written at exit, on the ordinary stack: with the module map, so the site is symbolized.
  cr_assert(any_frame_is(hazards[0].get("stack"), "handler_malloc"), "the call site is not symbolized:\n%s",
            run.err.c_str());
  passed();
}

// pthread_join in the child on a worker that vanished at fork: glibc returns 0 at once; reported (class
// vanished-thread, a warning) naming the worker.
Test(e2e_child, join_in_child, .timeout = 60) {
  Run run = run_example("join_in_child");
  const Json& hazard = expect_one_unsafe_call(run, "child_joins_worker");
  cr_assert_eq(integer_of(member(hazard.get("owner"), "tid")), run.truth.owner_tid, "owner.tid is %lld",
               integer_of(member(hazard.get("owner"), "tid")));
  cr_assert_eq(string_of(member(hazard.get("owner"), "name")), "flusher");
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not exit 0:\n%s", run.out.c_str());
  passed();
}

// ---- prediction: the race that did not strike this run ----------------------------------------------------------

// The logger holds its lock only while it writes a message: natively the child hangs only when the fork lands
// inside that window. Every run reports the race on the lock, naming the logger; the child goes on.
Test(e2e_child, logger_race_predicted, .timeout = 60) {
  Run run = run_example("logger_race");
  cr_assert_eq(run.truth.expect, "possible-deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "a warning fails the run by default; exit %d; stderr:\n%s",
               run.result.exit_code, run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  const Json& hazard = hazards[0];
  cr_assert_eq(string_of(hazard.get("kind")), "possible-deadlock");
  cr_assert_eq(string_of(hazard.get("level")), "warning");
  cr_assert_eq(string_of(hazard.get("call")), "pthread_mutex_lock");
  cr_assert_eq(parse_address(string_of(member(hazard.get("lock"), "addr"))), run.truth.lock);
  cr_assert_eq(integer_of(member(hazard.get("owner"), "tid")), run.truth.owner_tid);
  cr_assert_eq(string_of(member(hazard.get("owner"), "name")), "logger");
  cr_assert_eq(string_of(member(hazard.get("owner"), "relation")), "vanished");
  cr_assert(any_frame_is(hazard.get("acquired_at"), "log_message"), "acquired_at:\n%s",
            describe_frames(hazard.get("acquired_at")).c_str());
  cr_assert(any_frame_is(hazard.get("stack"), "child_logs"), "stack:\n%s", describe_frames(hazard.get("stack")).c_str());
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not go on:\n%s", run.out.c_str());
  passed();
}

// The same program made correct three ways: silent.
static void expect_logger_silent(const char* mode) {
  Run run = run_watched("logger_race", {"build/examples/logger_race", mode}, {});
  expect_no_report(run, "exited with status 0");
  passed();
}
Test(e2e_child, logger_race_atfork_protected, .timeout = 60) { expect_logger_silent("atfork"); }
Test(e2e_child, logger_race_reinitialised, .timeout = 60) { expect_logger_silent("reinit"); }
Test(e2e_child, logger_race_forker_only, .timeout = 60) { expect_logger_silent("forker"); }

// A timed lock on a mutex whose holder vanished times out, never succeeds: a program that retries it spins for
// good. One warning (once, however many retries), naming the lock, its vanished holder and where it took it.
Test(e2e_child, timed_retry_never_succeeds, .timeout = 60) {
  Run run = run_example("timed_retry_child");
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const Json* warning = nullptr;
  for (const Json& hazard : hazards_of(run)) {
    if (string_of(hazard.get("kind")) == "unsafe-call") continue;
    cr_assert_null(warning, "a second lock hazard; stderr:\n%s", run.err.c_str());
    warning = &hazard;
  }
  cr_assert_not_null(warning, "no warning; stderr:\n%s", run.err.c_str());
  cr_assert_eq(string_of(warning->get("kind")), "possible-deadlock");
  cr_assert_eq(string_of(warning->get("level")), "warning");
  cr_assert_eq(integer_of(warning->get("never_succeeds"), 0), 1, "never_succeeds is not set");
  cr_assert_eq(string_of(warning->get("call")), "pthread_mutex_timedlock");
  cr_assert_eq(parse_address(string_of(member(warning->get("lock"), "addr"))), run.truth.lock);
  cr_assert_eq(integer_of(member(warning->get("owner"), "tid")), run.truth.owner_tid);
  cr_assert_eq(integer_of(warning->get("occurrences")), 1, "reported more than once");
  cr_assert(any_frame_is(warning->get("acquired_at"), "worker"), "acquired_at:\n%s",
            describe_frames(warning->get("acquired_at")).c_str());
  cr_assert(contains(run.err, "can never succeed"), "stderr:\n%s", run.err.c_str());
  cr_assert(contains(run.out, "child gave up: yes") && contains(child_line(run).text, "exited with status 0"),
            "the child did not go on as natively:\n%s", run.out.c_str());
  passed();
}

// A worker parked at the fork on a condvar nothing ever signalled cannot take its locks again before the program
// does what it never did: the child's lock predicts nothing (issue "No false warning", 1 and 2). Each fails on a
// shim that predicts from past uses alone (a possible-deadlock every run).
Test(e2e_child, parked_worker_is_no_race, .timeout = 60) {
  Run run = run_watched("parked_worker", {"build/examples/parked_worker", "plain"}, {});
  expect_no_report(run, "exited with status 0");
  passed();
}
Test(e2e_child, handshake_before_fork_is_no_race, .timeout = 60) {
  Run run = run_watched("parked_worker", {"build/examples/parked_worker", "handshake"}, {});
  expect_no_report(run, "exited with status 0");
  passed();
}
// The counterpart: the program signals the worker's condvar in its normal flow (a job), so a fork could land
// while the worker holds the lock: still a warning, naming the worker.
Test(e2e_child, signalled_worker_is_a_race, .timeout = 60) {
  Run run = run_watched("parked_worker", {"build/examples/parked_worker", "signalled"}, {});
  cr_assert_eq(run.truth.expect, "possible-deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const std::vector<Json>& hazards = hazards_of(run);
  cr_assert_eq(hazards.size(), 1u, "%zu hazards; stderr:\n%s", hazards.size(), run.err.c_str());
  cr_assert_eq(string_of(hazards[0].get("kind")), "possible-deadlock");
  cr_assert_eq(string_of(member(hazards[0].get("owner"), "name")), "parked-worker");
  cr_assert(contains(child_line(run).text, "exited with status 0"), "the child did not go on:\n%s", run.out.c_str());
  passed();
}

// Perl's threads::shared lock is a mutex and a condvar: a worker held it across fork(), and the child's lock()
// waits on the condvar whose mutex the vanished worker used: the fork's doing, still an error (README, "The
// rule"; its counterpart, a child waiting on its own condvar, is only a note: tests/test_trust.cpp).
Test(e2e_child, perl_shared_lock, .timeout = 60) {
  std::string perl = perl_with_threads_or_skip();
  Run run = run_script(perl, "perl_shared_lock.pl");
  ChildLine line = child_line(run);
  cr_assert(contains(line.text, "exited with status 66"), "the child was not ended with 66: %s\nstderr:\n%s",
            line.text.c_str(), run.err.c_str());
  bool judged = false;
  for (const Json& hazard : hazards_of(run))
    judged = judged || (string_of(hazard.get("kind")) == "deadlock" && string_of(hazard.get("call")) == "pthread_cond_wait");
  cr_assert(judged, "no deadlock on the condvar; stderr:\n%s", run.err.c_str());
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit status %d", run.result.exit_code);
  passed();
}

// Every Ruby fork ends in exit() (ruby_stop): with threads at work, 20 children; exit() is a note (no Ruby thread
// ever registers exit handlers, so the registry's lock is free at every fork), and the child's use of Ruby's VM lock
// predicts nothing (Ruby takes it only under the GVL, which the forking thread holds across fork(): shim/runtimes.h;
// before that rule, 4 runs in 10 got a possible deadlock on it). The run passes, every child exits 0 as natively.
Test(e2e_child, ruby_fork_with_threads, .timeout = 90) {
  std::string ruby = find_on_path("ruby");
  if (ruby.empty()) cr_skip_test("ruby is not on PATH (make deps installs it)");
  Run run = run_script(ruby, "ruby_fork.rb");
  cr_assert_eq(run.result.exit_code, 0, "exit status %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  cr_assert_eq(count_of(run.out, "exited with status 0"), 20u, "stdout:\n%s", run.out.c_str());
  size_t exits = 0;
  for (const Json& hazard : hazards_of(run)) {
    std::string kind = string_of(hazard.get("kind")), call = string_of(hazard.get("call"));
    cr_assert_eq(string_of(hazard.get("level")), "note", "a %s: %s %s; stderr:\n%s", string_of(hazard.get("level")).c_str(),
                 kind.c_str(), call.c_str(), run.err.c_str());
    exits += call == "exit";
  }
  cr_assert_geq(exits, 1u, "exit() in the children was not reported at all (as a note); stderr:\n%s", run.err.c_str());
  passed();
}

// Perl ithreads parked on a shared condition nothing signals before the forks; each child calls Perl's exit (which
// takes the threads modules' mutexes the ithreads used while they started): no warning (they could not hold
// those mutexes at any fork of this flow), the run passes, every child exits 0 as natively.
Test(e2e_child, perl_ithreads_fork, .timeout = 90) {
  std::string perl = perl_with_threads_or_skip();
  Run run = run_script(perl, "perl_ithreads_fork.pl");
  cr_assert_eq(run.result.exit_code, 0, "exit status %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  cr_assert_eq(count_of(run.out, "exited with status 0"), 20u, "stdout:\n%s", run.out.c_str());
  for (const Json& hazard : hazards_of(run))
    cr_assert_eq(string_of(hazard.get("level")), "note", "a %s: %s %s; stderr:\n%s", string_of(hazard.get("level")).c_str(),
                 string_of(hazard.get("kind")).c_str(), string_of(hazard.get("call")).c_str(), run.err.c_str());
  passed();
}

// multiprocessing (fork context) children writing to a buffered file a thread of the parent keeps writing to: the
// race on the file's lock (CPython 3.11: a semaphore) is reported naming the writer, with its Python stack at the
// fork (journal_writer) and the child's own (child_writes); the 5 children's reports merge into one. On 3.11 and
// 3.13 alike (the dumper, or the walk by 3.13's debug offsets).
Test(e2e_child, python_multiprocessing_writer, .timeout = 90) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_mp_writer.py");
  cr_assert_eq(count_of(run.out, "exited with status 0") + count_of(run.out, "exited with status 66"), 5u,
               "stdout:\n%s", run.out.c_str());
  const Json* race = nullptr;
  for (const Json& hazard : hazards_of(run)) {
    std::string kind = string_of(hazard.get("kind"));
    if (kind == "possible-deadlock" || kind == "deadlock") race = &hazard;
  }
  cr_assert_not_null(race, "no report on the file's lock; stderr:\n%s", run.err.c_str());
  bool child = false, writer = false;
  for (const Json& frame : array_of(race->get("python_stack")))
    child = child || string_of(frame.get("function")) == "child_writes";
  for (const Json& thread : array_of(member(race->get("fork"), "threads")))
    if (string_of(thread.get("relation")) == "vanished")
      for (const Json& frame : array_of(thread.get("python_stack")))
        writer = writer || (string_of(frame.get("function")) == "journal_writer" &&
                            contains(string_of(frame.get("file")), "python_mp_writer.py"));
  cr_assert(child, "the report lacks the child's Python frame child_writes; stderr:\n%s", run.err.c_str());
  cr_assert(writer, "the writer's Python stack at the fork lacks journal_writer; stderr:\n%s", run.err.c_str());
  passed();
}

// A Python child waiting for good on its own new Event (until its parent's SIGTERM): certain, but nothing of the
// vanished threads is in it. It was a deadlock error ("unless its SIGINT handler ends the wait"); now at most a
// note, and the child dies of SIGTERM as natively.
Test(e2e_child, python_event_of_its_own, .timeout = 60) {
  std::string python = python3_or_skip();
  Run run = run_script(python, "python_event_child.py", {}, {"200"});
  ChildLine line = child_line(run);
  cr_assert(contains(line.text, "killed by signal 15"), "the child did not die of SIGTERM: %s\nstderr:\n%s",
            line.text.c_str(), run.err.c_str());
  cr_assert_eq(run.result.exit_code, 0, "exit status %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  for (const Json& hazard : hazards_of(run)) {
    std::string level = string_of(hazard.get("level"));
    cr_assert(level == "note", "a %s: %s; stderr:\n%s", level.c_str(), string_of(hazard.get("call")).c_str(),
              run.err.c_str());
  }
  passed();
}
