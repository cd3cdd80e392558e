// What the core's files share and nothing else sees: the registry's slots, the scan over the vanished threads,
// and the steps of fork_child that live beside the state they fill (core.h is the API).
#pragma once

#include "shim/core.h"

namespace fh::shim {

extern ThreadSlot g_slots[max_threads] __attribute__((visibility("hidden")));

namespace core {

// The first vanished slot for which `match` holds.
template <class Match>
const ThreadSlot* first_vanished(Match match) {
  uint32_t used = slots_used();
  for (uint32_t i = 0; i < used; i++) {
    const ThreadSlot& s = g_slots[i];
    if (is_vanished(s) && match(s)) return &s;
  }
  return nullptr;
}

// Threads the kernel lists that the registry never saw (raw clone(), or made before the shim could see them).
int count_unknown_threads();
// predict.cpp, at a fork in the child: what the forking thread held across the fork and its memory of locks.
void remember_forker(const ThreadSlot* forker, int parent_tid, bool multithreaded);

}  // namespace core
}  // namespace fh::shim
