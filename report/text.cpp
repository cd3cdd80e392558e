// Human report printer: no analysis here, only words for what the model says.
#include "report/text.h"

#include <cstdio>

namespace fh {

namespace {

const char separator[] = "==================\n";

std::string hex(uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `thread 4239 "worker"`, or `thread 4239` when the thread had no name.
std::string thread_label(int64_t tid, const std::string& name) {
  std::string label = "thread " + std::to_string(tid);
  if (!name.empty()) label += " \"" + name + "\"";
  return label;
}

std::string lock_noun(LockType type, const std::string& other) {
  switch (type) {
    case LockType::mutex: return "mutex";
    case LockType::rwlock_read: return "rwlock";
    case LockType::rwlock_write: return "rwlock";
    case LockType::semaphore: return "semaphore";
    case LockType::other: return "lock (" + other + ")";
  }
  return "lock";
}

// "the mutex is held by", "the rwlock is held for reading by", ...
std::string held_phrase(const LockRef& lock) {
  std::string noun = "the " + lock_noun(lock.type, lock.type_spelling);
  switch (lock.type) {
    case LockType::mutex: return noun + " is held by ";
    case LockType::rwlock_read: return noun + " is held for reading (which blocks writers) by ";
    case LockType::rwlock_write: return noun + " is held for writing by ";
    case LockType::semaphore: return noun + " is at zero, taken by ";
    case LockType::other: return noun + " is held by ";
  }
  return noun + " is held by ";
}

std::string owner_phrase(const Owner& owner) {
  switch (owner.relation) {
    case Relation::vanished: return thread_label(owner.tid, owner.name) + ", which vanished at fork()";
    case Relation::forker:
      return "this thread since before fork() (under its parent-side tid " + std::to_string(owner.tid) + ")";
    case Relation::unknown:
      return thread_label(owner.tid, owner.name) + ", which does not exist in this process";
    case Relation::other:
      return thread_label(owner.tid, owner.name) + " (relation '" + owner.relation_spelling + "')";
  }
  return thread_label(owner.tid, owner.name);
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
      if (!f.function.empty()) out += " in " + f.function;
      if (!f.file.empty()) {
        out += " " + source_path(f.file);
        if (f.line > 0) out += ":" + std::to_string(f.line);
      }
      if (!f.module.empty()) {
        out += " (" + basename_of(f.module) + "+" + hex(f.offset) + ")";
      } else {
        out += " (no module)";
      }
      if (f.inlined) out += " [inlined]";
      out += '\n';
    }
  }

  void hazard(const Hazard& h) {
    out += separator;
    out += "forkhazard: " + std::string(spelling(h.kind, h.kind_spelling)) + " in process " +
           std::to_string(h.pid) + " (child of " + std::to_string(h.ppid);
    // A grandchild inherits the restriction of its ancestor's multithreaded fork: name that ancestor.
    if (h.fork && h.fork->parent_pid != h.ppid)
      out += "; restricted since process " + std::to_string(h.fork->parent_pid) + " forked with threads running";
    out += ")\n";
    out += "  " + what_happened(h) + "\n";
    stack(h.stack, "    ");
    if (h.owner) acquisition(h);
    if (h.fork) fork(*h.fork);
    out += "\n  hint: " + hint(h) + "\n";
    out += separator;
  }

 private:
  std::string source_path(const std::string& file) const {
    const std::string& prefix = style_.strip_prefix;
    if (!prefix.empty() && file.size() > prefix.size() && file.compare(0, prefix.size(), prefix) == 0)
      return file.substr(prefix.size());
    return file;
  }

  std::string what_happened(const Hazard& h) {
    switch (h.kind) {
      case HazardKind::deadlock: {
        std::string call = h.call + "(" + (h.lock ? hex(h.lock->addr) : "") + ") would block forever";
        if (h.lock && h.owner) return call + ": " + held_phrase(*h.lock) + owner_phrase(*h.owner);
        if (h.lock)
          return call + ": nothing left in this process can release the " +
                 lock_noun(h.lock->type, h.lock->type_spelling);
        return call;
      }
      case HazardKind::unsafe_call:
        return h.call + "() is not async-signal-safe: in the child of a multithreaded fork it can hang or misbehave";
      case HazardKind::other:
        return h.call + ": hazard '" + h.kind_spelling + "' (unknown to this forkhazard; upgrade it for details)";
    }
    return h.call;
  }

  void acquisition(const Hazard& h) {
    std::string noun = h.lock ? "the " + lock_noun(h.lock->type, h.lock->type_spelling) : "the lock";
    out += "\n  ";
    if (h.owner->relation == Relation::forker) {
      out += "This thread acquired " + noun + " before fork()";
    } else {
      std::string label = thread_label(h.owner->tid, h.owner->name);
      label[0] = 'T';
      out += label + " acquired " + noun;
    }
    if (h.acquired_at.empty()) {
      out += " at a site forkhazard did not see (before it was loaded, or in untracked code)\n";
      return;
    }
    out += " at:\n";
    stack(h.acquired_at, "    ");
  }

  void fork(const ForkContext& f) {
    out += "\n  Process " + std::to_string(f.parent_pid) + " called fork() in thread " +
           std::to_string(f.forking_tid) + " at:\n";
    stack(f.stack, "    ");
    if (f.threads.empty()) return;
    out += "\n  Threads at fork():\n";
    for (const ForkThread& t : f.threads) {
      out += "    " + thread_label(t.tid, t.name) + " (" + thread_relation(t) + ")";
      if (t.created_at.empty()) {
        out += "\n";
      } else {
        out += ", created at:\n";
        stack(t.created_at, "      ");
      }
      for (const HeldLock& held : t.held) {
        out += "      holding " + lock_noun(held.lock.type, held.lock.type_spelling) + " " + hex(held.lock.addr);
        if (held.lock.type == LockType::rwlock_read) out += " for reading";
        if (held.lock.type == LockType::rwlock_write) out += " for writing";
        if (held.depth > 1) out += " (depth " + std::to_string(held.depth) + ")";
        if (held.acquired_at.empty()) {
          out += "\n";
          continue;
        }
        out += ", acquired at:\n";
        stack(held.acquired_at, "        ");
      }
    }
  }

  static std::string hint(const Hazard& h) {
    const std::string signal_safe = "call only async-signal-safe functions between fork() and exec()";
    switch (h.kind) {
      case HazardKind::deadlock:
        if (h.owner && h.owner->relation == Relation::forker)
          return "release the lock before fork() (a normal mutex can also be unlocked in a pthread_atfork child "
                 "handler; recursive and errorcheck mutexes and rwlocks cannot, the child has a new tid), or " +
                 signal_safe;
        return "take the lock in a pthread_atfork prepare handler and release it in the parent and child "
               "handlers, or " + signal_safe;
      case HazardKind::unsafe_call: return signal_safe + " (man 7 signal-safety), or fork before starting threads";
      case HazardKind::other: return signal_safe;
    }
    return signal_safe;
  }

  const TextStyle& style_;
};

}  // namespace

std::string format_hazard(const Hazard& hazard, const TextStyle& style) {
  Printer p(style);
  p.hazard(hazard);
  return p.out;
}

std::string format_text(const std::vector<Report>& reports, const TextStyle& style) {
  std::string out;
  for (const Report& report : reports)
    for (const Hazard& hazard : report.hazards) out += format_hazard(hazard, style);
  return out;
}

}  // namespace fh
