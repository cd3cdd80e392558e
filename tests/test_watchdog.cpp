// Tests of the hang watchdog of `forkhazard run` (report/watchdog.h): the /proc parsers, the judging rule, the
// choice of the reported call and the on_deadlock options as pure functions; then end-to-end runs of the examples
// whose children block where the shim cannot see (a libgomp barrier, glibc's popen list lock, the loader's write
// lock, a bare futex), with the watchdog on and off, and waits it must leave alone (a handler, a timeout).
// Run from the project root (as `make test` does). Nothing is ever preloaded into this test runner.
#include <criterion/criterion.h>
#include <gnu/libc-version.h>

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "report/json.h"
#include "report/merge.h"
#include "report/reader.h"
#include "report/sarif.h"
#include "report/text.h"
#include "report/wait_kinds.h"
#include "report/watchdog.h"
#include "shim/options.h"
#include "shim/wait_rule.h"
#include "tests/e2e_support.h"

namespace {

using namespace fh::watchdog;

// ---- /proc parsers -----------------------------------------------------------------------------------------------

// A hung OpenMP child, as /proc shows it (FUTEX_WAIT|FUTEX_PRIVATE_FLAG, no timeout).
constexpr const char* kOmpSyscall =
    "202 0x560aaa21d304 0x80 0x8 0x0 0xca 0x560aaa21d648 0x7ffd63af7728 0x7f4efa6fb64e\n";

Test(watchdog, parses_a_syscall_line) {
  std::optional<SyscallLine> line = parse_syscall(kOmpSyscall);
  cr_assert(line.has_value());
  cr_expect_eq(line->nr, 202);
  cr_expect_eq(line->args[0], 0x560aaa21d304u);
  cr_expect_eq(line->args[1], 0x80u);
  cr_expect_eq(line->args[2], 0x8u);
  cr_expect_eq(line->args[3], 0u);
  cr_expect_eq(line->args[5], 0x560aaa21d648u);
  cr_expect_eq(line->sp, 0x7ffd63af7728u);
  cr_expect_eq(line->pc, 0x7f4efa6fb64eu);
}

Test(watchdog, a_task_outside_a_syscall_has_no_syscall_line) {
  cr_expect(!parse_syscall("running\n"));
  cr_expect(!parse_syscall("-1 0x7ffd63af7728 0x7f4efa6fb64e\n"));  // blocked, but not in a system call
  cr_expect(!parse_syscall(""));
  cr_expect(!parse_syscall("202 0x1 0x80 0x0 0x0\n"));            // short
  cr_expect(!parse_syscall("202 0x1 0x80 0x0 0x0 0x0 0x0 0x7ffd zz\n"));
}

Test(watchdog, parses_stat_whatever_the_command_name) {
  // Field 2 may hold spaces and parentheses; num_threads is field 20.
  std::string line = "4242 (a) b) (c) S 4241 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 3 0 9801 1 2 3 4\n";
  std::optional<ProcStat> stat = parse_stat(line);
  cr_assert(stat.has_value());
  cr_expect_eq(stat->state, 'S');
  cr_expect_eq(stat->ppid, 4241);
  cr_expect_eq(stat->threads, 3);
  cr_expect(!parse_stat("4242 (no closing paren S 1 2\n"));
  cr_expect(!parse_stat("4242 (x) S 1\n"));
}

constexpr const char* kStatus =
    "Name:\tomp_in_child\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t12336\n"
    "Threads:\t1\n"
    "SigQ:\t0/7823\n"
    "SigPnd:\t0000000000000000\n"
    "ShdPnd:\t0000000000000000\n"
    "SigBlk:\t0000000000000400\n"
    "SigIgn:\t0000000000001000\n"
    "SigCgt:\t0000000100000002\n"
    "voluntary_ctxt_switches:\t7\n"
    "nonvoluntary_ctxt_switches:\t3\n";

Test(watchdog, parses_status) {
  std::optional<ProcStatus> status = parse_status(kStatus);
  cr_assert(status.has_value());
  cr_expect_eq(status->threads, 1);
  cr_expect_eq(status->caught, 0x100000002u);
  cr_expect_eq(status->blocked, 0x400u);
  cr_expect_eq(status->ignored, 0x1000u);
  cr_expect_eq(status->voluntary_switches, 7);
  std::string without_switches = kStatus;
  without_switches.erase(without_switches.find("voluntary_ctxt_switches"));
  cr_expect(!parse_status(without_switches));
  cr_expect(!parse_status(""));
}

Test(watchdog, parses_timer_signals) {
  const char* timers =
      "ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.812\nClockID: 1\n"
      "ID: 1\nsignal: 10/00007f0000000000\nnotify: none/pid.812\nClockID: 0\n"
      "ID: 2\nsignal: 2/0000000000000000\nnotify: thread/tid.813\nClockID: 1\n";
  cr_expect_eq(parse_timer_signals(timers), fh::signal_bit(SIGALRM) | fh::signal_bit(SIGINT));
  cr_expect_eq(parse_timer_signals(""), 0u);
}

// ---- the rule ------------------------------------------------------------------------------------------------------

SyscallLine omp_wait() { return *parse_syscall(kOmpSyscall); }

ProcStatus one_thread(uint64_t caught = fh::signal_bit(33), uint64_t blocked = 0) {
  ProcStatus status;
  status.threads = 1;
  status.caught = caught;
  status.blocked = blocked;
  status.voluntary_switches = 7;
  return status;
}

Test(watchdog, an_untimed_private_futex_wait_of_the_only_thread_is_endless) {
  cr_expect_eq(futex_syscall, SYS_futex);
  cr_expect(judge_wait(omp_wait(), one_thread(), 0) == Judgement::endless);
  // sem_wait: FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME.
  SyscallLine sem = omp_wait();
  sem.args[1] = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME;
  cr_expect(judge_wait(sem, one_thread(), 0) == Judgement::endless);
  // glibc's own handlers (32, 33) do not count; SIGINT's alone (CPython's) makes it endless unless interrupted.
  uint64_t glibc = fh::signal_bit(32) | fh::signal_bit(33);
  cr_expect(judge_wait(omp_wait(), one_thread(glibc), 0) == Judgement::endless);
  cr_expect(judge_wait(omp_wait(), one_thread(glibc | fh::signal_bit(SIGINT)), 0) == Judgement::interrupt_only);
  cr_expect(judge_wait(omp_wait(), one_thread(glibc | fh::signal_bit(SIGINT) | fh::signal_bit(SIGWINCH)), 0) ==
            Judgement::handler_may_wake);
}

Test(watchdog, never_judges_what_may_end) {
  ProcStatus two = one_thread();
  two.threads = 2;
  cr_expect(judge_wait(omp_wait(), two, 0) == Judgement::multithreaded);

  SyscallLine shared = omp_wait();
  shared.args[1] = FUTEX_WAIT;
  cr_expect(judge_wait(shared, one_thread(), 0) == Judgement::shared_futex);

  SyscallLine timed = omp_wait();
  timed.args[3] = 0x7ffd63af7700;
  cr_expect(judge_wait(timed, one_thread(), 0) == Judgement::timed_wait);

  SyscallLine pi = omp_wait();
  pi.args[1] = FUTEX_LOCK_PI_PRIVATE;
  cr_expect(judge_wait(pi, one_thread(), 0) == Judgement::not_futex_wait);
  SyscallLine wake = omp_wait();
  wake.args[1] = FUTEX_WAKE_PRIVATE;
  cr_expect(judge_wait(wake, one_thread(), 0) == Judgement::not_futex_wait);
  SyscallLine poll_call = omp_wait();
  poll_call.nr = SYS_poll;
  cr_expect(judge_wait(poll_call, one_thread(), 0) == Judgement::not_futex_wait);
}

Test(watchdog, a_handler_a_timer_child_or_peer_may_run_prevents_the_verdict) {
  for (int sig : {SIGTERM, SIGALRM, SIGVTALRM, SIGPROF, SIGCHLD, SIGIO, SIGURG, SIGUSR1, SIGUSR2, 34, 50, 64, SIGHUP,
                  SIGQUIT, SIGWINCH, SIGTSTP}) {
    Judgement j = judge_wait(omp_wait(), one_thread(fh::signal_bit(sig)), 0);
    cr_expect(j == Judgement::handler_may_wake, "a handler for signal %d: %s", sig, judgement_words(j));
  }
  // A blocked signal cannot interrupt the wait: its handler cannot run.
  uint64_t usr1 = fh::signal_bit(SIGUSR1);
  cr_expect(judge_wait(omp_wait(), one_thread(usr1, usr1), 0) == Judgement::endless);
  // A POSIX timer may deliver even SIGINT.
  uint64_t sigint = fh::signal_bit(SIGINT);
  cr_expect(judge_wait(omp_wait(), one_thread(sigint), sigint) == Judgement::handler_may_wake);
  cr_expect(judge_wait(omp_wait(), one_thread(sigint), fh::signal_bit(SIGALRM)) == Judgement::interrupt_only);
}

// ---- the call ------------------------------------------------------------------------------------------------------

Test(watchdog, picks_the_innermost_catalogued_call) {
  // glibc 2.36's popen, through the shim's own popen wrapper.
  std::vector<FrameSymbols> popen = {{"__lll_lock_wait_private", {}},
                                     {"_IO_new_proc_open", {}},
                                     {"_IO_new_popen", {"_IO_popen", "popen"}},
                                     {"popen", {"popen"}},
                                     {"child_popens", {}},
                                     {"main", {}}};
  cr_expect_eq(pick_call(popen), "popen");
  // ld.so's write lock is a pthread mutex: the exported pthread_mutex_lock is inside the catalogued dlopen.
  std::vector<FrameSymbols> dlopen = {{"__lll_lock_wait", {"__lll_lock_wait"}},
                                      {"___pthread_mutex_lock", {"__pthread_mutex_lock", "pthread_mutex_lock"}},
                                      {"_dl_add_to_namespace_list", {}},
                                      {"_dl_catch_exception", {"_dl_catch_exception"}},
                                      {"dlopen@@GLIBC_2.34", {"dlopen"}},
                                      {"child_loads_libm", {}}};
  cr_expect_eq(pick_call(dlopen), "dlopen");
}

Test(watchdog, else_picks_the_innermost_exported_function_that_is_not_plumbing) {
  std::vector<FrameSymbols> omp = {{"gomp_barrier_wait_end", {}},
                                   {"gomp_team_start", {}},
                                   {"GOMP_parallel", {"GOMP_parallel"}},
                                   {"child_sums", {}},
                                   {"main", {}}};
  cr_expect_eq(pick_call(omp), "GOMP_parallel");
  // At the end of a region GOMP_parallel has tail-called into libgomp's unexported code: no frame of it is left,
  // but child_sums' call instruction says where the program entered libgomp.
  std::vector<FrameSymbols> omp_end = {{"", {}, {}}, {"", {}, {"GOMP_parallel"}}, {"child_sums", {}, {}}};
  cr_expect_eq(pick_call(omp_end), "GOMP_parallel");
  // A frame's own names come before the ones it was entered through.
  cr_expect_eq(pick_call({{"inner", {"inner"}, {"outer"}}}), "inner");
  std::vector<FrameSymbols> plumbing = {{"__lll_lock_wait", {"__lll_lock_wait"}},
                                        {"_IO_flockfile", {"_IO_flockfile"}},
                                        {"helper", {"_dl_catch_error"}},
                                        {"runtime_wait", {"rt_wait", "runtime_wait"}}};
  cr_expect_eq(pick_call(plumbing), "runtime_wait");
  cr_expect_eq(pick_call({{"__lll_lock_wait", {"__lll_lock_wait"}}, {"main", {}}}), "__lll_lock_wait");
  cr_expect_eq(pick_call({{"", {}}}), "futex");
  cr_expect_eq(pick_call({}), "futex");
}

// ---- on_deadlock ---------------------------------------------------------------------------------------------------

// ---- what a wait is: the table (report/wait_kinds) -----------------------------------------------------------

// Stacks as libdwfl names them on glibc 2.36 with and without libc6-dbg (GCC clone suffixes, versioned exports).
Test(watchdog, classifies_waits_by_their_stacks) {
  const std::string libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  // setenv on a held envlock: glibc's private low-level lock.
  cr_expect(classify_wait({{"__lll_lock_wait_private", {"__lll_lock_wait_private"}, libc},
                           {"setenv", {"setenv"}, libc}}) == WaitKind::internal_lock);
  // ld.so's recursive lock, with debug symbols and without (the unnamed frame, then the exported alias).
  cr_expect(classify_wait({{"__lll_lock_wait", {}, libc}, {"___pthread_mutex_lock", {"pthread_mutex_lock"}, libc},
                           {"dl_iterate_phdr", {"dl_iterate_phdr"}, libc}}) == WaitKind::mutex);
  cr_expect(classify_wait({{"", {}, libc}, {"", {"pthread_mutex_lock@@GLIBC_2.2.5"}, libc}}) == WaitKind::mutex);
  // glibc's own rwlock (setlocale's __libc_setlocale_lock, taken by libc's code: a private lock), as libdwfl named
  // it on a hung setlocale child; a program's rwlock, taken through the shim's wrapper or from the program itself.
  const std::string shim = "/work/build/libforkhazard.so";
  cr_expect(classify_wait({{"__futex_abstimed_wait_common64", {}, libc}, {"__futex_abstimed_wait_common", {}, libc},
                           {"__pthread_rwlock_wrlock_full64", {}, libc},
                           {"___pthread_rwlock_wrlock", {"pthread_rwlock_wrlock", "__pthread_rwlock_wrlock"}, libc},
                           {"__GI_setlocale", {"setlocale"}, libc}, {"setlocale_child", {}, "/tmp/prog"}}) ==
            WaitKind::internal_lock);
  cr_expect(classify_wait({{"", {}, libc}, {"", {"pthread_rwlock_wrlock@@GLIBC_2.34"}, libc},
                           {"pthread_rwlock_wrlock", {"pthread_rwlock_wrlock"}, shim}, {"main", {}, "/tmp/prog"}}) ==
            WaitKind::rwlock);
  cr_expect(classify_wait({{"___pthread_rwlock_rdlock", {"pthread_rwlock_rdlock"}, libc}, {"main", {}, "/tmp/prog"}}) ==
            WaitKind::rwlock);
  // sem_wait's slow path is a GCC clone.
  cr_expect(classify_wait({{"do_futex_wait.constprop.0", {}, libc}, {"__new_sem_wait_slow64.constprop.0", {}, libc},
                           {"child", {}, "/tmp/prog"}}) == WaitKind::semaphore);
  cr_expect(classify_wait({{"__pthread_cond_wait_common", {}, libc}, {"___pthread_cond_wait", {"pthread_cond_wait"}, libc}}) ==
            WaitKind::condvar);
  // libgomp's barrier: its internal functions have no exported name, the module tells.
  cr_expect(classify_wait({{"", {}, "/usr/lib/x86_64-linux-gnu/libgomp.so.1.0.0"}, {"main", {}, "/tmp/prog"}}) ==
            WaitKind::team_barrier);
  // A program's own futex (syscall(SYS_futex)): unknown, so never an error.
  cr_expect(classify_wait({{"syscall", {"syscall"}, libc}, {"wait_event", {}, "/tmp/prog"}}) == WaitKind::unknown);
  cr_expect(classify_wait({}) == WaitKind::unknown);
  // A handler's frame: the thread may hold the lock it waits on.
  cr_expect(in_signal_handler({{"__lll_lock_wait_private", {}, libc}, {"__restore_rt", {}, libc}}));
  cr_expect(in_signal_handler({{"__lll_lock_wait_private", {}, libc}, {"f", {}, "/tmp/prog", true}}));
  cr_expect_not(in_signal_handler({{"__lll_lock_wait_private", {}, libc}, {"setenv", {"setenv"}, libc}}));
  // Lock acquisitions, which no handler can make succeed; the rest are waits a handler may end.
  cr_expect(is_lock_wait(WaitKind::internal_lock) && is_lock_wait(WaitKind::mutex) && is_lock_wait(WaitKind::rwlock) &&
            is_lock_wait(WaitKind::team_barrier));
  cr_expect(!is_lock_wait(WaitKind::condvar) && !is_lock_wait(WaitKind::semaphore) &&
            !is_lock_wait(WaitKind::unknown) && !is_lock_wait(WaitKind::static_init));
}

// The poll interval: 200 ms, unless the test suite's knob names 10 to 1000 ms.
Test(watchdog, poll_interval_knob) {
  cr_expect_eq(poll_interval_from(nullptr), poll_interval_ms);
  cr_expect_eq(poll_interval_from("20"), 20);
  cr_expect_eq(poll_interval_from("5"), poll_interval_ms);
  cr_expect_eq(poll_interval_from("20ms"), poll_interval_ms);
  cr_expect_eq(poll_interval_from("5000"), poll_interval_ms);
}

// The watchdog acts on the judged process's own options, as its shim read them (not on the CLI's environment).
Test(watchdog, acts_on_the_processes_own_options) {
  cr_expect(action_of_process(fh::on_deadlock_exit, 66).action == Action::exit);
  cr_expect_eq(action_of_process(fh::on_deadlock_exit, 66).exitcode, 66);
  cr_expect(action_of_process(fh::on_deadlock_abort, 3).action == Action::abort);
  cr_expect_eq(action_of_process(fh::on_deadlock_abort, 3).exitcode, 3);
  cr_expect(action_of_process(fh::on_deadlock_continue, 66).action == Action::report_only);
  // What no shim exports: an unknown choice ends as the default does; a bad exit code keeps 66.
  cr_expect(action_of_process(7, 0).action == Action::exit);
  cr_expect_eq(action_of_process(7, 0).exitcode, 66);
  cr_expect_eq(action_of_process(fh::on_deadlock_exit, 256).exitcode, 66);
}

// ---- the report: read and printed like the shim's --------------------------------------------------------------

// What the watchdog writes for a child blocked in dlopen on ld.so's write lock (module map cut to ld.so and libc).
constexpr const char* kWatchdogRaw =
    "forkhazard-raw v=1\n"
    "report pid=812 ppid=811\n"
    "# forkhazard: deadlock in process 812, judged by the watchdog of forkhazard run: ...\n"
    "hazard kind=deadlock call=dlopen\n"
    "lock addr=0x7f04fd4cea50 type=futex symbol=_rtld_global+0xa30\n"
    "owner tid=810 name=module-walker relation=vanished\n"
    "stack pcs=0x7f04fb6a412b,0x7f04fb6aa4da\n"
    "fork parent_pid=811 forking_tid=811 pcs=-\n"
    "thread tid=810 name=module-walker relation=vanished created=-\n"
    "module lo=0x7f04fd49b000 hi=0x7f04fd4d0090 bias=0x7f04fd49b000 build_id=- path=/lib64/ld-linux-x86-64.so.2\n"
    "module lo=0x7f04fb61e000 hi=0x7f04fb7f2000 bias=0x7f04fb61e000 build_id=- path=/lib/x86_64-linux-gnu/libc.so.6\n"
    "end\n";

Test(watchdog, its_report_reads_and_prints_like_the_shims) {
  fh::ReadResult result;
  fh::read_raw_text(kWatchdogRaw, "fh.812.watchdog", result);
  cr_assert(result.errors.empty(), "%s", result.errors.empty() ? "" : result.errors[0].c_str());
  cr_assert_eq(result.reports.size(), 1u);
  const fh::Hazard& hazard = result.reports[0].hazards.at(0);
  cr_assert(hazard.lock.has_value());
  cr_expect(hazard.lock->type == fh::LockType::futex);
  cr_expect_eq(hazard.lock->addr, 0x7f04fd4cea50u);
  cr_expect_eq(hazard.lock->symbol, "_rtld_global+0xa30");
  cr_expect_eq(hazard.lock->module, "/lib64/ld-linux-x86-64.so.2");
  cr_expect_eq(hazard.lock->offset, 0x33a50u);
  cr_expect_eq(fh::spelling(fh::LockType::futex, {}), "futex");

  std::vector<fh::HazardGroup> groups = fh::merge_hazards(result.reports);
  std::string text = fh::format_text(groups);
  cr_expect(e2e::contains(text, "dlopen() would block forever on futex word 0x7f04fd4cea50 (_rtld_global+0xa30 in "
                                "ld-linux-x86-64.so.2): a wait no thread left in this process can end; thread 810 "
                                "\"module-walker\" was inside the glibc loader lock family"),
            "%s", text.c_str());
  cr_expect(e2e::contains(text, "hint: "), "%s", text.c_str());
  std::string json = fh::to_json(groups);
  cr_expect(e2e::contains(json, "\"lock\":{\"addr\":\"0x7f04fd4cea50\",\"type\":\"futex\",\"module\":"
                                "\"/lib64/ld-linux-x86-64.so.2\",\"offset\":\"0x33a50\",\"symbol\":\"_rtld_global+0xa30\"}"),
            "%s", json.c_str());
  std::string sarif = fh::to_sarif(groups, "");
  cr_expect(e2e::contains(sarif, "would block forever on futex word 0x7f04fd4cea50"), "%s", sarif.c_str());
}

// ---- end to end ----------------------------------------------------------------------------------------------------

using e2e::Json;
using e2e::Run;

// `build/forkhazard run CLI_OPTIONS --json DIR/report.json -- COMMAND...` (tests/e2e_support.h's run_watched, with
// options of run).
Run run_under_cli(const std::vector<std::string>& cli_options, const std::vector<std::string>& command,
                  const std::vector<std::string>& env = {}) {
  cr_assert(e2e::file_exists(e2e::kCli), "%s is missing: run `make` first (cwd must be the project root)", e2e::kCli);
  cr_assert(e2e::file_exists(command[0]), "%s is missing: run `make examples` first", command[0].c_str());
  std::string dir = e2e::fresh_dir();
  std::string json_path = dir + "/report.json";
  std::vector<std::string> argv = {e2e::kCli, "run"};
  argv.insert(argv.end(), cli_options.begin(), cli_options.end());
  argv.insert(argv.end(), {"--json", json_path, "--"});
  argv.insert(argv.end(), command.begin(), command.end());
  Run run = e2e::run_command_in(dir, argv, env);
  cr_assert(run.truth.found, "%s printed no ground-truth line; stdout:\n%s\nstderr:\n%s", command[0].c_str(),
            run.out.c_str(), run.err.c_str());
  std::string json = e2e::read_file(json_path);
  std::optional<Json> parsed = e2e::parse_json(json, &run.json_error);
  cr_assert(parsed.has_value(), "the JSON report %s does not parse (%s):\n%s", json_path.c_str(),
            run.json_error.c_str(), json.c_str());
  run.report = *parsed;
  run.has_json = true;
  return run;
}

using e2e::ChildEnd;
using e2e::child_ends;

std::vector<const Json*> futex_deadlocks(const Run& run) {
  std::vector<const Json*> found;
  for (const Json& hazard : e2e::hazards_of(run))
    if (e2e::string_of(hazard.get("kind")) == "deadlock" &&
        e2e::string_of(e2e::member(hazard.get("lock"), "type")) == "futex")
      found.push_back(&hazard);
  return found;
}

bool names_pid(const Json& hazard, long long pid) {
  if (e2e::integer_of(hazard.get("pid")) == pid) return true;
  for (const Json& p : e2e::array_of(hazard.get("pids")))
    if (e2e::integer_of(&p) == pid) return true;
  return false;
}


// One child, judged by the watchdog: a futex deadlock naming `call`, `culprit` on its stack, the child ended with
// 66 (by the watchdog, before its own alarm would have ended it with SIGALRM: the order of events, not a clock).
// Returns the hazard.
const Json& expect_judged_child(const Run& run, const char* call, const char* culprit) {
  cr_assert_eq(run.truth.expect, "deadlock", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, e2e::kHazardExit, "exit status %d, expected %d; stdout:\n%s\nstderr:\n%s",
               run.result.exit_code, e2e::kHazardExit, run.out.c_str(), run.err.c_str());
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert_eq(ends.size(), 1u, "the example printed %zu child lines:\n%s", ends.size(), run.out.c_str());
  cr_assert(ends[0].exited && ends[0].code == e2e::kHazardExit, "the child did not exit 66:\n%s", run.out.c_str());
  std::vector<const Json*> deadlocks = futex_deadlocks(run);
  cr_assert_eq(deadlocks.size(), 1u, "%zu futex deadlocks, expected 1; stderr:\n%s", deadlocks.size(),
               run.err.c_str());
  const Json& hazard = *deadlocks[0];
  cr_assert_eq(e2e::string_of(hazard.get("call")), call, "call is \"%s\", expected \"%s\"",
               e2e::string_of(hazard.get("call")).c_str(), call);
  cr_assert(names_pid(hazard, ends[0].pid), "the deadlock names process %lld, the child was %lld",
            e2e::integer_of(hazard.get("pid")), ends[0].pid);
  cr_assert_neq(e2e::parse_address(e2e::string_of(e2e::member(hazard.get("lock"), "addr"))), 0u, "no futex word");
  cr_assert(e2e::any_frame_is(hazard.get("stack"), culprit), "no frame of the child's stack is %s:\n%s", culprit,
            e2e::describe_frames(hazard.get("stack")).c_str());
  cr_assert(e2e::any_frame_is(hazard.get("stack"), "main"), "the stack does not reach main:\n%s",
            e2e::describe_frames(hazard.get("stack")).c_str());
  cr_assert_gt(e2e::integer_of(e2e::member(hazard.get("fork"), "parent_pid")), 0, "fork.parent_pid missing");
  cr_assert(e2e::contains(run.err, "forkhazard: deadlock in process " + std::to_string(ends[0].pid)),
            "no human report on stderr:\n%s", run.err.c_str());
  cr_assert(e2e::contains(run.err, "would block forever on futex word"), "stderr:\n%s", run.err.c_str());
  return hazard;
}

Test(watchdog_e2e, omp_in_child, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/omp_in_child"});
  const Json& hazard = expect_judged_child(run, "GOMP_parallel", "child_sums");
  // libgomp's pool threads, started by the parent's region, vanished at fork.
  size_t vanished = 0;
  for (const Json& thread : e2e::array_of(e2e::member(hazard.get("fork"), "threads")))
    vanished += e2e::string_of(thread.get("relation")) == "vanished";
  cr_assert_geq(vanished, 1u, "fork.threads lists no vanished thread");
  e2e::passed();
}

Test(watchdog_e2e, dlopen_after_callback, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/dlopen_after_callback"});
  const Json& hazard = expect_judged_child(run, "dlopen", "child_loads_libm");
  // The loader's write lock is in ld.so's data: module and symbol named.
  const Json* lock = hazard.get("lock");
  cr_assert(e2e::contains(e2e::string_of(e2e::member(lock, "module")), "ld-linux"), "lock.module is \"%s\"",
            e2e::string_of(e2e::member(lock, "module")).c_str());
  cr_assert(e2e::contains(e2e::string_of(e2e::member(lock, "symbol")), "_rtld_global"), "lock.symbol is \"%s\"",
            e2e::string_of(e2e::member(lock, "symbol")).c_str());
  // The worker was inside dl_iterate_phdr (the loader family, like dlopen) when it vanished.
  const Json* owner = hazard.get("owner");
  cr_assert_eq(e2e::integer_of(e2e::member(owner, "tid")), run.truth.owner_tid, "owner.tid is %lld, expected %lld",
               e2e::integer_of(e2e::member(owner, "tid")), run.truth.owner_tid);
  cr_assert_eq(e2e::string_of(e2e::member(owner, "name")), "module-walker");
  cr_assert_eq(e2e::string_of(e2e::member(owner, "relation")), "vanished");
  cr_assert(e2e::contains(run.err, "was inside the glibc loader lock family"), "stderr:\n%s", run.err.c_str());
  e2e::passed();
}

// glibc 2.41 resets the popen list lock in the child (libio/iopopen.c): nothing hangs there, nothing is judged.
static bool glibc_resets_popen_lock() {
  int major = 0, minor = 0;
  std::sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor);
  return major > 2 || (major == 2 && minor >= 41);
}

