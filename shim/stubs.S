/* Tail-calling stubs for the catalogued calls whose behaviour depends on their caller (interpose.def's
   FH_UNSAFE_STUB rows: dlopen resolves the caller's RUNPATH, dlsym(RTLD_NEXT) looks after the caller's module).
   Each stub saves the argument registers, calls fh_stub_enter_NAME(caller's return address, the call's first
   two arguments), which reports
   in a restricted child and returns libc's function, then jumps to it with the program's return address still
   on the stack: libc sees the program as its caller. The CFI lets unwinders walk through the stub. */

#define FH_UNSAFE_STUB(name, cls, family, why)           \
  .globl name;                                           \
  .type name, @function;                                 \
  name:                                                  \
  .cfi_startproc;                                        \
  push %rdi; .cfi_adjust_cfa_offset 8;                   \
  push %rsi; .cfi_adjust_cfa_offset 8;                   \
  push %rdx; .cfi_adjust_cfa_offset 8;                   \
  mov 24(%rsp), %rdi;                                    \
  mov 16(%rsp), %rsi;                                    \
  mov 8(%rsp), %rdx;                                     \
  call fh_stub_enter_##name;                             \
  pop %rdx; .cfi_adjust_cfa_offset -8;                   \
  pop %rsi; .cfi_adjust_cfa_offset -8;                   \
  pop %rdi; .cfi_adjust_cfa_offset -8;                   \
  jmp *%rax;                                             \
  .cfi_endproc;                                          \
  .size name, .-name;

  .text
#include "shim/interpose.def"

  .section .note.GNU-stack,"",@progbits
