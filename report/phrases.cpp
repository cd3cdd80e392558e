// Phrases the text and SARIF printers share: how a thread, a lock and its owner are named.
#include "report/phrases.h"

#include <cstdio>

#include "report/catalogue.h"

namespace fh {

std::string hex(uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c == 0xe0) n = 3, lo = 0xa0;
  else if (c >= 0xe1 && c <= 0xef) n = 3, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c == 0xf0) n = 4, lo = 0x90;
  else if (c >= 0xf1 && c <= 0xf3) n = 4;
  else if (c == 0xf4) n = 4, hi = 0x8f;
  else return 0;
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  return n;
}

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `thread 4239 "worker"`, or `thread 4239` when the thread had no name.
std::string printable(std::string_view text) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    // A valid UTF-8 sequence of 2 to 4 bytes stays as it is, but for the C1 controls (U+0080..U+009F: a terminal
    // obeys some of them, CSI among them).
    size_t len = c >= 0x80 ? utf8_sequence(text, i) : 0;
    bool c1 = len == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
    if (len >= 2 && !c1) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
    i++;
  }
  return out;
}

std::string thread_label(int64_t tid, const std::string& name) {
  std::string label = "thread " + std::to_string(tid);
  if (!name.empty()) label += " \"" + printable(name) + "\"";
  return label;
}

std::string lock_noun(const LockRef& lock) {
  switch (lock.type) {
    case LockType::mutex: return "mutex";
    case LockType::rwlock_read: return "rwlock";
    case LockType::rwlock_write: return "rwlock";
    case LockType::semaphore: return "semaphore";
    case LockType::condvar: return "condition variable";
    case LockType::static_init: return "function-local static";
    case LockType::libc: return "glibc " + std::string(libc_family(lock)) + " lock";
    case LockType::futex: return "futex word";
    case LockType::other: return "lock (" + lock.type_spelling + ")";
  }
  return "lock";
}

// "thread 4239 \"w\", which vanished at fork()": the owner of a lock.
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

// "<who> was <doing> when it vanished at fork()", for the lock types whose owner was *in* something
// (a condvar wait, a static's constructor, a glibc family) rather than holding a lock.
std::string owner_was(const std::optional<Owner>& owner, const std::string& doing) {
  if (!owner) return "a thread that vanished at fork() was " + doing;
  switch (owner->relation) {
    case Relation::vanished:
      return thread_label(owner->tid, owner->name) + " was " + doing + " when it vanished at fork()";
    case Relation::forker:
      return "this thread was " + doing + " before fork() (under its parent-side tid " + std::to_string(owner->tid) +
             ")";
    case Relation::unknown:
      return thread_label(owner->tid, owner->name) + " was " + doing + " and does not exist in this process";
    case Relation::other:
      return thread_label(owner->tid, owner->name) + " (relation '" + owner->relation_spelling + "') was " + doing;
  }
  return thread_label(owner->tid, owner->name) + " was " + doing;
}

std::string libc_family_phrase(std::string_view family) {
  std::string phrase = "the glibc " + std::string(family) + " lock family";
  std::string calls = family_calls(family);
  return calls.empty() ? phrase : phrase + " (" + calls + ")";
}

std::string futex_word(const LockRef& lock) {
  std::string text = "futex word";
  if (!lock.has_addr) return text;
  text += " " + hex(lock.addr);
  std::string module = basename_of(lock.module);
  if (!lock.symbol.empty() && !module.empty()) return text + " (" + lock.symbol + " in " + module + ")";
  if (!lock.symbol.empty()) return text + " (" + lock.symbol + ")";
  if (!module.empty()) return text + " (" + module + "+" + hex(lock.offset) + ")";
  return text;
}

std::string futex_wait_sentence(const Hazard& h) {
  std::string text = h.call + "() would block forever" +
                     (h.interrupt_only ? " unless its SIGINT handler (its only one) ends the wait" : "") + " on " +
                     (h.lock ? futex_word(*h.lock) : "a futex word") + ": a wait no thread left in this process can end";
  if (!h.owner) return text;
  std::optional<CallFamily> family = catalogued_family(h.call);
  std::string inside = family && family->name != "none" ? "inside " + libc_family_phrase(family->name)
                                                         : "inside " + h.call + "()";
  return text + "; " + owner_was(h.owner, inside);
}

