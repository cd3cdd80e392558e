// CPython's threads' Python stacks at a fork (python.h).
#include "shim/python.h"


#include <cerrno>
#include <cstring>

#include "shim/core.h"

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

}  // namespace

char g_text[capture_size];
size_t g_len;

void resolve(void* (*lookup)(const char* name)) {
  if (__atomic_exchange_n(&g_resolved, true, __ATOMIC_ACQ_REL)) return;
  auto dump = reinterpret_cast<DumpThreads>(lookup("_Py_DumpTracebackThreads"));
  auto check = reinterpret_cast<GilCheck>(lookup("PyGILState_Check"));
  if (dump == nullptr || check == nullptr) return;
  auto one = reinterpret_cast<DumpOne>(lookup("_Py_DumpTraceback"));
  auto self = reinterpret_cast<ThisThreadState>(lookup("PyGILState_GetThisThreadState"));
  if (one != nullptr && self != nullptr) {
    __atomic_store_n(&g_this_tstate, self, __ATOMIC_RELEASE);
    __atomic_store_n(&g_dump_one, one, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&g_gil_check, check, __ATOMIC_RELEASE);
  __atomic_store_n(&g_dump_threads, dump, __ATOMIC_RELEASE);
}

void capture_at_fork() {
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
  *len = g_len;
  return g_text;
}




}  // namespace fh::shim::python
