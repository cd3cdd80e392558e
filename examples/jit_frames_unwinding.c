// Expect: unsafe-call (malloc, notes), and every child exits 0 — a JIT-style program registers unwind tables
// while a thread keeps unwinding.
//
//   jit_frames_unwinding [FORKS]       how many children (default 20)
//
// Like a JIT (LLVM ORC, llvmlite), the program registers unwind tables at run time (here its own .eh_frame,
// through __register_frame). From then on libgcc before 13 takes its object_mutex in every unwind. A worker
// thread unwinds its stack nonstop (_Unwind_Backtrace), so at a fork that mutex is often held by the worker, which
// vanishes. Each child allocates once and exits 0: natively always fine (malloc takes no libgcc lock). A tool that
// unwinds in the child to report the call (a stack for the malloc note) would block forever on that mutex: it
// must take no stack there.
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unwind.h>

void __register_frame(void *begin);
void __deregister_frame(void *begin);

static atomic_int stop;
static atomic_long unwinds;

static _Unwind_Reason_Code count_frame(struct _Unwind_Context *ctx, void *arg) {
  (void)ctx;
  (*(int *)arg)++;
  return _URC_NO_REASON;
}

static void *unwinder(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    int frames = 0;
    _Unwind_Backtrace(count_frame, &frames);
    atomic_fetch_add(&unwinds, 1);
  }
  return NULL;
}

// The executable's .eh_frame, found through its PT_GNU_EH_FRAME header (eh_frame_ptr, DW_EH_PE_pcrel|sdata4).
static int find_eh_frame(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type != PT_GNU_EH_FRAME) continue;
    const unsigned char *hdr = (const unsigned char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (hdr[0] != 1 || hdr[1] != 0x1b) return 0;  // version 1, pcrel|sdata4
    int32_t rel;
    memcpy(&rel, hdr + 4, sizeof rel);
    *(void **)data = (void *)(hdr + 4 + rel);
    return 1;
  }
  return 0;
}

__attribute__((noinline)) static int child_allocates(void) {
  char *p = malloc(64);
  int ok = p != NULL;
  free(p);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 20;
  void *eh_frame = NULL;
  dl_iterate_phdr(find_eh_frame, &eh_frame);  // the first object is the executable
  if (eh_frame == NULL) {
    fprintf(stderr, "no .eh_frame found\n");
    return 1;
  }
  __register_frame(eh_frame);
  printf("ground-truth: expect=unsafe-call call=malloc class=non-portable\n");
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, NULL, unwinder, NULL);
  while (atomic_load(&unwinds) < 100) usleep(100);
  int failed = 0;
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      alarm(10);  // natively never needed
      _exit(child_allocates());
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
      printf("child %d killed by signal %d (%s)\n", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
      printf("child %d exited with status %d\n", (int)pid, WEXITSTATUS(status));
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  __deregister_frame(eh_frame);
  return failed == 0 ? 0 : 1;
}