// The child's call returned (the lock was free); the owner is the vanished thread the shim saw take it in the
// parent, so the hang depends only on when the fork comes.
std::string possible_deadlock_sentence(const Hazard& h) {
  // Seen from outside spinning in glibc's rwlock code, over an rwlock a vanished writer left write-locked.
  if (h.spins)
    return h.call + "() spins for good in glibc's rwlock code" +
           (h.lock && h.lock->has_addr ? " over the rwlock at " + hex(h.lock->addr) : std::string()) +
           ", left write-locked by no writer: a writer that vanished at fork() inside its unlock leaves glibc's rwlock "
           "so, and no thread can take it again. A warning, not a verdict: glibc takes this lock without the "
           "interposed functions, so its address was found in the spinning thread's registers, not read from the call; "
           "the process is left as it is";
  // A timed acquisition whose holder vanished: it times out, it never succeeds.
  if (h.never_succeeds) {
    std::string call = h.call + "(" + (h.lock && h.lock->has_addr ? hex(h.lock->addr) : "") + ")";
    std::string noun = h.lock ? lock_noun(*h.lock) : std::string("lock");
    std::string holder = h.owner ? owner_phrase(*h.owner) : std::string("a thread that vanished at fork()");
    return call + " can never succeed: the " + noun + " is held by " + holder +
           ". Each call times out instead of hanging; a program that retries it waits forever";
  }
  std::string text = h.call + "(" + (h.lock && h.lock->has_addr ? hex(h.lock->addr) : "") + ") took the " +
                     (h.lock ? lock_noun(*h.lock) : std::string("lock")) + " while it was free, but ";
  // A trywait would have failed instead (CPython's lock acquire tries, then waits: that wait never returns).
  std::string outcome = h.call == "sem_trywait"
                            ? "this call would have failed with EAGAIN, and a wait after it (CPython's lock "
                              "acquire) would never have returned"
                            : "this call would never have returned";
  if (!h.owner)
    return text + "a thread that vanished at fork() used it in the parent. Had the fork come while that thread "
                  "held it, " + outcome;
  return text + owner_phrase(*h.owner) + ", used it in the parent. Had the fork come while thread " +
         std::to_string(h.owner->tid) + " held it, " + outcome;
}

std::string python_hint(const Hazard& h) {
  bool python = !h.python_stack.empty(), logging = false;
  auto look = [&logging](const std::vector<PyFrame>& stack) {
    for (const PyFrame& f : stack) logging = logging || f.file.find("/logging/") != std::string::npos;
  };
  look(h.python_stack);
  if (h.fork)
    for (const ForkThread& t : h.fork->threads) {
      python = python || !t.python_stack.empty();
      if (t.relation == Relation::vanished) look(t.python_stack);
    }
  if (!python) return {};
  std::string hint = "start child processes with multiprocessing.get_context(\"forkserver\") or (\"spawn\") "
                     "(concurrent.futures.ProcessPoolExecutor(mp_context=...)), or fork before starting threads; a "
                     "lock the child needs can be re-created in os.register_at_fork(after_in_child=...)";
  if (logging) hint += "; a thread was logging at the fork: do not log from threads across a fork (logging's handler "
                       "locks), or log through a QueueHandler to one thread";
  return hint;
}

std::string possible_deadlock_hint() {
  return "take the lock in a pthread_atfork prepare handler and release it in the parent and child handlers, so "
         "that no thread holds it at fork(); or do not take it in the child (call only async-signal-safe functions "
         "between fork() and exec())";
}

std::string unsafe_call_owner_sentence(const Hazard& h) {
  if (!h.owner) return {};
  std::optional<CallFamily> family = catalogued_family(h.call);
  std::string inside = family && family->name != "none"
                           ? "inside " + libc_family_phrase(family->name)
                           : "inside a call of the same glibc lock family as " + h.call + "()";
  return owner_was(h.owner, inside) + ": if it held that lock, this call never returns";
}