Test(watchdog_e2e, popen_race, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/popen_race"});
  cr_assert_eq(run.truth.expect, "deadlock");
  if (glibc_resets_popen_lock()) {
    for (const ChildEnd& end : child_ends(run.out))
      cr_assert(end.exited && end.code == 0, "child %lld did not exit 0 on a glibc that resets the lock:\n%s",
                end.pid, run.out.c_str());
    cr_assert(futex_deadlocks(run).empty(), "a futex deadlock judged where nothing hangs; stderr:\n%s",
              run.err.c_str());
    e2e::passed();
    return;
  }
  std::vector<ChildEnd> ends = child_ends(run.out);
  std::vector<const Json*> deadlocks = futex_deadlocks(run);
  size_t judged = 0;
  for (const ChildEnd& end : ends) {
    cr_assert(end.exited && end.code == e2e::kHazardExit, "child %lld did not exit 0 or 66 (a hang?):\n%s", end.pid,
              run.out.c_str());
    bool reported = false;
    for (const Json* hazard : deadlocks) reported = reported || names_pid(*hazard, end.pid);
    cr_assert(reported, "child %lld exited 66 without a futex deadlock report; stderr:\n%s", end.pid,
              run.err.c_str());
    ++judged;
  }
  // About half of the children hang natively; under the shim fewer, never none of 20.
  cr_assert_geq(judged, 1u, "no child was judged:\n%s", run.out.c_str());
  cr_assert_eq(run.result.exit_code, e2e::kHazardExit, "exit status %d", run.result.exit_code);
  for (const Json* hazard : deadlocks) {
    cr_assert_eq(e2e::string_of(hazard->get("call")), "popen", "call is \"%s\"",
                 e2e::string_of(hazard->get("call")).c_str());
    cr_assert(e2e::any_frame_is(hazard->get("stack"), "child_popens"), "stack:\n%s",
              e2e::describe_frames(hazard->get("stack")).c_str());
    cr_assert(e2e::contains(e2e::string_of(e2e::member(hazard->get("lock"), "module")), "libc.so"),
              "the popen list lock is not in libc: %s", e2e::string_of(e2e::member(hazard->get("lock"), "module")).c_str());
  }
  e2e::passed();
}

