// Expect: no report — every child of a busy multithreaded process calls only execve at once.
//
// Four workers churn malloc/free and fprintf to /dev/null (the allocator's and a FILE's locks are taken all
// the time) while the main thread forks 50 times; each child execve()s /bin/true immediately. execve is
// async-signal-safe and a successful exec ends the restriction: nothing is reported, every child exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { WORKERS = 4, FORKS = 50 };

static FILE *devnull;
static atomic_int stop;
static atomic_long churned;

__attribute__((noinline)) static void worker_churns(unsigned seed) {
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    char *p = malloc(16 + (seed >> 20) % 512);
    if (p)
      p[0] = 1;
    fprintf(devnull, "round %u: %p\n", seed, (void *)p);
    free(p);
    atomic_fetch_add(&churned, 1);
  }
}

static void *worker(void *arg) {
  pthread_setname_np(pthread_self(), "churner");
  worker_churns((unsigned)(size_t)arg);
  return NULL;
}

int main(void) {
  devnull = fopen("/dev/null", "w");
  if (!devnull) {
    perror("/dev/null");
    return 1;
  }
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, (void *)(size_t)(i + 1));
  while (atomic_load(&churned) < 10000) // the workers are really churning before the first fork
    nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int clean = 0;
  for (int i = 0; i < FORKS; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0) {
      char *argv[] = {"true", NULL};
      execve("/bin/true", argv, environ);
      _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      clean++;
    else
      printf("child %d: status 0x%x\n", (int)pid, status);
  }
  printf("%d of %d children exited 0\n", clean, FORKS);

  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  fclose(devnull);
  return clean == FORKS ? 0 : 1;
}
