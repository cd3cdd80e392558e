// Protocol words <-> model enums, spelled once from shim/protocol.h.
#include "report/model.h"

#include <algorithm>

#include "shim/protocol.h"

namespace fh {

std::string_view spelling(HazardKind kind, const std::string& other) {
  switch (kind) {
    case HazardKind::deadlock: return protocol::kind_deadlock;
    case HazardKind::possible_deadlock: return protocol::kind_possible_deadlock;
    case HazardKind::unsafe_call: return protocol::kind_unsafe_call;
    case HazardKind::other: return other;
  }
  return other;
}

std::string_view spelling(LockType type, const std::string& other) {
  switch (type) {
    case LockType::mutex: return protocol::type_mutex;
    case LockType::rwlock_read: return protocol::type_rwlock_read;
    case LockType::rwlock_write: return protocol::type_rwlock_write;
    case LockType::semaphore: return protocol::type_semaphore;
    case LockType::condvar: return protocol::type_condvar;
    case LockType::static_init: return protocol::type_static_init;
    case LockType::libc: return other;  // the whole word, family included
    case LockType::futex: return protocol::type_futex;
    case LockType::other: return other;
  }
  return other;
}

std::string_view spelling(Relation relation, const std::string& other) {
  switch (relation) {
    case Relation::vanished: return protocol::relation_vanished;
    case Relation::forker: return protocol::relation_forker;
    case Relation::unknown: return protocol::relation_unknown;
    case Relation::other: return other;
  }
  return other;
}

std::string_view spelling(CallClass klass, const std::string& other) {
  switch (klass) {
    case CallClass::hang_prone: return protocol::class_hang_prone;
    case CallClass::non_portable: return protocol::class_non_portable;
    case CallClass::vanished_thread: return protocol::class_vanished_thread;
    case CallClass::other: return other;
  }
  return other;
}

std::string_view spelling(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::note: return "note";
  }
  return "warning";
}

Level level_of(const Hazard& hazard) {
  switch (hazard.kind) {
    case HazardKind::deadlock: return Level::error;
    case HazardKind::possible_deadlock: return Level::warning;
    case HazardKind::unsafe_call:
      if (!hazard.klass) return Level::warning;
      switch (*hazard.klass) {
        case CallClass::hang_prone: return Level::warning;
        case CallClass::non_portable: return Level::note;
        case CallClass::vanished_thread: return Level::warning;
        case CallClass::other: return Level::warning;
      }
      return Level::warning;
    case HazardKind::other: return Level::warning;  // a newer shim's kind: not known to be harmless
  }
  return Level::warning;
}

std::string_view libc_family(const LockRef& lock) {
  if (lock.type != LockType::libc) return {};
  std::string_view word = lock.type_spelling;
  return word.substr(std::min(word.size(), sizeof protocol::type_libc_prefix - 1));
}

std::optional<HazardKind> parse_hazard_kind(std::string_view word) {
  for (HazardKind k : known_hazard_kinds)
    if (word == spelling(k, {})) return k;
  return std::nullopt;
}

std::optional<LockType> parse_lock_type(std::string_view word) {
  for (LockType t : {LockType::mutex, LockType::rwlock_read, LockType::rwlock_write, LockType::semaphore,
                     LockType::condvar, LockType::static_init, LockType::futex})
    if (word == spelling(t, {})) return t;
  // `libc:` and a family name; the family set may grow, so any non-empty name is a libc lock.
  std::string_view prefix = protocol::type_libc_prefix;
  if (word.size() > prefix.size() && word.substr(0, prefix.size()) == prefix) return LockType::libc;
  return std::nullopt;
}

std::optional<Relation> parse_relation(std::string_view word) {
  for (Relation r : {Relation::vanished, Relation::forker, Relation::unknown})
    if (word == spelling(r, {})) return r;
  return std::nullopt;
}

std::optional<CallClass> parse_call_class(std::string_view word) {
  for (CallClass c : {CallClass::hang_prone, CallClass::non_portable, CallClass::vanished_thread})
    if (word == spelling(c, {})) return c;
  return std::nullopt;
}

}  // namespace fh
