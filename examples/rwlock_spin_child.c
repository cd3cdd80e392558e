// Expect: possible-deadlock (spins) — the child's writer spins forever in glibc's rwlock code: the lock's writer
// vanished inside its unlock.
//
//   rwlock_spin_child [ALARM_S]
//
// glibc's own rwlocks (the locale lock of setlocale/newlocale) are taken by glibc itself, not through the
// interposed functions. A writer that vanishes at fork() inside __pthread_rwlock_wrunlock, after it cleared
// __cur_writer and __writers_futex but before it cleared WRLOCKED, leaves a state glibc's wrlock loop never
// leaves: a new writer can neither take the lock nor block, it spins (state R, no system call). Natively that
// strikes about 1 setlocale child in 30 (examples/family_race.c). Here it is made deterministic: a worker takes
// `index_lock` for writing through libc's own function (as glibc takes its internal locks: the shim never sees
// it) and holds it across fork(); the child then writes the two fields the unlock clears first, as the vanished
// writer would have, and takes the lock through libc's function. Natively the child spins until its alarm
// (ALARM_S, default 8) kills it; under forkhazard the watchdog sees it spin over an rwlock in that state at two
// looks and reports a possible deadlock (a warning; the process is left to its alarm).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_rwlock_t index_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t holding;
static int park_pipe[2];
static int (*libc_wrlock)(pthread_rwlock_t *);
static int (*libc_unlock)(pthread_rwlock_t *);

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "index-writer");
  libc_wrlock(&index_lock);
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  libc_unlock(&index_lock);
  return NULL;
}

__attribute__((noinline)) static void child_takes_index(void) {
  libc_wrlock(&index_lock); // spins for good
  libc_unlock(&index_lock);
}

int main(int argc, char **argv) {
  int alarm_s = argc > 1 ? atoi(argv[1]) : 8;
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  libc_wrlock = libc != NULL ? (int (*)(pthread_rwlock_t *))dlsym(libc, "pthread_rwlock_wrlock") : NULL;
  libc_unlock = libc != NULL ? (int (*)(pthread_rwlock_t *))dlsym(libc, "pthread_rwlock_unlock") : NULL;
  if (libc_wrlock == NULL || libc_unlock == NULL || pipe(park_pipe) != 0) {
    fprintf(stderr, "rwlock_spin_child: cannot find libc's rwlock functions\n");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);
  printf("ground-truth: expect=possible-deadlock lock=%p\n", (void *)&index_lock);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(alarm_s);
    // What the vanished writer's __pthread_rwlock_wrunlock did before it vanished: __cur_writer, then
    // __writers_futex (WRLOCKED is cleared last).
    __atomic_store_n(&index_lock.__data.__cur_writer, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&index_lock.__data.__writers_futex, 0, __ATOMIC_RELAXED);
    child_takes_index();
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
