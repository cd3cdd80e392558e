// Helpers for the end-to-end tests: run a command with an explicit environment, read files; and, for Criterion
// tests, run an example under `build/forkhazard run --json` and look into its report (JSON: tests/e2e_json.h).
// Header-only on purpose: two programs built by different rules include it, the Criterion runner and
// tests/stress/stress_runner (its own main, `make stress`), and neither links the other's objects.
#pragma once

#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/e2e_json.h"

namespace e2e {

// ---- processes ----------------------------------------------------------------------------------------------

struct RunResult {
  bool started = false;
  bool timed_out = false;  // killed (with its whole process group) after the deadline
  int exit_code = -1;      // the exit status, or 128+N when killed by signal N
  std::string error;       // why it did not start
};

// Runs argv[0] (a path, not looked up in PATH) with exactly `env` as its environment, stdin from /dev/null and
// stdout/stderr into the given files. The command gets its own process group, default signal dispositions and
// an empty signal mask, whatever the test runner has, so a hung command and its descendants can be killed.
inline RunResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                             const std::string& stdout_path, const std::string& stderr_path, int timeout_seconds) {
  RunResult result;
  std::vector<char*> argv_ptrs, env_ptrs;
  for (const std::string& arg : argv) argv_ptrs.push_back(const_cast<char*>(arg.c_str()));
  argv_ptrs.push_back(nullptr);
  for (const std::string& var : env) env_ptrs.push_back(const_cast<char*>(var.c_str()));
  env_ptrs.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv_ptrs[0], &actions, &attr, argv_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    result.error = argv[0] + ": " + std::strerror(rc);
    return result;
  }
  result.started = true;

  int status = 0;
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      result.error = std::string("waitpid: ") + std::strerror(errno);
      return result;
    }
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout_seconds) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    timespec tick{0, 10 * 1000 * 1000};
    nanosleep(&tick, nullptr);
  }
  result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}

// ---- files --------------------------------------------------------------------------------------------------

