// Expect: deadlock — setenv in the child while a vanished thread was inside setenv/unsetenv at fork.
//
// A worker calls setenv and unsetenv in a loop; glibc serialises them with an internal lock (envlock) that
// fork() does not reset. The main thread forks up to 300 times and each child calls setenv once in
// child_sets_env(). Whenever the worker was inside the environment functions at the fork instant, the child's
// setenv waits for a lock that nothing in it can release. Under `forkhazard run` the shim reports its setenv as
// an unsafe call naming the worker, and the watchdog judges the wait (lock type futex, owner = the worker) and
// ends the child with 66; the other children's setenv is an unsafe call. The parent
// stops at the first child that did not exit 0. Natively that child hangs until its alarm(5) (SIGALRM).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FORKS = 300 };

static pthread_barrier_t started; // once past it, worker_tid is set and the worker has done a round
static atomic_int stop;
static pid_t worker_tid;

__attribute__((noinline)) static void worker_hammers_env(void) {
  unsigned long round = 0;
  while (!atomic_load(&stop)) {
    char value[32];
    snprintf(value, sizeof value, "%lu", round++);
    setenv("FORKHAZARD_EXAMPLE_VAR", value, 1);
    unsetenv("FORKHAZARD_EXAMPLE_VAR");
  }
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "env-writer");
  worker_tid = (pid_t)syscall(SYS_gettid);
  setenv("FORKHAZARD_EXAMPLE_VAR", "first", 1); // a round before the first fork: it uses envlock at every fork
  pthread_barrier_wait(&started);
  worker_hammers_env();
  return NULL;
}

__attribute__((noinline)) static void child_sets_env(void) {
  setenv("FORKHAZARD_CHILD", "1", 1); // hangs when the worker held envlock at fork
}

int main(void) {
  pthread_t thread;
  pthread_barrier_init(&started, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=deadlock call=setenv lock=0 owner_tid=%d\n", (int)worker_tid);
  fflush(stdout);
  int clean = 0, forks = 0;
  for (forks = 1; forks <= FORKS; forks++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0) {
      alarm(5); // natively a child that hangs ends here; the parent stops at it
      child_sets_env();
      _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      clean++;
      continue;
    }
    if (WIFSIGNALED(status))
      printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
      printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
    break;
  }
  printf("%d children exited 0 before the parent stopped, %d forks\n", clean, forks > FORKS ? FORKS : forks);

  atomic_store(&stop, 1);
  pthread_join(thread, NULL);
  return 0;
}
