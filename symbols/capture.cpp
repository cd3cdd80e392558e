// Stack capture through libgcc's loader-free unwinder (see capture.h for why not libunwind).
#include "symbols/capture.h"

#include <unwind.h>

namespace fh {

namespace {

uintptr_t own_lo, own_hi;
bool forbidden;

constexpr size_t max_frames = 80;

// Copies `raw` to `out`, dropping leading frames inside the shim.
size_t drop_own_frames(const uintptr_t* raw, size_t n, uintptr_t* out, size_t max) {
  size_t first = 0;
  while (first < n && raw[first] >= own_lo && raw[first] < own_hi) first++;
  size_t count = 0;
  for (size_t i = first; i < n && count < max; i++) out[count++] = raw[i];
  return count;
}

struct UnwindState {
  uintptr_t* pcs;
  size_t count, max;
};

_Unwind_Reason_Code collect(struct _Unwind_Context* ctx, void* arg) {
  auto* st = static_cast<UnwindState*>(arg);
  if (st->count == st->max) return _URC_END_OF_STACK;
  uintptr_t pc = _Unwind_GetIP(ctx);
  if (pc == 0) return _URC_END_OF_STACK;
  st->pcs[st->count++] = pc;
  return _URC_NO_REASON;
}

}  // namespace

void capture_set_own_range(uintptr_t lo, uintptr_t hi) {
  own_lo = lo;
  own_hi = hi;
}

void capture_forbid() { __atomic_store_n(&forbidden, true, __ATOMIC_RELAXED); }

size_t capture_stack(uintptr_t* pcs, size_t max) {
  if (__atomic_load_n(&forbidden, __ATOMIC_RELAXED)) return 0;
  uintptr_t raw[max_frames];
  UnwindState st{raw, 0, max + 16 < max_frames ? max + 16 : max_frames};
  _Unwind_Backtrace(collect, &st);
  return drop_own_frames(raw, st.count, pcs, max);
}

}  // namespace fh