// A bare futex event with nothing to set it: the child's alarm ends it, as natively, and the watchdog never judges
// it. After a single-threaded fork there is no fork hazard (nothing vanished: no report at all; it was judged and
// ended with 66 once); after a multithreaded one the word is the program's own and no vanished thread is known to
// use it: not an error (README, "The rule"), a note on stderr.
void expect_bare_futex_left_alone(const char* mode, bool note) {
  Run run = run_under_cli({}, {"build/examples/wait_woken_by_signal", mode, "200"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM,
            "the child was not ended by its own alarm, as natively:\n%s\nstderr:\n%s", run.out.c_str(), run.err.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 0u, "a futex deadlock judged; stderr:\n%s", run.err.c_str());
  std::string noted = "forkhazard: note: process " + std::to_string(ends[0].pid) + " waits in";
  if (note)
    cr_assert(e2e::contains(run.err, noted) && e2e::contains(run.err, "not judged a fork hazard"),
              "no note on stderr:\n%s", run.err.c_str());
  else
    cr_assert(e2e::hazards_of(run).empty() && run.result.exit_code == 0,
              "hazards reported (exit status %d); stderr:\n%s", run.result.exit_code, run.err.c_str());
  e2e::passed();
}

Test(watchdog_e2e, bare_futex_single_threaded_fork_is_left_alone, .timeout = 60) {
  expect_bare_futex_left_alone("none", false);
}

Test(watchdog_e2e, bare_futex_of_its_own_is_a_note, .timeout = 60) { expect_bare_futex_left_alone("threaded-none", true); }

// The same wait with a handler that ends it, or with a timeout: never judged, the child exits 0.
void expect_left_alone(const char* mode) {
  Run run = run_under_cli({}, {"build/examples/wait_woken_by_signal", mode, "300"});
  cr_assert_eq(run.truth.expect, "none", "ground truth expects %s", run.truth.expect.c_str());
  cr_assert_eq(run.result.exit_code, 0, "%s: exit status %d; stdout:\n%s\nstderr:\n%s", mode, run.result.exit_code,
               run.out.c_str(), run.err.c_str());
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && ends[0].exited && ends[0].code == 0, "%s: the child did not exit 0:\n%s", mode,
            run.out.c_str());
  cr_assert_eq(e2e::hazards_of(run).size(), 0u, "%s: hazards reported; stderr:\n%s", mode, run.err.c_str());
  cr_assert(!e2e::contains(run.err, "forkhazard: deadlock"), "%s: stderr:\n%s", mode, run.err.c_str());
}

