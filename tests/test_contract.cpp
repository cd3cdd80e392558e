// The wrapper contract (issue 10): under the shim every interposed function returns what libc returns, leaves errno
// as libc leaves it (also on success), restores the signal mask, adds no cancellation point, and the report path
// works wherever the program itself works on a small alternate signal stack. tests/contract/probe.c prints one line
// per call; each test runs it natively and with LD_PRELOAD=build/libforkhazard.so, with the same environment
// otherwise, and requires the two outputs to be identical line by line.
// Run from the project root (as `make test` does). Nothing is ever preloaded into this test runner.
#include <criterion/criterion.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "tests/e2e_support.h"

namespace {

using namespace e2e;

constexpr const char* kProbe = "build/contract/probe";
constexpr int kProbeDeadline = 30;  // seconds; the whole contract run takes about one

struct ProbeRun {
  RunResult result;
  std::string out, err;
};

std::string absolute(const char* path) {
  std::error_code ignored;
  return std::filesystem::absolute(path, ignored).string();
}

// One run of the probe, natively or under the shim. Both get the same variables but LD_PRELOAD: a fixed time
// zone and locale, and FORKHAZARD_OPTIONS (reports into `dir`, on_unsafe=report: a reported call goes on).
// args[0] may name another build of the probe ("build/contract/..."); otherwise the probe itself runs.
ProbeRun run_probe(const std::string& dir, const std::string& tag, std::vector<std::string> args, bool shim,
                   bool log_to_file = true) {
  std::string program = kProbe;
  if (!args.empty() && args[0].rfind("build/contract/", 0) == 0) {
    program = args[0];
    args.erase(args.begin());
  }
  cr_assert(file_exists(program), "%s is missing: run `make test` (it builds $(CONTRACT_PROGS))", program.c_str());
  cr_assert(file_exists(kShim), "%s is missing: run `make all`", kShim);
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string options = "on_unsafe=report";
  if (log_to_file) options += ":log_path=" + dir + "/report-" + tag;
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "TZ=UTC", "LC_ALL=C",
                                  "FORKHAZARD_OPTIONS=" + options};
  if (shim) env.push_back("LD_PRELOAD=" + absolute(kShim));
  ProbeRun run;
  std::string base = dir + "/" + tag + (shim ? "-shim" : "-native");
  run.result = run_command(argv, env, base + ".out", base + ".err", kProbeDeadline);
  cr_assert(run.result.started, "cannot start %s: %s", program.c_str(), run.result.error.c_str());
  run.out = read_file(base + ".out");
  run.err = read_file(base + ".err");
  return run;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

// "" when the outputs are identical; else the first differing line with the two lines before it, then every
// line only one of the outputs has (as multisets: an inserted line does not make all later ones differ).
std::string difference(const std::string& native, const std::string& shim) {
  std::vector<std::string> a = lines_of(native), b = lines_of(shim);
  size_t n = std::max(a.size(), b.size());
  size_t first = n;
  for (size_t i = 0; i < n && first == n; i++)
    if (i >= a.size() || i >= b.size() || a[i] != b[i]) first = i;
  if (first == n) return "";
  auto at = [](const std::vector<std::string>& v, size_t i) { return i < v.size() ? v[i] : std::string("(no line)"); };
  std::string d = "first difference at line " + std::to_string(first + 1) + " (native " +
                  std::to_string(a.size()) + " lines, shim " + std::to_string(b.size()) + " lines):\n";
  for (size_t i = first >= 2 ? first - 2 : 0; i < first; i++) d += "    " + a[i] + "\n";
  d += "  - native: " + at(a, first) + "\n  + shim:   " + at(b, first) + "\n";
  std::vector<std::string> sa = a, sb = b, only_a, only_b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(only_a));
  std::set_difference(sb.begin(), sb.end(), sa.begin(), sa.end(), std::back_inserter(only_b));
  d += "every line only the native output has (" + std::to_string(only_a.size()) + "):\n";
  for (size_t i = 0; i < only_a.size() && i < 30; i++) d += "  - " + only_a[i] + "\n";
  d += "every line only the shim output has (" + std::to_string(only_b.size()) + "):\n";
  for (size_t i = 0; i < only_b.size() && i < 30; i++) d += "  + " + only_b[i] + "\n";
  return d;
}

