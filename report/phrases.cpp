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
  std::string text = h.call + "() would block forever on " + (h.lock ? futex_word(*h.lock) : "a futex word") +
                     ": a wait no thread left in this process can end";
  if (!h.owner) return text;
  std::optional<CallFamily> family = catalogued_family(h.call);
  std::string inside = family && family->name != "none" ? "inside " + libc_family_phrase(family->name)
                                                         : "inside " + h.call + "()";
  return text + "; " + owner_was(h.owner, inside);
}

// The child's call returned (the lock was free); the owner is the vanished thread the shim saw take it in the
// parent, so the hang depends only on when the fork comes.
std::string possible_deadlock_sentence(const Hazard& h) {
  std::string text = h.call + "(" + (h.lock && h.lock->has_addr ? hex(h.lock->addr) : "") + ") took the " +
                     (h.lock ? lock_noun(*h.lock) : std::string("lock")) + " while it was free, but ";
  if (!h.owner)
    return text + "a thread that vanished at fork() used it in the parent. Had the fork come while that thread "
                  "held it, this call would never have returned";
  return text + owner_phrase(*h.owner) + ", used it in the parent. Had the fork come while thread " +
         std::to_string(h.owner->tid) + " held it, this call would never have returned";
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

}  // namespace fh
