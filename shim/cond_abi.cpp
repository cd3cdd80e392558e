// Which pthread_cond_* ABI a caller was linked against (see cond_abi.h).
#include "shim/cond_abi.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstring>

namespace fh::shim {

namespace {

// One answer per loaded object, found once: lock-free slots (0: free; a link_map pointer once claimed).
struct AbiAnswer {
  const void* map;
  int state;  // 0 being filled, else 1 + the mask of CondCall bits the object binds to the old ABI
};
constexpr size_t abi_cache_size = 64;
AbiAnswer g_answers[abi_cache_size];

const char* const cond_names[] = {"pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_destroy",
                                  "pthread_cond_signal", "pthread_cond_broadcast"};

int cond_call_of(const char* name) {
  for (int i = 0; i < static_cast<int>(sizeof cond_names / sizeof cond_names[0]); i++)
    if (strcmp(name, cond_names[i]) == 0) return i;
  return -1;
}

// Reads the object's dynamic section (glibc relocates its d_ptr values in place on this architecture) and its
// relocations: the bit of each interposed pthread_cond_* function it binds with version GLIBC_2.2.5.
int old_cond_calls(const struct link_map* map) {
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Half)* versym = nullptr;
  const ElfW(Verneed)* verneed = nullptr;
  const ElfW(Rela)* rela[2] = {nullptr, nullptr};
  size_t rela_size[2] = {0, 0};
  for (const ElfW(Dyn)* d = map->l_ld; d != nullptr && d->d_tag != DT_NULL; d++) {
    auto ptr = [&](ElfW(Addr) p) { return p < map->l_addr ? p + map->l_addr : p; };
    switch (d->d_tag) {
      case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(ptr(d->d_un.d_ptr)); break;
      case DT_STRTAB: strtab = reinterpret_cast<const char*>(ptr(d->d_un.d_ptr)); break;
      case DT_VERSYM: versym = reinterpret_cast<const ElfW(Half)*>(ptr(d->d_un.d_ptr)); break;
      case DT_VERNEED: verneed = reinterpret_cast<const ElfW(Verneed)*>(ptr(d->d_un.d_ptr)); break;
      case DT_JMPREL: rela[0] = reinterpret_cast<const ElfW(Rela)*>(ptr(d->d_un.d_ptr)); break;
      case DT_PLTRELSZ: rela_size[0] = d->d_un.d_val; break;
      case DT_RELA: rela[1] = reinterpret_cast<const ElfW(Rela)*>(ptr(d->d_un.d_ptr)); break;
      case DT_RELASZ: rela_size[1] = d->d_un.d_val; break;
      default: break;
    }
  }
  if (symtab == nullptr || strtab == nullptr || versym == nullptr || verneed == nullptr) return 0;
  int mask = 0;
  for (int k = 0; k < 2; k++) {
    if (rela[k] == nullptr) continue;
    for (size_t i = 0; i < rela_size[k] / sizeof(ElfW(Rela)); i++) {
      size_t sym = ELF64_R_SYM(rela[k][i].r_info);
      int call = sym != 0 ? cond_call_of(strtab + symtab[sym].st_name) : -1;
      if (call < 0) continue;
      ElfW(Half) ndx = versym[sym] & 0x7fff;
      for (const ElfW(Verneed)* vn = verneed; vn != nullptr;) {
        auto* aux = reinterpret_cast<const ElfW(Vernaux)*>(reinterpret_cast<const char*>(vn) + vn->vn_aux);
        for (unsigned a = 0; a < vn->vn_cnt; a++) {
          if (aux->vna_other == ndx && strcmp(strtab + aux->vna_name, "GLIBC_2.2.5") == 0) mask |= 1 << call;
          aux = reinterpret_cast<const ElfW(Vernaux)*>(reinterpret_cast<const char*>(aux) + aux->vna_next);
        }
        vn = vn->vn_next != 0 ? reinterpret_cast<const ElfW(Verneed)*>(reinterpret_cast<const char*>(vn) + vn->vn_next)
                              : nullptr;
      }
    }
  }
  return mask;
}

// Call sites answered already: direct-mapped by return address, each entry one word (site * 2 + answer) so that a
// racing reader sees a whole entry or another site's.
constexpr size_t site_cache_size = 256;
uintptr_t g_site_answers[site_cache_size];

bool answer_for_object(uintptr_t caller, CondCall call);

}  // namespace

bool caller_uses_old_cond_abi(uintptr_t caller, CondCall call) {
  uintptr_t& entry = g_site_answers[(caller >> 2) % site_cache_size];
  uintptr_t seen = __atomic_load_n(&entry, __ATOMIC_RELAXED);
  if (seen >> 1 == caller) return (seen & 1) != 0;
  bool old = answer_for_object(caller, call);
  __atomic_store_n(&entry, caller << 1 | (old ? 1 : 0), __ATOMIC_RELAXED);
  return old;
}

namespace {

bool answer_for_object(uintptr_t caller, CondCall call) {
  int bit = 1 << static_cast<int>(call);
  struct dl_find_object found;
  if (_dl_find_object(reinterpret_cast<void*>(caller), &found) != 0 || found.dlfo_link_map == nullptr) return false;
  const void* map = found.dlfo_link_map;
  for (AbiAnswer& a : g_answers) {
    const void* key = __atomic_load_n(&a.map, __ATOMIC_ACQUIRE);
    if (key == map) {
      int state = __atomic_load_n(&a.state, __ATOMIC_ACQUIRE);
      if (state != 0) return ((state - 1) & bit) != 0;
      break;  // another thread is filling it: answer from the object itself
    }
    if (key == nullptr) {
      const void* expected = nullptr;
      int mask = old_cond_calls(found.dlfo_link_map);
      if (__atomic_compare_exchange_n(&a.map, &expected, map, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        __atomic_store_n(&a.state, 1 + mask, __ATOMIC_RELEASE);
      return (mask & bit) != 0;
    }
  }
  return (old_cond_calls(found.dlfo_link_map) & bit) != 0;  // the table is full: ask the object every time
}

}  // namespace

}  // namespace fh::shim