Test(watchdog_e2e, handler_set_by_alarm_is_left_alone, .timeout = 60) {
  expect_left_alone("alarm");
  e2e::passed();
}

Test(watchdog_e2e, handler_set_by_sigusr1_is_left_alone, .timeout = 60) {
  expect_left_alone("usr1");
  e2e::passed();
}

// A supervisor's SIGHUP: not only a person sends it (a handler for it once did not stop the verdict, and a
// correct child was ended with 66).
Test(watchdog_e2e, handler_set_by_sighup_is_left_alone, .timeout = 60) {
  expect_left_alone("hup");
  e2e::passed();
}

// CPython's SIGINT handler ends this wait when the parent sends SIGINT: the child exits 0, nothing is reported.
Test(watchdog_e2e, handler_set_by_sigint_is_left_alone, .timeout = 60) {
  expect_left_alone("int");
  e2e::passed();
}

Test(watchdog_e2e, timed_wait_is_left_alone, .timeout = 60) {
  expect_left_alone("timed");
  e2e::passed();
}

// --watchdog=off: the child hangs as natively, until the example's alarm (0.4 s here).
Test(watchdog_e2e, off_leaves_the_child_hanging, .timeout = 60) {
  Run run = run_under_cli({"--watchdog=off"}, {"build/examples/omp_in_child", "400"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM,
            "the child did not hang until its alarm:\n%s", run.out.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 0u, "a futex deadlock with the watchdog off; stderr:\n%s",
               run.err.c_str());
  e2e::passed();
}

Test(watchdog_e2e, on_deadlock_abort, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/dlopen_after_callback"}, {"FORKHAZARD_OPTIONS=on_deadlock=abort"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGABRT, "the child was not aborted:\n%s",
            run.out.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 1u, "stderr:\n%s", run.err.c_str());
  e2e::passed();
}

