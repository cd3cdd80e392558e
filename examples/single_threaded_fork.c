// Expect: no report — all threads were joined before the fork, so the fork is single-threaded.
//
// Workers use mutexes and malloc, then all are joined. The child of the (single-threaded) fork may lock those
// mutexes, allocate and print freely: nothing vanished at fork. The child exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 4 };

static pthread_mutex_t locks[WORKERS] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                                         PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};

__attribute__((noinline)) static void worker_uses_locks(size_t index) {
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&locks[(index + (size_t)i) % WORKERS]);
    free(malloc(64));
    pthread_mutex_unlock(&locks[(index + (size_t)i) % WORKERS]);
  }
}

static void *worker(void *arg) {
  worker_uses_locks((size_t)arg);
  return NULL;
}

__attribute__((noinline)) static void child_uses_everything(void) {
  for (int i = 0; i < WORKERS; i++) {
    pthread_mutex_lock(&locks[i]);
    pthread_mutex_unlock(&locks[i]);
  }
  char *buffer = malloc(128);
  snprintf(buffer, 128, "child %d: locked %d mutexes", (int)getpid(), WORKERS);
  printf("%s\n", buffer);
  fflush(stdout);
  free(buffer);
}

int main(void) {
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, (void *)(size_t)i);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20); // would end a wrongly blocked child
    child_uses_everything();
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return 0;
}
