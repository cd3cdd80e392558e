// Expect: no report — prints which library provides _Unwind_RaiseException to the program; no fork.
//
// Code loaded later (a dlopened C++ library) binds _Unwind_RaiseException through the global scope, as
// dlsym(RTLD_DEFAULT) does. Under forkhazard that must still be libgcc_s, never libunwind: C++ exceptions keep
// their native unwinder. Natively a C program may not load libgcc_s at all ("(not loaded)").
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