// on_deadlock=continue: reported once, left hanging until the example's alarm (1 s here: judged well before).
Test(watchdog_e2e, on_deadlock_continue, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/omp_in_child", "1000"}, {"FORKHAZARD_OPTIONS=on_deadlock=continue"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM,
            "the child did not hang until its alarm:\n%s", run.out.c_str());
  std::vector<const Json*> deadlocks = futex_deadlocks(run);
  cr_assert_eq(deadlocks.size(), 1u, "stderr:\n%s", run.err.c_str());
  cr_assert_eq(e2e::integer_of(deadlocks[0]->get("occurrences")), 1, "reported more than once");
  // Said at once (a one-line verdict as it is reached), then the report at the end of the run.
  std::string at_once = "forkhazard: deadlock in process " + std::to_string(ends[0].pid) + ": ";
  cr_assert(e2e::contains(run.err, at_once) && e2e::contains(run.err, "leaving it hung (on_deadlock=continue)") &&
                run.err.find(at_once) < run.err.find("=================="),
            "the verdict was not said at once; stderr:\n%s", run.err.c_str());
  e2e::passed();
}

// A lock acquisition is judged whatever the handlers, but a child that armed a timer of its own since the fork (here
// its alarm; a handler of its might act on it) is reported at once and left to that timer, as natively.
Test(watchdog_e2e, lock_wait_with_handlers_and_own_timer_is_left_to_it, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/dlopen_after_callback", "1000", "handlers"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM, "the child was not left to its alarm:\n%s",
            run.out.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 1u, "the lock wait was not reported; stderr:\n%s", run.err.c_str());
  cr_assert(e2e::contains(run.err, "leaving it to the timer it armed since the fork"), "stderr:\n%s", run.err.c_str());
  e2e::passed();
}

