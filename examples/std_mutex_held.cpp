// Expect: deadlock — the child locks a std::mutex held by a std::thread that vanished at fork.
//
// std::mutex is a pthread mutex underneath: the worker's lock word still names it as owner in the child, where
// the worker does not exist. Natively alarm(20) ends the child; under forkhazard it is reported and ends with 66.
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

static std::mutex cache_mutex;

// Hand-shake between the worker and the main thread (never touched by the child).
static std::mutex state_mutex;
static std::condition_variable state_changed;
static bool holding = false;
static bool released = false;
static pid_t worker_tid = 0;

[[gnu::noinline]] static void worker_holds_lock() {
  cache_mutex.lock();
}

static void worker() {
  pthread_setname_np(pthread_self(), "cache-owner");
  worker_holds_lock();
  {
    std::unique_lock<std::mutex> state(state_mutex);
    worker_tid = static_cast<pid_t>(syscall(SYS_gettid));
    holding = true;
    state_changed.notify_all();
    state_changed.wait(state, [] { return released; });
  }
  cache_mutex.unlock();
}

[[gnu::noinline]] static void child_locks_the_mutex() {
  std::lock_guard<std::mutex> guard(cache_mutex); // the owner vanished at fork: never returns
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
  std::thread thread(worker);
  {
    // The worker sets `holding` under state_mutex and keeps it until its wait releases it, so once we
    // see `holding` the worker holds cache_mutex and sleeps in the condition variable.
    std::unique_lock<std::mutex> state(state_mutex);
    state_changed.wait(state, [] { return holding; });
  }

  std::printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n",
              static_cast<void *>(cache_mutex.native_handle()), static_cast<int>(worker_tid));
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively the lock below never returns
    child_locks_the_mutex();
    _exit(0);
  }
  wait_and_print(pid);
  {
    std::lock_guard<std::mutex> state(state_mutex);
    released = true;
  }
  state_changed.notify_all();
  thread.join();
  return 0;
}
