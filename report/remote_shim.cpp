// The shim inside a watched process, read from outside (remote_shim.h).
#include "report/remote_shim.h"

#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "report/proc_files.h"
#include "report/python_remote.h"
#include "shim/python.h"
#include "report/stack_view.h"
#include "shim/protocol.h"

namespace fh::watchdog {

// The shim's records, written as its own report writer writes them.
using shim::HeldLock;
using shim::lock_type_name;
using shim::max_acq_pcs;
using shim::max_held;
using shim::max_threads;
namespace core = shim::core;

namespace {

// The protocol word of a lock type the shim records as held.

std::string held_line(const HeldLock& h) {
  uint64_t pcs[max_acq_pcs];
  size_t npcs = std::min<size_t>(h.npcs, max_acq_pcs);
  std::copy(h.pcs, h.pcs + npcs, pcs);
  using namespace protocol;
  return ProtocolLine(rec::held).hex(key::held_addr, reinterpret_cast<uintptr_t>(h.addr))
      .word(key::held_type, lock_type_name(h.type)).num(key::held_depth, h.depth).pcs(key::held_pcs, pcs, npcs).line();
}

}  // namespace

std::string thread_lines(pid_t pid, const ThreadSlot& s, int tid, const char* relation, const std::string& python) {
  std::string name(s.name, strnlen(s.name, sizeof s.name));
  uintptr_t created[max_site_pcs];
  size_t ncreated = std::min<size_t>(s.ncreated, max_site_pcs);
  std::copy(s.created, s.created + ncreated, created);
  using namespace protocol;
  std::string out = ProtocolLine(rec::thread).num(key::thread_tid, tid).text(key::thread_name, name)
                        .word(key::thread_relation, relation).pcs(key::thread_created, created, ncreated).line();
  for (uint32_t i = 0; i < s.nheld && i < max_held; ++i) out += held_line(s.held[i]);
  core::for_each_held_by_word(
      s, tid,
      [pid](const void* addr, void* dst, size_t n) { return read_remote(pid, reinterpret_cast<uint64_t>(addr), dst, n); },
      [&out](const HeldLock& h) { out += held_line(h); });
  return out + pyframe_lines(python, static_cast<unsigned long>(s.handle));
}

std::string pyframe_lines(const std::string& python, unsigned long thread) {
  using namespace protocol;
  std::string out;
  shim::python::for_each_frame(python.data(), python.size(), thread,
                               [&out](const char* file, size_t file_len, long line, const char* func, size_t func_len) {
                                 out += ProtocolLine(rec::pyframe).text(key::pyframe_file, std::string_view(file, file_len))
                                            .num(key::pyframe_line, line)
                                            .text(key::pyframe_function, std::string_view(func, func_len)).line();
                               });
  return out;
}

std::string python_text(pid_t pid, const RemoteShim& shim) {
  size_t len = 0;
  const RemoteState& r = shim.remote;
  if (r.python_text != nullptr && r.python_len != nullptr &&
      read_remote(pid, reinterpret_cast<uint64_t>(r.python_len), &len, sizeof len) && len > 0 && len <= r.python_size) {
    std::string text(len, '\0');
    if (read_remote(pid, reinterpret_cast<uint64_t>(r.python_text), text.data(), len)) return text;
    return {};
  }
  // Not made yet in the process: made here from its snapshot, reading its code objects from outside.
  using shim::python::walk::Snapshot;
  if (r.python_snapshot == nullptr || r.snapshot_size != sizeof(Snapshot)) return {};
  auto snapshot = std::make_unique<Snapshot>();
  auto at = reinterpret_cast<uint64_t>(r.python_snapshot);
  if (!read_remote(pid, at, snapshot.get(), offsetof(Snapshot, threads)) || snapshot->runtime == 0 ||
      snapshot->nthreads > Snapshot::max_threads || snapshot->nframes > Snapshot::max_frames ||
      !read_remote(pid, at + offsetof(Snapshot, threads), snapshot->threads, snapshot->nthreads * sizeof(Snapshot::Thread)) ||
      !read_remote(pid, at + offsetof(Snapshot, frames), snapshot->frames, snapshot->nframes * sizeof(Snapshot::Frame)))
    return {};
  return snapshot_text(pid, *snapshot);
}



std::string python_thread_now(pid_t pid, const RemoteShim& shim, unsigned long thread) {
  using shim::python::walk::Snapshot;
  const RemoteState& r = shim.remote;
  Snapshot head;
  if (r.python_snapshot == nullptr || r.snapshot_size != sizeof(Snapshot) ||
      !read_remote(pid, reinterpret_cast<uint64_t>(r.python_snapshot), &head, offsetof(Snapshot, threads)) ||
      head.runtime == 0)
    return {};
  return live_stack(pid, head.runtime, head.layout, head.layout.ts_thread_id, thread, false);
}

ShimFile read_shim_file(const std::string& path) {
  ShimFile shim;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    shim.problem = "cannot open " + path + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    return shim;
  }
  shim.inode = st.st_ino;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  bool found_symbol = false, found_page = false;
  size_t nphdr = 0;
  if (elf != nullptr && elf_getphdrnum(elf, &nphdr) == 0) {
    for (size_t i = 0; i < nphdr && !found_page; ++i) {
      GElf_Phdr phdr;
      if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr || phdr.p_type != PT_LOAD || phdr.p_offset != 0)
        continue;
      uint64_t align = phdr.p_align > 1 ? phdr.p_align : 4096;
      shim.first_page = phdr.p_vaddr & ~(align - 1);
      found_page = true;
    }
    for_each_dynsym(elf, [&](const GElf_Sym& sym, const char* name) {
      if (std::strcmp(name, remote_symbol) != 0) return false;
      shim.symbol = sym.st_value;
      found_symbol = true;
      return true;
    });
  }
  if (elf != nullptr) elf_end(elf);
  close(fd);
  shim.usable = found_symbol && found_page;
  if (!shim.usable)
    shim.problem = path + " does not export " + remote_symbol + " (a build without the watchdog's interface)";
  return shim;
}

