// CPython's threads' Python stacks at a fork (python.h).
#include "shim/python.h"


#include <cerrno>
#include <cstring>

#include "shim/core.h"

namespace fh::shim::python {

namespace {

// CPython's own (Python/traceback.c, Python/pystate.c), exported by 3.11's executable or libpython.
using DumpThreads = const char* (*)(int fd, void* interp, void* current_tstate);
using GilCheck = int (*)();
DumpThreads g_dump_threads;
GilCheck g_gil_check;
bool g_resolved;

}  // namespace

char g_text[capture_size];
size_t g_len;

void resolve(void* (*lookup)(const char* name)) {
  if (__atomic_exchange_n(&g_resolved, true, __ATOMIC_ACQ_REL)) return;
  auto dump = reinterpret_cast<DumpThreads>(lookup("_Py_DumpTracebackThreads"));
  auto check = reinterpret_cast<GilCheck>(lookup("PyGILState_Check"));
  if (dump == nullptr || check == nullptr) return;
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
  size_t room = capture_size - g_len;
  size_t take = n < room ? n : room;
  memcpy(g_text + g_len, buf, take);
  g_len += take;
  return static_cast<long>(n);
}

const char* captured(size_t* len) {
  *len = g_len;
  return g_text;
}




}  // namespace fh::shim::python
