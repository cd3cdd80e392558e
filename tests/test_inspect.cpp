// `forkhazard inspect PID` end to end, with nothing preloaded: examples run natively, their hung child is found
// in /proc and inspected; the verdict, the owner and the stacks are checked, and the child must be left exactly
// as it was (still in the same wait). Run from the project root; the examples are build/examples/*.
#include <criterion/criterion.h>

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/e2e_support.h"

namespace {

using namespace e2e;

// A program started natively (no preload), its output in a file, killed with its whole group at the end.
struct Native {
  pid_t pid = -1;
  std::string out_path;

  Native(const std::vector<std::string>& argv, const std::string& dir) {
    out_path = dir + "/out";
    pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      FILE* out = freopen(out_path.c_str(), "w", stdout);
      if (out == nullptr || dup2(fileno(stdout), 2) < 0) _exit(126);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    setpgid(pid, pid);
  }
  ~Native() {
    if (pid > 0) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  std::string output() const { return read_file(out_path); }
};

std::string proc_text(pid_t pid, const char* file) { return read_file("/proc/" + std::to_string(pid) + "/" + file); }

long field_of_stat(pid_t pid, int field) {  // 1-based, counted after the command name's ')'
  std::string stat = proc_text(pid, "stat");
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return -1;
  std::string rest = stat.substr(at + 2);
  for (int f = 3; f < field; ++f) rest = rest.substr(rest.find(' ') + 1);
  return std::atol(rest.c_str());
}

// A child of `parent` whose only thread sleeps in a futex wait (syscall 202), within `seconds`; -1 when none.
pid_t hung_child(pid_t parent, int seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (DIR* d = opendir("/proc")) {
      while (dirent* e = readdir(d)) {
        pid_t pid = std::atoi(e->d_name);
        if (pid <= 0 || field_of_stat(pid, 4) != parent) continue;
        std::string syscall = proc_text(pid, "syscall");
        if (syscall.rfind("202 ", 0) == 0 && contains(proc_text(pid, "status"), "Threads:\t1\n")) {
          closedir(d);
          std::this_thread::sleep_for(std::chrono::milliseconds(200));  // settled in it
          return pid;
        }
      }
      closedir(d);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// `forkhazard inspect --json DIR/inspect.json PID`; the JSON parsed when written.
Run inspect(pid_t pid, const std::string& dir) {
  std::string json = dir + "/inspect.json";
  Run run = run_command_in(dir, {kCli, "inspect", "--color=never", "--json", json, std::to_string(pid)}, {});
  if (file_exists(json)) {
    std::optional<Json> parsed = parse_json(read_file(json), &run.json_error);
    cr_assert(parsed.has_value(), "the JSON does not parse: %s", run.json_error.c_str());
    run.report = *parsed;
    run.has_json = true;
  }
  return run;
}

const Json* the_deadlock(const Run& run) {
  const Json* found = nullptr;
  for (const Json& h : hazards_of(run))
    if (string_of(h.get("kind")) == "deadlock") found = &h;
  return found;
}

// Inspected and left as it was: the same futex wait, the process still there.
void expect_untouched(pid_t child, const std::string& syscall_before) {
  cr_assert_eq(proc_text(child, "syscall"), syscall_before, "the inspected process is no longer in the same wait");
  cr_assert(!contains(proc_text(child, "status"), "TracerPid:\t" + std::to_string(getpid())), "still traced");
  cr_assert(contains(proc_text(child, "status"), "TracerPid:\t0\n"), "left traced:\n%s", proc_text(child, "status").c_str());
}

}  // namespace

// A mutex a worker held across fork(): its __owner is a thread of the parent, not of the child. Certain and the
// fork's doing, named.
Test(inspect, mutex_owned_by_a_parent_thread, .timeout = 60) {
  std::string dir = fresh_dir();
  Native program({"build/examples/mutex_held_by_worker", "30000"}, dir);
  pid_t child = hung_child(program.pid, 10);
  cr_assert_gt(child, 0, "no hung child of %d:\n%s", program.pid, program.output().c_str());
  GroundTruth truth = parse_ground_truth(program.output());
  std::string before = proc_text(child, "syscall");
  Run run = inspect(child, dir);
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const Json* deadlock = the_deadlock(run);
  cr_assert_not_null(deadlock, "no deadlock in the JSON; stderr:\n%s", run.err.c_str());
  cr_assert_eq(integer_of(deadlock->get("pid")), child);
  cr_assert_eq(integer_of(member(deadlock->get("owner"), "tid")), truth.owner_tid, "owner is not the worker:\n%s",
               run.err.c_str());
  cr_assert_eq(string_of(member(deadlock->get("owner"), "relation")), "vanished");
  cr_assert(any_frame_is(deadlock->get("stack"), "child_locks_the_mutex"), "%s",
            describe_frames(deadlock->get("stack")).c_str());
  cr_assert(contains(run.err, "table-owner"), "the holder's name (its thread in the parent) is not said:\n%s",
            run.err.c_str());
  expect_untouched(child, before);
  passed();
}

// OpenMP in the child after a region in the parent: libgomp's team waits for pool threads that vanished.
Test(inspect, openmp_team_in_the_child, .timeout = 60) {
  std::string dir = fresh_dir();
  Native program({"build/examples/omp_in_child"}, dir);
  pid_t child = hung_child(program.pid, 4);
  cr_assert_gt(child, 0, "no hung child:\n%s", program.output().c_str());
  std::string before = proc_text(child, "syscall");
  Run run = inspect(child, dir);
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const Json* deadlock = the_deadlock(run);
  cr_assert_not_null(deadlock, "stderr:\n%s", run.err.c_str());
  cr_assert(contains(string_of(deadlock->get("call")), "GOMP"), "call %s", string_of(deadlock->get("call")).c_str());
  expect_untouched(child, before);
  passed();
}

// setenv under the env lock a vanished worker held: glibc's own lock, no owner field; the only thread left.
Test(inspect, glibc_env_lock, .timeout = 60) {
  std::string dir = fresh_dir();
  Native program({"build/examples/setenv_in_flight"}, dir);
  pid_t child = hung_child(program.pid, 20);
  if (child < 0) cr_skip_test("no fork caught the worker inside setenv in 20 s here:\n%s", program.output().c_str());
  std::string before = proc_text(child, "syscall");
  Run run = inspect(child, dir);
  cr_assert_eq(run.result.exit_code, kHazardExit, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  const Json* deadlock = the_deadlock(run);
  cr_assert_not_null(deadlock, "stderr:\n%s", run.err.c_str());
  cr_assert_eq(string_of(deadlock->get("call")), "setenv");
  expect_untouched(child, before);
  passed();
}

// A CPython child blocked on a Lock a thread held across os.fork(): its Python stack read from outside (3.11 by
// its layout, 3.13 by its debug offsets). A semaphore (3.11) or a PyMutex (3.13) records no holder: from outside
// nothing shows a vanished thread took it, so no verdict (exit 0), the stacks shown.
Test(inspect, python_lock_child, .timeout = 60) {
  std::string python = "/usr/bin/python3";  // Debian's: 3.11 on Debian 12, 3.13 on Debian 13
  if (!file_exists(python)) cr_skip_test("no /usr/bin/python3 here");
  std::string dir = fresh_dir();
  Native program({python, "examples/python_lock_fork.py", "20"}, dir);
  pid_t child = hung_child(program.pid, 10);
  cr_assert_gt(child, 0, "no hung child:\n%s", program.output().c_str());
  std::string before = proc_text(child, "syscall");
  Run run = inspect(child, dir);
  cr_assert_eq(run.result.exit_code, 0, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
  cr_assert(contains(run.err, "Python stack:") && contains(run.err, "in child_acquires") &&
                contains(run.err, "python_lock_fork.py"),
            "no Python stack of the child:\n%s", run.err.c_str());
  cr_assert(contains(run.err, "no verdict"), "%s", run.err.c_str());
  expect_untouched(child, before);
  passed();
}

// Correct processes: a child waiting by design on its own condvar; a process in a timed wait; one in a read.
Test(inspect, correct_processes_get_no_error, .timeout = 60) {
  std::string dir = fresh_dir();
  {
    Native program({"build/examples/own_wait_child", "cond", "single", "8000"}, dir);
    pid_t child = hung_child(program.pid, 5);
    cr_assert_gt(child, 0, "no waiting child:\n%s", program.output().c_str());
    Run run = inspect(child, dir);
    cr_assert_eq(run.result.exit_code, 0, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
    cr_assert(contains(run.err, "no verdict"), "%s", run.err.c_str());
  }
  {
    Native sleeper({"/bin/sleep", "30"}, dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Run run = inspect(sleeper.pid, dir);
    cr_assert_eq(run.result.exit_code, 0, "exit %d; stderr:\n%s", run.result.exit_code, run.err.c_str());
    cr_assert(contains(run.err, "not blocked for good"), "%s", run.err.c_str());
  }
  passed();
}

// Bad input: one clear line each, no crash; 2 for a pid that is none or not ours, 0 for a zombie.
Test(inspect, bad_input, .timeout = 60) {
  std::string dir = fresh_dir();
  Run none = run_command_in(dir, {kCli, "inspect", "999999999"}, {});
  cr_assert_eq(none.result.exit_code, 2, "exit %d; stderr:\n%s", none.result.exit_code, none.err.c_str());
  cr_assert(contains(none.err, "no such process"), "%s", none.err.c_str());
  Run word = run_command_in(dir, {kCli, "inspect", "abc"}, {});
  cr_assert_eq(word.result.exit_code, 2);
  cr_assert(contains(word.err, "is not a process id"), "%s", word.err.c_str());
  // A zombie: `sleep 0` exits under a parent (exec'd into sleep 30) that never reaps it.
  Native parent({"/bin/sh", "-c", "/bin/sleep 0 & exec /bin/sleep 30"}, dir);
  pid_t zombie = -1;
  for (int i = 0; i < 200 && zombie < 0; ++i) {
    if (DIR* d = opendir("/proc")) {
      while (dirent* e = readdir(d)) {
        pid_t pid = std::atoi(e->d_name);
        if (pid > 0 && field_of_stat(pid, 4) == parent.pid && contains(proc_text(pid, "stat"), ") Z ")) zombie = pid;
      }
      closedir(d);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  cr_assert_gt(zombie, 0, "no zombie made");
  Run z = run_command_in(dir, {kCli, "inspect", std::to_string(zombie)}, {});
  cr_assert_eq(z.result.exit_code, 0, "exit %d; stderr:\n%s", z.result.exit_code, z.err.c_str());
  cr_assert(contains(z.err, "a zombie"), "%s", z.err.c_str());
  // Another user's process: as nobody, pid 1 (root's).
  if (getuid() == 0 && file_exists("/usr/bin/setpriv")) {
    Run other = run_command_in(dir, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     std::string(kCli), "inspect", "1"},
                               {});
    cr_assert_eq(other.result.exit_code, 2, "exit %d; stderr:\n%s", other.result.exit_code, other.err.c_str());
    cr_assert(contains(other.err, "not permitted"), "%s", other.err.c_str());
  }
  passed();
}