std::optional<uint64_t> shim_bias(pid_t pid, const std::string& path, const ShimFile& shim, std::string* buffer) {
  if (!read_file(proc_path(pid, "maps"), buffer)) return std::nullopt;
  std::string_view text = *buffer;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    // start-end perms offset dev inode path
    std::vector<std::string_view> w = words(line);
    uint64_t start = 0, offset = 1;
    ino_t inode = 0;
    if (w.size() < 6 || !parse_hex(w[0].substr(0, w[0].find('-')), &start) || !parse_hex(w[2], &offset) ||
        offset != 0 || !parse_dec(w[4], &inode))
      continue;
    size_t at = line.find('/');
    if (at == std::string_view::npos) continue;
    std::string_view mapped = line.substr(at);
    // The same file under another name (a bind mount, a symlinked directory): same inode and file name.
    auto base = [](std::string_view p) { return p.substr(p.rfind('/') + 1); };
    if (mapped == path || (inode == shim.inode && base(mapped) == base(path))) return start - shim.first_page;
  }
  return std::nullopt;
}


std::optional<RemoteShim> read_remote_shim(pid_t pid, uint64_t bias, const ShimFile& shim, std::string* problem) {
  RemoteShim state;
  if (!read_remote(pid, bias + shim.symbol, &state.remote, sizeof state.remote)) return std::nullopt;
  const RemoteState& r = state.remote;
  if (r.magic != remote_magic || r.version != remote_version || r.process_size != sizeof(ProcessState) ||
      r.slot_size != sizeof(ThreadSlot) || r.max_threads != max_threads) {
    *problem = "process " + std::to_string(pid) + " runs a libforkhazard.so of another build (state version " +
               std::to_string(r.version) + ", sizes " + std::to_string(r.process_size) + "/" +
               std::to_string(r.slot_size) + "; this forkhazard reads version " + std::to_string(remote_version) +
               ", sizes " + std::to_string(sizeof(ProcessState)) + "/" + std::to_string(sizeof(ThreadSlot)) + ")";
    return std::nullopt;
  }
  if (!read_remote(pid, reinterpret_cast<uintptr_t>(r.process), &state.process, sizeof state.process))
    return std::nullopt;
  return state;
}

std::vector<ThreadSlot> read_slots(pid_t pid, const RemoteShim& shim) {
  size_t used = std::min<size_t>(shim.process.slots_used, max_threads);
  std::vector<ThreadSlot> slots(used);
  if (used > 0 && !read_remote(pid, reinterpret_cast<uintptr_t>(shim.remote.slots), slots.data(),
                               used * sizeof(ThreadSlot)))
    slots.clear();
  return slots;
}

}  // namespace fh::watchdog
