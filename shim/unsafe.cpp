// The catalogue of non-async-signal-safe calls and the restricted child's response to them (see unsafe.h).
#include "shim/unsafe.h"

#include <unistd.h>

#include <cerrno>

#include "shim/core.h"
#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/report.h"
#include "symbols/safe_io.h"

namespace fh {

using namespace shim;  // the registry and the report writer this catalogue reports through

static_assert(family_count <= max_families, "ThreadSlot::inside has a counter per family");

#define FH_UNSAFE(name, cls, family, why) {#name, UnsafeClass::cls, Family::family, why},
const CallInfo g_calls[call_count] = {
#include "shim/interpose.def"
};

const char* unsafe_class_name(UnsafeClass c) {
  switch (c) {
    case UnsafeClass::hang_prone: return protocol::class_hang_prone;
    case UnsafeClass::non_portable: return protocol::class_non_portable;
    case UnsafeClass::vanished_thread: return protocol::class_vanished_thread;
  }
  return "?";
}

const char* family_name(Family f) {
  switch (f) {
#define FH_FAMILY(name, lock, seen) \
  case Family::name: return #name;
#include "shim/families.def"
#undef FH_FAMILY
  }
  return "?";
}

bool family_fully_seen(Family f) {
  constexpr bool all = true, partial = false;
  switch (f) {
#define FH_FAMILY(name, lock, seen) \
  case Family::name: return seen;
#include "shim/families.def"
#undef FH_FAMILY
  }
  return false;
}

namespace {

// Call sites seen in this process: key = site | call id << 48 (user-space addresses fit in 47 bits).
// Open addressing, insert-only; a full table reports every new site (bounded noise, never a crash).
constexpr size_t site_table_size = 1024;
struct SiteEntry {
  uint64_t key;
  uint32_t count;
};
SiteEntry g_sites[site_table_size];
uint32_t g_sites_used;
uint32_t g_sites_full;  // calls that found the table full: reported each time, counted in the report

uint64_t site_key(CallId id, uintptr_t site) { return (static_cast<uint64_t>(id) + 1) << 48 | (site & ((1ull << 48) - 1)); }

}  // namespace

const char* call_shown_name(const char* name, size_t* len) {
  size_t n = safe_strlen(name);
  if (n > 6 && name[0] == '_' && name[1] == '_' && safe_streq(name + n - 4, "_chk")) {
    *len = n - 6;
    return name + 2;
  }
  *len = n;
  return name;
}

bool first_call_at(CallId id, uintptr_t site) {
  uint64_t key = site_key(id, site);
  size_t h = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 54) % site_table_size;
  for (size_t n = 0; n < site_table_size; n++) {
    SiteEntry& e = g_sites[(h + n) % site_table_size];
    uint64_t k = __atomic_load_n(&e.key, __ATOMIC_ACQUIRE);
    if (k == 0) {
      if (__atomic_compare_exchange_n(&e.key, &k, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&e.count, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&g_sites_used, 1, __ATOMIC_RELAXED);
        return true;
      }
    }
    if (k == key) {
      __atomic_fetch_add(&e.count, 1, __ATOMIC_RELAXED);
      return false;
    }
  }
  __atomic_fetch_add(&g_sites_full, 1, __ATOMIC_RELAXED);
  return true;
}

void flush_repeats() {
  if (g_process.passive) return;
  flush_deferred();
  if (__atomic_load_n(&g_sites_used, __ATOMIC_RELAXED) == 0) return;
  bool any = false;
  for (const SiteEntry& e : g_sites)
    if (e.key != 0 && e.count > 1) any = true;
  if (!any) return;
  int saved = errno;
  bool locked = report_lock();
  {
    StackWriter w(report_fd());
    if (g_options.log_path[0] == '\0') w.str(protocol::magic_line);
    w.rec(protocol::rec::repeats).key(protocol::key::repeats_pid).dec(g_process.pid).chr('\n');
    for (const SiteEntry& e : g_sites) {
      if (e.key == 0 || e.count <= 1) continue;
      size_t id = static_cast<size_t>(e.key >> 48) - 1;
      if (id >= call_count) continue;
      size_t len;
      const char* shown = call_shown_name(g_calls[id].name, &len);
      w.rec(protocol::rec::repeat).key(protocol::key::repeat_call).str(shown, len).key(protocol::key::repeat_site)
          .hex(e.key & ((1ull << 48) - 1)).key(protocol::key::repeat_count).udec(e.count).chr('\n');
    }
    w.rec(protocol::rec::end).chr('\n');
  }
  report_unlock(locked);
  errno = saved;
}

uint32_t call_sites_full() { return __atomic_load_n(&g_sites_full, __ATOMIC_RELAXED); }

void reset_call_sites() {
  if (__atomic_load_n(&g_sites_used, __ATOMIC_RELAXED) == 0) return;
  for (SiteEntry& e : g_sites) e = SiteEntry{0, 0};
  g_sites_used = 0;
  g_sites_full = 0;
}

}  // namespace fh
