// Expect: deadlock — the child write-locks a writer-preferring rwlock that a worker held for reading when it
// vanished at fork, while a writer and another reader were waiting for it.
//
// With PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP a reader arriving in a read phase while a writer waits does
// not join the readers: it waits, uncounted, until the writer has been. At fork `index-reader` holds the lock,
// `index-writer` waits for it, and `index-waiter` (started first) waits behind the writer. The child is left
// with one thread and no signal handler: nothing can release the read hold. Natively alarm(20) ends the child;
// under forkhazard it is reported and ends with 66, naming the reader that holds the lock, never the waiter.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_rwlock_t index_lock;
static pthread_barrier_t holding;  // once past it, the reader holds index_lock
static int park_pipe[2];           // the reader parks reading this until the parent closes it
static int go_pipe[2];             // the waiter starts when the parent writes it
static pid_t reader_tid;
static volatile pid_t writer_tid, waiter_tid;

__attribute__((noinline)) static void reader_holds_read_lock(void) {
  pthread_rwlock_rdlock(&index_lock);
  reader_tid = (pid_t)syscall(SYS_gettid);
}

static void *reader(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "index-reader");
  reader_holds_read_lock();
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_rwlock_unlock(&index_lock);
  return NULL;
}

static void *writer(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "index-writer");
  writer_tid = (pid_t)syscall(SYS_gettid);
  pthread_rwlock_wrlock(&index_lock);  // waits for the reader, after the fork
  pthread_rwlock_unlock(&index_lock);
  return NULL;
}

__attribute__((noinline)) static void waiter_waits_to_read(void) {
  pthread_rwlock_rdlock(&index_lock);  // waits behind the writer
  pthread_rwlock_unlock(&index_lock);
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "index-waiter");
  char c;
  while (read(go_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  waiter_tid = (pid_t)syscall(SYS_gettid);
  waiter_waits_to_read();
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

__attribute__((noinline)) static void child_writes_the_rwlock(void) {
  pthread_rwlock_wrlock(&index_lock);  // the reader vanished at fork: never returns
  pthread_rwlock_unlock(&index_lock);
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
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&index_lock, &attr);
  pthread_t threads[3];
  if (pipe(park_pipe) != 0 || pipe(go_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&threads[0], NULL, waiter, NULL);  // first: the first thread a search of the threads meets
  pthread_create(&threads[1], NULL, reader, NULL);
  pthread_barrier_wait(&holding);
  pthread_create(&threads[2], NULL, writer, NULL);
  while (writer_tid == 0 || !sleeping(writer_tid)) usleep(1000);
  if (write(go_pipe[1], "g", 1) != 1) {
    perror("write");
    return 1;
  }
  while (waiter_tid == 0 || !sleeping(waiter_tid)) usleep(1000);

  printf("ground-truth: expect=deadlock lock=%p owner_tid=%d\n", (void *)&index_lock, (int)reader_tid);
  printf("waiter_tid=%d\n", (int)waiter_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);  // natively the lock below never returns
    child_writes_the_rwlock();
    _exit(0);
  }
  wait_and_print(pid);
  close(park_pipe[1]);
  for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
  return 0;
}
