// Expect: deadlock — the child uses a function-local static whose constructor a vanished thread was running.
//
// A worker calls settings(), whose function-local static has a constructor that blocks (it tells the main
// thread it has started, then waits on a pipe). The main thread forks while the worker is inside the
// constructor: the static's guard says "being initialised". The child calls settings() in
// child_uses_the_static(); __cxa_guard_acquire waits for the initialising thread, which vanished at fork: it never
// returns. Natively alarm(20) ends the child; under forkhazard it is reported (lock type static-init, owner = the
// worker) and ends with 66.
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

static int constructing[2];  // the constructor writes its thread's tid here once it has started
static int finish[2];        // the constructor waits reading this until the parent closes it

struct Settings {
  int verbosity;
  Settings() : verbosity(3) {
    pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (write(constructing[1], &tid, sizeof tid) != sizeof tid) return;
    char c;
    while (read(finish[0], &c, 1) < 0 && errno == EINTR) {
    }
  }
};

[[gnu::noinline]] static Settings& settings() {
  static Settings instance;  // guarded by __cxa_guard_acquire/__cxa_guard_release
  return instance;
}

// The guard variable of settings()'s static (its mangled name), to print the ground truth.
extern "C" char settings_guard asm("_ZGVZL8settingsvE8instance");

static void worker() {
  pthread_setname_np(pthread_self(), "static-builder");
  settings();
}

[[gnu::noinline]] static int child_uses_the_static() {
  return settings().verbosity;  // the constructing thread vanished at fork: never returns
}

static void wait_and_print(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("waitpid");
      return;
    }
  }
  if (WIFSIGNALED(status))
    std::printf("child %d killed by signal %d (%s)\n", static_cast<int>(pid), WTERMSIG(status),
                strsignal(WTERMSIG(status)));
  else
    std::printf("child %d exited with status %d\n", static_cast<int>(pid), WEXITSTATUS(status));
}

int main() {
  if (pipe(constructing) != 0 || pipe(finish) != 0) {
    std::perror("pipe");
    return 1;
  }
  std::thread thread(worker);
  pid_t worker_tid = 0;
  while (read(constructing[0], &worker_tid, sizeof worker_tid) < 0 && errno == EINTR) {
  }

  std::printf("ground-truth: expect=deadlock call=__cxa_guard_acquire lock=%p owner_tid=%d\n",
              static_cast<void*>(&settings_guard), static_cast<int>(worker_tid));
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);  // natively the call below never returns
    _exit(child_uses_the_static() == 3 ? 0 : 1);
  }
  wait_and_print(pid);
  close(finish[1]);
  thread.join();
  std::printf("settings().verbosity = %d\n", settings().verbosity);
  return 0;
}
