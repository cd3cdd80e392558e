// The stress and edge-case cases of issue 10, shared by the quick Criterion tests (tests/test_stress.cpp,
// STRESS_SCALE=1, forkhazard only) and the long runner (tests/stress/stress_runner.cpp, `make stress`: larger
// scale, and each program natively too, so every line says "native: X | forkhazard: Y"). A case runs the
// programs of tests/stress/ (built into build/stress/) and the examples, and returns what went wrong, if
// anything; nothing here asserts, so both callers decide how to fail. Run from the project root.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "tests/e2e_support.h"

namespace stress {

struct Settings {
  int scale = 1;          // STRESS_SCALE for the programs: their repeat counts
  bool native = false;    // also run each program without the shim (the long runner)
  int deadline = 50;      // seconds a command may take before it counts as hung and is killed
  int hang_seconds = 3;   // STRESS_HANG_SECONDS: alarm() for a child that hangs natively
};

// One run of one command line.
struct Outcome {
  std::string how;  // "native", "forkhazard run", "LD_PRELOAD=... (bare)"
  std::string dir;
  e2e::RunResult result;
  std::string out, err;
  e2e::GroundTruth truth;
  bool has_report = false;  // forkhazard run, or forkhazard report after a bare run
  int report_exit = -1;     // forkhazard report's status (bare runs)
  std::string report_error;
  e2e::Json report;
};

struct Verdict {
  std::vector<std::string> failures;
  std::vector<std::string> dirs;  // kept for a look when the case fails
  std::string native, watched;    // one phrase each, for the runner's line and the notes

