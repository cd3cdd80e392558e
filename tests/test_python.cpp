// Unit tests of the reading of CPython's own traceback dump (shim/python.h): what the shim and the watchdog make of
// the text `_Py_DumpTracebackThreads` writes (CPython 3.11, Python/traceback.c: dump_traceback, write_thread_id).
#include <criterion/criterion.h>

#include <string>
#include <vector>

#include "shim/python.h"

namespace {

struct Seen {
  std::string file;
  long line;
  std::string function;
};

std::vector<Seen> frames_of(const std::string& text, unsigned long thread) {
  std::vector<Seen> out;
  fh::shim::python::for_each_frame(text.data(), text.size(), thread,
                                   [&out](const char* file, size_t file_len, long line, const char* func, size_t func_len) {
                                     out.push_back({std::string(file, file_len), line, std::string(func, func_len)});
                                   });
  return out;
}

// As 3.11 writes it: the other threads, then the current one, a blank line between; innermost first.
const std::string dump =
    "Thread 0x00007f1c2a02b640 (most recent call first):\n"
    "  File \"/usr/lib/python3.11/threading.py\", line 327 in wait\n"
    "  File \"/srv/app \\\"quoted\\\".py\", line 38 in holder_keeps_lock\n"
    "  File \"<frozen importlib._bootstrap>\", line ??? in _find_and_load\n"
    "\n"
    "Current thread 0x00007f1c2b0a4740 (most recent call first):\n"
    "  File \"/srv/app.py\", line 73 in main\n"
    "  File \"/srv/app.py\", line 94 in <module>\n";

}  // namespace

Test(python, frames_of_each_thread) {
  std::vector<Seen> holder = frames_of(dump, 0x7f1c2a02b640ul);
  cr_assert_eq(holder.size(), 3u);
  cr_expect_eq(holder[0].file, "/usr/lib/python3.11/threading.py");
  cr_expect_eq(holder[0].line, 327);
  cr_expect_eq(holder[0].function, "wait");
  // A path holding quotes ends at the last `", line `.
  cr_expect_eq(holder[1].file, "/srv/app \\\"quoted\\\".py");
  cr_expect_eq(holder[1].function, "holder_keeps_lock");
  // "???": the line is unknown.
  cr_expect_eq(holder[2].line, 0);
  cr_expect_eq(holder[2].function, "_find_and_load");
  std::vector<Seen> forker = frames_of(dump, 0x7f1c2b0a4740ul);
  cr_assert_eq(forker.size(), 2u);
  cr_expect_eq(forker[0].function, "main");
  cr_expect_eq(forker[1].function, "<module>");
  cr_expect(frames_of(dump, 0x1234ul).empty(), "a thread not in the dump has no frames");
  cr_expect(frames_of("", 0x7f1c2a02b640ul).empty());
}

// Thread 0: every frame of the text, as _Py_DumpTraceback writes one thread's stack (no thread header).
Test(python, one_stack_without_header) {
  std::vector<Seen> frames = frames_of("Stack (most recent call first):\n  File \"/srv/app.py\", line 43 in child_acquires\n"
                                       "  File \"/srv/app.py\", line 80 in main\n", 0);
  cr_assert_eq(frames.size(), 2u);
  cr_expect_eq(frames[0].function, "child_acquires");
  cr_expect_eq(frames[0].line, 43);
}

// A dump cut off by the buffer's end, and lines that are none of ours, lose frames, never invent one.
Test(python, cut_and_foreign_lines) {
  std::string cut = dump.substr(0, dump.find("line 38"));
  std::vector<Seen> holder = frames_of(cut, 0x7f1c2a02b640ul);
  cr_assert_eq(holder.size(), 1u);
  cr_expect_eq(holder[0].function, "wait");
  std::string noise = "Thread 0xzz (most recent call first):\n  File \"a.py\" line 3 in f\n  Garbage-collecting\n"
                      "Fatal Python error\n  File \"b.py\", line 4 in g\n";
  cr_expect(frames_of(noise, 0x1ul).empty(), "frames under a malformed header were taken");
  cr_expect_eq(fh::shim::python::detail::header_thread("Thread 0x7f (most recent call first):", 38), 0x7ful);
  cr_expect_eq(fh::shim::python::detail::header_thread("Threads 0x7f", 12), 0ul);
}
