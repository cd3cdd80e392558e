// Module map from /proc/self/maps plus the ELF program headers already in memory (see modules.h).
#include "symbols/modules.h"

#include "symbols/safe_io.h"  // sys::open/read/close: no cancellation point in the shim

#include <elf.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

// Copies n bytes of this process's memory at `src`: process_vm_readv, which answers EFAULT where a plain read
// would raise SIGBUS (a file truncated under its mapping) or SIGSEGV. Where the call itself is refused (a seccomp
// sandbox), the mapping the kernel listed is read directly, as it was before.
bool copy_mapped(pid_t self, void* dst, uintptr_t src, size_t n) {
  struct iovec local = {dst, n};
  struct iovec remote = {reinterpret_cast<void*>(src), n};
  long got = sys::call(SYS_process_vm_readv, self, &local, 1UL, &remote, 1UL, 0UL);
  if (got == static_cast<long>(n)) return true;
  if (got >= 0 || errno == EFAULT || errno == ESRCH) return false;
  __builtin_memcpy(dst, reinterpret_cast<const void*>(src), n);
  return true;
}

constexpr int max_phdrs = 64;
constexpr size_t max_notes = 1024;  // the build-id note comes first or second in every toolchain's layout

// Reads the ELF header and program headers at `start`, which must lie inside the readable mapping
// [start, map_end): we never touch memory outside a mapping the kernel listed (gaps may be PROT_NONE), and read
// it by copies (copy_mapped).
bool describe_elf(pid_t self, uintptr_t start, uintptr_t map_end, ModuleEntry* m) {
  Elf64_Ehdr eh;
  if (map_end - start < sizeof eh || !copy_mapped(self, &eh, start, sizeof eh)) return false;
  if (eh.e_ident[EI_MAG0] != ELFMAG0 || eh.e_ident[EI_MAG1] != ELFMAG1 || eh.e_ident[EI_MAG2] != ELFMAG2 ||
      eh.e_ident[EI_MAG3] != ELFMAG3 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return false;
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) return false;
  uintptr_t ph_start = start + eh.e_phoff;
  uintptr_t ph_end = ph_start + static_cast<uintptr_t>(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || ph_end > map_end || ph_end < ph_start || eh.e_phnum > max_phdrs)
    return false;
  Elf64_Phdr ph[max_phdrs];
  if (!copy_mapped(self, ph, ph_start, ph_end - ph_start)) return false;

  bool have_bias = false;
  uintptr_t bias = 0, hi = 0;
  for (int i = 0; i < eh.e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    if (!have_bias && ph[i].p_offset == 0) {
      // The mapping at file offset 0 is this segment's first page.
      uintptr_t page = ph[i].p_align > 1 ? ph[i].p_align : 4096;
      bias = start - (ph[i].p_vaddr & ~(page - 1));
      have_bias = true;
    }
  }
  if (!have_bias) return false;
  for (int i = 0; i < eh.e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && bias + ph[i].p_vaddr + ph[i].p_memsz > hi) hi = bias + ph[i].p_vaddr + ph[i].p_memsz;
  m->lo = start;
  m->hi = hi;
  m->bias = bias;
  m->build_id_len = 0;

  for (int i = 0; i < eh.e_phnum; i++) {
    if (ph[i].p_type != PT_NOTE) continue;
    uintptr_t at = bias + ph[i].p_vaddr;
    size_t size = ph[i].p_filesz < max_notes ? ph[i].p_filesz : max_notes;
    if (at < start || at + size > map_end || at + size < at) continue;
    alignas(8) unsigned char notes[max_notes];
    if (!copy_mapped(self, notes, at, size)) continue;
    for (size_t p = 0; p + sizeof(Elf64_Nhdr) <= size;) {
      Elf64_Nhdr nh;
      __builtin_memcpy(&nh, notes + p, sizeof nh);
      size_t name = p + sizeof(Elf64_Nhdr);
      size_t desc = name + ((nh.n_namesz + 3) & ~size_t{3});
      size_t next = desc + ((nh.n_descsz + 3) & ~size_t{3});
      if (next > size || next <= p) break;
      const unsigned char* n = notes + name;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && n[0] == 'G' && n[1] == 'N' && n[2] == 'U' &&
          nh.n_descsz > 0 && nh.n_descsz <= sizeof m->build_id) {
        for (size_t k = 0; k < nh.n_descsz; k++) m->build_id[k] = notes[desc + k];
        m->build_id_len = nh.n_descsz;
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
  pid_t self = static_cast<pid_t>(sys::call(SYS_getpid));
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
          if (*p == '/' && describe_elf(self, start, end, &m)) {
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