// A child that starts a helper thread of its own (it waits on its own condvar), then waits for good on the loader
// lock a vanished thread held: every thread of it is stuck, so the process is judged as a whole (natively the
// child hangs until its alarm). The report is the main thread's wait, the fork's doing; the helper's wait is shown
// with its stack.
Test(watchdog_e2e, every_thread_stuck, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/dlopen_after_callback", "20000", "threaded"});
  const Json& hazard = expect_judged_child(run, "dlopen", "child_loads_libm");
  const std::vector<Json>& others = e2e::array_of(hazard.get("other_threads"));
  cr_assert_eq(others.size(), 1u, "other_threads lists %zu threads, expected the helper", others.size());
  cr_assert_eq(e2e::string_of(others[0].get("name")), "child-helper");
  cr_assert_eq(e2e::string_of(others[0].get("call")), "pthread_cond_wait");
  cr_assert(e2e::any_frame_is(others[0].get("stack"), "child_helper"), "the helper's stack:\n%s",
            e2e::describe_frames(others[0].get("stack")).c_str());
  cr_assert_gt(e2e::integer_of(others[0].get("tid")), 0, "no tid");
  cr_assert(e2e::contains(run.err, "is blocked for good too"), "stderr:\n%s", run.err.c_str());
  e2e::passed();
}

