// Human report printer: no analysis here, only words for what the model says.
#include "report/text.h"

#include "report/catalogue.h"
#include "report/phrases.h"

#include <cstdio>
#include <optional>
#include <string_view>

namespace fh {

namespace {

const char separator[] = "==================\n";

// The sanitizers' decorations (sanitizer_common/sanitizer_report_decorator.h): a bold colour for the headline,
// plain bold for names, and a reset after each piece so a cut-off line never colours the terminal.
const char ansi_reset[] = "\033[0m";
const char ansi_bold[] = "\033[1m";
const char ansi_dim[] = "\033[2m";
const char ansi_bold_red[] = "\033[1m\033[31m";
const char ansi_bold_magenta[] = "\033[1m\033[35m";
const char ansi_bold_yellow[] = "\033[1m\033[33m";
const char ansi_green[] = "\033[32m";

// What a thread at fork() was doing with a lock: "holding mutex 0x10 for reading", "inside the glibc env ...".
std::string holding_phrase(const LockRef& lock) {
  std::string addr = lock.has_addr ? " " + hex(lock.addr) : "";
  switch (lock.type) {
    case LockType::mutex: return "holding mutex" + addr;
    case LockType::rwlock_read: return "holding rwlock" + addr + " for reading";
    case LockType::rwlock_write: return "holding rwlock" + addr + " for writing";
    case LockType::semaphore: return "holding semaphore" + addr;
    case LockType::condvar: return "waiting on condition variable" + addr;
    case LockType::static_init: return "constructing function-local static" + (lock.has_addr ? addr + " (guard)" : "");
    case LockType::libc: return "inside " + libc_family_phrase(libc_family(lock));
    case LockType::futex: return "waiting on futex word" + addr;
    case LockType::other: return "holding " + lock_noun(lock) + addr;
  }
  return "holding" + addr;
}

// What the stack recorded with a held lock of a thread at fork() shows ("acquired" in ", acquired at:").
const char* held_site_verb(LockType type) {
  switch (type) {
    case LockType::mutex:
    case LockType::rwlock_read:
    case LockType::rwlock_write:
    case LockType::semaphore:
    case LockType::other: return "acquired";
    case LockType::condvar: return "started waiting";
    case LockType::static_init: return "started";
    case LockType::libc: return "entered";
    case LockType::futex: return "started waiting";
  }
  return "acquired";
}

// "acquired the mutex", "started waiting on the condition variable", ...: what the owner did at `acquired_at`.
std::string acquisition_verb(const LockRef* lock) {
  if (lock == nullptr) return "acquired the lock";
  switch (lock->type) {
    case LockType::mutex:
    case LockType::rwlock_read:
    case LockType::rwlock_write:
    case LockType::other: return "acquired the " + lock_noun(*lock);
    case LockType::semaphore: return "took the semaphore";
    case LockType::condvar: return "started waiting on the condition variable";
    case LockType::static_init: return "started constructing the function-local static";
    case LockType::libc: return "entered " + libc_family_phrase(libc_family(*lock));
    case LockType::futex: return "entered the call";
  }
  return "acquired the lock";
}

const char hint_signal_safe[] =
    "call only async-signal-safe functions between fork() and exec() (see signal-safety(7)), or use posix_spawn";
const char hint_before_fork[] = "do this before fork(), or in the child only after exec()";

// The hint for an unsafe call comes from its row of the shim's catalogue (shim/interpose.def, the table the
// shim reports from): its glibc lock family, and for the two hang-prone calls without one, what they do.
std::string call_hint(const std::string& call, const std::optional<CallClass>& klass) {
  if (call == "exit")
    return "use _exit() in the child: exit() runs atexit handlers and C++ destructors and flushes stdio buffers "
           "copied from the parent";
  if (call == "pthread_create")
    return "do not start threads in the child of a multithreaded fork(); exec first or use posix_spawn";
  if (klass && *klass == CallClass::vanished_thread)
    return "the parent's threads do not exist in the child: do not join, detach or cancel them there";
  std::optional<CallFamily> family = catalogued_family(call);
  if (family && family->name == "env") return "build the child's environment before fork() and pass it to execve()";
  if (family && family->name != "none") return hint_before_fork;
  // The allocator, stdio and anything newer: what signal-safety(7) says; a new glibc-lock taker: move it.
  if (klass && *klass == CallClass::hang_prone) return hint_before_fork;
  return hint_signal_safe;
}

// A few words on an unsafe call's class.
std::string class_explanation(CallClass klass, const std::string& other) {
  switch (klass) {
    case CallClass::hang_prone:
      return "hang-prone: takes a glibc lock that fork() does not reset: this child can hang here";
    case CallClass::non_portable:
      return "non-portable: undefined after fork() in a multithreaded process by POSIX; glibc keeps it working "
             "(FORKHAZARD_OPTIONS=mode=glibc drops this class)";
    case CallClass::vanished_thread:
      return "vanished-thread: the thread it names did not survive fork(); glibc answers for it at once with a "
             "made-up result";
    case CallClass::other: return "class '" + other + "' (unknown to this forkhazard; upgrade it for details)";
  }
  return {};
}

std::string kind_title(const Hazard& h) {
  switch (h.kind) {
    case HazardKind::deadlock: return "deadlock";
    case HazardKind::possible_deadlock: return "possible deadlock";
    case HazardKind::unsafe_call: return "unsafe call";
    case HazardKind::other: return h.kind_spelling;
  }
  return h.kind_spelling;
}

// "3 lock acquisitions (held stacks full), 1 thread (registry full)": the parts of an overflow that are not 0.
std::string overflow_phrase(const Overflow& overflow) {
  std::string text;
  auto add = [&](int64_t n, const char* one, const char* many, const char* why) {
    if (n == 0) return;
    if (!text.empty()) text += ", ";
    text += std::to_string(n) + " " + (n == 1 ? one : many) + " (" + why + ")";
  };
  add(overflow.held, "lock acquisition", "lock acquisitions", "held stacks full");
  add(overflow.threads, "thread", "threads", "registry full");
  add(overflow.sites, "call site", "call sites", "table full");
  return text;
}


std::string thread_relation(const ForkThread& thread) {
  switch (thread.relation) {
    case Relation::vanished: return "vanished at fork()";
    case Relation::forker: return "the thread that called fork()";
    case Relation::unknown: return "not tracked by forkhazard";
    case Relation::other: return "relation '" + thread.relation_spelling + "'";
  }
  return {};
}

class Printer {
 public:
  explicit Printer(const TextStyle& style) : style_(style) {}
  std::string out;