inline bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh private directory for one test's output files.
inline std::string make_temp_dir() {
  char pattern[] = "/tmp/forkhazard-e2e.XXXXXX";
  const char* dir = mkdtemp(pattern);
  return dir ? dir : "";
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// "0x7f12ab" (any case, with or without 0x) -> number; 0 when it is not a hex number.
inline uint64_t parse_address(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  uint64_t value = std::strtoull(copy.c_str(), &end, 16);
  return (copy.empty() || *end != '\0') ? 0 : value;
}

// ---- examples under `forkhazard run --json` (Criterion tests) ------------------------------------------------------

inline constexpr const char* kCli = "build/forkhazard";
inline constexpr const char* kShim = "build/libforkhazard.so";
inline constexpr int kHazardExit = 66;
inline constexpr int kCommandDeadline = 50;  // seconds; every Test has .timeout = 60

// What an example printed about itself, e.g. `ground-truth: expect=deadlock lock=0x… owner_tid=N`,
// `ground-truth: expect=unsafe-call call=malloc class=non-portable` or `ground-truth: expect=none`.
struct GroundTruth {
  bool found = false;
  std::string expect;
  std::string call;   // the culprit call, where the example says
  std::string klass;  // the unsafe call's class, where the example says
  uint64_t lock = 0;
  long long owner_tid = -1;
};

inline GroundTruth parse_ground_truth(const std::string& out) {
  GroundTruth truth;
  size_t at = out.find("ground-truth: ");
  if (at == std::string::npos) return truth;
  size_t end = out.find('\n', at);
  std::string line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
  truth.found = true;
  for (std::string_view rest(line); !rest.empty();) {
    size_t space = rest.find(' ');
    std::string_view token = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    size_t eq = token.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = token.substr(0, eq), value = token.substr(eq + 1);
    if (key == "expect") truth.expect = std::string(value);
    if (key == "call") truth.call = std::string(value);
    if (key == "class") truth.klass = std::string(value);
    if (key == "lock") truth.lock = parse_address(value);
    if (key == "owner_tid") truth.owner_tid = std::atoll(std::string(value).c_str());
  }
  return truth;
}

// One run of a command; the files stay in `dir` (printed in failure messages) when a test fails.
struct Run {
  std::string dir;
  RunResult result;
  std::string out, err;
  GroundTruth truth;
  bool has_json = false;
  std::string json_error;
  Json report;
};

inline std::vector<std::string> base_env(const std::vector<std::string>& extra) {
  // The watchdog polls every 20 ms (not 200): the examples' observation windows and alarms can be short.
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "FORKHAZARD_WATCHDOG_POLL_MS=20"};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Directories made by this test; a test that passes removes them, a failing one leaves them for a look.
inline std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

inline std::string fresh_dir() {
  std::string dir = make_temp_dir();
  cr_assert(!dir.empty(), "cannot create a temporary directory");
  temp_dirs().push_back(dir);
  return dir;
}

inline void passed() {
  for (const std::string& dir : temp_dirs()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  temp_dirs().clear();
}

// Runs `argv` with stdout and stderr captured into `dir`; a run that must be killed at the deadline fails.
inline Run run_command_in(const std::string& dir, const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env) {
  Run run;
  run.dir = dir;
  run.result = run_command(argv, base_env(extra_env), run.dir + "/stdout", run.dir + "/stderr", kCommandDeadline);
  cr_assert(run.result.started, "cannot start %s: %s", argv[0].c_str(), run.result.error.c_str());
  run.out = read_file(run.dir + "/stdout");
  run.err = read_file(run.dir + "/stderr");
  cr_assert(!run.result.timed_out, "%s did not finish within %d s (a hang); output in %s\nstderr:\n%s",
            argv.back().c_str(), kCommandDeadline, run.dir.c_str(), run.err.c_str());
  run.truth = parse_ground_truth(run.out);
  return run;
}

// `build/forkhazard run --json DIR/report.json -- COMMAND...`, FORKHAZARD_OPTIONS from `extra_env`; `name` is
// the example's name for messages. The command must print a ground-truth line and the report must parse.
inline Run run_watched(const std::string& name, const std::vector<std::string>& command,
                       const std::vector<std::string>& extra_env) {
  cr_assert(file_exists(kCli), "%s is missing: run `make` first (cwd must be the project root)", kCli);
  std::string dir = fresh_dir();
  std::string json_path = dir + "/report.json";
  std::vector<std::string> argv = {kCli, "run", "--json", json_path, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  Run run = run_command_in(dir, argv, extra_env);
  cr_assert(run.truth.found, "%s printed no ground-truth line; stdout:\n%s\nstderr:\n%s", name.c_str(),
            run.out.c_str(), run.err.c_str());
  cr_assert(file_exists(json_path), "no JSON report was written (%s); exit %d, stderr:\n%s", json_path.c_str(),
            run.result.exit_code, run.err.c_str());
  std::string json = read_file(json_path);
  std::optional<Json> parsed = parse_json(json, &run.json_error);
  cr_assert(parsed.has_value(), "the JSON report %s does not parse (%s):\n%s", json_path.c_str(),
            run.json_error.c_str(), json.c_str());
  run.report = *parsed;
  run.has_json = true;
  cr_assert_eq(integer_of(run.report.get("version")), 1, "JSON report: version is not 1:\n%s", json.c_str());
  cr_assert(run.report.get("hazards") && run.report.get("hazards")->kind == Json::Kind::array,
            "JSON report: no \"hazards\" array:\n%s", json.c_str());
  return run;
}

// The compiled example build/examples/NAME under `forkhazard run --json`.
inline Run run_example(const char* name, const std::vector<std::string>& extra_env = {},
                       const std::vector<std::string>& args = {}) {
  std::string example = std::string("build/examples/") + name;
  cr_assert(file_exists(example), "%s is missing: run `make examples` first", example.c_str());
  std::vector<std::string> argv{example};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_watched(name, argv, extra_env);
}

inline const std::vector<Json>& hazards_of(const Run& run) { return array_of(run.report.get("hazards")); }

// A symbolized frame names `function` as such or demangled with its parameters ("f" or "f()").
inline bool frame_is(const Json& frame, std::string_view function) {
  std::string name = string_of(frame.get("function"));
  return name == function || (name.size() > function.size() && name.compare(0, function.size(), function) == 0 &&
                              name[function.size()] == '(');
}

inline bool any_frame_is(const Json* frames, std::string_view function) {
  for (const Json& frame : array_of(frames))
    if (frame_is(frame, function)) return true;
  return false;
}

inline std::string describe_frames(const Json* frames) {
  std::string text;
  for (const Json& frame : array_of(frames)) {
    std::string function = string_of(frame.get("function"));
    text += "  " + (function.empty() ? "?" : function) + " (" + string_of(frame.get("module")) + "+" +
            string_of(frame.get("offset")) + ")\n";
  }
  return text.empty() ? "  (no frames)\n" : text;
}

// The thread alive at fork whose tid is `tid`, or nullptr.
inline const Json* fork_thread(const Json& hazard, long long tid) {
  for (const Json& thread : array_of(member(hazard.get("fork"), "threads")))
    if (integer_of(thread.get("tid")) == tid) return &thread;
  return nullptr;
}

inline const Json* held_entry(const Json* thread, uint64_t addr) {
  for (const Json& held : array_of(member(thread, "held")))
    if (parse_address(string_of(held.get("addr"))) == addr) return &held;
  return nullptr;
}

// ---- what the examples say of their children ----------------------------------------------------------------

// `child PID exited with status S after N ms` / `child PID killed by signal N (...) after N ms` lines.
struct ChildEnd {
  long long pid = -1;
  bool exited = false;
  int code = -1;  // the exit status, or the signal
  long ms = -1;   // since the parent forked it
};

inline std::vector<ChildEnd> child_ends(const std::string& out) {
  std::vector<ChildEnd> ends;
  for (size_t at = 0; at < out.size();) {
    size_t end = out.find('\n', at);
    std::string line = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at = end == std::string::npos ? out.size() : end + 1;
    ChildEnd e;
    if (std::sscanf(line.c_str(), "child %lld exited with status %d", &e.pid, &e.code) == 2) {
      e.exited = true;
    } else if (std::sscanf(line.c_str(), "child %lld killed by signal %d", &e.pid, &e.code) != 2) {
      continue;
    }
    size_t after = line.rfind(" after ");
    if (after != std::string::npos) e.ms = std::atol(line.c_str() + after + 7);
    ends.push_back(e);
  }
  return ends;
}

}  // namespace e2e
