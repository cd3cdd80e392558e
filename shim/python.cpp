// CPython's threads' Python stacks at a fork (python.h).
#include "shim/python.h"


#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "shim/core.h"
#include "shim/python_walk.h"
#include "symbols/safe_io.h"

namespace fh::shim::python {

namespace {

// CPython's own (Python/traceback.c, Python/pystate.c), exported by 3.11's executable or libpython.
using DumpThreads = const char* (*)(int fd, void* interp, void* current_tstate);
using DumpOne = void (*)(int fd, void* tstate);
using GilCheck = int (*)();
using ThisThreadState = void* (*)();
DumpThreads g_dump_threads;
DumpOne g_dump_one;
GilCheck g_gil_check;
ThisThreadState g_this_tstate;

// The calling thread's stack at a report (capture_current): one at a time (reports are written one at a time).
constexpr size_t current_size = 16 * 1024;
char g_current[current_size];
size_t g_current_len;
bool g_to_current;  // the diverted writes go to g_current rather than g_text
bool g_resolved;

// The walk by layout (python_walk.h), where the interpreter's layout is known and was checked at resolve().
walk::Layout g_layout;
uint64_t g_runtime;  // &_PyRuntime; 0: no walk

// Our own memory read in place: only for the snapshot at a fork, where the forking thread holds the GIL and every
// other thread's frames are still. Addresses outside the user half are refused.
struct Direct {
  bool read(uint64_t at, void* out, size_t n) {
    if (at >= (uint64_t{1} << 47) || n > (uint64_t{1} << 47) - at) return false;
    memcpy(out, reinterpret_cast<const void*>(at), n);
    return true;
  }
};

// Our own memory read through the kernel (a wrong address fails, never faults): the layout's check, and every
// text made later (a code object read after the fork may be gone by then).
struct Checked {
  pid_t self = static_cast<pid_t>(sys::call(SYS_getpid));  // once: a text is thousands of reads
  bool read(uint64_t at, void* out, size_t n) {
    iovec local{out, n}, remote{reinterpret_cast<void*>(at), n};
    int saved = errno;
    bool ok = sys::call(SYS_process_vm_readv, self, &local, 1, &remote, 1, 0) == static_cast<long>(n);
    errno = saved;
    return ok;
  }
};

Direct g_direct;
constinit walk::Walker<Direct> g_walker(g_direct, g_layout);

// The layout `runtime` and `version` give, checked by walking it safely now: a thread state of the interpreter
// pointing back at it, and a frame whose code object's type is named "code" (the types found are kept).
bool check_layout(uint64_t runtime, uint64_t version) {
  Checked reader;
  if (!walk::layout_for(reader, runtime, version, &g_layout)) return false;
  walk::Walker<Checked> w(reader, g_layout);
  static char scratch[4096];
  walk::Text text{scratch, sizeof scratch};
  if (w.all_threads(runtime, 0, text) < 1 || w.code_type == 0) return false;
  g_walker.code_type = w.code_type;
  g_walker.str_type = w.str_type;
  g_walker.bytes_type = w.bytes_type;
  return true;
}

}  // namespace

char g_text[capture_size];
size_t g_len;
walk::Snapshot g_snapshot;

void resolve(void* (*lookup)(const char* name), int notice_fd) {
  if (__atomic_exchange_n(&g_resolved, true, __ATOMIC_ACQ_REL)) return;
  auto check = reinterpret_cast<GilCheck>(lookup("PyGILState_Check"));
  auto self = reinterpret_cast<ThisThreadState>(lookup("PyGILState_GetThisThreadState"));
  auto runtime = reinterpret_cast<uint64_t>(lookup("_PyRuntime"));
  auto version = reinterpret_cast<const unsigned long*>(lookup("Py_Version"));
  if (check != nullptr && self != nullptr && runtime != 0 && check_layout(runtime, version ? *version : 0)) {
    __atomic_store_n(&g_this_tstate, self, __ATOMIC_RELEASE);
    __atomic_store_n(&g_gil_check, check, __ATOMIC_RELEASE);
    __atomic_store_n(&g_runtime, runtime, __ATOMIC_RELEASE);
    return;
  }
  auto dump = reinterpret_cast<DumpThreads>(lookup("_Py_DumpTracebackThreads"));
  if (dump == nullptr || check == nullptr) {
    if (check != nullptr && notice_fd >= 0) {  // CPython, but neither its layout nor its dumper: say so once
      StackWriter w(notice_fd);
      w.str("forkhazard: this CPython");
      if (version != nullptr) w.str(" ").udec(*version >> 24).str(".").udec(*version >> 16 & 0xff);
      w.str(" has no layout forkhazard knows (3.11, 3.13) and no traceback dumper: reports give no Python stacks\n");
    }
    return;
  }
  auto one = reinterpret_cast<DumpOne>(lookup("_Py_DumpTraceback"));
  if (one != nullptr && self != nullptr) {
    __atomic_store_n(&g_this_tstate, self, __ATOMIC_RELEASE);
    __atomic_store_n(&g_dump_one, one, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&g_gil_check, check, __ATOMIC_RELEASE);
  __atomic_store_n(&g_dump_threads, dump, __ATOMIC_RELEASE);
}

void snapshot_at_fork() {
  uint64_t runtime = __atomic_load_n(&g_runtime, __ATOMIC_ACQUIRE);
  g_snapshot.runtime = 0;
  g_len = 0;
  if (runtime == 0 || g_gil_check() == 0) return;
  g_walker.snapshot(runtime, reinterpret_cast<uint64_t>(pthread_self()), g_snapshot);
}

void capture_at_fork() {
  if (__atomic_load_n(&g_runtime, __ATOMIC_ACQUIRE) != 0) return;  // the parent took a snapshot
  g_len = 0;
  DumpThreads dump = __atomic_load_n(&g_dump_threads, __ATOMIC_ACQUIRE);
  GilCheck check = __atomic_load_n(&g_gil_check, __ATOMIC_ACQUIRE);
  if (dump == nullptr || check == nullptr || check() == 0) return;
  int saved = errno;
  tls.capturing_python = true;
  dump(capture_fd, nullptr, nullptr);
  tls.capturing_python = false;
  errno = saved;
}

long capture_write(const void* buf, size_t n) {
  char* text = g_to_current ? g_current : g_text;
  size_t& len = g_to_current ? g_current_len : g_len;
  size_t cap = g_to_current ? current_size : capture_size;
  size_t take = n < cap - len ? n : cap - len;
  memcpy(text + len, buf, take);
  len += take;
  return static_cast<long>(n);
}

const char* capture_current(size_t* len) {
  g_current_len = 0;
  *len = 0;
  if (__atomic_load_n(&g_runtime, __ATOMIC_ACQUIRE) != 0) {
    void* tstate = g_this_tstate();
    if (tstate == nullptr) return g_current;
    Checked reader;
    walk::Walker<Checked> w(reader, g_layout);
    w.code_type = g_walker.code_type, w.str_type = g_walker.str_type, w.bytes_type = g_walker.bytes_type;
    walk::Text text{g_current, current_size};
    w.frames(reinterpret_cast<uint64_t>(tstate), text);
    *len = g_current_len = text.len;
    return g_current;
  }
  DumpOne one = __atomic_load_n(&g_dump_one, __ATOMIC_ACQUIRE);
  ThisThreadState self = __atomic_load_n(&g_this_tstate, __ATOMIC_ACQUIRE);
  if (one == nullptr || self == nullptr || tls.capturing_python) return g_current;
  void* tstate = self();
  if (tstate == nullptr) return g_current;
  int saved = errno;
  g_to_current = true;
  tls.capturing_python = true;
  one(capture_fd, tstate);
  tls.capturing_python = false;
  g_to_current = false;
  errno = saved;
  *len = g_current_len;
  return g_current;
}

const char* captured(size_t* len) {
  if (g_len == 0 && g_snapshot.runtime != 0) {  // made once, at the first report that wants it
    Checked reader;
    walk::Walker<Checked> w(reader, g_snapshot.layout);
    walk::Text text{g_text, capture_size};
    w.format(g_snapshot, text);
    g_len = text.len;
  }
  *len = g_len;
  return g_text;
}




}  // namespace fh::shim::python
