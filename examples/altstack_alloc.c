// Expect: unsafe-call — malloc (class non-portable) in a signal handler that runs on a small alternate stack
// (8 KiB, as runtimes install with sigaltstack), in the child of a multithreaded fork.
//
// The child installs a SIGUSR1 handler with SA_ONSTACK on an 8 KiB alternate stack (or the size in bytes given
// as the argument; an inaccessible page lies below it, so an overflow is a SIGSEGV), raises SIGUSR1, and the
// handler allocates (handler_allocates). forkhazard's report must fit there: it writes the short report (no
// stacks) instead of the full one, which needs about 16 KiB. Natively and under forkhazard the child exits 0
// (on this project's VM natively down to about 6.2 KiB: the kernel's signal frame takes its share).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WORKERS = 2 };

static pthread_barrier_t started;
static int park_pipe[2];
static volatile sig_atomic_t handled;

static void *worker(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static void handler_allocates(int sig) {
  (void)sig;
  void *volatile p = malloc(48); // the culprit, on the small stack
  (void)p;
  handled = 1;
}

int main(int argc, char **argv) {
  size_t alt_size = 8192;
  if (argc > 1) alt_size = strtoul(argv[1], NULL, 0);
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = (alt_size + page - 1) / page * page;
  char *region = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED || mprotect(region, page, PROT_NONE) != 0) return 1;
  char *alt_stack = region + page; // stacks grow down: an overflow reaches the inaccessible page below
  pthread_t threads[WORKERS];
  if (pipe(park_pipe) != 0) return 1;
  pthread_barrier_init(&started, NULL, WORKERS + 1);
  for (int i = 0; i < WORKERS; i++) pthread_create(&threads[i], NULL, worker, NULL);
  pthread_barrier_wait(&started);
  printf("ground-truth: expect=unsafe-call call=malloc class=non-portable\n");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    stack_t ss = {.ss_sp = alt_stack, .ss_size = alt_size, .ss_flags = 0};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler_allocates;
    sa.sa_flags = SA_ONSTACK;
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0) _exit(2);
    raise(SIGUSR1);
    _exit(handled ? 0 : 3);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  for (int i = 0; i < WORKERS; i++) pthread_join(threads[i], NULL);
  return 0;
}
