// Expect: no report — dlopen of a library whose constructor starts threads (libstress_threads.so, next to this
// program), then forks while those threads churn the library's locks and the allocator. 100 forks (times
// STRESS_SCALE); every child calls only _exit(0) or execs /bin/true. Then the library is told to stop its
// threads and is closed. Exit status 0 when every child exited 0.
#include "stress_common.h"

#include <dlfcn.h>
#include <libgen.h>

enum { FORKS = 100 };

int main(int argc, char **argv) {
  (void)argc;
  int forks = FORKS * stress_scale();
  char path[4096];
  snprintf(path, sizeof path, "%s", argv[0]);
  char library[4200];
  snprintf(library, sizeof library, "%s/libstress_threads.so", dirname(path));
  void *handle = dlopen(library, RTLD_NOW);
  if (handle == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  long (*churned)(void) = (long (*)(void))dlsym(handle, "stress_library_churned");
  void (*stop)(void) = (void (*)(void))dlsym(handle, "stress_library_stop");
  if (churned == NULL || stop == NULL) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  while (churned() < 5000)
    stress_sleep_us(100);

  printf("ground-truth: expect=none\n");
  fflush(stdout);
  int clean = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      break;
    }
    if (pid == 0) {
      if (i % 2) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
      }
      _exit(0);
    }
    int status = stress_wait(pid);
    if (stress_clean_exit(status))
      clean++;
    else
      stress_describe("child", pid, status);
  }
  stop();
  dlclose(handle);
  printf("outcome: %d of %d children exited 0 (library threads churning)\n", clean, forks);
  return clean == forks ? 0 : 1;
}
