// The floor of `make bench`: an LD_PRELOAD library that interposes the shim's hot functions and only forwards
// them to libc (dlsym(RTLD_NEXT)), i.e. what any interposer costs just to forward a call. Not a shim: it tracks
// nothing and reports nothing; the shim's ratio divided by this one is its cost above interposition itself.
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#define PT_EXPORT extern "C" __attribute__((visibility("default")))
#define PT_UNLIKELY(x) __builtin_expect(!!(x), 0)

// The forwarded functions, one line each (all of them hot in the shim). pthread_cond_wait is resolved apart:
// it has an old GLIBC_2.2.5 ABI that an unversioned look-up must not pick (shim/interpose.def says the same).
#define PT_FUNCTIONS(X)                                                                                        \
  X(pthread_mutex_lock) X(pthread_mutex_unlock) X(pthread_mutex_trylock) X(pthread_rwlock_rdlock)                \
  X(pthread_rwlock_wrlock) X(pthread_rwlock_unlock) X(sem_wait) X(sem_post) X(malloc) X(free) X(calloc)        \
  X(realloc) X(pthread_create) X(fork) X(syscall)

namespace {

namespace real {
#define PT_DECLARE(name) decltype(&::name) name = nullptr;
PT_FUNCTIONS(PT_DECLARE)
#undef PT_DECLARE
decltype(&::pthread_cond_wait) pthread_cond_wait = nullptr;
}  // namespace real

// dlsym can allocate (its error state) before malloc is resolved: such requests are served from this zeroed
// static pool, never reused; free() ignores pool pointers and realloc() copies out of them.
alignas(16) char g_pool[64 * 1024];
size_t g_pool_used = 0;
bool g_resolving = false;

bool in_pool(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(g_pool);
  return a >= base && a < base + sizeof g_pool;
}

void* pool_alloc(size_t n) {
  size_t need = 16 + ((n + 15) & ~size_t{15});  // a 16-byte header keeps the size, for realloc
  size_t at = __atomic_fetch_add(&g_pool_used, need, __ATOMIC_RELAXED);
  if (at + need > sizeof g_pool) return nullptr;
  *reinterpret_cast<size_t*>(g_pool + at) = n;
  return g_pool + at + 16;
}

size_t pool_size(const void* p) { return *reinterpret_cast<const size_t*>(static_cast<const char*>(p) - 16); }

[[noreturn]] void die_unresolved(const char* name) {
  static const char prefix[] = "forkhazard bench passthrough: cannot resolve ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
  ignored = write(STDERR_FILENO, name, strlen(name));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  abort();
}

template <class F>
void resolve(F* slot, const char* name, const char* version = nullptr) {
  void* p = version != nullptr ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
  if (p == nullptr) die_unresolved(name);
  *slot = reinterpret_cast<F>(p);
}

void resolve_all() {
  if (g_resolving) return;
  g_resolving = true;
#define PT_RESOLVE(name) resolve(&real::name, #name);
  PT_FUNCTIONS(PT_RESOLVE)
#undef PT_RESOLVE
  resolve(&real::pthread_cond_wait, "pthread_cond_wait", "GLIBC_2.3.2");
  g_resolving = false;
}

__attribute__((constructor)) void passthrough_constructor() {
  if (real::malloc == nullptr) resolve_all();
}

}  // namespace

// One load, one predictable branch, one indirect call: the cost of interposition and nothing else.
#define PT_REAL(name) (PT_UNLIKELY(real::name == nullptr) ? (resolve_all(), real::name) : real::name)

PT_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) { return PT_REAL(pthread_mutex_lock)(m); }
PT_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) { return PT_REAL(pthread_mutex_unlock)(m); }
PT_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) { return PT_REAL(pthread_mutex_trylock)(m); }
PT_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t* rw) { return PT_REAL(pthread_rwlock_rdlock)(rw); }
PT_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t* rw) { return PT_REAL(pthread_rwlock_wrlock)(rw); }
PT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* rw) { return PT_REAL(pthread_rwlock_unlock)(rw); }
PT_EXPORT int sem_wait(sem_t* s) { return PT_REAL(sem_wait)(s); }
PT_EXPORT int sem_post(sem_t* s) { return PT_REAL(sem_post)(s); }
PT_EXPORT int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) { return PT_REAL(pthread_cond_wait)(c, m); }
PT_EXPORT pid_t fork(void) { return PT_REAL(fork)(); }

// Six words forwarded, whatever the number takes (glibc's syscall() passes six registers).
PT_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
  long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
  va_end(ap);
  return PT_REAL(syscall)(number, a1, a2, a3, a4, a5, a6);
}

PT_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  return PT_REAL(pthread_create)(thread, attr, start, arg);
}

PT_EXPORT void* malloc(size_t n) {
  if (PT_UNLIKELY(real::malloc == nullptr)) {
    resolve_all();
    if (real::malloc == nullptr) return pool_alloc(n);  // inside dlsym
  }
  return real::malloc(n);
}

PT_EXPORT void* calloc(size_t count, size_t size) {
  if (PT_UNLIKELY(real::calloc == nullptr)) {
    resolve_all();
    if (real::calloc == nullptr) {
      if (size != 0 && count > SIZE_MAX / size) return nullptr;
      return pool_alloc(count * size);  // the pool is zeroed static memory
    }
  }
  return real::calloc(count, size);
}

PT_EXPORT void* realloc(void* p, size_t n) {
  if (PT_UNLIKELY(p != nullptr && in_pool(p))) {
    void* q = malloc(n);
    if (q != nullptr) {
      size_t old = pool_size(p);
      memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  if (PT_UNLIKELY(real::realloc == nullptr)) {
    resolve_all();
    if (real::realloc == nullptr) return p == nullptr ? pool_alloc(n) : nullptr;
  }
  return real::realloc(p, n);
}

PT_EXPORT void free(void* p) {
  if (PT_UNLIKELY(p == nullptr || in_pool(p))) return;
  PT_REAL(free)(p);
}
