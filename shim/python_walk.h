// Walking CPython's thread states and frames by their layout, with no Python call: the shim in a fork's child
// (its own memory, read directly) and `forkhazard inspect` from outside (another process's, through
// process_vm_readv) share it. The layout comes from the interpreter itself where it publishes one (3.13's
// `_Py_DebugOffsets`, the first field of `_PyRuntime`, cookie "xdebugpy": what out-of-process debuggers use), or
// from the table below for 3.11 (its layout, read from Debian's 3.11.2 and 3.11.7's internal headers: the same;
// the shim checks a layout on the running interpreter before using it, and a test compares the walk with
// faulthandler's own dump, on 3.11 and 3.13). Every other version has none: no Python stacks.
//
// What is written is the text CPython's own dumper (faulthandler's) writes, so the parser in python.h reads either:
//   Thread 0x7f... (most recent call first):
//     File "app.py", line 30 in child_main
// Header-only and async-signal-safe: no allocation, no libc call beyond what the reader does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fh::shim::python::walk {

// The offsets the walk needs (bytes), one version's.
struct Layout {
  uint64_t interpreters_head;  // _PyRuntimeState: the first interpreter
  uint64_t interp_next, threads_head;
  uint64_t ts_next, ts_interp, ts_frame, ts_frame_indirect, ts_thread_id;  // indirect: 3.11's tstate->cframe->current_frame
  uint64_t ts_native_id;  // the thread's kernel id (an unsigned long)
  uint64_t fr_previous, fr_code, fr_instr, fr_owner;
  int owner_cstack;  // a frame the C stack owns (3.13's entry frames: no code of their own), -1 none
  uint64_t co_filename, co_name, co_linetable, co_firstlineno, co_code;
  uint64_t ob_type, tp_name;
  uint64_t bytes_size, bytes_data;
  uint64_t str_state, str_length, str_ascii_size, str_compact_size;
};

// CPython 3.11 on x86-64 (and any LP64 target: every field is pointer-sized or an int at a pointer-aligned place).
inline constexpr Layout layout_311 = {
    .interpreters_head = 40, .interp_next = 0, .threads_head = 16,
    .ts_next = 8, .ts_interp = 16, .ts_frame = 56, .ts_frame_indirect = 8, .ts_thread_id = 152,
    .ts_native_id = 160,
    .fr_previous = 48, .fr_code = 32, .fr_instr = 56, .fr_owner = 69, .owner_cstack = -1,
    .co_filename = 112, .co_name = 120, .co_linetable = 136, .co_firstlineno = 72, .co_code = 184,
    .ob_type = 8, .tp_name = 24, .bytes_size = 16, .bytes_data = 32,
    .str_state = 32, .str_length = 16, .str_ascii_size = 48, .str_compact_size = 72,
};

// 3.13's _Py_DebugOffsets, as far as the walk reads it (Include/internal/pycore_runtime.h of 3.13: the struct is
// stable within a minor version only, so only 3.13's is read). Every member is a uint64_t.
namespace debug_313 {
inline constexpr size_t cookie = 0, version = 8;
inline constexpr size_t runtime = 24;                  // size, finalizing, interpreters_head
inline constexpr size_t interp = runtime + 3 * 8;      // size, id, next, threads_head, ... (13)
inline constexpr size_t thread = interp + 13 * 8;      // size, prev, next, interp, current_frame, thread_id, ... (9)
inline constexpr size_t frame = thread + 9 * 8;        // size, previous, executable, instr_ptr, localsplus, owner
inline constexpr size_t code = frame + 6 * 8;          // size, filename, name, qualname, linetable, firstlineno, ...
inline constexpr size_t object = code + 10 * 8;        // size, ob_type
inline constexpr size_t type = object + 2 * 8;         // size, tp_name, ...
inline constexpr size_t tuple = type + 4 * 8, list = tuple + 3 * 8, dict = list + 3 * 8, flt = dict + 3 * 8;
inline constexpr size_t lng = flt + 2 * 8, bytes = lng + 3 * 8;  // bytes: size, ob_size, ob_sval
inline constexpr size_t unicode = bytes + 3 * 8;                 // size, state, length, asciiobject_size
inline constexpr size_t end = unicode + 4 * 8;
}  // namespace debug_313

