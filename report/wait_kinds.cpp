// The table of waits (wait_kinds.h).
#include "report/wait_kinds.h"

namespace fh::watchdog {

namespace {

// Function names, as glibc 2.36 and 2.41 name them in their symbol tables (.symtab with libc6-dbg; the exported
// aliases otherwise: a frame is matched by its own name or any name its module exports for it). "@..." version
// suffixes are dropped before matching.
struct NamedWait {
  std::string_view name;
  WaitKind kind;
};
constexpr NamedWait named_waits[] = {
    {"__lll_lock_wait_private", WaitKind::internal_lock},
    {"__lll_lock_wait", WaitKind::mutex},  // lll_lock with a run-time `private`: only pthread mutexes
    {"pthread_mutex_lock", WaitKind::mutex},
    {"__pthread_mutex_lock", WaitKind::mutex},
    {"___pthread_mutex_lock", WaitKind::mutex},
    {"__pthread_mutex_lock_full", WaitKind::mutex},
    {"__pthread_mutex_cond_lock", WaitKind::mutex},
    {"pthread_rwlock_rdlock", WaitKind::rwlock},
    {"pthread_rwlock_wrlock", WaitKind::rwlock},
    {"__pthread_rwlock_rdlock", WaitKind::rwlock},
    {"__pthread_rwlock_wrlock", WaitKind::rwlock},
    {"__pthread_rwlock_rdlock_full64", WaitKind::rwlock},
    {"__pthread_rwlock_wrlock_full64", WaitKind::rwlock},
    {"__pthread_rwlock_rdlock_full", WaitKind::rwlock},
    {"__pthread_rwlock_wrlock_full", WaitKind::rwlock},
    {"pthread_cond_wait", WaitKind::condvar},
    {"__pthread_cond_wait", WaitKind::condvar},
    {"___pthread_cond_wait", WaitKind::condvar},
    {"__pthread_cond_wait_common", WaitKind::condvar},
    {"sem_wait", WaitKind::semaphore},
    {"__new_sem_wait", WaitKind::semaphore},
    {"__new_sem_wait_slow64", WaitKind::semaphore},
    {"__new_sem_wait_slow", WaitKind::semaphore},
    {"__cxa_guard_acquire", WaitKind::static_init},
};

// Runtimes whose every futex wait is on their own objects: a frame in one of these modules names the wait.
struct ModuleWait {
  std::string_view file;  // the module's file name, up to its first '.'
  WaitKind kind;
};
constexpr ModuleWait module_waits[] = {
    {"libgomp", WaitKind::team_barrier},  // GCC's OpenMP: team barriers and the pool's dock
};

// "sem_wait@@GLIBC_2.34" and GCC's clones ("__new_sem_wait_slow64.constprop.0", ".isra.0", ".part.0") are the
// function they name.
std::string_view plain(std::string_view name) { return name.substr(0, name.find_first_of("@.")); }

WaitKind by_name(std::string_view name) {
  name = plain(name);
  for (const NamedWait& w : named_waits)
    if (w.name == name) return w.kind;
  return WaitKind::unknown;
}

WaitKind by_module(std::string_view path) {
  std::string_view file = path.substr(path.rfind('/') + 1);
  file = file.substr(0, file.find('.'));
  for (const ModuleWait& w : module_waits)
    if (w.file == file) return w.kind;
  return WaitKind::unknown;
}

}  // namespace

const char* wait_kind_name(WaitKind kind) {
  switch (kind) {
    case WaitKind::unknown: return "an unknown wait";
    case WaitKind::internal_lock: return "a glibc-internal lock";
    case WaitKind::mutex: return "a mutex";
    case WaitKind::rwlock: return "an rwlock";
    case WaitKind::team_barrier: return "an OpenMP team barrier";
    case WaitKind::condvar: return "a condition variable";
    case WaitKind::semaphore: return "a semaphore";
    case WaitKind::static_init: return "a function-local static's guard";
  }
  return "?";
}

namespace {

WaitKind kind_of(const WaitFrame& frame) {
  WaitKind kind = by_name(frame.symbol);
  for (const std::string& name : frame.exported)
    if (kind == WaitKind::unknown) kind = by_name(name);
  if (kind == WaitKind::unknown) kind = by_module(frame.module);
  return kind;
}

std::string_view file_of(std::string_view path) {
  std::string_view file = path.substr(path.rfind('/') + 1);
  return file.substr(0, file.find('.'));
}

}  // namespace

WaitKind classify_wait(const std::vector<WaitFrame>& frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    WaitKind kind = kind_of(frames[i]);
    if (kind == WaitKind::unknown) continue;
    if (kind != WaitKind::rwlock) return kind;
    // glibc's own rwlocks (__libc_rwlock_*: the locale lock, ...) are taken by glibc's code itself, never through
    // the exported function (so never through the shim's wrapper): the first frame out of the rwlock code is
    // libc's. Like its other private locks, only a thread inside glibc holds one.
    for (size_t k = i + 1; k < frames.size(); ++k) {
      if (kind_of(frames[k]) == WaitKind::rwlock) continue;
      if (file_of(frames[k].module) == "libc") return WaitKind::internal_lock;
      break;
    }
    return kind;
  }
  return WaitKind::unknown;
}

bool in_rwlock_code(const WaitFrame& frame) { return kind_of(frame) == WaitKind::rwlock; }

bool in_signal_handler(const std::vector<WaitFrame>& frames) {
  for (const WaitFrame& frame : frames)
    if (frame.interrupted || plain(frame.symbol) == "__restore_rt") return true;
  return false;
}

}  // namespace fh::watchdog
