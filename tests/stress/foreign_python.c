// Looks like a CPython to the shim's lookup (PyGILState_Check, PyGILState_GetThisThreadState, _PyRuntime and
// Py_Version exported) but is none the walk knows: `foreign_python 3.12` says 3.12 with a runtime that is not
// one (no layout for that version); `foreign_python 3.11` says 3.11 with a runtime of zeros (the layout's check
// finds no thread state). Either way the shim must print one notice, take no Python stacks, and harm nothing:
// a thread is started, the process forks, the child _exits 0, the program exits 0.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

unsigned long Py_Version = 0x030c05f0;
char _PyRuntime[4096];

int PyGILState_Check(void) { return 1; }
void* PyGILState_GetThisThreadState(void) { return _PyRuntime; }

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started;

static void* worker(void* arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  started = 1;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
  pause();
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "3.11") == 0) Py_Version = 0x030b07f0;
  else memcpy(_PyRuntime, "xdebugpy\xf0\x05\x0e\x03", 12);  // 3.14's debug offsets: a layout not known
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
  pthread_mutex_lock(&lock);
  while (!started) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 3;
  printf("foreign-python: done\n");
  return 0;
}
