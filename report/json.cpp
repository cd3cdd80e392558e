// JSON printer with its own escaping: the contract is small and fixed, a library would add a dependency.
#include "report/json.h"
#include "report/phrases.h"

#include <cstdio>

namespace fh {

namespace {

class Writer {
 public:
  std::string out;

  void key(const char* name) {
    out += '"';
    out += name;
    out += "\":";
  }
  void str(const char* name, std::string_view value) {
    key(name);
    out += json_string(value);
  }
  void num(const char* name, int64_t value) {
    key(name);
    out += std::to_string(value);
  }

  void stack(const char* name, const Stack& frames) {
    key(name);
    out += '[';
    for (size_t i = 0; i < frames.size(); ++i) {
      if (i > 0) out += ',';
      frame(frames[i]);
    }
    out += ']';
  }

  void frame(const Frame& f) {
    out += '{';
    str("pc", hex(f.pc));
    if (!f.module.empty()) {
      out += ',';
      str("module", f.module);
      out += ',';
      str("offset", hex(f.offset));
    }
    if (!f.function.empty()) {
      out += ',';
      str("function", f.function);
    }
    if (!f.file.empty()) {
      out += ',';
      str("file", f.file);
    }
    if (f.line > 0) {
      out += ',';
      num("line", f.line);
    }
    if (f.inlined) out += ",\"inlined\":true";
    out += '}';
  }

  void lock(const LockRef& l) {
    if (l.has_addr) {  // glibc-internal state (`libc:<family>`) has no address
      str("addr", hex(l.addr));
      out += ',';
    }
    str("type", spelling(l.type, l.type_spelling));
    // Where a futex word lies (only the watchdog's futex locks have it).
    if (!l.module.empty()) {
      out += ',';
      str("module", l.module);
      out += ',';
      str("offset", hex(l.offset));
    }
    if (!l.symbol.empty()) {
      out += ',';
      str("symbol", l.symbol);
    }
  }

  void fork(const ForkContext& f) {
    key("fork");
    out += '{';
    num("parent_pid", f.parent_pid);
    out += ',';
    num("forking_tid", f.forking_tid);
    if (f.raw) {  // only when set, as the protocol writes it
      out += ',';
      num("raw", 1);
    }
    out += ',';
    stack("stack", f.stack);
    out += ',';
    key("threads");
    out += '[';
    for (size_t i = 0; i < f.threads.size(); ++i) {
      const ForkThread& t = f.threads[i];
      if (i > 0) out += ',';
      out += '{';
      num("tid", t.tid);
      out += ',';
      str("name", t.name);
      out += ',';
      str("relation", spelling(t.relation, t.relation_spelling));
      out += ',';
      stack("created_at", t.created_at);
      if (!t.python_stack.empty()) {  // a CPython thread: present only then
        out += ',';
        python_stack(t.python_stack);
      }
      out += ',';
      key("held");
      out += '[';
      for (size_t j = 0; j < t.held.size(); ++j) {
        if (j > 0) out += ',';
        out += '{';
        lock(t.held[j].lock);
        out += ',';
        num("depth", t.held[j].depth);
        out += ',';
        stack("acquired_at", t.held[j].acquired_at);
        out += '}';
      }
      out += "]}";
    }
    out += "]}";
  }

  // The fields of `h`, without the closing brace: the group adds its own.
  // "python_stack":[{"file","line","function"}...], innermost first.
  void python_stack(const std::vector<PyFrame>& frames) {
    key("python_stack");
    out += '[';
    for (size_t j = 0; j < frames.size(); ++j) {
      if (j > 0) out += ',';
      out += '{';
      str("file", frames[j].file);
      out += ',';
      num("line", frames[j].line);
      out += ',';
      str("function", frames[j].function);
      out += '}';
    }
    out += ']';
  }

  void hazard(const Hazard& h) {
    out += '{';
    str("kind", spelling(h.kind, h.kind_spelling));
    out += ',';
    str("level", spelling(level_of(h)));
    out += ',';
    num("pid", h.pid);
    out += ',';
    str("call", h.call);
    if (h.klass) {
      out += ',';
      str("class", spelling(*h.klass, h.klass_spelling));
    }
    if (!h.why.empty()) {
      out += ',';
      str("why", h.why);
    }
    if (h.site) {
      out += ',';
      key("site");
      frame(*h.site);
    }
    if (h.interrupt_only) {  // only when set, as the protocol writes it
      out += ',';
      num("interrupt_only", 1);
    }
    if (h.never_succeeds) {
      out += ',';
      num("never_succeeds", 1);
    }
    if (h.spins) {
      out += ',';
      num("spins", 1);
    }
    // Unsafe calls are reported once per site and counted; a deadlock ends (or hangs) the process at once.
    if (h.kind == HazardKind::unsafe_call) {
      out += ',';
      num("count", h.count);
    }
    if (h.lock) {
      out += ',';
      key("lock");
      out += '{';
      lock(*h.lock);
      out += '}';
    }
    if (h.owner) {
      out += ',';
      key("owner");
      out += '{';
      num("tid", h.owner->tid);
      out += ',';
      str("name", h.owner->name);
      out += ',';
      str("relation", spelling(h.owner->relation, h.owner->relation_spelling));
      out += '}';
    }
    // Where the owner took the lock: meaningless without an owner, unless the shim still recorded a site. An
    // unsafe call's owner was inside a call at fork() and took nothing the shim recorded.
    bool acquired = h.kind == HazardKind::unsafe_call ? !h.acquired_at.empty() : h.owner || !h.acquired_at.empty();
    if (acquired) {
      out += ',';
      stack("acquired_at", h.acquired_at);
    }
    out += ',';
    stack("stack", h.stack);
    if (!h.python_stack.empty()) {  // a CPython thread's call: present only then
      out += ',';
      python_stack(h.python_stack);
    }
    // A deadlock of a whole process: present only then.
    if (!h.waiting.empty()) {
      out += ',';
      key("other_threads");
      out += '[';
      for (size_t i = 0; i < h.waiting.size(); ++i) {
        const WaitingThread& t = h.waiting[i];
        if (i > 0) out += ',';
        out += '{';
        num("tid", t.tid);
        out += ',';
        str("name", t.name);
        out += ',';
        str("call", t.call);
        out += ',';
        stack("stack", t.stack);
        out += '}';
      }
      out += ']';
    }
    if (h.fork) {
      out += ',';
      fork(*h.fork);
    }
    // What the shim could not record in the reporting process: present only when something was lost.
    if (h.overflow.any()) {
      out += ',';
      key("overflow");
      out += '{';
      num("held", h.overflow.held);
      out += ',';
      num("threads", h.overflow.threads);
      out += ',';
      num("sites", h.overflow.sites);
      out += '}';
    }
  }

  void group(const HazardGroup& g) {
    hazard(g.hazard);
    out += ',';
    num("occurrences", g.occurrences);
    out += ',';
    key("pids");
    out += '[';
    for (size_t i = 0; i < g.pids.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(g.pids[i]);
    }
    out += "]}";
  }
};

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string to_json(const std::vector<HazardGroup>& groups) {
  Writer w;
  w.out = "{\"version\":" + std::to_string(json_version) + ",\"hazards\":[";
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) w.out += ',';
    w.group(groups[i]);
  }
  w.out += "]}";
  return w.out;
}

}  // namespace fh
