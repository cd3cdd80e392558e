// The allocator and the rest of the catalogue of calls that are not async-signal-safe (shim/interpose.def):
// generated wrappers that report the call in a restricted process and otherwise count it in flight.
#include "shim/wrapper_support.h"

using namespace fh;
using namespace fh::shim;

// ---- allocator ------------------------------------------------------------------------------------------
// The hot path: a jump through g_hot.malloc_fn / free_fn (the real allocator, or the entries below);
// everything else (start-up, the bootstrap pool, the report in a restricted child) is out of line.
namespace {
void* malloc_slow(size_t n, uintptr_t caller);
void free_slow(void* p, uintptr_t caller);
}  // namespace

FH_EXPORT void* malloc(size_t n) { return __atomic_load_n(&g_hot.malloc_fn, __ATOMIC_RELAXED)(n); }

// Reached by a jump from malloc and free: the return address is still their caller's.
namespace fh::shim {
__attribute__((noinline)) void* malloc_entry_slow(size_t n) { return malloc_slow(n, FH_CALLER()); }
__attribute__((noinline)) void free_entry_slow(void* p) { free_slow(p, FH_CALLER()); }
}  // namespace fh::shim

namespace {
__attribute__((noinline)) void* malloc_slow(size_t n, uintptr_t caller) {
  if (FH_UNLIKELY(real::malloc == nullptr)) {
    ensure_init();
    if (real::malloc == nullptr) return pool_alloc(n);
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_malloc, caller);
    return real::malloc(n);
  }
  return real::malloc(n);
}
}  // namespace

FH_EXPORT void* calloc(size_t count, size_t size) {
  if (FH_UNLIKELY(real::calloc == nullptr)) {
    ensure_init();
    if (real::calloc == nullptr) {
      if (size != 0 && count > SIZE_MAX / size) return nullptr;
      return pool_alloc(count * size);  // the pool is zeroed static memory, never reused
    }
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_calloc, FH_CALLER());
    return real::calloc(count, size);
  }
  return real::calloc(count, size);
}

FH_EXPORT void* realloc(void* p, size_t n) {
  if (FH_UNLIKELY(p != nullptr && in_pool(p))) {
    void* q = malloc(n);
    if (q != nullptr) {
      size_t old = pool_size(p);
      memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  if (FH_UNLIKELY(real::realloc == nullptr)) {
    ensure_init();
    if (real::realloc == nullptr) return p == nullptr ? pool_alloc(n) : nullptr;
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_realloc, FH_CALLER());
    return real::realloc(p, n);
  }
  return real::realloc(p, n);
}

FH_EXPORT void free(void* p) {
  if (FH_LIKELY(!in_pool(p))) return __atomic_load_n(&g_hot.free_fn, __ATOMIC_RELAXED)(p);
  free_slow(p, FH_CALLER());
}

namespace {
__attribute__((noinline)) void free_slow(void* p, uintptr_t caller) {
  if (FH_UNLIKELY(p == nullptr || in_pool(p))) return;
  if (FH_UNLIKELY(real::free == nullptr)) {
    ensure_init();
    if (real::free == nullptr) return;  // cannot happen: nothing real was allocated before free resolved
  }
  if (FH_UNLIKELY(g_process.restricted)) {
    CallScope scope;
    scope.unsafe(call_free, caller);
    return real::free(p);
  }
  real::free(p);
}
}  // namespace

// ---- the rest of the catalogue: generated from interpose.def ----------------------------------------------

#define FH_UNSAFE_GEN(ret, name, params, args, cls, family, why) \
  FH_EXPORT ret name params {                                   \
    CallScope scope;                                            \
    enter_catalogued(scope, call_##name, FH_CALLER());          \
    return FH_REAL(name) args;                                  \
  }
#include "shim/interpose.def"

// Variadic ones forward to libc's v-variant (which is exactly what glibc's own printf and syslog do).
#define FH_UNPAREN(...) __VA_ARGS__
#define FH_UNSAFE_VARIADIC(ret, name, vname, params, last, fwd, cls, family, why) \
  FH_EXPORT ret name params {                                                    \
    CallScope scope;                                                             \
    enter_catalogued(scope, call_##name, FH_CALLER());                           \
    va_list ap;                                                                  \
    va_start(ap, last);                                                          \
    ret rc = FH_REAL(vname)(FH_UNPAREN fwd, ap);                                 \
    va_end(ap);                                                                  \
    return rc;                                                                   \
  }
#define FH_UNSAFE_VARIADIC_VOID(name, vname, params, last, fwd, cls, family, why) \
  FH_EXPORT void name params {                                                   \
    CallScope scope;                                                             \
    enter_catalogued(scope, call_##name, FH_CALLER());                           \
    va_list ap;                                                                  \
    va_start(ap, last);                                                          \
    FH_REAL(vname)(FH_UNPAREN fwd, ap);                                          \
    va_end(ap);                                                                  \
  }
#include "shim/interpose.def"
#undef FH_UNPAREN

// dlopen and dlsym: the assembly stubs (stubs.S) call these, then tail-call libc with the program's own
// return address still on the stack, so libc resolves the caller's RUNPATH and RTLD_NEXT as without us. They
// cannot count themselves in flight (no return to uncount on); in the child they are reported like the rest.
namespace {
// dlopen(RTLD_DEEPBIND) puts the library's own dependencies before the global scope, so its calls bind past the
// shim (glibc's, not ours): its locks, threads and forks go unseen. Said once per process, naming it.
void note_deepbind(const char* stub, const void* path, uintptr_t flags) {
  static bool said;
  if (stub[2] != 'o' || (flags & RTLD_DEEPBIND) == 0 || __atomic_exchange_n(&said, true, __ATOMIC_RELAXED)) return;
  int saved = errno;
  StackWriter(STDERR_FILENO).str("forkhazard: dlopen(\"").escaped(path != nullptr ? static_cast<const char*>(path) : "")
      .str("\", RTLD_DEEPBIND): that library's calls bind past the shim, so its locks, threads and forks are not "
           "seen\n");
  errno = saved;
}
}  // namespace

#define FH_UNSAFE_STUB(name, cls, family, why)                                              \
  extern "C" __attribute__((visibility("hidden"))) void* fh_stub_enter_##name(uintptr_t caller, const void* a1, \
                                                                             uintptr_t a2) { \
    CallScope scope;                                                                        \
    if (FH_UNLIKELY(g_process.restricted)) scope.unsafe(call_##name, caller);               \
    note_deepbind(#name, a1, a2);                                                           \
    return reinterpret_cast<void*>(FH_REAL(name));                                          \
  }
#include "shim/interpose.def"

