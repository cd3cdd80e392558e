// Expect: deadlock — the child locks a mutex held by a worker that vanished inside the dynamic loader.
//
// The worker holds `registry_lock` and sits inside a dl_iterate_phdr callback at the fork instant, so the
// child's copy of glibc's loader lock (dl_load_write_lock) is held by a dead thread: anything in the child that
// walks the loaded modules (libunwind's unw_backtrace, dlopen) hangs. The report must still be written.
// Natively alarm(20) ends the child; under forkhazard it is reported and ends with 66.
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t inside_loader; // once past it, the worker is inside the dl_iterate_phdr callback
static int park_pipe[2];                // the worker parks reading this until the parent closes it
static pid_t worker_tid;

__attribute__((noinline)) static void worker_holds_lock(void) {
  pthread_mutex_lock(&registry_lock);
  worker_tid = (pid_t)syscall(SYS_gettid);
}

// glibc holds dl_load_write_lock while it runs this callback.
static int worker_waits_in_dl_callback(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  (void)data;
  pthread_barrier_wait(&inside_loader);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return 1; // stop the iteration
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "module-scanner");
  worker_holds_lock();
  dl_iterate_phdr(worker_waits_in_dl_callback, NULL);
  pthread_mutex_unlock(&registry_lock);
  return NULL;
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&registry_lock); // the owner vanished at fork: never returns
  pthread_mutex_unlock(&registry_lock);
}

int main(void) {
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&inside_loader, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&inside_loader);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&registry_lock, (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // natively the lock below never returns
    child_locks_the_mutex();
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
