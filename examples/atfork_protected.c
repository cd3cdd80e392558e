// Expect: no report — a pthread_atfork handler takes the mutex before fork and releases it on both sides.
//
// Four workers churn `stats_lock`. The prepare handler locks it, so no worker can hold it at the fork instant;
// the parent and child handlers unlock it (a normal mutex, so the child's unlock works). Each of 20 children
// then locks the mutex, unlocks it and exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WORKERS = 4, FORKS = 20 };

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long stats_counter;
static atomic_int stop;
static atomic_long churned;

static void prepare_fork(void) { pthread_mutex_lock(&stats_lock); }
static void after_fork_in_parent(void) { pthread_mutex_unlock(&stats_lock); }
static void after_fork_in_child(void) { pthread_mutex_unlock(&stats_lock); }

__attribute__((noinline)) static void worker_churns_lock(void) {
  while (!atomic_load(&stop)) {
    pthread_mutex_lock(&stats_lock);
    stats_counter++;
    pthread_mutex_unlock(&stats_lock);
    atomic_fetch_add(&churned, 1);
  }
}

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "stats-churner");
  worker_churns_lock();
  return NULL;
}

__attribute__((noinline)) static void child_locks_the_mutex(void) {
  pthread_mutex_lock(&stats_lock); // released by the child handler: returns at once
  pthread_mutex_unlock(&stats_lock);
}

static int wait_for(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      return -1;
    }
  }
  return status;
}

int main(void) {
  pthread_atfork(prepare_fork, after_fork_in_parent, after_fork_in_child);
  pthread_t threads[WORKERS];
  for (int i = 0; i < WORKERS; i++)
    pthread_create(&threads[i], NULL, worker, NULL);
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
      alarm(20); // would end a wrongly blocked child
      child_locks_the_mutex();
      _exit(0);
    }
    int status = wait_for(pid);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      clean++;
    else if (status >= 0)
      printf("child %d: status 0x%x\n", (int)pid, status);
  }
  printf("%d of %d children exited 0\n", clean, FORKS);

  atomic_store(&stop, 1);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(threads[i], NULL);
  return 0;
}
