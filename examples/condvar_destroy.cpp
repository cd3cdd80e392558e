// Expect: deadlock — the child destroys a std::condition_variable that a vanished thread was waiting on.
//
// A worker waits on a heap-allocated std::condition_variable when the main thread forks. The child deletes it in
// child_destroys_cv(): the destructor calls pthread_cond_destroy, which in glibc waits until every waiter has
// left the condvar. The waiter vanished at fork and never leaves: the destructor never returns. Natively
// alarm(20) ends the child; under forkhazard it is reported (lock type condvar, owner = the worker), exit 66.
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

static std::mutex queue_mutex;
static std::condition_variable* queue_changed;  // new'd in main; the worker waits on it at fork
static bool done = false;                        // under queue_mutex
static int about_to_wait[2];                     // the worker writes its tid here, holding queue_mutex

[[gnu::noinline]] static void worker_waits_for_work() {
  std::unique_lock<std::mutex> lock(queue_mutex);
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  // Still holding queue_mutex: the main thread can take it only once wait() has released it inside glibc,
  // that is, once this thread is registered as a waiter of the condvar.
  if (write(about_to_wait[1], &tid, sizeof tid) != sizeof tid) return;
  queue_changed->wait(lock, [] { return done; });
}

static void worker() {
  pthread_setname_np(pthread_self(), "cv-waiter");
  worker_waits_for_work();
}

[[gnu::noinline]] static void child_destroys_cv() {
  delete queue_changed;  // pthread_cond_destroy waits for the vanished waiter: never returns
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
  if (pipe(about_to_wait) != 0) {
    std::perror("pipe");
    return 1;
  }
  queue_changed = new std::condition_variable;
  std::thread thread(worker);
  pid_t worker_tid = 0;
  while (read(about_to_wait[0], &worker_tid, sizeof worker_tid) < 0 && errno == EINTR) {
  }
  queue_mutex.lock();  // returns once the worker is inside wait()
  queue_mutex.unlock();

  std::printf("ground-truth: expect=deadlock call=pthread_cond_destroy lock=%p owner_tid=%d\n",
              static_cast<void*>(queue_changed->native_handle()), static_cast<int>(worker_tid));
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);  // natively the destructor below never returns
    child_destroys_cv();
    _exit(0);
  }
  wait_and_print(pid);
  {
    std::lock_guard<std::mutex> lock(queue_mutex);
    done = true;
  }
  queue_changed->notify_all();
  thread.join();
  delete queue_changed;
  return 0;
}
