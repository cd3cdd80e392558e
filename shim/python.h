// CPython's threads' Python stacks at a fork (issue "Reports that speak Python"): when a CPython process forks with
// threads, the forking thread holds the GIL and every other thread's frames are still. The parent, last thing
// before the fork, walks its thread states and frames by the interpreter's layout (python_walk.h: 3.13's debug
// offsets, 3.11's table), keeping each frame's code object and instruction offset, nothing more; the child
// inherits that snapshot and makes its text (files, lines, functions) only when a report wants it. Where the
// layout is not known but CPython's own dumper is exported (a 3.11 built otherwise), the child has the dumper
// (faulthandler's: no allocation, no lock) write every thread's stack into a static buffer, first thing, before
// CPython's own after-fork code frees the other thread states. Found by name once a process starts a thread
// (never linked); nothing for a process that is not CPython, nothing for a single-threaded fork.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstring>

#include "shim/python_walk.h"

namespace fh::shim::python {

// What the dumper wrote at the last fork: at most this much (100 threads of 100 frames would not fit; a thread
// cut off loses its outermost frames, never anything else). Read from outside by the watchdog (shim/remote.h).
inline constexpr size_t capture_size = 64 * 1024;
extern char g_text[capture_size];
extern size_t g_len;

// Once per process, outside any fork (pthread_create's wrapper): `lookup` finds a symbol by name in the process
// (libc's dlsym, RTLD_DEFAULT). The walk by layout is kept where the layout is known and checks out, else the
// dumper where it is exported; a CPython with neither gets one notice line on notice_fd (-1: none).
void resolve(void* (*lookup)(const char* name), int notice_fd);

// In the parent, last thing before a multithreaded fork: every thread's frames, raw (the walk by layout), if the
// forking thread holds the GIL (else the other threads' frames may be changing: nothing is taken). The child
// inherits it; its text is made when a report first wants it (captured()).
extern walk::Snapshot g_snapshot;
void snapshot_at_fork();

// In the child of a multithreaded fork, first thing, where the interpreter's layout is not known (no snapshot):
// every thread's Python stack written by CPython's own dumper (3.11 exports it), if the forking thread holds the GIL.
void capture_at_fork();

// Calls fn(file, file_len, line, function, function_len) for each Python frame of thread `thread` (its pthread_t)
// in `text` (what the dumper wrote: captured() here, or the same buffer read from outside by the watchdog),
// innermost first. Async-signal-safe: parses in place.
template <class Fn>
void for_each_frame(const char* text, size_t len, unsigned long thread, Fn fn);

// The fd the dumper is given: no real fd (negative); while this thread captures, the shim's write() wrapper
// appends what is written to it to the buffer (CPython's dumper writes piece by piece: ~10 system calls a frame,
// 4 ms for 8 threads through a memfd, a few microseconds this way). Should a write reach libc, it fails (EBADF)
// and the dumper goes on: nothing captured.
inline constexpr int capture_fd = -77;
// The write() wrapper's side: appends to the buffer (what does not fit is dropped); returns n.
long capture_write(const void* buf, size_t n);

// The captured text and its length (0 when nothing was captured).
const char* captured(size_t* len);

// The calling thread's own Python stack now (`_Py_DumpTraceback` of its thread state), into a second buffer:
// for a report at a lock call or a hang-prone call, made from C that Python code called (its frames are linked
// and still). Returns the text and sets *len (0: not a CPython thread, or the symbols are missing).
const char* capture_current(size_t* len);

// ---- the parsing, shared with the watchdog (header-only: the CLI links nothing else of the shim) ------------

namespace detail {

// The thread id of a header line ("Thread 0x7f..." or "Current thread 0x7f..."), 0 when it is none.
inline unsigned long header_thread(const char* line, size_t len) {
  const char* at = nullptr;
  if (len > 9 && memcmp(line, "Thread 0x", 9) == 0) at = line + 9;
  else if (len > 17 && memcmp(line, "Current thread 0x", 17) == 0) at = line + 17;
  if (at == nullptr) return 0;
  unsigned long id = 0;
  for (; at < line + len; at++) {
    char c = *at;
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) break;
    id = id << 4 | static_cast<unsigned long>(digit);
  }
  return id;
}

// A frame line (`  File "path", line 12 in func`): its parts; false when it is none.
inline bool frame_line(const char* line, size_t len, const char** file, size_t* file_len, long* lineno, const char** func,
                size_t* func_len) {
  constexpr char head[] = "  File \"";
  constexpr size_t head_len = sizeof head - 1;
  if (len <= head_len || memcmp(line, head, head_len) != 0) return false;
  // The path ends at the last `", line ` (a path may hold quotes; the function name cannot hold that).
  constexpr char mid[] = "\", line ";
  constexpr size_t mid_len = sizeof mid - 1;
  const char* end = nullptr;
  for (const char* p = line + head_len; p + mid_len <= line + len; p++)
    if (memcmp(p, mid, mid_len) == 0) end = p;
  if (end == nullptr) return false;
  *file = line + head_len;
  *file_len = static_cast<size_t>(end - *file);
  const char* p = end + mid_len;
  long n = 0;
  bool digits = false;
  for (; p < line + len && *p >= '0' && *p <= '9'; p++, digits = true) n = n * 10 + (*p - '0');
  *lineno = digits ? n : 0;  // "???": unknown
  while (p < line + len && *p != ' ') p++;
  constexpr char in[] = " in ";
  if (p + 4 > line + len || memcmp(p, in, 4) != 0) return false;
  *func = p + 4;
  *func_len = static_cast<size_t>(line + len - *func);
  return true;
}

}  // namespace detail

// `thread` 0: every frame line of the text (a single stack, as capture_current writes it, with no thread header).
template <class Fn>
void for_each_frame(const char* text, size_t len, unsigned long thread, Fn fn) {
  bool inside = thread == 0;
  for (size_t at = 0; at < len;) {
    size_t end = at;
    while (end < len && text[end] != '\n') end++;
    const char* line = text + at;
    size_t n = end - at;
    at = end + 1;
    if (unsigned long id = detail::header_thread(line, n)) {
      inside = thread == 0 || id == thread;
      continue;
    }
    const char *file, *func;
    size_t file_len, func_len;
    long lineno;
    if (inside && detail::frame_line(line, n, &file, &file_len, &lineno, &func, &func_len))
      fn(file, file_len, lineno, func, func_len);
  }
}

}  // namespace fh::shim::python