// Runs the probe both ways and asserts the same exit status and the same output; `expect_native` must be in the
// native output (the probe really got that far). Returns the shim run.
ProbeRun assert_same(const std::string& dir, const std::string& tag, const std::vector<std::string>& args,
                     const char* expect_native, bool log_to_file = true) {
  ProbeRun native = run_probe(dir, tag, args, false, log_to_file);
  ProbeRun shim = run_probe(dir, tag, args, true, log_to_file);
  std::string what = std::string("probe");
  for (const std::string& a : args) what += " " + a;
  cr_assert(!native.result.timed_out, "%s natively did not finish within %d s (files in %s)", what.c_str(),
            kProbeDeadline, dir.c_str());
  cr_assert(contains(native.out, expect_native), "%s natively did not print \"%s\" (exit %d):\n%s\nstderr:\n%s",
            what.c_str(), expect_native, native.result.exit_code, native.out.c_str(), native.err.c_str());
  cr_assert(!shim.result.timed_out, "%s under the shim did not finish within %d s (a hang; files in %s)",
            what.c_str(), kProbeDeadline, dir.c_str());
  std::string diff = difference(native.out, shim.out);
  cr_assert(diff.empty() && native.result.exit_code == shim.result.exit_code,
            "%s: the output under the shim differs from the native one (exit native %d, shim %d); %s\n"
            "shim stderr (first 2000 bytes):\n%.2000s\n(files in %s)",
            what.c_str(), native.result.exit_code, shim.result.exit_code,
            diff.empty() ? "the outputs are identical" : diff.c_str(), shim.err.c_str(), dir.c_str());
  return shim;
}

// The report files the shim wrote with log_path=DIR/report-TAG.
int report_files(const std::string& dir, const std::string& tag) {
  int n = 0;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ignored))
    if (entry.path().filename().string().rfind("report-" + tag + ".", 0) == 0) n++;
  return n;
}

}  // namespace

// Every FH_INTERPOSE row of shim/interpose.def and a sample of every FH_UNSAFE family, in a plain process:
// the shim only passes through. Success and error paths, errno preserved on success, the mask unchanged.
Test(contract, every_wrapper_in_a_plain_process, .timeout = 60) {
  std::string dir = fresh_dir();
  assert_same(dir, "contract", {"contract"}, "contract done");
  passed();
}

// The same families in the child of a multithreaded fork, where the shim judges lock calls and reports the
// catalogued ones (on_unsafe=report: they go on): the child's answers must still be libc's. Locks a vanished
// thread holds answer trylock EBUSY and timedlock ETIMEDOUT, never a verdict.
Test(contract, lock_alloc_stdio_families_in_a_forked_child, .timeout = 60) {
  std::string dir = fresh_dir();
  assert_same(dir, "child", {"child-contract"}, "child: child contract done");
  cr_assert(report_files(dir, "child") > 0, "the shim wrote no report for the child's catalogued calls (in %s): "
            "was it preloaded?", dir.c_str());
  passed();
}

// A thread with a deferred cancel pending calls the wrapped functions that are not cancellation points (locks,
// allocator, semaphores, fork in a multithreaded process, pthread_create): each returns; the thread is
// cancelled at pthread_testcancel.
Test(contract, pending_cancel_survives_non_cancellation_points, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "nonpoints", {"cancel-nonpoints"}, "completed: pthread_detach (then cancelled)");
  passed();
}

// fork() is not a cancellation point: with a cancel pending on the only thread, it returns in the parent and in
// the child (the shim's prepare step must not reach a cancellation point such as open() or read()).
Test(contract, pending_cancel_survives_fork_of_a_single_thread, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "forkmain", {"cancel-fork-main"}, "_Fork child (cancel pending): exited 43");
  passed();
}

// A thread cancelled before it ran still enters its start routine (the shim's thread start adds no
// cancellation point before it).
Test(contract, cancel_before_start_enters_the_start_routine, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "create", {"cancel-create"}, "(20 of 20)");
  passed();
}

// The report path is no cancellation point: the child of a multithreaded fork with a cancel pending calls
// malloc, setenv, snprintf...; the shim reports them (writing a report file, or to stderr) and the child goes on.
Test(contract, report_path_is_not_a_cancellation_point_log_file, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "cancelreport", {"cancel-report"}, "reached step 8");
  passed();
}

Test(contract, report_path_is_not_a_cancellation_point_stderr, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "cancelstderr", {"cancel-report"}, "reached step 8", false);
  passed();
}

// A reported call from a signal handler on a small alternate stack (a guard page below it) in the child of a
// multithreaded fork: wherever the program works natively with room to spare, it works under the shim. Sizes:
// the kernel's minimum for this CPU (sysconf(_SC_MINSIGSTKSZ), e.g. 3376 with AVX-512), 4, 6 and 8 KiB. Calls:
// nothing (the baseline), malloc (non-portable), setenv (hang-prone), a mutex a vanished thread took (a
// prediction).
//
// "Room to spare": a wrapper keeps its own frame and its scope under libc's frames (setenv's wrapper: 80 bytes and
// a return address; on glibc 2.36 its inner malloc makes the deepest point 128 bytes deeper than native). Where
// the native handler leaves less than kWrapperBudget bytes unused (glibc 2.41's setenv on the 3376-byte minimum
// leaves 40), no interposer that keeps a frame fits, and the comparison is not made (listed in the message when
// something else fails). The shim's report path is bounded apart from that: with less than 2 KiB left it writes
// nothing there (the hazard is written at exit); the cases compared here include malloc with 232 bytes to spare.
constexpr long kWrapperBudget = 128;