  void stack(const Stack& frames, const std::string& indent) {
    if (frames.empty()) {
      out += indent + "(no stack recorded)\n";
      return;
    }
    for (size_t i = 0; i < frames.size(); ++i) {
      const Frame& f = frames[i];
      out += indent + "#" + std::to_string(i) + " " + hex(f.pc);
      if (!f.function.empty()) out += " in " + paint(ansi_bold, printable(f.function));
      if (!f.file.empty()) {
        out += " " + printable(source_path(f.file));
        if (f.line > 0) out += ":" + std::to_string(f.line);
      }
      if (!f.module.empty()) {
        out += " " + paint(ansi_dim, "(" + printable(basename_of(f.module)) + "+" + hex(f.offset) + ")");
      } else {
        out += " " + paint(ansi_dim, "(no module)");
      }
      if (f.inlined) out += " [inlined]";
      out += '\n';
    }
  }

  // `group` (may be null) adds how often and where the hazard occurred when it merged several.
  void hazard(const Hazard& h, const HazardGroup* group = nullptr) {
    out += separator;
    std::string headline = "forkhazard: " + kind_title(h) + " in process " + std::to_string(h.pid) +
                           " (child of " + std::to_string(h.ppid);
    // A grandchild inherits the restriction of its ancestor's multithreaded fork: name that ancestor.
    if (h.fork && h.fork->parent_pid != h.ppid)
      headline += "; restricted since process " + std::to_string(h.fork->parent_pid) + " forked with threads running";
    headline += ") [" + std::string(spelling(level_of(h))) + "]";
    out += paint(headline_color(h.kind), headline);
    if (h.kind == HazardKind::unsafe_call) {
      out += ": " + what_happened(h) + "\n";
      if (h.klass) out += "  " + class_explanation(*h.klass, h.klass_spelling) + "\n";
      if (h.owner) out += "  " + unsafe_call_owner_sentence(h) + "\n";
      if (h.count > 1) out += "  called " + std::to_string(h.count) + " times at this site\n";
    } else {
      out += "\n  " + what_happened(h) + "\n";
    }
    if (group && group->occurrences > 1) out += "  " + occurrences(*group) + "\n";
    stack(h.stack, "    ");
    if (!h.python_stack.empty()) {
      out += "  Python stack:\n";
      python_stack(h.python_stack, "    ");
    }
    if (!h.waiting.empty()) waiting(h);
    if (shows_acquisition(h)) acquisition(h);
    if (h.fork) fork(*h.fork);
    if (h.overflow.any()) out += "\n  not recorded: " + overflow_phrase(h.overflow) + "\n";
    out += "\n  " + paint(ansi_green, "hint: " + hint(h)) + "\n";
    std::string py = python_hint(h);
    if (!py.empty()) out += "  " + paint(ansi_green, "in Python: " + py) + "\n";
    out += separator;
  }

