// Expect: no report — posix_spawn, system, popen and vfork+execve while a worker holds a lock.
//
// One worker holds a mutex (parked on a pipe), another churns malloc/free. The main thread starts /bin/true
// four ways: posix_spawn, system("true"), popen("true", "r") + pclose, and vfork + execve. glibc implements the
// first three with clone(CLONE_VM|CLONE_VFORK); the vfork child shares the parent's memory and only execs. No
// child of a multithreaded fork() ever runs code of its own, so nothing is reported, and every run exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t started; // once past it, the holder holds registry_lock and the churner runs
static int park_pipe[2];          // the holder parks reading this until the parent closes it
static atomic_int stop;

static void *holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "registry-owner");
  pthread_mutex_lock(&registry_lock);
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  pthread_mutex_unlock(&registry_lock);
  return NULL;
}

static void *churner(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "churner");
  pthread_barrier_wait(&started);
  unsigned seed = 7;
  while (!atomic_load(&stop)) {
    seed = seed * 1103515245u + 12345u;
    char *p = malloc(16 + (seed >> 20) % 1024);
    if (p)
      p[0] = 1;
    free(p);
  }
  return NULL;
}

static int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  return status;
}

static void print_status(const char *how, int status) {
  if (status == -1)
    printf("%s: could not start or wait\n", how);
  else if (WIFSIGNALED(status))
    printf("%s: killed by signal %d\n", how, WTERMSIG(status));
  else
    printf("%s: exit %d\n", how, WEXITSTATUS(status));
}

__attribute__((noinline)) static int run_posix_spawn(void) {
  char *argv[] = {"true", NULL};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
    return -1;
  return wait_status(pid);
}

__attribute__((noinline)) static int run_system(void) { return system("true"); }

__attribute__((noinline)) static int run_popen(void) {
  FILE *pipe = popen("true", "r");
  if (!pipe)
    return -1;
  char line[64];
  while (fgets(line, sizeof line, pipe)) {
  }
  return pclose(pipe);
}

__attribute__((noinline)) static int run_vfork_execve(void) {
  char *argv[] = {"true", NULL};
  pid_t pid = vfork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    execve("/bin/true", argv, environ);
    _exit(127);
  }
  return wait_status(pid);
}

int main(void) {
  pthread_t threads[2];
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&started, NULL, 3);
  pthread_create(&threads[0], NULL, holder, NULL);
  pthread_create(&threads[1], NULL, churner, NULL);
  pthread_barrier_wait(&started);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int statuses[4] = {run_posix_spawn(), run_system(), run_popen(), run_vfork_execve()};
  const char *names[4] = {"posix_spawn", "system", "popen", "vfork+execve"};
  int clean = 0;
  for (int i = 0; i < 4; i++) {
    print_status(names[i], statuses[i]);
    if (statuses[i] != -1 && WIFEXITED(statuses[i]) && WEXITSTATUS(statuses[i]) == 0)
      clean++;
  }
  printf("%d of 4 spawners exited 0\n", clean);

  atomic_store(&stop, 1);
  close(park_pipe[1]);
  for (int i = 0; i < 2; i++)
    pthread_join(threads[i], NULL);
  return clean == 4 ? 0 : 1;
}
