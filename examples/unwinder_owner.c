// Expect: no report — prints which library provides _Unwind_RaiseException to the program; no fork.
//
// Code loaded later (a dlopened C++ library) binds _Unwind_RaiseException through the global scope, as
// dlsym(RTLD_DEFAULT) does. Under forkhazard that must be what it is natively (libgcc_s, or "(not loaded)" in a C
// program that never loads it), never libunwind and never the shim's own hidden copy: C++ exceptions keep their
// native unwinder.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  printf("ground-truth: expect=none\n");
  void *symbol = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
  Dl_info info;
  if (symbol != NULL && dladdr(symbol, &info) != 0 && info.dli_fname != NULL)
    printf("unwinder: %s\n", info.dli_fname);
  else
    printf("unwinder: (not loaded)\n");
  return 0;
}