// Reader: bool read(uint64_t address, void* out, size_t n) — false where the memory cannot be read.
template <class Reader>
bool read_u64(Reader& r, uint64_t at, uint64_t* out) {
  return at != 0 && r.read(at, out, sizeof *out);
}

// The layout of the CPython whose `_PyRuntime` is at `runtime` and whose `Py_Version` is `version` (0: unknown,
// taken from the debug offsets where there are some). False: a version the walk does not know.
template <class Reader>
bool layout_for(Reader& r, uint64_t runtime, uint64_t py_version, Layout* out) {
  char cookie[8];
  if (!r.read(runtime, cookie, sizeof cookie)) return false;
  if (memcmp(cookie, "xdebugpy", 8) == 0) {
    uint64_t v[debug_313::end / 8];
    if (!r.read(runtime, v, sizeof v)) return false;
    if ((v[debug_313::version / 8] >> 16) != 0x030d) return false;  // 3.14 and later lay the offsets out anew
    auto at = [&](size_t base, int i) { return v[base / 8 + static_cast<size_t>(i)]; };
    Layout l{};
    l.interpreters_head = at(debug_313::runtime, 2);
    l.interp_next = at(debug_313::interp, 2);
    l.threads_head = at(debug_313::interp, 3);
    l.ts_next = at(debug_313::thread, 2);
    l.ts_interp = at(debug_313::thread, 3);
    l.ts_frame = at(debug_313::thread, 4);
    l.ts_frame_indirect = UINT64_MAX;
    l.ts_thread_id = at(debug_313::thread, 5);
    l.ts_native_id = at(debug_313::thread, 6);
    l.fr_previous = at(debug_313::frame, 1);
    l.fr_code = at(debug_313::frame, 2);
    l.fr_instr = at(debug_313::frame, 3);
    l.fr_owner = at(debug_313::frame, 5);
    l.owner_cstack = 3;  // FRAME_OWNED_BY_CSTACK
    l.co_filename = at(debug_313::code, 1);
    l.co_name = at(debug_313::code, 2);
    l.co_linetable = at(debug_313::code, 4);
    l.co_firstlineno = at(debug_313::code, 5);
    l.co_code = at(debug_313::code, 9);
    l.ob_type = at(debug_313::object, 1);
    l.tp_name = at(debug_313::type, 1);
    l.bytes_size = at(debug_313::bytes, 1);
    l.bytes_data = at(debug_313::bytes, 2);
    l.str_state = at(debug_313::unicode, 1);
    l.str_length = at(debug_313::unicode, 2);
    l.str_ascii_size = at(debug_313::unicode, 3);
    l.str_compact_size = l.str_ascii_size + 16;  // utf8_length, utf8 (3.12 dropped the wstr fields)
    *out = l;
    return true;
  }
  if ((py_version >> 16) == 0x030b) {
    *out = layout_311;
    return true;
  }
  return false;
}