 private:
  std::string paint(const char* code, const std::string& text) const {
    return style_.color ? code + text + ansi_reset : text;
  }

  static const char* headline_color(HazardKind kind) {
    switch (kind) {
      case HazardKind::deadlock: return ansi_bold_red;
      case HazardKind::possible_deadlock: return ansi_bold_yellow;
      case HazardKind::unsafe_call: return ansi_bold_magenta;
      case HazardKind::other: return ansi_bold_yellow;
    }
    return ansi_bold;
  }

  // Whether the owner's acquisition is shown: an unsafe call's owner was only inside a call at fork(), and so
  // was the watchdog's owner of a futex word; where they entered it is not recorded.
  static bool shows_acquisition(const Hazard& h) {
    if (!h.owner) return false;
    bool futex_owner_only = h.lock && h.lock->type == LockType::futex && h.acquired_at.empty();
    switch (h.kind) {
      case HazardKind::deadlock:
      case HazardKind::possible_deadlock:
      case HazardKind::other: return !futex_owner_only;
      case HazardKind::unsafe_call: return !h.acquired_at.empty();
    }
    return true;
  }

  // "(3 occurrences in processes 11, 12, 13)"; past shown_pids, "... and N more" (every pid is in --json).
  static constexpr size_t shown_pids = 10;
  static std::string occurrences(const HazardGroup& group) {
    std::string text = "(" + std::to_string(group.occurrences) + " occurrences in process";
    if (group.pids.size() != 1) text += "es";
    for (size_t i = 0; i < group.pids.size() && i < shown_pids; ++i)
      text += (i == 0 ? " " : ", ") + std::to_string(group.pids[i]);
    if (group.pids.size() > shown_pids) text += ", ... and " + std::to_string(group.pids.size() - shown_pids) + " more";
    return text + ")";
  }

  std::string source_path(const std::string& file) const {
    const std::string& prefix = style_.strip_prefix;
    if (!prefix.empty() && file.size() > prefix.size() && file.compare(0, prefix.size(), prefix) == 0)
      return file.substr(prefix.size());
    return file;
  }

  static std::string what_happened(const Hazard& h) {
    switch (h.kind) {
      case HazardKind::deadlock: return deadlock_sentence(h);
      case HazardKind::possible_deadlock: return possible_deadlock_sentence(h);
      case HazardKind::unsafe_call:
        return h.call + "() is not async-signal-safe" + (h.why.empty() ? "" : " (" + h.why + ")");
      case HazardKind::other:
        return h.call + ": hazard '" + h.kind_spelling + "' (unknown to this forkhazard; upgrade it for details)";
    }
    return h.call;
  }



  void acquisition(const Hazard& h) {
    std::string verb = acquisition_verb(h.lock ? &*h.lock : nullptr);
    out += "\n  ";
    if (h.owner->relation == Relation::forker) {
      out += "This thread " + verb + " before fork()";
    } else {
      std::string label = thread_label(h.owner->tid, h.owner->name);
      label[0] = 'T';
      out += label + " " + verb;
    }
    if (h.acquired_at.empty()) {
      out += " at a site forkhazard did not see (before it was loaded, or in untracked code)\n";
      return;
    }
    out += " at:\n";
    stack(h.acquired_at, "    ");
  }

  // Innermost first, as Python's own tracebacks print a frame.
  void python_stack(const std::vector<PyFrame>& frames, const char* indent) {
    for (const PyFrame& f : frames)
      out += std::string(indent) + "File \"" + f.file + "\", line " + (f.line > 0 ? std::to_string(f.line) : "?") +
             ", in " + f.function + "\n";
  }

  void waiting(const Hazard& h) {
    out += "\n  Every other thread of process " + std::to_string(h.pid) + " is blocked for good too:\n";
    for (const WaitingThread& t : h.waiting) {
      out += "    " + thread_label(t.tid, t.name) + " waits in " + t.call + "()";
      if (t.stack.empty()) {
        out += "\n";
        continue;
      }
      out += ":\n";
      stack(t.stack, "      ");
    }
  }

