// Expect: unsafe-call (malloc, a note), and the child exits 0 — a file the program mapped was truncated under
// its mapping before the fork.
//
// The program maps a scratch file (read-only, from offset 0, as a loader maps a library), then truncates it: the
// mapping's pages now lie past the end of the file, and touching them raises SIGBUS. A worker thread runs; the
// child of the fork allocates (undefined by POSIX after a multithreaded fork, kept working by glibc: a note) and
// exits 0. Whatever reads the module map of this child (every report) must not touch those pages: natively the
// child exits 0, and so it must under forkhazard.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int park_pipe[2];

static void *worker(void *arg) {
  (void)arg;
  char c;
  while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return NULL;
}

__attribute__((noinline)) static int child_allocates(void) {
  char *p = malloc(64);
  int ok = p != NULL;
  free(p);
  return ok ? 0 : 1;
}

int main(void) {
  char path[] = "/tmp/forkhazard-truncated.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("mkstemp");
    return 1;
  }
  // An ELF header's first bytes, so that a module map would take the file for a module and read on.
  char page[8192];
  memset(page, 0, sizeof page);
  memcpy(page, "\177ELF\2\1\1", 7);
  if (write(fd, page, sizeof page) != (ssize_t)sizeof page) return 1;
  void *map = mmap(NULL, sizeof page, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (ftruncate(fd, 0) != 0) return 1;  // the mapping's pages are past the end of the file now: SIGBUS
  unlink(path);
  printf("ground-truth: expect=unsafe-call call=malloc class=non-portable\n");
  fflush(stdout);
  if (pipe(park_pipe) != 0) return 1;
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm(20);
    _exit(child_allocates());
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(park_pipe[1]);
  pthread_join(t, NULL);
  if (WIFSIGNALED(status))
    printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
  else
    printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
  return 0;
}