// A writer that vanished inside glibc's rwlock unlock leaves a state a new writer spins in (state R, no wait): the
// watchdog sees the child spin over an rwlock in that state at two looks and says so (a warning, spins=1: the lock
// is found in its registers, not read from the call); the child is left to its alarm, as natively.
Test(watchdog_e2e, spin_in_glibc_rwlock_is_warned, .timeout = 60) {
  Run run = run_under_cli({}, {"build/examples/rwlock_spin_child", "8"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM, "the child was not left to its alarm:\n%s",
            run.out.c_str());
  cr_assert_eq(run.result.exit_code, e2e::kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const Json* warning = nullptr;
  for (const Json& hazard : e2e::hazards_of(run))
    if (e2e::integer_of(hazard.get("spins"), 0) == 1) warning = &hazard;
  cr_assert_not_null(warning, "no spin warning; stderr:\n%s", run.err.c_str());
  cr_assert_eq(e2e::string_of(warning->get("kind")), "possible-deadlock");
  cr_assert_eq(e2e::string_of(warning->get("level")), "warning");
  cr_assert_eq(e2e::parse_address(e2e::string_of(e2e::member(warning->get("lock"), "addr"))), run.truth.lock,
               "lock.addr is not the rwlock");
  cr_assert(e2e::any_frame_is(warning->get("stack"), "child_takes_index"), "stack:\n%s",
            e2e::describe_frames(warning->get("stack")).c_str());
  cr_assert(e2e::contains(run.err, "spins in glibc's rwlock code"), "not said at once; stderr:\n%s", run.err.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 0u, "a spin judged as a deadlock");
  e2e::passed();
}

// A process the watchdog cannot judge (a single thread waiting on an event its SIGUSR1 handler sets, a second
// later: the handler may end the wait) is said as it happens: one "still waiting" line after --still-waiting
// seconds; the handler then ends the wait and the child exits 0, as natively.
Test(watchdog_e2e, still_waiting_is_said, .timeout = 60) {
  Run run = run_under_cli({"--still-waiting=1"}, {"build/examples/wait_woken_by_signal", "usr1", "2500"});
  std::vector<ChildEnd> ends = child_ends(run.out);
  cr_assert(ends.size() == 1 && ends[0].exited && ends[0].code == 0, "the child did not exit 0:\n%s", run.out.c_str());
  std::string line = "forkhazard: still waiting: process " + std::to_string(ends[0].pid) + " (1 thread";
  cr_assert(e2e::contains(run.err, line), "no still-waiting line; stderr:\n%s", run.err.c_str());
  cr_assert_eq(run.err.find("still waiting"), run.err.rfind("still waiting"), "said more than once:\n%s",
               run.err.c_str());
  cr_assert_eq(futex_deadlocks(run).size(), 0u, "a wait its handler ends was judged; stderr:\n%s", run.err.c_str());
  e2e::passed();
}

#if defined(__x86_64__)
// `forkhazard run --json DIR/report.json -- COMMAND` under a seccomp filter on forkhazard itself that refuses the
// system call `nr` with EPERM; its stdout, stderr and exit status.
struct RefusedRun {
  int status = 0;
  std::string out, err, json_path;
};

RefusedRun run_cli_refusing(long nr, const std::vector<std::string>& command) {
  cr_assert(e2e::file_exists(e2e::kCli), "%s is missing", e2e::kCli);
  RefusedRun run;
  std::string dir = e2e::fresh_dir();
  run.json_path = dir + "/report.json";
  std::vector<std::string> argv = {e2e::kCli, "run", "--json", run.json_path, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int out = open((dir + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) _exit(120);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
      _exit(121);
    const char* env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "FORKHAZARD_WATCHDOG_POLL_MS=20", nullptr};
    execve(args[0], args.data(), const_cast<char**>(env));
    _exit(122);
  }
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (waitpid(pid, &run.status, WNOHANG) == 0) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= e2e::kCommandDeadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &run.status, 0);
      cr_assert_fail("forkhazard did not finish (a hang); output in %s", dir.c_str());
    }
    usleep(10000);
  }
  run.out = e2e::read_file(dir + "/stdout");
  run.err = e2e::read_file(dir + "/stderr");
  return run;
}