Test(contract, report_on_small_alternate_stacks, .timeout = 60) {
  std::string dir = fresh_dir();
  std::string failures, not_compared;
  int runs = 0;
  for (const char* call : {"nothing", "malloc", "setenv", "mutex"}) {
    // What the handler takes natively, measured on a 20 KiB stack filled with a pattern.
    ProbeRun depth = run_probe(dir, std::string("native-depth-") + call, {"altstack-depth", call, "20480"}, false);
    long native_used = -1;
    size_t at = depth.out.find(" used ");
    if (at != std::string::npos) native_used = std::atol(depth.out.c_str() + at + 6);
    cr_assert_gt(native_used, 0, "no native stack depth for %s:\n%s", call, depth.out.c_str());
    for (const char* size : {"0", "4096", "6144", "8192"}) {
      std::string tag = std::string("alt-") + call + "-" + size;
      long bytes = std::string(size) == "0" ? sysconf(_SC_MINSIGSTKSZ) : std::atol(size);
      std::string shown = std::string(call) + " on " + (std::string(size) == "0" ? "sysconf(_SC_MINSIGSTKSZ)" : size);
      if (bytes - native_used < kWrapperBudget) {
        not_compared += "  " + shown + ": natively " + std::to_string(native_used) + " of " + std::to_string(bytes) +
                        " bytes used\n";
        continue;
      }
      ProbeRun native = run_probe(dir, tag, {"altstack", size, call}, false);
      ProbeRun shim = run_probe(dir, tag, {"altstack", size, call}, true);
      runs++;
      if (native.result.timed_out || shim.result.timed_out) {
        failures += "  " + tag + ": a run did not finish\n";
        continue;
      }
      if (native.out == shim.out) continue;
      std::vector<std::string> n = lines_of(native.out), s = lines_of(shim.out);
      failures += "  " + shown + ": native [" + (n.empty() ? "" : n.back()) + "] shim [" + (s.empty() ? "" : s.back()) +
                  "]\n";
    }
  }
  if (!failures.empty()) {
    // How much alternate stack each handler takes, natively and under the shim, on a 20 KiB stack (below the
    // shim's 24 KiB threshold: its short report).
    failures += "stack used (20480-byte alternate stack, report to a log file):\n";
    for (const char* call : {"malloc", "setenv", "mutex"}) {
      std::string tag = std::string("depth-") + call;
      ProbeRun native = run_probe(dir, tag, {"altstack-depth", call, "20480"}, false);
      ProbeRun shim = run_probe(dir, tag, {"altstack-depth", call, "20480"}, true);
      std::vector<std::string> n = lines_of(native.out), s = lines_of(shim.out);
      failures += "  native: " + (n.empty() ? std::string("?") : n.front()) + "\n  shim:   " +
                  (s.empty() ? std::string("?") : s.front()) + "\n";
    }
    if (!not_compared.empty()) failures += "not compared (less than the wrapper budget left natively):\n" + not_compared;
  }
  cr_assert(failures.empty(), "a reported call on a small alternate stack ends differently under the shim "
            "(%d runs, files in %s):\n%s", runs, dir.c_str(), failures.c_str());
  cr_assert_geq(runs, 12, "only %d of 16 cases compared:\n%s", runs, not_compared.c_str());
  passed();
}

// A program linked against the GLIBC_2.2.5 pthread_cond_* (the old condvar ABI: glibc keeps a pointer to the
// real condvar in the first word) must reach that ABI's code, not the new one, through the shim. Both ABIs'
// references bind to the one unversioned wrapper; it asks the caller's object which version it binds
// (shim/cond_abi.h). Before that, the old ABI's condvar was corrupted (SIGSEGV in the old pthread_cond_signal).
Test(contract, old_abi_condvar, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "oldcond", {"build/contract/probe_oldcond", "old-condvar"}, "pthread_cond_destroy@GLIBC_2.2.5 success");
  passed();
}

// clone(NULL, stack, SIGCHLD, NULL): glibc answers EINVAL before any clone; the shim must not start a child.
Test(contract, clone_with_a_null_function, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "clonenull", {"clone-null-fn"}, "clone NULL-fn-EINVAL");
  passed();
}

// syscall(SYS_clone3, bad pointer, size): the kernel answers EFAULT; the shim must not read the pointer.
Test(contract, clone3_with_a_bad_pointer, .timeout = 30) {
  std::string dir = fresh_dir();
  assert_same(dir, "clone3", {"clone3-badptr"}, "EFAULT");
  passed();
}