// Where the text goes: a fixed buffer; what does not fit is dropped (a thread cut off loses its outer frames).
struct Text {
  char* data;
  size_t cap;
  size_t len = 0;
  void put(const char* s, size_t n) {
    size_t take = n < cap - len ? n : cap - len;
    memcpy(data + len, s, take);
    len += take;
  }
  void put(const char* s) { put(s, strlen(s)); }
  void hex(uint64_t v) {
    char b[16];
    int n = 0;
    do b[n++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    while (n > 0) put(&b[--n], 1);
  }
  void dec(long v) {
    if (v < 0) { put("-", 1); v = -v; }
    char b[24];
    int n = 0;
    do b[n++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
    while (n > 0) put(&b[--n], 1);
  }
};

namespace detail {

// Bytes of a table read through a window (a location table may be longer than any buffer on the stack).
template <class Bytes>
uint64_t varint(Bytes& b, size_t* at) {
  int c = b(*at);
  if (c < 0) return 0;
  ++*at;
  uint64_t v = static_cast<unsigned>(c) & 63;
  for (unsigned shift = 0; (c & 64) != 0 && shift < 56;) {
    if ((c = b(*at)) < 0) break;
    ++*at;
    shift += 6;
    v |= static_cast<uint64_t>(c & 63) << shift;
  }
  return v;
}

template <class Bytes>
long svarint(Bytes& b, size_t* at) {
  uint64_t u = varint(b, at);
  return (u & 1) != 0 ? -static_cast<long>(u >> 1) : static_cast<long>(u >> 1);
}

}  // namespace detail

// The line of the instruction at byte offset `addr` of a code object, from its location table (the format of
// 3.11 to 3.13, Objects/locations.md): entries of 1 to 8 code units, each a header byte (bit 7 set, a 4-bit kind,
// the length minus one) and the kind's varints. `b(i)`: the table's byte i, -1 past its end. -1: no line.
template <class Bytes>
long line_of(Bytes&& b, long first_line, long addr) {
  if (addr < 0) return first_line;
  long line = first_line, start = 0;
  for (size_t at = 0;;) {
    int head = b(at++);
    if (head < 0) return -1;
    unsigned kind = static_cast<unsigned>(head) >> 3 & 15;
    long end = start + 2 * static_cast<long>((head & 7) + 1);
    long delta = 0;
    if (kind == 15) {
    } else if (kind == 14) {
      delta = detail::svarint(b, &at);
      for (int i = 0; i < 3; i++) detail::varint(b, &at);
    } else if (kind == 13) {
      delta = detail::svarint(b, &at);
    } else if (kind >= 10) {
      delta = static_cast<long>(kind) - 10;
      at += 2;
    } else {
      at += 1;
    }
    line += delta;
    if (addr >= start && addr < end) return kind == 15 ? -1 : line;
    start = end;
  }
}

inline long line_of(const unsigned char* table, size_t n, long first_line, long addr) {
  return line_of([&](size_t i) { return i < n ? static_cast<int>(table[i]) : -1; }, first_line, addr);
}

// What the walk saw of an interpreter's threads at one moment, raw: for each thread its id and, innermost first,
// each frame's code object and instruction offset; the text is made later, when needed (format below). The shim
// takes one in the parent at a multithreaded fork (the forking thread holds the GIL: every frame is still) and
// the child inherits it; the code objects of the vanished threads' frames stay alive in the child (their frames'
// references are never dropped), so they can be read there, or from outside, until the child ends.
struct Snapshot {
  static constexpr uint32_t max_threads = 512, max_frames = 8192;
  uint64_t runtime;  // 0: none taken
  Layout layout;
  uint64_t code_type, str_type, bytes_type;  // the types the walk found (0: not yet)
  uint64_t current;                          // the thread id of the thread that took it
  uint32_t nthreads, nframes;
  struct Thread {
    uint64_t id;
    uint32_t first, count;  // its frames: frames[first, first + count)
  } threads[max_threads];
  struct Frame {
    uint64_t code;
    int64_t addr;  // byte offset of the instruction in the code
  } frames[max_frames];
};

template <class Reader>
class Walker {
 public:
  constexpr Walker(Reader& r, const Layout& l) : r_(r), l_(l) {}

  // fn(thread id, thread state) for every thread of every interpreter; false when the runtime cannot be read.
  template <class Fn>
  bool for_each_thread(uint64_t runtime, Fn fn) {
    uint64_t interp;
    if (!read_u64(r_, runtime + l_.interpreters_head, &interp)) return false;
    for (int i = 0; interp != 0 && i < 16; i++) {
      uint64_t ts;
      if (!read_u64(r_, interp + l_.threads_head, &ts)) break;
      for (int t = 0; ts != 0 && t < 4096; t++) {
        uint64_t id = 0, back = 0;
        if (!read_u64(r_, ts + l_.ts_thread_id, &id) || !read_u64(r_, ts + l_.ts_interp, &back) || back != interp)
          return true;
        fn(id, ts);
        if (!read_u64(r_, ts + l_.ts_next, &ts)) break;
      }
      if (!read_u64(r_, interp + l_.interp_next, &interp)) break;
    }
    return true;
  }

  // fn(code, byte offset) for the frames of a thread state, innermost first (at most 100, as the dumper), the
  // C stack's own entry frames left out.
  template <class Fn>
  void for_each_frame(uint64_t ts, Fn fn) {
    uint64_t frame = 0;
    if (!read_u64(r_, ts + l_.ts_frame, &frame)) return;
    if (l_.ts_frame_indirect != UINT64_MAX && !read_u64(r_, frame + l_.ts_frame_indirect, &frame)) return;
    for (int depth = 0; frame != 0 && depth < 100; depth++) {
      unsigned char owner = 0;
      uint64_t code, instr;
      if (l_.owner_cstack < 0 || (r_.read(frame + l_.fr_owner, &owner, 1) && owner != l_.owner_cstack))
        if (read_u64(r_, frame + l_.fr_code, &code) && r_.read(frame + l_.fr_instr, &instr, sizeof instr))
          fn(code, static_cast<int64_t>(instr - (code + l_.co_code)));
      if (!read_u64(r_, frame + l_.fr_previous, &frame)) break;
    }
  }

  // Every thread's header and frames as the dumper writes them, `current` (a thread id) said to be the current
  // one. Returns the number of threads; -1 when the runtime cannot be read.
  int all_threads(uint64_t runtime, uint64_t current, Text& out) {
    int threads = 0;
    bool ok = for_each_thread(runtime, [&](uint64_t id, uint64_t ts) {
      header(id, current, out);
      for_each_frame(ts, [&](uint64_t code, int64_t addr) { code_line(code, addr, out); });
      threads++;
    });
    return ok ? threads : -1;
  }

  // One thread state's frames (no header), as _Py_DumpTraceback writes them.
  void frames(uint64_t ts, Text& out) {
    for_each_frame(ts, [&](uint64_t code, int64_t addr) { code_line(code, addr, out); });
  }

  // Every thread's frames, raw, into `s` (what does not fit is left out). Returns the number of threads.
  int snapshot(uint64_t runtime, uint64_t current, Snapshot& s) {
    s.runtime = 0;
    s.layout = l_;
    s.code_type = code_type, s.str_type = str_type, s.bytes_type = bytes_type;
    s.current = current;
    s.nthreads = s.nframes = 0;
    bool ok = for_each_thread(runtime, [&](uint64_t id, uint64_t ts) {
      if (s.nthreads == Snapshot::max_threads) return;
      Snapshot::Thread& t = s.threads[s.nthreads++];
      t.id = id;
      t.first = s.nframes;
      for_each_frame(ts, [&](uint64_t code, int64_t addr) {
        if (s.nframes < Snapshot::max_frames) s.frames[s.nframes++] = {code, addr};
      });
      t.count = s.nframes - t.first;
    });
    if (ok) s.runtime = runtime;
    return static_cast<int>(s.nthreads);
  }

  // A snapshot's text, as the dumper writes it (the walker's layout must be the snapshot's).
  void format(const Snapshot& s, Text& out) {
    if (code_type == 0) code_type = s.code_type, str_type = s.str_type, bytes_type = s.bytes_type;
    for (uint32_t i = 0; i < s.nthreads && i < Snapshot::max_threads; i++) {
      const Snapshot::Thread& t = s.threads[i];
      header(t.id, s.current, out);
      for (uint32_t f = t.first; f < t.first + t.count && f < Snapshot::max_frames; f++)
        code_line(s.frames[f].code, s.frames[f].addr, out);
    }
  }

  // The types found so far (a code object's type is the one named "code", and so on); kept, then compared.
  uint64_t code_type = 0, str_type = 0, bytes_type = 0;

 private:
  static void header(uint64_t id, uint64_t current, Text& out) {
    out.put(id == current ? "Current thread 0x" : "Thread 0x");
    out.hex(id);
    out.put(" (most recent call first):\n");
  }

  bool type_named(uint64_t object, uint64_t* cache, const char* name) {
    uint64_t type;
    if (!read_u64(r_, object + l_.ob_type, &type)) return false;
    if (*cache != 0) return type == *cache;
    uint64_t name_at;
    char got[8] = {};
    size_t n = strlen(name) + 1;
    if (!read_u64(r_, type + l_.tp_name, &name_at) || !r_.read(name_at, got, n) || memcmp(got, name, n) != 0)
      return false;
    *cache = type;
    return true;
  }

  // `  File "app.py", line 30 in child_main`: nothing when `code` is not a code object.
  void code_line(uint64_t code, int64_t addr, Text& out) {
    uint64_t file, name, table;
    int first = 0;
    if (!type_named(code, &code_type, "code") || !r_.read(code + l_.co_firstlineno, &first, sizeof first)) return;
    out.put("  File \"");
    if (read_u64(r_, code + l_.co_filename, &file)) string(file, out);
    else out.put("???");
    out.put("\", line ");
    long line = -1;
    if (read_u64(r_, code + l_.co_linetable, &table) && type_named(table, &bytes_type, "bytes")) {
      uint64_t size = 0;
      if (r_.read(table + l_.bytes_size, &size, sizeof size) && size < (1u << 24)) {
        unsigned char window[512];
        size_t base = SIZE_MAX;  // the table offset window[0] holds
        auto byte = [&](size_t i) -> int {
          if (i >= size) return -1;
          if (base == SIZE_MAX || i < base || i >= base + sizeof window) {
            size_t n = size - i < sizeof window ? size - i : sizeof window;
            if (!r_.read(table + l_.bytes_data + i, window, n)) return -1;
            base = i;
          }
          return window[i - base];
        };
        line = line_of(byte, first, static_cast<long>(addr));
      }
    }
    if (line < 0) out.put("???");
    else out.dec(line);
    out.put(" in ");
    if (read_u64(r_, code + l_.co_name, &name)) string(name, out);
    else out.put("???");
    out.put("\n");
  }

  // A str: ASCII copied, other compact strings encoded as UTF-8; anything else "???".
  void string(uint64_t s, Text& out) {
    uint32_t state = 0;
    uint64_t length = 0;
    if (!type_named(s, &str_type, "str") || !r_.read(s + l_.str_state, &state, sizeof state) ||
        !r_.read(s + l_.str_length, &length, sizeof length) || (state >> 5 & 1) == 0) {
      out.put("???");
      return;
    }
    unsigned kind = state >> 2 & 7;  // 1, 2 or 4 bytes a character
    bool ascii = (state >> 6 & 1) != 0;
    uint64_t data = s + (ascii ? l_.str_ascii_size : l_.str_compact_size);
    if (kind != 1 && kind != 2 && kind != 4) kind = 1;
    if (length > 1024) length = 1024;
    unsigned char buf[4096];
    if (!r_.read(data, buf, length * kind)) {
      out.put("???");
      return;
    }
    for (uint64_t i = 0; i < length; i++) {
      uint32_t c = kind == 1 ? buf[i] : kind == 2 ? static_cast<uint32_t>(buf[2 * i] | buf[2 * i + 1] << 8)
                                                  : static_cast<uint32_t>(buf[4 * i] | buf[4 * i + 1] << 8 |
                                                                          buf[4 * i + 2] << 16 | buf[4 * i + 3] << 24);
      char u[4];
      size_t n;
      if (c < 0x80) u[0] = static_cast<char>(c), n = 1;
      else if (c < 0x800) u[0] = static_cast<char>(0xc0 | c >> 6), u[1] = static_cast<char>(0x80 | (c & 63)), n = 2;
      else if (c < 0x10000)
        u[0] = static_cast<char>(0xe0 | c >> 12), u[1] = static_cast<char>(0x80 | (c >> 6 & 63)),
        u[2] = static_cast<char>(0x80 | (c & 63)), n = 3;
      else
        u[0] = static_cast<char>(0xf0 | (c >> 18 & 7)), u[1] = static_cast<char>(0x80 | (c >> 12 & 63)),
        u[2] = static_cast<char>(0x80 | (c >> 6 & 63)), u[3] = static_cast<char>(0x80 | (c & 63)), n = 4;
      out.put(u, n);
    }
  }

  Reader& r_;
  const Layout& l_;
};

}  // namespace fh::shim::python::walk
