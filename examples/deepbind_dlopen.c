// Expect: no report, one warning — the program dlopens libraries with RTLD_DEEPBIND.
//
// RTLD_DEEPBIND makes a library resolve its own calls in its own dependencies first, before the global scope
// where the preloaded shim sits: that library's mutexes, threads and forks bypass forkhazard. Nothing here forks,
// so there is no hazard; forkhazard warns once (naming the first such library) that it cannot see inside.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  printf("ground-truth: expect=none\n");
  void *math = dlopen("libm.so.6", RTLD_NOW | RTLD_DEEPBIND);
  void *again = dlopen("libm.so.6", RTLD_NOW | RTLD_DEEPBIND);
  printf("loaded %s\n", math != NULL && again != NULL ? "libm twice" : dlerror());
  return 0;
}
