// The shim's start-up: resolving the real functions, options, the atfork handlers, the hot flags; and the
// support every wrapper file shares (shim/wrapper_support.h).
#include "shim/python.h"
#include "shim/runtimes.h"
#include "shim/wrapper_support.h"

namespace fh::shim {
namespace real {
#define FH_INTERPOSE(name, kind, why) decltype(&::name) name;
#include "shim/interpose.def"
}  // namespace real

OldCondAbi g_old_cond;
bool g_ready = false;
HotFlags g_hot = {false, malloc_entry_slow, free_entry_slow};
alignas(16) char g_pool[pool_bytes];

namespace {
std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
__thread bool tls_in_init __attribute__((tls_model("initial-exec")));
std::atomic<size_t> g_pool_used{0};
// libc's dlsym, found with dlvsym: the shim exports a dlsym of its own, so a plain call would come back here.
// Called through this pointer from the shim, RTLD_NEXT means "after the shim".
decltype(&::dlsym) g_libc_dlsym;
}  // namespace


void* libc_dlsym_default(const char* name) {
  return g_libc_dlsym != nullptr ? g_libc_dlsym(RTLD_DEFAULT, name) : nullptr;
}

[[noreturn]] void die_unresolved(const char* name) {
  StackWriter(STDERR_FILENO).str("forkhazard: cannot find the real ").str(name)
      .str(" (dlsym RTLD_NEXT failed); the shim cannot run in this process\n");
  abort();
}


void* find_next(const char* name) {
  void* p = g_libc_dlsym != nullptr ? g_libc_dlsym(RTLD_NEXT, name) : nullptr;
  if (p != nullptr) return p;
  // A C program that dlopens a C++ library RTLD_LOCAL: its __cxa_guard_* references reach our exports, but the
  // runtime is not in the global scope where RTLD_NEXT looks.
  for (const char* lib : {"libstdc++.so.6", "libc++abi.so.1"}) {
    void* handle = real::dlopen != nullptr ? real::dlopen(lib, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
    if (handle != nullptr && (p = g_libc_dlsym(handle, name)) != nullptr) return p;
  }
  return nullptr;
}


void resolve_all() {
#if defined(__x86_64__)
  g_old_cond.wait = reinterpret_cast<decltype(g_old_cond.wait)>(dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.2.5"));
  g_old_cond.timedwait =
      reinterpret_cast<decltype(g_old_cond.timedwait)>(dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.2.5"));
  g_old_cond.destroy =
      reinterpret_cast<decltype(g_old_cond.destroy)>(dlvsym(RTLD_NEXT, "pthread_cond_destroy", "GLIBC_2.2.5"));
  g_old_cond.signal =
      reinterpret_cast<decltype(g_old_cond.signal)>(dlvsym(RTLD_NEXT, "pthread_cond_signal", "GLIBC_2.2.5"));
  g_old_cond.broadcast =
      reinterpret_cast<decltype(g_old_cond.broadcast)>(dlvsym(RTLD_NEXT, "pthread_cond_broadcast", "GLIBC_2.2.5"));
#endif
  g_libc_dlsym = reinterpret_cast<decltype(g_libc_dlsym)>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"));
  if (g_libc_dlsym == nullptr)
    g_libc_dlsym = reinterpret_cast<decltype(g_libc_dlsym)>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
  real::dlopen = reinterpret_cast<decltype(real::dlopen)>(g_libc_dlsym(RTLD_NEXT, "dlopen"));
#define FH_INTERPOSE(name, kind, why) \
  if (real::name == nullptr) real::name = reinterpret_cast<decltype(real::name)>(g_libc_dlsym(RTLD_NEXT, #name));
#define FH_INTERPOSE_VERSIONED(name, version, kind, why)                                 \
  real::name = reinterpret_cast<decltype(real::name)>(dlvsym(RTLD_NEXT, #name, version)); \
  if (real::name == nullptr) real::name = reinterpret_cast<decltype(real::name)>(g_libc_dlsym(RTLD_NEXT, #name));
#include "shim/interpose.def"
}


}  // namespace fh::shim

// The linker's own marks of this object: its ELF header (where it is mapped) and the end of its .bss. Hidden:
// they bind to this object's, never the program's.
extern "C" const char __ehdr_start[] __attribute__((visibility("hidden")));
extern "C" const char _end[] __attribute__((visibility("hidden")));

namespace fh::shim {

void atfork_prepare() {
  int saved = errno;
  tls.guard++;
  core::fork_prepare();
  if (!g_process.passive && g_options.python_stacks &&
      (live_threads() > 1 || g_process.prepare_unknown_threads > 0))
    python::snapshot_at_fork();
  tls.guard--;
  errno = saved;
}


void update_hot_flags() {
  __atomic_store_n(&g_hot.lock_fast, !g_process.forked_child && g_options.lock_stack_depth == 1, __ATOMIC_RELAXED);
  bool alloc_fast = !g_process.restricted && real::malloc != nullptr && real::free != nullptr;
  __atomic_store_n(&g_hot.malloc_fn, alloc_fast ? real::malloc : malloc_entry_slow, __ATOMIC_RELAXED);
  __atomic_store_n(&g_hot.free_fn, alloc_fast ? real::free : free_entry_slow, __ATOMIC_RELAXED);
}

void atfork_child() {
  int saved = errno;
  core::fork_child();
  runtimes::note_at_fork();
  // Before CPython's own after-fork code (its handlers run after ours) frees the other thread states.
  if (g_process.restricted && !g_process.passive && g_options.python_stacks) python::capture_at_fork();
  reset_call_sites();
  update_hot_flags();
  errno = saved;
}

void init_slow() {
  int expected = 0;
  if (g_init_state.compare_exchange_strong(expected, 1)) {
    int saved = errno;
    tls_in_init = true;
    tls.guard++;
    resolve_all();
    options_set_defaults(&g_options);
    // A setuid/setgid or file-capability program (the loader's secure mode, AT_SECURE): the environment is
    // the caller's, not to be trusted with a log path or an exit code. The shim stays passive there: it reads
    // no options, writes no report and ends nothing; it only forwards.
    g_process.passive = getauxval(AT_SECURE) != 0;
    if (g_process.passive) g_options.on_deadlock = on_deadlock_continue;
    else options_parse(getenv("FORKHAZARD_OPTIONS"), &g_options, STDERR_FILENO);
    g_process.on_deadlock = static_cast<uint32_t>(g_options.on_deadlock);
    g_process.exitcode = static_cast<int>(g_options.exitcode);
    if (g_options.help) options_print_help(STDERR_FILENO);
    // Our own frames, dropped from every stack: this object's range, from the linker (no /proc read at start).
    capture_set_own_range(reinterpret_cast<uintptr_t>(__ehdr_start), reinterpret_cast<uintptr_t>(_end));
    // Registered before anyone else's handlers where possible: prepare handlers run last-registered-first and
    // child handlers first-registered-first, so ours runs closest to the fork on both sides.
    pthread_atfork(atfork_prepare, nullptr, atfork_child);
    core::init();
    tls.guard--;
    tls_in_init = false;
    __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
    update_hot_flags();
    g_init_state.store(2, std::memory_order_release);
    errno = saved;
    return;
  }
  if (tls_in_init) return;  // a call made by our own start-up (dlsym's calloc): bootstrap paths serve it
  while (g_init_state.load(std::memory_order_acquire) != 2) sched_yield();
}


__attribute__((constructor)) void shim_constructor() { ensure_init(); }



// ---- bootstrap allocator: serves allocations made before dlsym has found malloc -----------------------



void* pool_alloc(size_t n) {
  size_t need = (n + 16 + 15) & ~size_t{15};
  size_t off = g_pool_used.fetch_add(need);
  if (off + need > sizeof g_pool) return nullptr;
  char* block = g_pool + off;
  memcpy(block, &n, sizeof n);
  return block + 16;
}

size_t pool_size(const void* p) {
  size_t n;
  memcpy(&n, static_cast<const char*>(p) - 16, sizeof n);
  return n;
}

// ---- lock bookkeeping ----------------------------------------------------------------------------------

__attribute__((noinline)) void note_acquired_deep(const void* addr, LockType type, uintptr_t caller) {
  uintptr_t pcs[max_acq_pcs];
  int saved = errno;
  tls.guard++;
  size_t n = capture_stack(pcs, static_cast<size_t>(g_options.lock_stack_depth));
  tls.guard--;
  errno = saved;
  if (n == 0) {
    pcs[0] = caller;
    n = 1;
  }
  core::lock_acquired(addr, type, pcs, n);
}

__attribute__((noinline)) void note_lock_slow(const void* lock, LockType type, uintptr_t caller) {
  if (g_options.lock_stack_depth > 1) return note_acquired_deep(lock, type, caller);
  if (ThreadSlot* s = core::current_slot()) core::lock_taken(s, lock, caller, type);
}






size_t capture_site(uintptr_t* pcs) {
  int saved = errno;
  tls.guard++;
  size_t depth = static_cast<size_t>(g_options.stack_depth) < max_site_pcs ? static_cast<size_t>(g_options.stack_depth)
                                                                          : max_site_pcs;
  size_t n = capture_stack(pcs, depth);
  tls.guard--;
  errno = saved;
  return n;
}

void* thread_trampoline(void* p) {
  void* (*start)(void*);
  void* arg;
  core::thread_starting(static_cast<ThreadSlot*>(p), &start, &arg);
  return start(arg);
}

void cond_wait_cancelled(void* m) {
  // Cancellation re-takes the mutex before the cleanup handlers run (nptl/pthread_cond_wait.c).
  core::cond_waiting(nullptr);
  core::own_wait(nullptr);
  core::fork_wait(nullptr, nullptr, false);
  if (g_options.lock_stack_depth > 1) core::lock_acquired(m, LockType::mutex, nullptr, 0);
}

// Writes this process's repeat counts before its image or its life ends. Not from a vfork child: it runs on
// its parent's memory and must leave the shim's state untouched (it is the only process whose pid differs
// from the cached one without a fork handler having run).
void before_exec_or_exit() {
  if (FH_UNLIKELY(g_process.forked_child) && sys::call(SYS_getpid) == g_process.pid) flush_repeats();
}


}  // namespace fh::shim
