/* Tail-calling stubs for the catalogued calls whose behaviour depends on their caller (interpose.def's
   FH_UNSAFE_STUB rows: dlopen resolves the caller's RUNPATH, dlsym(RTLD_NEXT) looks after the caller's module).
   Each stub saves the argument registers, calls fh_stub_enter_NAME(caller's return address, the call's first
   two arguments), which reports
   in a restricted child and returns libc's function, then jumps to it with the program's return address still
   on the stack: libc sees the program as its caller. The CFI lets unwinders walk through the stub. */

#if !defined(__x86_64__)
#error "forkhazard's stubs are x86_64 assembly (README, Limits)"
#endif

/* endbr64: an indirect call (through the PLT or a pointer) may land here in a process with indirect-branch
   tracking; with the property note below, loading the shim leaves a CET-built process's protections on. */
#define FH_UNSAFE_STUB(name, cls, family, why)           \
  .globl name;                                           \
  .type name, @function;                                 \
  name:                                                  \
  .cfi_startproc;                                        \
  endbr64;                                               \
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

/* GNU_PROPERTY_X86_FEATURE_1_AND: IBT and SHSTK. The linker ANDs it over every object of the library (the C++
   ones are built with -fcf-protection=full), so the shim never turns a process's shadow stack off. */
  .section .note.gnu.property,"a"
  .p2align 3
  .long 4
  .long 16
  .long 5                 /* NT_GNU_PROPERTY_TYPE_0 */
  .asciz "GNU"
  .long 0xc0000002        /* GNU_PROPERTY_X86_FEATURE_1_AND */
  .long 4
  .long 3                 /* IBT | SHSTK */
  .p2align 3
