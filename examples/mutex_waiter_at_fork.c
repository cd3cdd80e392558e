// Expect: deadlock — the child locks a mutex held by a worker that vanished at fork, while another vanished
// thread was blocked waiting for it.
//
// `table-owner` takes `table_lock` and parks holding it; `table-waiter` then blocks in pthread_mutex_lock on
// it; the main thread forks once the waiter sleeps in the kernel. The child's lock never returns natively
// (alarm(20) ends it). Under forkhazard the report names the owner, never the waiter: a thread that was only
// waiting for a lock does not hold it, whatever the shim remembers about its lock calls.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t holding;  // once past it, the owner holds table_lock
static int park_pipe[2];           // the owner parks reading this until the parent closes it
static pid_t owner_tid;
static volatile pid_t waiter_tid;

__attribute__((noinline)) static void owner_holds_lock(void) {
  pthread_mutex_lock(&table_lock);
  owner_tid = (pid_t)syscall(SYS_gettid);
}

static void *owner(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "table-owner");
  owner_holds_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&table_lock);
  return NULL;
}

__attribute__((noinline)) static void waiter_waits_for_lock(void) {
  pthread_mutex_lock(&table_lock);  // blocks until the owner lets go, after the fork
  pthread_mutex_unlock(&table_lock);
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "table-waiter");
  waiter_tid = (pid_t)syscall(SYS_gettid);
  waiter_waits_for_lock();
  return NULL;
}

// True once thread `tid` sleeps in the kernel (state S in /proc: blocked on the lock's futex).
static int sleeping(pid_t tid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')');
  return paren != NULL && paren[1] == ' ' && paren[2] == 'S';
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&table_lock);  // the owner vanished at fork: never returns
  pthread_mutex_unlock(&table_lock);
}

static void wait_and_print(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      return;
    }
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
}

int main(void) {
  pthread_t owner_thread, waiter_thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&owner_thread, NULL, owner, NULL);
  pthread_barrier_wait(&holding);
  pthread_create(&waiter_thread, NULL, waiter, NULL);
  while (waiter_tid == 0 || !sleeping(waiter_tid)) usleep(1000);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&table_lock, (int)owner_tid);
  printf("waiter_tid=%d\n", (int)waiter_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);  // natively the lock below never returns
    child_locks_the_mutex();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  pthread_join(owner_thread, NULL);
  pthread_join(waiter_thread, NULL);
  return 0;
}
