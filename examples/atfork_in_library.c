// Expect: deadlock — a library's atfork child handler, registered from its constructor, locks a lock a worker
// held at fork.
//
// libjournal (examples/libjournal/journal.c) registers a child handler from its constructor, which can run before
// the preloaded forkhazard's. A worker holds the journal lock (parked) when the main thread forks; in the child
// glibc runs the atfork child handlers inside fork(), and libjournal's locks the journal lock whose owner
// vanished: fork() never returns in the child. forkhazard's own child handler must run before every other one
// to judge it: the lock is reported as a deadlock and the child ends with 66. Natively alarm... cannot help
// (the hang is inside fork, before the child could set one): the parent's watchdog below kills it after 20 s.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void journal_write(void);
void journal_hold(void);
void journal_release(void);
void *journal_lock_address(void);

static pthread_barrier_t holding; // once past it, the worker holds the journal lock
static int park_pipe[2];          // the worker parks reading this until the parent closes it
static pid_t worker_tid;

static void *worker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "journal-writer");
  journal_hold();
  worker_tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&holding);
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  journal_release();
  return NULL;
}

int main(void) {
  pthread_t thread;
  if (pipe(park_pipe) != 0) {
    perror("pipe");
    return 1;
  }
  pthread_barrier_init(&holding, NULL, 2);
  pthread_create(&thread, NULL, worker, NULL);
  pthread_barrier_wait(&holding);
  printf("ground-truth: expect=deadlock call=pthread_mutex_lock lock=%p owner_tid=%d\n", journal_lock_address(),
         (int)worker_tid);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) _exit(0); // reached only if the library's child handler returned
  int status = 0;
  for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
    if (waited == 2000) kill(pid, SIGALRM); // 20 s: the child hangs inside fork()
    usleep(10000);
  }
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  close(park_pipe[1]);
  pthread_join(thread, NULL);
  return 0;
}