  bool ok() const { return failures.empty(); }
  void fail(const Outcome& o, const std::string& why) {
    failures.push_back(o.how + ": " + why + " (output in " + o.dir + ")");
  }
  std::string failure_text() const {
    std::string text;
    for (const std::string& f : failures) text += f + "\n";
    return text;
  }
  // A passing case leaves nothing behind.
  void clean_up() const {
    if (!ok()) return;
    for (const std::string& dir : dirs) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  }
};

inline constexpr const char* kStressDir = "build/stress/";
inline constexpr const char* kJemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
inline constexpr const char* kTcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";

inline std::vector<std::string> program(const std::string& name, std::vector<std::string> args = {}) {
  std::vector<std::string> argv = {std::string(kStressDir) + name};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline std::vector<std::string> example(const std::string& name) { return {"build/examples/" + name}; }

inline std::vector<std::string> program_env(const Settings& s, const std::vector<std::string>& extra) {
  std::vector<std::string> env = {"STRESS_SCALE=" + std::to_string(s.scale),
                                  "STRESS_HANG_SECONDS=" + std::to_string(s.hang_seconds)};
  env.insert(env.end(), extra.begin(), extra.end());
  return e2e::base_env(env);
}

inline std::string absolute(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::absolute(path, ignored).string();
}

inline bool parse_report(Outcome& o, const std::string& json_path) {
  if (!e2e::file_exists(json_path)) {
    o.report_error = "no JSON report was written (" + json_path + ")";
    return false;
  }
  std::string json = e2e::read_file(json_path);
  std::string error;
  std::optional<e2e::Json> parsed = e2e::parse_json(json, &error);
  if (!parsed || !parsed->get("hazards") || parsed->get("hazards")->kind != e2e::Json::Kind::array) {
    o.report_error = "the JSON report " + json_path + " does not parse: " + error;
    return false;
  }
  o.report = *parsed;
  o.has_report = true;
  return true;
}

inline Outcome start(Verdict& v, const std::string& how, const Settings& s, const std::vector<std::string>& argv,
                     const std::vector<std::string>& env, const std::string& dir) {
  Outcome o;
  o.how = how;
  o.dir = dir;
  v.dirs.push_back(dir);
  if (dir.empty()) {
    o.result.error = "cannot create a temporary directory";
    return o;
  }
  o.result = e2e::run_command(argv, env, dir + "/stdout", dir + "/stderr", s.deadline);
  o.out = e2e::read_file(dir + "/stdout");
  o.err = e2e::read_file(dir + "/stderr");
  o.truth = e2e::parse_ground_truth(o.out);
  return o;
}

// The program without the shim.
inline Outcome run_native(Verdict& v, const Settings& s, const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {}) {
  return start(v, "native", s, argv, program_env(s, extra_env), e2e::make_temp_dir());
}

// `build/forkhazard run --json DIR/report.json -- ARGV`.
inline Outcome run_watched(Verdict& v, const Settings& s, const std::vector<std::string>& argv,
                           const std::vector<std::string>& extra_env = {}) {
  std::string dir = e2e::make_temp_dir();
  std::vector<std::string> cli = {e2e::kCli, "run", "--json", dir + "/report.json", "--"};
  cli.insert(cli.end(), argv.begin(), argv.end());
  Outcome o = start(v, "forkhazard run", s, cli, program_env(s, extra_env), dir);
  if (o.result.started && !o.result.timed_out) parse_report(o, dir + "/report.json");
  return o;
}

// Bare preloading: LD_PRELOAD=`preload` (paths separated by spaces, in that order) and
// FORKHAZARD_OPTIONS=log_path=DIR/logs/r, then `build/forkhazard report --json DIR/report.json DIR/logs`.
inline Outcome run_bare(Verdict& v, const Settings& s, const std::string& preload, const std::vector<std::string>& argv,
                        const std::vector<std::string>& extra_env = {}) {
  std::string dir = e2e::make_temp_dir();
  std::string logs = dir + "/logs";
  mkdir(logs.c_str(), 0700);
  std::vector<std::string> env = {"LD_PRELOAD=" + preload, "FORKHAZARD_OPTIONS=log_path=" + logs + "/r"};
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  Outcome o = start(v, "LD_PRELOAD=\"" + preload + "\"", s, argv, program_env(s, env), dir);
  if (!o.result.started || o.result.timed_out) return o;
  e2e::RunResult report = e2e::run_command({e2e::kCli, "report", "--json", dir + "/report.json", logs},
                                           e2e::base_env({}), dir + "/report.stdout", dir + "/report.stderr", 60);
  o.report_exit = report.exit_code;
  parse_report(o, dir + "/report.json");
  return o;
}

// ---- what happened, in a few words ----------------------------------------------------------------------------

inline const std::vector<e2e::Json>& hazards(const Outcome& o) { return e2e::array_of(o.report.get("hazards")); }

inline size_t count_kind(const Outcome& o, const std::string& kind) {
  size_t n = 0;
  for (const e2e::Json& h : hazards(o)) n += e2e::string_of(h.get("kind")) == kind;
  return n;
}

inline const e2e::Json* first_of_kind(const Outcome& o, const std::string& kind) {
  for (const e2e::Json& h : hazards(o))
    if (e2e::string_of(h.get("kind")) == kind) return &h;
  return nullptr;
}

// What the program said about itself: its "outcome: ..." lines (the examples' "child N exited with status S"
// lines), joined.
inline std::string outcome_lines(const Outcome& o) {
  std::string text;
  for (size_t at = 0; at < o.out.size();) {
    size_t end = std::min(o.out.find('\n', at), o.out.size());
    std::string line = o.out.substr(at, end - at);
    at = end + 1;
    if (line.rfind("outcome: ", 0) == 0) line = line.substr(9);
    else if (line.rfind("child ", 0) != 0) continue;
    text += (text.empty() ? "" : "; ") + line;
  }
  return text;
}

// The first lines of a report on stderr, for a failure message.
inline std::string excerpt(const std::string& err, size_t max_lines = 12) {
  std::string text;
  size_t lines = 0, at = 0;
  for (; at < err.size() && lines < max_lines; lines++) {
    size_t end = std::min(err.find('\n', at), err.size());
    text += err.substr(at, end - at) + "\n";
    at = end + 1;
  }
  if (at < err.size()) text += "[... " + std::to_string(err.size() - at) + " more bytes]\n";
  return text;
}

inline std::string describe_hazard(const e2e::Json& h) {
  std::string kind = e2e::string_of(h.get("kind"));
  std::string text = kind + " in " + e2e::string_of(h.get("call"));
  const e2e::Json* lock = h.get("lock");
  if (lock != nullptr) text += "(" + e2e::string_of(lock->get("addr")) + ")";
  const e2e::Json* owner = h.get("owner");
  if (owner != nullptr)
    text += " owner " + std::to_string(e2e::integer_of(owner->get("tid"))) + " \"" +
            e2e::string_of(owner->get("name")) + "\" (" + e2e::string_of(owner->get("relation")) + ")";
  return text;
}

inline std::string describe(const Outcome& o) {
  if (!o.result.started) return "did not start: " + o.result.error;
  std::string text = o.result.timed_out ? "HUNG (killed after the deadline)" : "exit " + std::to_string(o.result.exit_code);
  if (o.has_report) {
    const std::vector<e2e::Json>& all = hazards(o);
    if (all.empty()) text += ", no hazards";
    for (const e2e::Json& h : all) text += ", " + describe_hazard(h);
  } else if (!o.report_error.empty() && o.how != "native") {
    text += ", " + o.report_error;
  }
  std::string outcome = outcome_lines(o);
  if (!outcome.empty()) text += " [" + outcome + "]";
  return text;
}

inline std::string hex(uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

// ---- checks -----------------------------------------------------------------------------------------------------

inline bool ran(Verdict& v, const Outcome& o) {
  if (!o.result.started) return v.fail(o, "did not start: " + o.result.error), false;
  if (o.result.timed_out) return v.fail(o, "hung: killed after the deadline; stderr:\n" + excerpt(o.err)), false;
  return true;
}

inline bool reported(Verdict& v, const Outcome& o) {
  if (!ran(v, o)) return false;
  if (!o.has_report) return v.fail(o, o.report_error), false;
  return true;
}

// A correct program: exit 0 (every child was clean), and under the shim no hazard at all.
inline void expect_clean(Verdict& v, const Outcome& o) {
  if (!ran(v, o)) return;
  bool watched = o.how != "native";
  if (watched && !reported(v, o)) return;
  if (watched && !hazards(o).empty())
    v.fail(o, "hazards reported in a correct program: " + describe(o) + "\nstderr:\n" + excerpt(o.err));
  else if (o.result.exit_code != 0)
    v.fail(o, "exit status " + std::to_string(o.result.exit_code) + ", expected 0; " + describe(o) + "\nstderr:\n" + excerpt(o.err));
  if (o.report_exit > 0) v.fail(o, "forkhazard report exited " + std::to_string(o.report_exit) + ", expected 0");
}

// Natively a child hung on a lock: alarm() ended it (SIGALRM; a level that passes it up exits 128+14).
inline void expect_native_hang(Verdict& v, const Outcome& o) {
  if (!ran(v, o)) return;
  if (!e2e::contains(o.out, "killed by signal 14") && !e2e::contains(o.out, "exited with status 142"))
    v.fail(o, "expected a child ended by SIGALRM (a hang); " + describe(o));
}

struct DeadlockWant {
  const char* call = "pthread_mutex_lock";
  const char* relation = "vanished";  // nullptr: not checked (the owner exited before the fork)
  const char* owner_name = nullptr;   // nullptr: not checked
  const char* lock_type = nullptr;    // lock.type ("mutex", "rwlock-read", "rwlock-write"); nullptr: not checked
  const char* acquired_in = nullptr;  // a function on the owner's acquisition stack (acquired_at); nullptr: not checked
  bool held_listed = false;           // the owner's entry in fork.threads lists the lock as held, acquired in
                                      // acquired_in (lock words tell mutex and write holds, not read holds)
};

// Exactly one deadlock, on the lock and owner the program printed, nothing else; the child ended with 66.
inline void expect_deadlock(Verdict& v, const Outcome& o, DeadlockWant want = {}) {
  if (!reported(v, o)) return;
  if (o.truth.expect != "deadlock") v.fail(o, "the program did not print a deadlock ground truth");
  bool bare = o.report_exit >= 0;
  int status = bare ? o.report_exit : o.result.exit_code;
  if (status != e2e::kHazardExit)
    v.fail(o, std::string(bare ? "forkhazard report" : "forkhazard run") + " exited " + std::to_string(status) +
                  ", expected 66; " + describe(o));
  if (!e2e::contains(o.out, "exited with status 66"))
    v.fail(o, "no child ended with the shim's exit status 66; " + describe(o));
  if (hazards(o).size() != 1 || count_kind(o, "deadlock") != 1) {
    v.fail(o, "expected exactly one hazard, a deadlock; got " + describe(o) + "\nstderr:\n" + excerpt(o.err));
    return;
  }
  const e2e::Json& h = *first_of_kind(o, "deadlock");
  std::string call = e2e::string_of(h.get("call"));
  if (call != want.call) v.fail(o, "deadlock call " + call + ", expected " + want.call);
  uint64_t addr = e2e::parse_address(e2e::string_of(e2e::member(h.get("lock"), "addr")));
  if (addr != o.truth.lock)
    v.fail(o, "deadlock on " + e2e::string_of(e2e::member(h.get("lock"), "addr")) + ", the program locked " +
                  hex(o.truth.lock));
  long long tid = e2e::integer_of(e2e::member(h.get("owner"), "tid"));
  if (tid != o.truth.owner_tid)
    v.fail(o, "owner tid " + std::to_string(tid) + ", the program's owner was " + std::to_string(o.truth.owner_tid));
  std::string relation = e2e::string_of(e2e::member(h.get("owner"), "relation"));
  if (want.relation != nullptr && relation != want.relation)
    v.fail(o, "owner relation \"" + relation + "\", expected \"" + want.relation + "\"");
  std::string name = e2e::string_of(e2e::member(h.get("owner"), "name"));
  if (want.owner_name != nullptr && name != want.owner_name)
    v.fail(o, "owner name \"" + name + "\", expected \"" + want.owner_name + "\"");
  std::string type = e2e::string_of(e2e::member(h.get("lock"), "type"));
  if (want.lock_type != nullptr && type != want.lock_type)
    v.fail(o, "lock type \"" + type + "\", expected \"" + want.lock_type + "\"");
  if (want.acquired_in != nullptr && !e2e::any_frame_is(h.get("acquired_at"), want.acquired_in))
    v.fail(o, std::string("no frame of the owner's acquired_at is ") + want.acquired_in + ":\n" +
                  e2e::describe_frames(h.get("acquired_at")));
  if (want.held_listed) {
    const e2e::Json* held = e2e::held_entry(e2e::fork_thread(h, o.truth.owner_tid), o.truth.lock);
    if (held == nullptr)
      v.fail(o, "fork.threads[owner " + std::to_string(o.truth.owner_tid) + "].held does not list " + hex(o.truth.lock));
    else if (want.acquired_in != nullptr && !e2e::any_frame_is(held->get("acquired_at"), want.acquired_in))
      v.fail(o, std::string("no frame of the owner's held entry's acquired_at is ") + want.acquired_in + ":\n" +
                    e2e::describe_frames(held->get("acquired_at")));
  }
}

// ---- the cases --------------------------------------------------------------------------------------------------

// A program that must run clean, natively and under `forkhazard run`.
inline Verdict clean_case(const Settings& s, const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env = {}) {
  Verdict v;
  if (s.native) {
    Outcome n = run_native(v, s, argv, extra_env);
    expect_clean(v, n);
    v.native = describe(n);
  }
  Outcome w = run_watched(v, s, argv, extra_env);
  expect_clean(v, w);
  v.watched = describe(w);
  return v;
}

// A program whose child hangs natively and must be reported as one deadlock under `forkhazard run`.
inline Verdict deadlock_case(const Settings& s, const std::vector<std::string>& argv, DeadlockWant want = {}) {
  Verdict v;
  if (s.native) {
    Outcome n = run_native(v, s, argv);
    expect_native_hang(v, n);
    v.native = describe(n);
  }
  Outcome w = run_watched(v, s, argv);
  expect_deadlock(v, w, want);
  v.watched = describe(w);
  return v;
}

inline Verdict fork_storm(const Settings& s) { return clean_case(s, program("fork_storm", {"mixed"})); }
// Every lock call unwinds its caller's stack (lock_stack_depth=4): the fork wrappers' unwinding and the lock
// wrappers' unwinding interleave.
inline Verdict fork_storm_deep_stacks(const Settings& s) {
  return clean_case(s, program("fork_storm", {"mixed"}), {"FORKHAZARD_OPTIONS=lock_stack_depth=4"});
}
inline Verdict signal_fork(const Settings& s) { return clean_case(s, program("signal_fork")); }
inline Verdict signal_fork_deep_stacks(const Settings& s) {
  return clean_case(s, program("signal_fork"), {"FORKHAZARD_OPTIONS=lock_stack_depth=4"});
}
inline Verdict signal_fork_spawn(const Settings& s) { return clean_case(s, program("signal_fork", {"spawn"})); }
inline Verdict thread_churn(const Settings& s) {
  return deadlock_case(s, program("thread_churn"), {"pthread_mutex_lock", "vanished", "final-holder"});
}
inline Verdict nested_exec_chain(const Settings& s) { return clean_case(s, program("nested_fork", {"exec-chain"})); }
inline Verdict nested_fork_chain(const Settings& s) { return clean_case(s, program("nested_fork", {"fork-chain"})); }
inline Verdict nested_deadlock(const Settings& s) {
  return deadlock_case(s, program("nested_fork", {"deadlock"}), {"pthread_mutex_lock", "vanished", "ledger-owner"});
}
inline Verdict thread_ops_fork(const Settings& s) { return clean_case(s, program("thread_ops_fork")); }
inline Verdict cancel_cleanup(const Settings& s) { return clean_case(s, program("cancel_wait", {"cleanup"})); }
// The owner exited (cancelled) before the fork: a deadlock natively; the relation is not "vanished".
inline Verdict cancel_nocleanup(const Settings& s) {
  return deadlock_case(s, program("cancel_wait", {"nocleanup"}), {"pthread_mutex_lock", nullptr, "cancelled-waitr"});
}
inline Verdict robust_recovered(const Settings& s) { return clean_case(s, program("robust", {"recovered"})); }
// The owner died before the fork: the kernel marked the lock, the child's lock returns EOWNERDEAD at once.
inline Verdict robust_dead_owner(const Settings& s) { return clean_case(s, program("robust", {"dead-owner"})); }
// Held by a live thread at fork: natively the child's lock never returns (robust lists are per thread, walked
// in the parent): a deadlock.
inline Verdict robust_held(const Settings& s) {
  return deadlock_case(s, program("robust", {"held"}), {"pthread_mutex_lock", "vanished", "robust-holder"});
}
inline Verdict destroy_held_unmapped(const Settings& s) {
  return deadlock_case(s, program("destroy_held", {"unmapped"}), {"pthread_mutex_lock", "vanished", "journal-owner"});
}
// Undefined behaviour (a held mutex destroyed, its page replaced): the child's lock returns at once natively.
// Required: no crash, no deadlock, the child exits 0. A possible-deadlock naming the worker is tolerated (it took
// a lock at that address).
inline Verdict destroy_held_reused(const Settings& s) {
  Verdict v;
  std::vector<std::string> argv = program("destroy_held", {"reused"});
  if (s.native) {
    Outcome n = run_native(v, s, argv);
    expect_clean(v, n);
    v.native = describe(n);
  }
  Outcome w = run_watched(v, s, argv);
  v.watched = describe(w);
  if (!reported(v, w)) return v;
  if (count_kind(w, "deadlock") != 0 || hazards(w).size() != count_kind(w, "possible-deadlock"))
    v.fail(w, "expected no deadlock (at most a possible-deadlock); " + describe(w));
  if (!e2e::contains(w.out, "exited with status 0")) v.fail(w, "the child did not exit 0; " + describe(w));
  return v;
}
inline Verdict exit_holding_threaded(const Settings& s) {
  return deadlock_case(s, program("exit_holding", {"threaded"}), {"pthread_mutex_lock", nullptr, "settings-owner"});
}
// A single-threaded fork whose child hangs natively: the shim judges any forked child's locks by their words.
inline Verdict exit_holding_single(const Settings& s) {
  return deadlock_case(s, program("exit_holding", {"single"}), {"pthread_mutex_lock", nullptr, "settings-owner"});
}
inline Verdict pshared(const Settings& s) { return clean_case(s, program("pshared")); }
inline Verdict address_reuse(const Settings& s) { return clean_case(s, program("address_reuse")); }
inline Verdict dlopen_threads(const Settings& s) { return clean_case(s, program("dlopen_threads")); }
inline Verdict main_exit_clean(const Settings& s) { return clean_case(s, program("main_exit", {"clean"})); }
inline Verdict main_exit_deadlock(const Settings& s) {
  return deadlock_case(s, program("main_exit", {"deadlock"}), {"pthread_mutex_lock", "vanished", "cache-owner"});
}

// Lock calls libc refuses take nothing (tests/stress/refused_locks.c; the review's reproducers, fixed in
// ecff115). An errorcheck mutex relocked (EDEADLK) elsewhere: still acquired in take_it.
inline Verdict refused_mutex_edeadlk(const Settings& s) {
  return deadlock_case(s, program("refused_locks", {"mutex-edeadlk"}),
                       {"pthread_mutex_lock", "vanished", "errcheck-owner", "mutex", "take_it", true});
}
// A lock refused with ENOTRECOVERABLE does not make its caller a user of the mutex: no possible deadlock.
inline Verdict refused_notrecoverable(const Settings& s) {
  return clean_case(s, program("refused_locks", {"notrecoverable"}));
}
// A writer's rdlock refused with EDEADLK does not make it a reader: the one named is the real reader.
inline Verdict refused_rwlock_drop(const Settings& s) {
  return deadlock_case(s, program("refused_locks", {"rw-drop"}),
                       {"pthread_rwlock_wrlock", "vanished", "rw-reader", "rwlock-read", "reader_takes", false});
}
// ...nor moves where the writer took its write hold.
inline Verdict refused_rwlock_hold(const Settings& s) {
  return deadlock_case(s, program("refused_locks", {"rw-hold"}),
                       {"pthread_rwlock_wrlock", "vanished", "rw-writer", "rwlock-write", "writer_takes", true});
}
// Atfork-style protection (the forker holds L across the fork) whose entry in the forker's memory of recent locks
// another mutex evicted (tests/stress/evicted_protection.c): no prediction on L.
inline Verdict evicted_protection_waiter(const Settings& s) {
  return clean_case(s, program("evicted_protection", {"waiter"}));
}
inline Verdict evicted_protection_prior(const Settings& s) {
  return clean_case(s, program("evicted_protection", {"prior"}));
}

// ---- another allocator preloaded beside the shim -----------------------------------------------------------------

// The correct program: the fork storm, 20 forks a round (natively with the allocator it takes ~10 ms a fork).
inline std::vector<std::string> allocator_clean_program() { return program("fork_storm", {"mixed", "20"}); }
inline std::vector<std::string> allocator_hazard_program() { return example("mutex_held_by_worker"); }

inline bool allocator_present(Verdict& v, const char* allocator) {
  if (e2e::file_exists(allocator)) return true;
  v.failures.push_back(std::string(allocator) + " is missing: `make deps` installs libjemalloc2 and libtcmalloc-minimal4 "
                       "(Debian 13: libtcmalloc-minimal4t64)");
  return false;
}

// Every exec'd /bin/true loads the allocator too (tcmalloc brings libstdc++): ~50 ms a fork with tcmalloc on a
// 2-core VM. A scale of 3 is plenty here.
inline Settings allocator_settings(Settings s) {
  s.scale = std::min(s.scale, 3);
  return s;
}

// `forkhazard run` with LD_PRELOAD=ALLOCATOR: the CLI puts the shim first (report/launch.cpp).
inline Verdict allocator_cli(const Settings& settings, const char* allocator) {
  Settings s = allocator_settings(settings);
  Verdict v;
  if (!allocator_present(v, allocator)) return v;
  std::vector<std::string> preload = {std::string("LD_PRELOAD=") + allocator};
  if (s.native) {
    Outcome n = run_native(v, s, allocator_clean_program(), preload);
    expect_clean(v, n);
    Outcome h = run_native(v, s, allocator_hazard_program(), preload);
    expect_native_hang(v, h);
    v.native = "correct: " + describe(n) + "; hazard: " + describe(h);
  }
  Outcome c = run_watched(v, s, allocator_clean_program(), preload);
  expect_clean(v, c);
  Outcome h = run_watched(v, s, allocator_hazard_program(), preload);
  expect_deadlock(v, h, {"pthread_mutex_lock", "vanished", "table-owner"});
  v.watched = "correct: " + describe(c) + "; hazard: " + describe(h);
  return v;
}

// Bare LD_PRELOAD in the given order, then `forkhazard report`.
inline Verdict allocator_bare(const Settings& settings, const char* allocator, bool allocator_first) {
  Settings s = allocator_settings(settings);
  Verdict v;
  if (!allocator_present(v, allocator)) return v;
  std::string shim = absolute(e2e::kShim);
  std::string preload = allocator_first ? std::string(allocator) + " " + shim : shim + " " + allocator;
  Outcome c = run_bare(v, s, preload, allocator_clean_program());
  expect_clean(v, c);
  Outcome h = run_bare(v, s, preload, allocator_hazard_program());
  expect_deadlock(v, h, {"pthread_mutex_lock", "vanished", "table-owner"});
  v.watched = "correct: " + describe(c) + "; hazard: " + describe(h);
  return v;
}

inline Verdict jemalloc_cli(const Settings& s) { return allocator_cli(s, kJemalloc); }
inline Verdict jemalloc_bare_allocator_first(const Settings& s) { return allocator_bare(s, kJemalloc, true); }
inline Verdict jemalloc_bare_shim_first(const Settings& s) { return allocator_bare(s, kJemalloc, false); }
inline Verdict tcmalloc_cli(const Settings& s) { return allocator_cli(s, kTcmalloc); }
inline Verdict tcmalloc_bare_allocator_first(const Settings& s) { return allocator_bare(s, kTcmalloc, true); }
inline Verdict tcmalloc_bare_shim_first(const Settings& s) { return allocator_bare(s, kTcmalloc, false); }

// ---- the table --------------------------------------------------------------------------------------------------

struct Case {
  const char* name;
  Verdict (*run)(const Settings&);
  bool quick;        // also in `make test` (tests/test_stress.cpp)
  const char* about;
};

inline const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"fork_storm", fork_storm, true, "9 threads churn mutexes, an rwlock, a condvar, malloc; forks: _exit, exec, raw"},
      {"fork_storm_deep_stacks", fork_storm_deep_stacks, false, "the same with lock_stack_depth=4"},
      {"signal_fork", signal_fork, true, "fork() in SIGALRM/SIGUSR1 handlers interrupting lock calls"},
      {"signal_fork_deep_stacks", signal_fork_deep_stacks, false, "the same with lock_stack_depth=4"},
      {"signal_fork_spawn", signal_fork_spawn, false, "the same; handlers also interrupt pthread_create/join"},
      {"thread_churn", thread_churn, true, "20 000 threads created and ended, then a held lock at fork"},
      {"nested_exec_chain", nested_exec_chain, true, "3 levels, each multithreaded (fork+exec), leaves _exit"},
      {"nested_fork_chain", nested_fork_chain, true, "fork, fork, fork from a multithreaded process; _exit"},
      {"nested_deadlock", nested_deadlock, true, "the great-grandchild locks a lock vanished at the first fork"},
      {"thread_ops_fork", thread_ops_fork, true, "forks amid pthread_create, thread exit, pthread_cond_wait"},
      {"cancel_cleanup", cancel_cleanup, true, "cond_wait cancelled, cleanup unlocks; child locks the mutex"},
      {"cancel_nocleanup", cancel_nocleanup, true, "cond_wait cancelled without cleanup: the mutex stays held"},
      {"robust_recovered", robust_recovered, true, "EOWNERDEAD, consistent, unlock; fork; child locks"},
      {"robust_dead_owner", robust_dead_owner, true, "owner died before fork, unrecovered; child gets EOWNERDEAD"},
      {"robust_held", robust_held, true, "robust mutex held by a live thread at fork; child locks"},
      {"destroy_held_unmapped", destroy_held_unmapped, true, "held mutexes destroyed, page unmapped; real deadlock"},
      {"destroy_held_reused", destroy_held_reused, true, "held mutex destroyed, fresh one at its address; child locks"},
      {"exit_holding_threaded", exit_holding_threaded, true, "a thread exited holding a mutex; fork; child locks"},
      {"exit_holding_single", exit_holding_single, true, "the same, single-threaded fork"},
      {"pshared", pshared, true, "process-shared mutex/rwlock/robust/sem held at fork; parent releases"},
      {"address_reuse", address_reuse, true, "a new mutex where a pool thread's old one was; child locks it"},
      {"dlopen_threads", dlopen_threads, true, "dlopen of a library whose constructor starts threads; forks"},
      {"main_exit_clean", main_exit_clean, true, "main calls pthread_exit; another thread forks; _exit"},
      {"main_exit_deadlock", main_exit_deadlock, true, "the same; the child locks a lock a vanished thread holds"},
      {"refused_mutex_edeadlk", refused_mutex_edeadlk, true, "errorcheck relock refused (EDEADLK); acquired in take_it"},
      {"refused_notrecoverable", refused_notrecoverable, true, "a thread's lock refused (ENOTRECOVERABLE); no user"},
      {"refused_rwlock_drop", refused_rwlock_drop, true, "writer's rdlock refused, write dropped; the reader named"},
      {"refused_rwlock_hold", refused_rwlock_hold, true, "writer's rdlock refused, write kept; taken in writer_takes"},
      {"evicted_protection_waiter", evicted_protection_waiter, true, "L held across fork, entry evicted; waiter on L"},
      {"evicted_protection_prior", evicted_protection_prior, true, "L held across fork, entry evicted; earlier user"},
      {"jemalloc_cli", jemalloc_cli, true, "forkhazard run, LD_PRELOAD=libjemalloc (shim first)"},
      {"jemalloc_bare_allocator_first", jemalloc_bare_allocator_first, true, "LD_PRELOAD=\"jemalloc shim\""},
      {"jemalloc_bare_shim_first", jemalloc_bare_shim_first, true, "LD_PRELOAD=\"shim jemalloc\""},
      {"tcmalloc_cli", tcmalloc_cli, true, "forkhazard run, LD_PRELOAD=libtcmalloc_minimal (shim first)"},
      {"tcmalloc_bare_allocator_first", tcmalloc_bare_allocator_first, true, "LD_PRELOAD=\"tcmalloc shim\""},
      {"tcmalloc_bare_shim_first", tcmalloc_bare_shim_first, true, "LD_PRELOAD=\"shim tcmalloc\""},
  };
  return all;
}

inline const Case* find_case(const std::string& name) {
  for (const Case& c : cases())
    if (name == c.name) return &c;
  return nullptr;
}

}  // namespace stress