  void fork(const ForkContext& f) {
    out += "\n  Process " + std::to_string(f.parent_pid) +
           (f.raw ? " forked raw (syscall or clone: no atfork handler ran, glibc reset nothing)"
                  : " called fork()") +
           " in thread " + std::to_string(f.forking_tid) + " at:\n";
    stack(f.stack, "    ");
    if (f.threads.empty()) return;
    out += "\n  Threads at fork():\n";
    // Every thread that held a lock, and the forker; of the others (idle threads of a big pool) the first
    // shown_idle_threads and a count: a fork among 9 000 threads made a 3 MB text report (--json has them all).
    constexpr size_t shown_idle_threads = 16;
    size_t idle_shown = 0, idle_left = 0;
    for (const ForkThread& t : f.threads) {
      if (t.held.empty() && t.python_stack.empty() && t.relation != Relation::forker &&
          idle_shown++ >= shown_idle_threads) {
        ++idle_left;
        continue;
      }
      out += "    " + thread_label(t.tid, t.name) + " (" + thread_relation(t) + ")";
      if (t.created_at.empty()) {
        out += "\n";
      } else {
        out += ", created at:\n";
        stack(t.created_at, "      ");
      }
      if (!t.python_stack.empty()) {
        out += "      Python stack at fork():\n";
        python_stack(t.python_stack, "        ");
      }
      for (const HeldLock& held : t.held) {
        out += "      " + holding_phrase(held.lock);
        if (held.depth > 1) out += " (depth " + std::to_string(held.depth) + ")";
        if (held.acquired_at.empty()) {
          out += "\n";
          continue;
        }
        out += std::string(", ") + held_site_verb(held.lock.type) + " at:\n";
        stack(held.acquired_at, "        ");
      }
    }
    if (idle_left > 0)
      out += "    ... and " + std::to_string(idle_left) + " more threads that held no lock the shim saw (--json lists them)\n";
  }

  static std::string hint(const Hazard& h) {
    const std::string signal_safe = "call only async-signal-safe functions between fork() and exec()";
    switch (h.kind) {
      case HazardKind::deadlock: return deadlock_hint(h, signal_safe);
      case HazardKind::possible_deadlock:
        return h.spins ? "glibc takes this lock itself: call only async-signal-safe functions between fork() and exec()"
                       : possible_deadlock_hint();
      case HazardKind::unsafe_call: return call_hint(h.call, h.klass);
      case HazardKind::other: return signal_safe;
    }
    return signal_safe;
  }

  static std::string deadlock_hint(const Hazard& h, const std::string& signal_safe) {
    switch (h.lock ? h.lock->type : LockType::mutex) {
      case LockType::semaphore:
        return "do not fork() while another thread may hold the semaphore (post it before fork(), or exec in the "
               "child before waiting on it); Python's threading.Lock is such a semaphore: do not os.fork() while "
               "another thread may hold one, use subprocess or multiprocessing's \"spawn\" or \"forkserver\" "
               "start method";
      case LockType::condvar:
        if (h.call == "pthread_cond_wait")
          return "do not wait in the child for threads of the parent (a thread pool, a worker): they vanished at "
                 "fork(); start the threads the child needs after fork(), or exec first";
        return "destroy condition variables (std::condition_variable's destructor does) only after exec, or let "
               "the child _exit() without running destructors";
      case LockType::static_init:
        return "construct function-local statics before fork() (call their function once before starting "
               "threads), or let the child use them only after exec";
      case LockType::libc: return call_hint(h.call, CallClass::hang_prone);
      case LockType::futex:
        if (catalogued_family(h.call)) return call_hint(h.call, CallClass::hang_prone);
        return "nothing left in the child can release what " + h.call + "() waits for: call only async-signal-safe " +
               "functions between fork() and exec(), or start threads (an OpenMP team, a thread pool) only after "
               "the last fork()";
      case LockType::mutex:
      case LockType::rwlock_read:
      case LockType::rwlock_write:
      case LockType::other: break;
    }
    if (h.owner && h.owner->relation == Relation::forker)
      return "release the lock before fork() (a normal mutex can also be unlocked in a pthread_atfork child "
             "handler; recursive and errorcheck mutexes and rwlocks cannot, the child has a new tid), or " +
             signal_safe;
    return "take the lock in a pthread_atfork prepare handler and release it in the parent and child "
           "handlers, or " + signal_safe;
  }

  const TextStyle& style_;
};

}  // namespace

std::string format_hazard(const Hazard& hazard, const TextStyle& style) {
  Printer p(style);
  p.hazard(hazard);
  return p.out;
}

bool auto_color(bool is_terminal, const char* no_color) {
  return is_terminal && (no_color == nullptr || no_color[0] == '\0');
}

std::string format_text(const std::vector<HazardGroup>& groups, const TextStyle& style) {
  Printer p(style);
  for (const HazardGroup& group : groups) p.hazard(group.hazard, &group);
  return p.out;
}

}  // namespace fh
