// Expect: no report — the child destroys a condvar whose waiter had been woken before the fork.
//
// A worker waits on `ready` under `m`. main takes `m`, sets the flag, broadcasts, and waits (still holding `m`)
// until glibc's own count of waiter references (`ready.__data.__wrefs >> 3`) is 0: the woken worker dropped its
// reference (nptl/pthread_cond_wait.c, __condvar_confirm_wakeup) and now waits to re-take `m`, inside
// pthread_cond_wait. main forks there. The child destroys `ready`: nothing waits on it any more, so
// pthread_cond_destroy returns 0 at once, natively and under forkhazard. The child exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int flag, waiting;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "waiter");
  pthread_mutex_lock(&m);
  waiting = 1;
  while (!flag) pthread_cond_wait(&ready, &m);
  pthread_mutex_unlock(&m);
  return NULL;
}

static unsigned waiter_refs(void) { return __atomic_load_n(&ready.__data.__wrefs, __ATOMIC_ACQUIRE) >> 3; }

__attribute__((noinline)) static int child_destroys_condvar(void) {
  int rc = pthread_cond_destroy(&ready);
  return rc == 0 ? 0 : 1;
}

int main(void) {
  printf("ground-truth: expect=none\n");
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  for (;;) {  // until the worker waits (it released m inside pthread_cond_wait)
    pthread_mutex_lock(&m);
    if (waiting && waiter_refs() > 0) break;
    pthread_mutex_unlock(&m);
    sched_yield();
  }
  flag = 1;
  pthread_cond_broadcast(&ready);
  while (waiter_refs() > 0) sched_yield();  // woken, and blocked on m, which main holds
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);  // natively a hang would end here
    _exit(child_destroys_condvar());
  }
  pthread_mutex_unlock(&m);
  pthread_join(t, NULL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