// Where ptrace is refused, the watchdog says so once, reports the frame /proc shows and ends the child with
// SIGKILL (through a pidfd: no ptrace needed).
Test(watchdog_e2e, ptrace_refused, .timeout = 60) {
  RefusedRun r = run_cli_refusing(__NR_ptrace, {"build/examples/omp_in_child"});
  const std::string& out = r.out;
  const std::string& err = r.err;
  cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == e2e::kHazardExit, "status %d; stderr:\n%s", r.status,
            err.c_str());
  std::vector<ChildEnd> ends = child_ends(out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGKILL, "the child was not killed:\n%s",
            out.c_str());
  std::string says = "forkhazard: cannot attach to " + std::to_string(ends[0].pid) + " to take its stack";
  cr_assert(e2e::contains(err, says), "stderr does not say ptrace was refused:\n%s", err.c_str());
  cr_assert_eq(err.find("cannot attach to"), err.rfind("cannot attach to"), "said more than once:\n%s", err.c_str());
  std::optional<Json> report = e2e::parse_json(e2e::read_file(r.json_path));
  cr_assert(report.has_value(), "no JSON report");
  Run run;
  run.report = *report;
  std::vector<const Json*> deadlocks = futex_deadlocks(run);
  cr_assert_eq(deadlocks.size(), 1u, "stderr:\n%s", err.c_str());
  cr_assert_eq(e2e::array_of(deadlocks[0]->get("stack")).size(), 1u, "not the one frame /proc shows:\n%s",
               e2e::describe_frames(deadlocks[0]->get("stack")).c_str());
  e2e::passed();
}

// Where kcmp is refused (containers' seccomp profiles), the watchdog cannot tell whether another process shares
// the blocked one's memory: it says so once and judges nothing ("don't know" is never "no"). It once took the
// refusal for "no process shares it". The child hangs until its own alarm, as natively.
Test(watchdog_e2e, kcmp_refused_judges_nothing, .timeout = 60) {
  RefusedRun r = run_cli_refusing(__NR_kcmp, {"build/examples/omp_in_child", "400"});
  std::vector<ChildEnd> ends = child_ends(r.out);
  cr_assert(ends.size() == 1 && !ends[0].exited && ends[0].code == SIGALRM,
            "the child was not left to its alarm:\n%s\nstderr:\n%s", r.out.c_str(), r.err.c_str());
  cr_assert(e2e::contains(r.err, "forkhazard: kcmp(KCMP_VM) is refused"), "stderr:\n%s", r.err.c_str());
  std::optional<Json> report = e2e::parse_json(e2e::read_file(r.json_path));
  cr_assert(report.has_value(), "no JSON report");
  Run run;
  run.report = *report;
  cr_assert_eq(futex_deadlocks(run).size(), 0u, "judged without kcmp; stderr:\n%s", r.err.c_str());
  e2e::passed();
}
#endif

}  // namespace