namespace {

// "the mutex is held by", "the rwlock is held for reading by", ... (for the types a thread holds and releases)
std::string held_phrase(const LockRef& lock) {
  std::string noun = "the " + lock_noun(lock);
  switch (lock.type) {
    case LockType::rwlock_read: return noun + " is held for reading (which blocks writers) by ";
    case LockType::rwlock_write: return noun + " is held for writing by ";
    case LockType::semaphore: return noun + " is at zero, taken by ";
    case LockType::mutex:
    case LockType::condvar:
    case LockType::static_init:
    case LockType::libc:
    case LockType::futex:
    case LockType::other: return noun + " is held by ";
  }
  return noun + " is held by ";
}


// "its taker, thread 4239 \"w\", vanished at fork()": who took a semaphore that is now at 0.
std::string semaphore_taker(const Owner& owner) {
  switch (owner.relation) {
    case Relation::vanished: return "its taker, " + thread_label(owner.tid, owner.name) + ", vanished at fork()";
    case Relation::forker:
      return "its taker was this thread before fork() (under its parent-side tid " + std::to_string(owner.tid) + ")";
    case Relation::unknown:
      return "its taker, " + thread_label(owner.tid, owner.name) + ", does not exist in this process";
    case Relation::other:
      return "its taker is " + thread_label(owner.tid, owner.name) + " (relation '" + owner.relation_spelling + "')";
  }
  return "its taker is " + thread_label(owner.tid, owner.name);
}

// "thread 4239 \"r\", which vanished at fork(), took it for reading": a reader of an rwlock that blocks a writer.
std::string reader_phrase(const Owner& owner) {
  switch (owner.relation) {
    case Relation::vanished: return thread_label(owner.tid, owner.name) + ", which vanished at fork(), took it for reading";
    case Relation::forker:
      return "this thread took it for reading before fork() (under its parent-side tid " + std::to_string(owner.tid) + ")";
    case Relation::unknown:
      return thread_label(owner.tid, owner.name) + " took it for reading and does not exist in this process";
    case Relation::other:
      return thread_label(owner.tid, owner.name) + " (relation '" + owner.relation_spelling + "') took it for reading";
  }
  return thread_label(owner.tid, owner.name) + " took it for reading";
}

}  // namespace

// One sentence for the text and SARIF printers.
std::string deadlock_sentence(const Hazard& h) {
  std::string call = h.call + "(" + (h.lock && h.lock->has_addr ? hex(h.lock->addr) : "") + ") would block forever" +
                     (h.interrupt_only ? " unless its SIGINT handler (its only one) ends the wait" : "");
  if (!h.lock) return call;
  switch (h.lock->type) {
    case LockType::semaphore:
      if (h.owner)
        return call + ": the semaphore is at 0 and " + semaphore_taker(*h.owner) +
               "; nothing left in this single-threaded process can post it";
      return call + ": the semaphore is at 0 and nothing left in this single-threaded process can post it";
    case LockType::condvar:
      // pthread_cond_wait in a process left with one thread; pthread_cond_destroy waiting for a vanished waiter.
      if (h.call == "pthread_cond_wait")
        return call + ": nothing left in this single-threaded process can signal the condition variable" +
               (h.owner ? " (" + owner_was(h.owner, "waiting on it too") + ")" : "");
      return call + ": " + owner_was(h.owner, "waiting on this condition variable");
    case LockType::static_init: return call + ": " + owner_was(h.owner, "constructing this function-local static");
    case LockType::libc:
      return call + ": " + owner_was(h.owner, "inside " + libc_family_phrase(libc_family(*h.lock)));
    case LockType::futex: return futex_wait_sentence(h);
    case LockType::rwlock_read:
      // Readers have no identity in glibc's lock word: the verdict is that nothing left can release a read hold;
      // the owner, when there is one, is a reader the shim saw take it (reports of older shims: the holder).
      return call + ": the " + lock_noun(*h.lock) +
             " is held for reading and nothing left in this single-threaded process can release a read hold" +
             (h.owner ? " (" + reader_phrase(*h.owner) + ")" : "");
    case LockType::mutex:
    case LockType::rwlock_write:
    case LockType::other:
      if (h.owner) return call + ": " + held_phrase(*h.lock) + owner_phrase(*h.owner);
      return call + ": nothing left in this process can release the " + lock_noun(*h.lock);
  }
  return call;
}

}  // namespace fh
