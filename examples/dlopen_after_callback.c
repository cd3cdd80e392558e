// Expect: deadlock — dlopen() in the child while a vanished thread sat in a dl_iterate_phdr callback at fork.
//
// glibc holds the loader's write lock (dl_load_write_lock) while it runs a dl_iterate_phdr callback, and
// fork() does not reset that lock. The worker parks inside its callback when the main thread forks; the
// child's dlopen of a library not loaded yet must add it to the namespace list under that lock
// (_dl_add_to_namespace_list) and waits forever on a private futex in ld.so's data. Natively alarm(5) ends the
// child; under `forkhazard run` the watchdog reports it (call dlopen) and ends it with 66.
//
//   dlopen_after_callback [ALARM_MS] [threaded|handlers]
//
// ALARM_MS: the child's alarm, in milliseconds (default 5000). threaded: the child starts a helper thread of its
// own, which waits on its own condition variable (signalled only once the dlopen returns), before its dlopen:
// every thread of the child then waits for good (natively until the alarm), and the watchdog judges the process
// as a whole: the main thread's wait is the fork's doing, the helper's stack is shown; ended with 66.
// handlers: the program catches SIGUSR1 (a do-nothing handler the child inherits). The child's wait is a lock
// acquisition, judged whatever the handlers; but the child armed its alarm since the fork, a timeout of its own
// that a handler may act on: the deadlock is reported at once and the child left to its alarm, as natively.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_barrier_t inside_callback; // once past it, the worker is inside its dl_iterate_phdr callback
static int park_pipe[2];                  // the worker parks reading this until the parent closes it
static pid_t worker_tid;

// glibc holds dl_load_write_lock while it runs this callback.
static int worker_waits_in_callback(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  (void)data;
  pthread_barrier_wait(&inside_callback);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return 1; // stop the iteration
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "module-walker");
  worker_tid = (pid_t)syscall(SYS_gettid);
  dl_iterate_phdr(worker_waits_in_callback, NULL);
  return NULL;
}

static void on_usr1(int sig) { (void)sig; }

static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t helper_wake = PTHREAD_COND_INITIALIZER;
static int loaded;

static void *child_helper(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "child-helper");
  pthread_mutex_lock(&helper_lock);
  while (!loaded) pthread_cond_wait(&helper_wake, &helper_lock); // signalled once the dlopen returns: never
  pthread_mutex_unlock(&helper_lock);
  return NULL;
}

__attribute__((noinline)) static int child_loads_libm(void) {
  void *handle = dlopen("libm.so.6", RTLD_NOW); // the loader lock's holder vanished at fork: never returns
  return handle != NULL ? 0 : 1;
}

static long ms_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int main(int argc, char **argv) {
  long alarm_ms = argc > 1 ? atol(argv[1]) : 5000;
  int threaded_child = argc > 2 && strcmp(argv[2], "threaded") == 0;
  if (argc > 2 && strcmp(argv[2], "handlers") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
  }
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&inside_callback, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&inside_callback);

  printf("ground-truth: expect=deadlock call=dlopen lock=0 owner_tid=%d\n", (int)worker_tid);
  fflush(stdout);
  struct timespec forked;
  clock_gettime(CLOCK_MONOTONIC, &forked);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {alarm_ms / 1000, (alarm_ms % 1000) * 1000}}, NULL); // natively the dlopen below never returns
    if (threaded_child) {
      pthread_t helper;
      pthread_create(&helper, NULL, child_helper, NULL);
    }
    int rc = child_loads_libm();
    if (threaded_child) {
      pthread_mutex_lock(&helper_lock);
      loaded = 1;
      pthread_cond_signal(&helper_wake);
      pthread_mutex_unlock(&helper_lock);
    }
    _exit(rc);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s) after %ld ms\n", (int)pid, WTERMSIG(status),
           strsignal(WTERMSIG(status)), ms_since(&forked));
  else
    printf("child %d exited with status %d after %ld ms\n", (int)pid, WEXITSTATUS(status), ms_since(&forked));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
