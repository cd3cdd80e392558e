// Module map from /proc/self/maps plus the ELF program headers already in memory (see modules.h).
#include "symbols/modules.h"

#include "shim/safe_io.h"  // sys::open/read/close: no cancellation point in the shim

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace fh {

namespace {

bool parse_hex(const char*& p, uintptr_t* out) {
  uintptr_t v = 0;
  const char* start = p;
  for (;; p++) {
    char c = *p;
    if (c >= '0' && c <= '9') v = v * 16 + static_cast<uintptr_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + static_cast<uintptr_t>(c - 'a' + 10);
    else break;
  }
  *out = v;
  return p != start;
}

void skip_field(const char*& p) {
  while (*p != ' ' && *p != '\0') p++;
  while (*p == ' ') p++;
}

// Reads the ELF header and program headers at `start`, which must lie inside the readable mapping
// [start, map_end): we never touch memory outside a mapping the kernel listed (gaps may be PROT_NONE).
bool describe_elf(uintptr_t start, uintptr_t map_end, ModuleEntry* m) {
  if (map_end - start < sizeof(Elf64_Ehdr)) return false;
  auto* eh = reinterpret_cast<const Elf64_Ehdr*>(start);
  if (eh->e_ident[EI_MAG0] != ELFMAG0 || eh->e_ident[EI_MAG1] != ELFMAG1 || eh->e_ident[EI_MAG2] != ELFMAG2 ||
      eh->e_ident[EI_MAG3] != ELFMAG3 || eh->e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) return false;
  uintptr_t ph_start = start + eh->e_phoff;
  uintptr_t ph_end = ph_start + static_cast<uintptr_t>(eh->e_phnum) * sizeof(Elf64_Phdr);
  if (eh->e_phentsize != sizeof(Elf64_Phdr) || ph_end > map_end || ph_end < ph_start) return false;
  auto* ph = reinterpret_cast<const Elf64_Phdr*>(ph_start);

  bool have_bias = false;
  uintptr_t bias = 0, hi = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    if (!have_bias && ph[i].p_offset == 0) {
      // The mapping at file offset 0 is this segment's first page.
      uintptr_t page = ph[i].p_align > 1 ? ph[i].p_align : 4096;
      bias = start - (ph[i].p_vaddr & ~(page - 1));
      have_bias = true;
    }
  }
  if (!have_bias) return false;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && bias + ph[i].p_vaddr + ph[i].p_memsz > hi) hi = bias + ph[i].p_vaddr + ph[i].p_memsz;
  m->lo = start;
  m->hi = hi;
  m->bias = bias;
  m->build_id_len = 0;

  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_NOTE) continue;
    uintptr_t p = bias + ph[i].p_vaddr, end = p + ph[i].p_filesz;
    if (p < start || end > map_end) continue;
    while (p + sizeof(Elf64_Nhdr) <= end) {
      auto* nh = reinterpret_cast<const Elf64_Nhdr*>(p);
      uintptr_t name = p + sizeof(Elf64_Nhdr);
      uintptr_t desc = name + ((nh->n_namesz + 3) & ~3u);
      uintptr_t next = desc + ((nh->n_descsz + 3) & ~3u);
      if (next > end) break;
      const char* n = reinterpret_cast<const char*>(name);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && n[0] == 'G' && n[1] == 'N' && n[2] == 'U' &&
          nh->n_descsz > 0 && nh->n_descsz <= sizeof m->build_id) {
        for (size_t k = 0; k < nh->n_descsz; k++) m->build_id[k] = reinterpret_cast<const uint8_t*>(desc)[k];
        m->build_id_len = nh->n_descsz;
        return true;
      }
      p = next;
    }
  }
  return true;
}

}  // namespace

int for_each_module(void (*fn)(const ModuleEntry& module, void* ctx), void* ctx) {
  int saved = errno;
  int fd;
  do fd = sys::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    errno = saved;
    return -1;
  }
  char line[4352];
  size_t len = 0;
  bool overlong = false;
  char chunk[1024];
  int count = 0;
  while (true) {
    ssize_t n = sys::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) {
      char c = chunk[i];
      if (c != '\n') {
        if (len + 1 < sizeof line) line[len++] = c;
        else overlong = true;
        continue;
      }
      line[len] = '\0';
      // start-end perms offset dev inode path
      const char* p = line;
      uintptr_t start, end, offset;
      if (!overlong && parse_hex(p, &start) && *p++ == '-' && parse_hex(p, &end) && *p == ' ') {
        p++;
        bool readable = p[0] == 'r';
        skip_field(p);
        if (parse_hex(p, &offset) && offset == 0 && readable) {
          skip_field(p);  // offset
          skip_field(p);  // dev
          skip_field(p);  // inode
          ModuleEntry m;
          if (*p == '/' && describe_elf(start, end, &m)) {
            m.path = p;
            fn(m, ctx);
            count++;
          }
        }
      }
      len = 0;
      overlong = false;
    }
  }
  sys::close(fd);
  errno = saved;
  return count;
}

}  // namespace fh
