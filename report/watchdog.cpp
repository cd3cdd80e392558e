// The hang watchdog of `forkhazard run` (watchdog.h): poll, judge, take the stack from outside, report, end.
//
// Why elfutils' libdwfl, not libunwind-ptrace, unwinds the blocked process: libdw is already the CLI's
// dependency (it symbolizes every report), so the watchdog adds no library; libdwfl reads the target's own CFI
// (.eh_frame, and .debug_frame when separate debug info is installed), so it walks through frames that have no
// frame pointer and no exported symbol, such as libgomp's barrier code down to GOMP_parallel and the program's
// function; it is what eu-stack uses (dwfl_linux_proc_report + dwfl_linux_proc_attach +
// dwfl_getthread_frames), it reads memory with process_vm_readv, and it lets us keep the process stopped under
// our own PTRACE_SEIZE (assume_ptrace_stopped), so the stack, the report and the injected exit happen in one
// stop of the target. The same session names the module and symbol of the futex word and the exported function
// the wait is in.
#include "report/watchdog.h"

#include <dirent.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <linux/futex.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "report/catalogue.h"
#include "report/wait_kinds.h"
#include "shim/core.h"
#include "shim/glibc_locks.h"
#include "shim/options.h"
#include "shim/protocol.h"
#include "shim/remote.h"
#include "shim/wait_rule.h"

namespace fh::watchdog {

const long futex_syscall = SYS_futex;

namespace {

// ---- small text helpers ----------------------------------------------------------------------------------------

bool parse_hex(std::string_view text, uint64_t* value) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 16);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

template <typename T>
bool parse_dec(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, 10);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// The whitespace-separated words of `text`.
std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\t')) ++pos;
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

// A protocol value (shim/protocol.h): bytes outside 0x21..0x7e and '%' ',' '=' as %XX, a leading '-' as %2D,
// the empty value as "-".
std::string protocol_value(std::string_view text) {
  if (text.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x21 || c > 0x7e || c == '%' || c == ',' || c == '=' || (i == 0 && c == '-')) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string pc_list(const uint64_t* pcs, size_t n) {
  if (n == 0) return "-";
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i ? "," : "") + hex(pcs[i]);
  return out;
}

bool read_file(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char chunk[4096];
  while (true) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return n == 0;
    }
    out->append(chunk, static_cast<size_t>(n));
  }
}

std::string proc_path(pid_t pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

bool read_remote(pid_t pid, uint64_t addr, void* dst, size_t len) {
  iovec local{dst, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

// ---- the shim inside a process -----------------------------------------------------------------------------------

// The protocol word of a lock type the shim records as held.
const char* held_type(LockType type) {
  switch (type) {
    case LockType::mutex: return protocol::type_mutex;
    case LockType::rwlock_read: return protocol::type_rwlock_read;
    case LockType::rwlock_write: return protocol::type_rwlock_write;
    case LockType::semaphore: return protocol::type_semaphore;
  }
  return "?";
}

std::string held_line(const HeldLock& h) {
  uint64_t pcs[max_acq_pcs];
  size_t npcs = std::min<size_t>(h.npcs, max_acq_pcs);
  std::copy(h.pcs, h.pcs + npcs, pcs);
  return "held addr=" + hex(reinterpret_cast<uintptr_t>(h.addr)) + " type=" + held_type(h.type) +
         " depth=" + std::to_string(h.depth) + " pcs=" + pc_list(pcs, npcs) + "\n";
}

// `thread` and `held` lines of one slot of process `pid`, as the shim's own report writes them
// (shim/report.cpp write_thread): the held stack, then the mutexes whose lock words name the thread.
std::string thread_lines(pid_t pid, const ThreadSlot& s, int tid, const char* relation) {
  std::string name(s.name, strnlen(s.name, sizeof s.name));
  uintptr_t created[max_site_pcs];
  size_t ncreated = std::min<size_t>(s.ncreated, max_site_pcs);
  std::copy(s.created, s.created + ncreated, created);
  std::string out = "thread tid=" + std::to_string(tid) + " name=" + protocol_value(name) +
                    " relation=" + relation + " created=" + pc_list(created, ncreated) + "\n";
  for (uint32_t i = 0; i < s.nheld && i < max_held; ++i) out += held_line(s.held[i]);
  core::for_each_held_by_word(
      s, tid,
      [pid](const void* addr, void* dst, size_t n) { return read_remote(pid, reinterpret_cast<uint64_t>(addr), dst, n); },
      [&out](const HeldLock& h) { out += held_line(h); });
  return out;
}

// Calls fn(symbol, name) for each defined symbol of the ELF file's .dynsym until fn returns true.
template <class Fn>
void for_each_dynsym(Elf* elf, Fn fn) {
  Elf_Scn* scn = nullptr;
  while (elf != nullptr && (scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_DYNSYM || shdr.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    for (size_t i = 0; data != nullptr && i < shdr.sh_size / shdr.sh_entsize; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr || sym.st_shndx == SHN_UNDEF) continue;
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name != nullptr && fn(sym, name)) return;
    }
  }
}

// ---- the stack, from outside -------------------------------------------------------------------------------------

char* default_debuginfo_path = nullptr;
const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = &default_debuginfo_path,
};

constexpr size_t max_frames = 64;  // the shim's stack_depth at most

struct Frames {
  std::vector<uint64_t> pcs;  // innermost first; every one but the first is a return address
  std::vector<bool> activation;
};

int collect_frame(Dwfl_Frame* state, void* arg) {
  auto* frames = static_cast<Frames*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(state, &pc, &activation)) return DWARF_CB_ABORT;
  frames->pcs.push_back(pc);
  frames->activation.push_back(activation);
  return frames->pcs.size() < max_frames ? DWARF_CB_OK : DWARF_CB_ABORT;
}

// A libdwfl session on a live process: its modules from /proc/PID/maps, and its exported names.
class ProcessView {
 public:
  explicit ProcessView(pid_t pid) : pid_(pid) {
    dwfl_ = dwfl_begin(&proc_callbacks);
    if (dwfl_ == nullptr) return;
    dwfl_report_begin(dwfl_);
    int r = dwfl_linux_proc_report(dwfl_, pid);
    dwfl_report_end(dwfl_, nullptr, nullptr);
    if (r != 0) {
      dwfl_end(dwfl_);
      dwfl_ = nullptr;
    }
  }
  ~ProcessView() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }
  ProcessView(const ProcessView&) = delete;
  ProcessView& operator=(const ProcessView&) = delete;

  bool usable() const { return dwfl_ != nullptr; }

  // The thread's frames; the process must be stopped under our ptrace.
  Frames unwind() {
    Frames frames;
    if (dwfl_ == nullptr || dwfl_linux_proc_attach(dwfl_, pid_, true) != 0) return frames;
    dwfl_getthread_frames(dwfl_, pid_, collect_frame, &frames);  // frames found before an error are kept
    return frames;
  }

  // The symbol containing `pc` and the names the module exports for that function.
  FrameSymbols symbols(uint64_t pc) {
    FrameSymbols out;
    Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr;
    if (mod == nullptr) return out;
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr);
    if (name == nullptr) return out;
    out.symbol = name;
    auto range = exports(mod).equal_range(pc - offset);
    for (auto it = range.first; it != range.second; ++it) out.exported.push_back(it->second);
    return out;
  }

  // The path of the module holding `pc` ("" when none).
  std::string module_path(uint64_t pc) {
    Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr;
    const char* name = mod != nullptr ? dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr)
                                      : nullptr;
    return name != nullptr ? name : "";
  }

  // The module holding `pc` (nullptr when none): frames of one module enter it through one call.
  const void* module_of(uint64_t pc) { return dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr; }

  // The exported names of the function that the call instruction just before `return_address` called: a direct
  // `call rel32`, or `call *slot(%rip)` (-fno-plt), through at most one PLT stub (`jmp *slot(%rip)`, after an
  // optional endbr64 and bnd prefix) whose GOT slot is read from the process. Empty when it is none of these.
  std::vector<std::string> entered_through(uint64_t return_address) {
#if defined(__x86_64__)
    unsigned char call[6];
    if (!read_remote(pid_, return_address - sizeof call, call, sizeof call)) return {};
    auto disp32 = [](const unsigned char* p) {
      int32_t d;
      std::memcpy(&d, p, sizeof d);
      return static_cast<int64_t>(d);
    };
    uint64_t target = 0;
    if (call[1] == 0xe8) {
      target = return_address + disp32(call + 2);
    } else if (call[0] == 0xff && call[1] == 0x15) {
      if (!read_remote(pid_, return_address + disp32(call + 2), &target, sizeof target)) return {};
    } else {
      return {};
    }
    if (module_of(target) == module_of(return_address)) {  // a PLT stub of the caller's module
      unsigned char stub[16];
      if (!read_remote(pid_, target, stub, sizeof stub)) return {};
      size_t at = 0;
      if (stub[0] == 0xf3 && stub[1] == 0x0f && stub[2] == 0x1e && stub[3] == 0xfa) at = 4;  // endbr64
      if (stub[at] == 0xf2) ++at;                                                           // bnd
      if (stub[at] != 0xff || stub[at + 1] != 0x25) return {};
      uint64_t slot = target + at + 6 + disp32(stub + at + 2);
      if (!read_remote(pid_, slot, &target, sizeof target)) return {};
    }
    FrameSymbols callee = symbols(target);
    return callee.exported;
#else
    (void)return_address;
    return {};
#endif
  }

  // "_rtld_global+0xa50" when `addr` lies inside a sized symbol of its module, else "".
  std::string data_symbol(uint64_t addr) {
    Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, addr) : nullptr;
    if (mod == nullptr) return {};
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(mod, addr, &offset, &sym, nullptr, nullptr, nullptr);
    if (name == nullptr || offset >= sym.st_size) return {};
    std::string text = name;
    if (offset != 0) text += "+" + hex(offset);
    return text;
  }

  // `module` lines, as the shim writes them (symbols/modules.cpp): lo = start of the mapping at file offset 0,
  // hi = end of the highest PT_LOAD in memory (.bss included), bias, build-id, path.
  std::string module_lines() {
    std::string out;
    if (dwfl_ != nullptr) dwfl_getmodules(dwfl_, add_module_line, &out, 0);
    return out;
  }

 private:
  static int add_module_line(Dwfl_Module* mod, void**, const char* name, Dwarf_Addr start, void* arg) {
    auto* out = static_cast<std::string*>(arg);
    if (name == nullptr || name[0] != '/') return DWARF_CB_OK;  // [vdso], [heap]: no file to symbolize from
    GElf_Addr bias = 0;
    Elf* elf = dwfl_module_getelf(mod, &bias);
    Dwarf_Addr lo = start, hi = 0;
    dwfl_module_info(mod, nullptr, &lo, &hi, nullptr, nullptr, nullptr, nullptr);
    size_t nphdr = 0;
    if (elf != nullptr && elf_getphdrnum(elf, &nphdr) == 0) {
      for (size_t i = 0; i < nphdr; ++i) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf, static_cast<int>(i), &phdr) != nullptr && phdr.p_type == PT_LOAD)
          hi = std::max<Dwarf_Addr>(hi, bias + phdr.p_vaddr + phdr.p_memsz);
      }
    }
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    std::string build_id;
    for (int i = 0; i < len; ++i) {
      build_id += "0123456789abcdef"[bits[i] >> 4];
      build_id += "0123456789abcdef"[bits[i] & 15];
    }
    *out += "module lo=" + hex(lo) + " hi=" + hex(hi) + " bias=" + hex(bias) +
            " build_id=" + (build_id.empty() ? "-" : build_id) + " path=" + protocol_value(name) + "\n";
    return DWARF_CB_OK;
  }

  // Function start -> exported names (.dynsym: defined functions, global or weak, default visibility).
  const std::multimap<uint64_t, std::string>& exports(Dwfl_Module* mod) {
    auto [it, inserted] = exports_.try_emplace(mod);
    if (!inserted) return it->second;
    GElf_Addr bias = 0;
    for_each_dynsym(dwfl_module_getelf(mod, &bias), [&](const GElf_Sym& sym, const char* name) {
      int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
      if ((type == STT_FUNC || type == STT_GNU_IFUNC) && (bind == STB_GLOBAL || bind == STB_WEAK) &&
          GELF_ST_VISIBILITY(sym.st_other) == STV_DEFAULT)
        it->second.emplace(sym.st_value + bias, name);
      return false;
    });
    return it->second;
  }

  pid_t pid_;
  Dwfl* dwfl_ = nullptr;
  std::map<Dwfl_Module*, std::multimap<uint64_t, std::string>> exports_;
};

// ---- ptrace ------------------------------------------------------------------------------------------------------

// Stops `pid` under PTRACE_SEIZE + PTRACE_INTERRUPT. Returns 0, or the errno of the refusal. *abandoned is set
// (and the process let go) when it stopped for a signal rather than our interrupt (the signal is handed back on
// detach), or ended meanwhile.
int seize_and_stop(pid_t pid, bool* abandoned) {
  *abandoned = false;
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) != 0) return errno;
  if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) {
    int err = errno;
    ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    return err;
  }
  // A sleeping task stops at once; one that does not within a second (stuck in the kernel) is given up on, and
  // stays ours until this process ends and the kernel detaches it.
  for (int waited_ms = 0;; ++waited_ms) {
    int status = 0;
    pid_t r = waitpid(pid, &status, __WALL | WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (waited_ms == 1000) {
        *abandoned = true;
        return 0;
      }
      usleep(1000);
      continue;
    }
    if (r != pid || !WIFSTOPPED(status)) {  // it ended meanwhile
      *abandoned = true;
      return 0;
    }
    if (status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP) return 0;
    // A signal arrived first (its alarm, say): let it have it, and leave the process alone.
    ptrace(PTRACE_DETACH, pid, nullptr, reinterpret_cast<void*>(static_cast<uintptr_t>(WSTOPSIG(status))));
    *abandoned = true;
    return 0;
  }
}

// Makes the stopped thread, blocked in futex(word), run exit_group(code) when it resumes: back up to its
// `syscall` instruction with the exit_group number in rax, and orig_rax = -1 so that the kernel's restart of
// the interrupted futex call does not undo it. Empty on success, else why not.
std::string inject_exit_group(pid_t pid, uint64_t word, int code) {
#if defined(__x86_64__)
  user_regs_struct regs;
  if (ptrace(PTRACE_GETREGS, pid, nullptr, &regs) != 0) return std::string("PTRACE_GETREGS: ") + strerror(errno);
  if (static_cast<long>(regs.orig_rax) != futex_syscall || regs.rdi != word)
    return "it is no longer in the futex wait";
  errno = 0;
  long text = ptrace(PTRACE_PEEKTEXT, pid, reinterpret_cast<void*>(regs.rip - 2), nullptr);
  if (errno != 0 || (text & 0xffff) != 0x050f) return "no syscall instruction before its pc";
  regs.rip -= 2;
  regs.orig_rax = ~0ull;
  regs.rax = SYS_exit_group;
  regs.rdi = static_cast<unsigned long long>(code);
  if (ptrace(PTRACE_SETREGS, pid, nullptr, &regs) != 0) return std::string("PTRACE_SETREGS: ") + strerror(errno);
  return {};
#else
  (void)pid;
  (void)word;
  (void)code;
  return "exit injection is implemented for x86_64 only";
#endif
}

// Whether SIGABRT would end the process with its default action: no handler, not blocked, not ignored.
bool abort_kills(const ProcStatus& status) {
  uint64_t bit = signal_bit(SIGABRT);
  return ((status.caught | status.blocked | status.ignored) & bit) == 0;
}

// Whether the shim already reported a deadlock of process `pid` in `dir` (fh.<pid>, fh.<pid>.<n>): it hangs
// because on_deadlock=continue said so, and one report is enough.
bool shim_reported_deadlock(const std::string& dir, pid_t pid) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  std::string prefix = "fh." + std::to_string(pid), text;
  bool found = false;
  while (dirent* entry = readdir(d)) {
    std::string_view name = entry->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());
    if (!rest.empty() && (rest[0] != '.' || rest.find_first_not_of("0123456789", 1) != std::string_view::npos))
      continue;
    if (read_file(dir + "/" + std::string(name), &text) &&
        (text.find("\nhazard kind=" + std::string(protocol::kind_deadlock) + " ") != std::string::npos ||
         text.find("\nhazard kind=" + std::string(protocol::kind_deadlock) + "\n") != std::string::npos))
      found = true;
  }
  closedir(d);
  return found;
}

}  // namespace

// ---- parsers -------------------------------------------------------------------------------------------------------

std::optional<SyscallLine> parse_syscall(std::string_view text) {
  std::vector<std::string_view> w = words(text);
  SyscallLine line;
  if (w.size() != 9 || !parse_dec(w[0], &line.nr) || line.nr < 0) return std::nullopt;
  for (int i = 0; i < 6; ++i)
    if (!parse_hex(w[1 + i], &line.args[i])) return std::nullopt;
  if (!parse_hex(w[7], &line.sp) || !parse_hex(w[8], &line.pc)) return std::nullopt;
  return line;
}

std::optional<ProcStat> parse_stat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> w = words(text.substr(paren + 1));
  // After the command: state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads(20).
  ProcStat stat;
  if (w.size() < 18 || w[0].size() != 1 || !parse_dec(w[1], &stat.ppid) || !parse_dec(w[17], &stat.threads))
    return std::nullopt;
  stat.state = w[0][0];
  return stat;
}

std::optional<ProcStatus> parse_status(std::string_view text) {
  ProcStatus status;
  bool caught = false, blocked = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::vector<std::string_view> value = words(line.substr(colon + 1));
    if (value.size() != 1) continue;
    if (key == "Threads") parse_dec(value[0], &status.threads);
    if (key == "SigCgt") caught = parse_hex(value[0], &status.caught);
    if (key == "SigBlk") blocked = parse_hex(value[0], &status.blocked);
    if (key == "SigIgn") parse_hex(value[0], &status.ignored);
    if (key == "voluntary_ctxt_switches") parse_dec(value[0], &status.voluntary_switches);
  }
  if (status.threads < 0 || !caught || !blocked || status.voluntary_switches < 0) return std::nullopt;
  return status;
}

uint64_t parse_timer_signals(std::string_view text) {
  // Per timer: "ID: n", "signal: S/sigval", "notify: signal/pid.N" (or thread/tid.N, none/...), "ClockID: c".
  uint64_t signals = 0;
  int signal = 0;
  for (std::string_view line : [&] {
         std::vector<std::string_view> lines;
         for (size_t pos = 0; pos < text.size();) {
           size_t eol = std::min(text.find('\n', pos), text.size());
           lines.push_back(text.substr(pos, eol - pos));
           pos = eol + 1;
         }
         return lines;
       }()) {
    std::vector<std::string_view> w = words(line);
    if (w.size() != 2) continue;
    if (w[0] == "signal:") {
      signal = 0;
      parse_dec(w[1].substr(0, w[1].find('/')), &signal);
    } else if (w[0] == "notify:" && w[1].substr(0, 4) != "none" && signal >= 1 && signal <= 64) {
      signals |= signal_bit(signal);
    }
  }
  return signals;
}

// ---- the rule ------------------------------------------------------------------------------------------------------

Judgement judge_wait(const SyscallLine& call, const ProcStatus& status, uint64_t timer_signals) {
  if (status.threads != 1) return Judgement::multithreaded;
  if (call.nr != futex_syscall) return Judgement::not_futex_wait;
  uint64_t op = call.args[1];
  uint64_t command = op & ~static_cast<uint64_t>(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  if (command != FUTEX_WAIT && command != FUTEX_WAIT_BITSET) return Judgement::not_futex_wait;
  if ((op & FUTEX_PRIVATE_FLAG) == 0) return Judgement::shared_futex;
  if (call.args[3] != 0) return Judgement::timed_wait;
  // A blocked signal cannot interrupt the wait (and only this thread could unblock it); a POSIX timer may
  // deliver even SIGINT.
  uint64_t can_run = status.caught & ~status.blocked;
  if ((timer_signals & can_run) != 0) return Judgement::handler_may_wake;
  switch (what_may_end_wait(can_run)) {
    case WaitEnd::never: return Judgement::endless;
    case WaitEnd::interrupt: return Judgement::interrupt_only;
    case WaitEnd::handler: return Judgement::handler_may_wake;
  }
  return Judgement::handler_may_wake;
}

const char* judgement_words(Judgement judgement) {
  switch (judgement) {
    case Judgement::endless: return "a wait nothing left in the process can end";
    case Judgement::not_futex_wait: return "not a futex wait";
    case Judgement::shared_futex: return "a wait on a shared futex (another process may wake it)";
    case Judgement::timed_wait: return "a timed wait";
    case Judgement::multithreaded: return "a process with more than one thread";
    case Judgement::handler_may_wake: return "a wait a signal handler may end";
    case Judgement::interrupt_only: return "a wait only its SIGINT handler could end";
  }
  return "?";
}

// ---- the call ------------------------------------------------------------------------------------------------------

std::string pick_call(const std::vector<FrameSymbols>& frames) {
  // "dlopen@@GLIBC_2.34" in a .symtab is dlopen.
  auto plain = [](const std::string& name) { return name.substr(0, name.find('@')); };
  for (const FrameSymbols& frame : frames) {
    if (!frame.symbol.empty() && catalogued_family(plain(frame.symbol))) return plain(frame.symbol);
    for (const auto* names : {&frame.exported, &frame.entered})
      for (const std::string& name : *names)
        if (catalogued_family(plain(name))) return plain(name);
  }
  auto plumbing = [](std::string_view name) {
    return name.substr(0, 2) == "__" || name.substr(0, 4) == "_dl_" || name.substr(0, 4) == "_IO_";
  };
  for (const FrameSymbols& frame : frames) {
    // The symbol's own name first when it is exported, then its aliases, then the function it was entered by.
    for (const std::string& name : frame.exported)
      if (plain(name) == plain(frame.symbol) && !plumbing(name)) return plain(name);
    for (const auto* names : {&frame.exported, &frame.entered})
      for (const std::string& name : *names)
        if (!plumbing(name)) return plain(name);
  }
  for (const FrameSymbols& frame : frames)
    if (!frame.symbol.empty()) return plain(frame.symbol);
  return "futex";
}

// ---- options -------------------------------------------------------------------------------------------------------

namespace {

// The limits of exitcode, from the shim's table.
#define FH_OPTION_STRING(name, def, desc)
#define FH_OPTION_CHOICE(name, def, choices, desc)
#define FH_OPTION_INT(name, def, lo, hi, desc) [[maybe_unused]] constexpr long name##_lo = lo, name##_hi = hi;
#define FH_OPTION_BOOL(name, def, desc)
#include "shim/options.def"
#undef FH_OPTION_STRING
#undef FH_OPTION_CHOICE
#undef FH_OPTION_INT
#undef FH_OPTION_BOOL

Action action_of(int on_deadlock) {
  switch (on_deadlock) {
    case on_deadlock_abort: return Action::abort;
    case on_deadlock_continue: return Action::report_only;
    default: return Action::exit;
  }
}

}  // namespace

DeadlockAction action_of_process(uint32_t on_deadlock, int exitcode) {
  DeadlockAction action;
  action.action = action_of(static_cast<int>(on_deadlock));
  if (exitcode >= exitcode_lo && exitcode <= exitcode_hi) action.exitcode = exitcode;
  return action;
}

// ---- the watchdog --------------------------------------------------------------------------------------------------

namespace {

// libforkhazard.so's own facts: where its forkhazard_remote_state lies relative to its load address.
struct ShimFile {
  bool usable = false;
  uint64_t symbol = 0;      // st_value of forkhazard_remote_state
  uint64_t first_page = 0;  // page of the PT_LOAD at file offset 0: load bias = that mapping's start - first_page
  ino_t inode = 0;
  std::string problem;      // why it is not usable
};

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

// The load bias of the shim in process `pid` (its mapping at file offset 0, found by path or inode), or nullopt
// when the process has not loaded it (a static program, one exec'd without LD_PRELOAD).
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

struct RemoteShim {
  RemoteState remote;
  ProcessState process;
};

// The shim state of `pid`; nullopt when it cannot be read, with *problem set when the shim is from another build.
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

// The registry slots [0, slots_used) of a process (empty when they cannot be read).
std::vector<ThreadSlot> read_slots(pid_t pid, const RemoteShim& shim) {
  size_t used = std::min<size_t>(shim.process.slots_used, max_threads);
  std::vector<ThreadSlot> slots(used);
  if (used > 0 && !read_remote(pid, reinterpret_cast<uintptr_t>(shim.remote.slots), slots.data(),
                               used * sizeof(ThreadSlot)))
    slots.clear();
  return slots;
}

// A file descriptor closed when it goes out of scope, unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct Observed {
  SyscallLine call;
  int64_t switches = -1;
  bool operator==(const Observed&) const = default;
};

struct Process {
  pid_t pid;
  ProcStat stat;
};

enum class Outcome { judged, declined, retry };

}  // namespace

// The /proc files every poll reads, kept open and read with pread at offset 0 (a seq_file regenerates its text):
// one system call per file and poll instead of a path lookup, an open, two reads and a close.
class ProcFiles {
 public:
  enum Kind { stat, syscall_line, children };

  ProcFiles() = default;
  ProcFiles(const ProcFiles&) = delete;
  ProcFiles& operator=(const ProcFiles&) = delete;
  ~ProcFiles() {
    for (auto& [key, fd] : fds_) close(fd);
  }

  // /proc/<pid>/stat, /proc/<pid>/syscall or /proc/<pid>/task/<tid>/children into *out; false with errno set.
  bool read(pid_t pid, Kind kind, pid_t tid, std::string* out) {
    auto key = std::make_tuple(pid, kind, tid);
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto it = fds_.find(key);
      int fd = it != fds_.end() ? it->second : -1;
      bool kept = fd >= 0;
      if (!kept) {
        std::string path = "/proc/" + std::to_string(pid) +
                           (kind == stat ? "/stat" : kind == syscall_line ? "/syscall"
                                                    : "/task/" + std::to_string(tid) + "/children");
        fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        if (fds_.size() < max_open) {
          fds_.emplace(key, fd);
          kept = true;
        }
      }
      ssize_t n;
      do n = pread(fd, buffer_.get(), buffer_size, 0);
      while (n < 0 && errno == EINTR);
      int saved = errno;
      if (!kept) close(fd);
      if (n >= 0) {
        out->assign(buffer_.get(), static_cast<size_t>(n));
        return true;
      }
      out->clear();
      if (!kept || it == fds_.end()) {
        errno = saved;
        return false;
      }
      // A file of a process that ended (its pid may be another's now): open it afresh once.
      close(fd);
      fds_.erase(key);
    }
    return false;
  }

  // Closes the files of the processes not in `present`.
  void keep_only(const std::set<pid_t>& present) {
    for (auto it = fds_.begin(); it != fds_.end();) {
      if (present.count(std::get<0>(it->first)) != 0) {
        ++it;
        continue;
      }
      close(it->second);
      it = fds_.erase(it);
    }
  }

 private:
  static constexpr size_t max_open = 512;  // beyond: open, read, close each time
  static constexpr size_t buffer_size = 64 * 1024;  // a children list of 9000 pids
  std::map<std::tuple<pid_t, Kind, pid_t>, int> fds_;
  std::unique_ptr<char[]> buffer_ = std::make_unique<char[]>(buffer_size);
};

struct Watchdog::Impl {
  Config config;
  ProcFiles files;
  ShimFile shim;
  std::map<pid_t, Observed> last;     // each candidate's wait at the previous poll
  std::map<pid_t, Observed> settled;  // waits examined and left alone: not examined again while unchanged
  std::set<pid_t> done;               // judged: never looked at again while they exist
  struct Ending {
    int pidfd;
    int polls;  // left before SIGKILL
  };
  std::map<pid_t, Ending> ending;     // judged and being ended
  std::set<std::string> noticed;      // keys of the one-line notices already printed
  std::string buffer;

  void notice(const std::string& key, const std::string& message) {
    if (noticed.insert(key).second) std::fprintf(stderr, "%s\n", message.c_str());
  }

  // The pids in /proc/PID/task/*/children (just the one thread's when `threads` is 1).
  void add_children(pid_t pid, int64_t threads, std::vector<pid_t>* out) {
    std::vector<pid_t> tids;
    if (threads == 1) {
      tids.push_back(pid);
    } else {
      std::string task = proc_path(pid, "task");
      if (DIR* d = opendir(task.c_str())) {
        while (dirent* entry = readdir(d)) {
          pid_t tid = 0;
          if (parse_dec(std::string_view(entry->d_name), &tid)) tids.push_back(tid);
        }
        closedir(d);
      }
    }
    for (pid_t tid : tids) {
      if (!files.read(pid, ProcFiles::children, tid, &buffer)) {
        if (errno == ENOENT && pid == getpid())
          notice("children", "forkhazard: /proc has no task/TID/children (a kernel without CONFIG_PROC_CHILDREN): "
                             "the hang watchdog is off");
        continue;
      }
      for (std::string_view word : words(buffer)) {
        pid_t child = 0;
        if (parse_dec(word, &child) && child > 0) out->push_back(child);
      }
    }
  }

  std::vector<Process> descendants() {
    std::vector<Process> all;
    std::set<pid_t> seen;
    std::vector<pid_t> todo;
    add_children(getpid(), 0, &todo);
    while (!todo.empty()) {
      pid_t pid = todo.back();
      todo.pop_back();
      if (!seen.insert(pid).second || !files.read(pid, ProcFiles::stat, 0, &buffer)) continue;
      std::optional<ProcStat> stat = parse_stat(buffer);
      if (!stat) continue;
      all.push_back({pid, *stat});
      add_children(pid, stat->threads, &todo);
    }
    return all;
  }

  void poll() {
    std::vector<Process> all = descendants();
    std::set<pid_t> present;
    for (const Process& p : all) present.insert(p.pid);
    present.insert(getpid());
    files.keep_only(present);
    // Forget what is gone (its pid may come back as another process).
    for (auto* table : {&last, &settled})
      for (auto it = table->begin(); it != table->end();) it = present.count(it->first) ? std::next(it) : table->erase(it);
    for (auto it = done.begin(); it != done.end();) it = present.count(*it) ? std::next(it) : done.erase(it);
    follow_up(all);
    for (const Process& p : all) look_at(p, all);
  }

  // The cheap test every poll, then the full examination of a wait seen unchanged on two polls in a row.
  void look_at(const Process& p, const std::vector<Process>& all) {
    if (done.count(p.pid)) return;
    if (p.stat.state != 'S' || p.stat.threads != 1) {
      last.erase(p.pid);
      return;
    }
    if (!files.read(p.pid, ProcFiles::syscall_line, 0, &buffer)) {
      if (errno == EACCES || errno == EPERM)
        notice("syscall", "forkhazard: cannot read /proc/" + std::to_string(p.pid) + "/syscall (" + strerror(errno) +
                              "): the hang watchdog cannot see what the processes of this run wait for");
      last.erase(p.pid);
      return;
    }
    std::optional<SyscallLine> call = parse_syscall(buffer);
    ProcStatus quiet;  // no handlers: the verdict the syscall line alone allows
    quiet.threads = 1;
    if (!call || judge_wait(*call, quiet, 0) != Judgement::endless) {
      last.erase(p.pid);
      return;
    }
    std::optional<ProcStatus> status;
    if (read_file(proc_path(p.pid, "status"), &buffer)) status = parse_status(buffer);
    if (!status) {
      last.erase(p.pid);
      return;
    }
    Observed now{*call, status->voluntary_switches};
    auto s = settled.find(p.pid);
    if (s != settled.end() && s->second == now) return;
    auto l = last.find(p.pid);
    if (l == last.end() || !(l->second == now)) {
      last[p.pid] = now;
      return;
    }
    last.erase(l);
    switch (examine(p, *call, *status, all)) {
      case Outcome::judged:
        done.insert(p.pid);
        settled.erase(p.pid);
        break;
      case Outcome::declined: settled[p.pid] = now; break;
      case Outcome::retry: settled.erase(p.pid); break;
    }
  }

  Outcome examine(const Process& p, const SyscallLine& call, const ProcStatus& status,
                  const std::vector<Process>& all) {
    uint64_t timer_signals = read_file(proc_path(p.pid, "timers"), &buffer) ? parse_timer_signals(buffer) : 0;
    Judgement judgement = judge_wait(call, status, timer_signals);
    if (judgement != Judgement::endless && judgement != Judgement::interrupt_only) return Outcome::declined;
    // A process sharing its memory without being its thread (clone(CLONE_VM), a vfork child) could wake a
    // private futex too.
    // kcmp refused (a seccomp profile, a kernel without CONFIG_KCMP) is "don't know", never "no".
    for (const Process& other : all) {
      if (other.pid == p.pid) continue;
      long same = syscall(SYS_kcmp, p.pid, other.pid, KCMP_VM, 0, 0);
      if (same == 0) return Outcome::declined;
      if (same < 0 && errno != ESRCH) {
        notice("kcmp", std::string("forkhazard: kcmp(KCMP_VM) is refused (") + strerror(errno) +
                           "): the hang watchdog cannot tell whether another process shares a blocked one's memory, "
                           "and judges nothing");
        return Outcome::declined;
      }
    }
    if (!shim.usable) {
      notice("shim", "forkhazard: " + shim.problem + ": the hang watchdog cannot tell forked processes");
      return Outcome::declined;
    }
    std::optional<uint64_t> bias = shim_bias(p.pid, config.shim, shim, &buffer);
    if (!bias) return Outcome::declined;  // no shim in it: not a process we can judge
    std::string problem;
    std::optional<RemoteShim> remote = read_remote_shim(p.pid, *bias, shim, &problem);
    if (!remote) {
      if (!problem.empty()) notice("build", "forkhazard: " + problem + ": not judged");
      return Outcome::declined;
    }
    // Only a restricted process (the child of a multithreaded fork, or its descendant before exec): the child of
    // a single-threaded fork has no fork hazard, and an exec'd program may wait for something we cannot see.
    // A passive (secure-mode) process is never judged; one with a clone(CLONE_VM) peer may be woken by it.
    const ProcessState& state = remote->process;
    if (!state.restricted || state.passive || state.vm_peers != 0) return Outcome::declined;
    if (shim_reported_deadlock(config.dir, p.pid)) return Outcome::declined;
    return judge(p, call, status, *remote, judgement == Judgement::interrupt_only);
  }

  // `interrupt_only`: reported and left as it is, whatever on_deadlock says (shim/wait_rule.h).
  Outcome judge(const Process& p, const SyscallLine& call, const ProcStatus& status, const RemoteShim& remote,
                bool interrupt_only);

  // SIGKILL for a judged process that has not ended in time (a handler we could not see, a failed injection),
  // through the pidfd held since the judgement: the pid may have been reaped and reused by then.
  void follow_up(const std::vector<Process>& all) {
    for (auto it = ending.begin(); it != ending.end();) {
      auto p = std::find_if(all.begin(), all.end(), [&](const Process& q) { return q.pid == it->first; });
      bool gone = p == all.end() || p->stat.state == 'Z' || p->stat.state == 'X';
      if (!gone && --it->second.polls > 0) {
        ++it;
        continue;
      }
      if (!gone) syscall(SYS_pidfd_send_signal, it->second.pidfd, SIGKILL, nullptr, 0);
      close(it->second.pidfd);
      it = ending.erase(it);
    }
  }

  ~Impl() {
    for (auto& [pid, e] : ending) close(e.pidfd);
  }

  // Who the blocked wait is waiting for, when the verdict can name it.
  struct Culprit {
    int tid = 0;
    std::string name;
    const char* relation = protocol::relation_vanished;
  };

  // Empty when the wait of `pid` is the fork's doing (README, "The rule"), else why it is not (or not known to
  // be): then it is not an error. *culprit: the holder, where the lock names one.
  std::string fork_relation(pid_t pid, WaitKind kind, const std::vector<WaitFrame>& waits, uint64_t word,
                            const RemoteShim& remote, const std::vector<ThreadSlot>& slots, const ThreadSlot* self,
                            Culprit* culprit);
};

std::string Watchdog::Impl::fork_relation(pid_t pid, WaitKind kind, const std::vector<WaitFrame>& waits, uint64_t word,
                                          const RemoteShim& remote, const std::vector<ThreadSlot>& slots,
                                          const ThreadSlot* self, Culprit* culprit) {
  // The shim saw this wait begin and found nothing of the vanished threads in it (its own new condvar or
  // semaphore): the program's design, a child waiting to be killed.
  if (self != nullptr && self->own_wait != nullptr)
    return "it waits on its own object " + hex(reinterpret_cast<uintptr_t>(self->own_wait)) +
           ", which no thread that vanished at fork() used";
  switch (kind) {
    case WaitKind::internal_lock:
      // Only a thread inside glibc holds it; with one thread left, one that vanished, unless a signal handler of
      // this thread re-entered glibc over its own hold.
      if (in_signal_handler(waits)) return "it waits inside a signal handler, which may have interrupted its own hold";
      return {};
    case WaitKind::team_barrier:
      return {};  // libgomp's team: the threads it waits for are the pool threads that vanished at fork()
    case WaitKind::mutex: {
      // The word is the mutex's __lock; glibc keeps the holder's tid in __owner, the parent-side tid after fork.
      pthread_mutex_t m;
      if (!read_remote(pid, word, &m, sizeof m)) return "its mutex cannot be read";
      int owner = m.__data.__owner;
      // Locked (we wait on it) with no owner written: a thread is between the lock word and __owner, taking or
      // releasing it (nptl/pthread_mutex_lock.c, _unlock.c). Not this one, blocked here, unless a signal handler
      // interrupted it in that window: one that vanished at fork().
      if (owner == 0)
        return in_signal_handler(waits) ? "it waits inside a signal handler, over a mutex that names no owner"
                                        : std::string();
      if (owner < 0 || owner >= glibc::mutex_owner_notrecoverable) return "its mutex names no owner";
      if (owner == pid) return "its mutex is held by its own thread";
      for (const ThreadSlot& s : slots) {
        if (s.tid != owner || !is_vanished(s, remote.process.generation)) continue;
        *culprit = {owner, std::string(s.name, strnlen(s.name, sizeof s.name)), protocol::relation_vanished};
        return {};
      }
      for (uint32_t i = 0; self != nullptr && i < self->nformer && i < max_former_tids; ++i) {
        if (self->former_tids[i] != owner) continue;
        *culprit = {owner, std::string(self->name, strnlen(self->name, sizeof self->name)), protocol::relation_forker};
        return {};
      }
      // A thread the shim never registered (a raw clone, or one made before it loaded): the parent's, if the
      // parent still lists it.
      std::string task = "/proc/" + std::to_string(remote.process.fork_parent_pid) + "/task/" + std::to_string(owner);
      if (remote.process.fork_parent_pid > 0 && access(task.c_str(), F_OK) == 0) {
        *culprit = {owner, "", protocol::relation_vanished};
        return {};
      }
      return "its mutex is held by thread " + std::to_string(owner) + ", which is not known to have vanished at fork()";
    }
    case WaitKind::unknown:
    case WaitKind::rwlock:
    case WaitKind::condvar:
    case WaitKind::semaphore:
    case WaitKind::static_init:
      break;
  }
  return "nothing shows it is the fork's doing (no thread that vanished at fork() is known to hold, use or wait on "
         "it)";
}

Outcome Watchdog::Impl::judge(const Process& p, const SyscallLine& call, const ProcStatus& status,
                              const RemoteShim& remote, bool interrupt_only) {
  const pid_t pid = p.pid;
  const uint64_t word = call.args[0];
  // Every signal from here on goes through this pidfd, taken before the process is checked once more below: a
  // pid read earlier may name another process by the time a signal is sent (reaped, and the pid reused).
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  // One ptrace stop for everything: the stack, then (on_deadlock=exit) the exit_group it runs when resumed.
  bool abandoned = false;
  int refused = seize_and_stop(pid, &abandoned);
  if (abandoned) return Outcome::retry;
  bool traced = refused == 0;
  // Still in the same wait? (A signal we could not foresee may have come between the poll and the stop; and the
  // pidfd is then known to hold the process that was judged.)
  std::optional<SyscallLine> now;
  if (read_file(proc_path(pid, "syscall"), &buffer)) now = parse_syscall(buffer);
  if (!now || now->nr != call.nr || now->args[0] != word) {
    if (traced) ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    return Outcome::retry;
  }
  if (!traced) {
    notice("ptrace", "forkhazard: cannot attach to " + std::to_string(pid) + " to take its stack (" +
                         strerror(refused) + "): reporting what /proc shows");
  }

  ProcessView view(pid);
  Frames frames = traced ? view.unwind() : Frames{};
  if (frames.pcs.empty()) {  // what /proc shows: the pc of the system call
    frames.pcs = {call.pc};
    frames.activation = {true};
  }
  std::vector<FrameSymbols> symbols;
  for (size_t i = 0; i < frames.pcs.size(); ++i) {
    uint64_t pc = frames.activation[i] ? frames.pcs[i] : frames.pcs[i] - 1;
    symbols.push_back(view.symbols(pc));
    if (i + 1 < frames.pcs.size() && view.module_of(pc) != view.module_of(frames.pcs[i + 1] - 1))
      symbols.back().entered = view.entered_through(frames.pcs[i + 1]);
  }
  std::string called = pick_call(symbols);

  // The registry: the vanished threads, the forker, and who was inside the call's glibc lock family.
  std::vector<ThreadSlot> slots = read_slots(pid, remote);
  const ThreadSlot* self = nullptr;
  for (const ThreadSlot& s : slots)
    if (is_live_here(s, remote.process.generation) && s.tid == pid) self = &s;

  // The second question of the rule: is this wait the fork's doing?
  std::vector<WaitFrame> waits;
  for (size_t i = 0; i < symbols.size(); ++i) {
    uint64_t pc = frames.activation[i] ? frames.pcs[i] : frames.pcs[i] - 1;
    waits.push_back({symbols[i].symbol, symbols[i].exported, view.module_path(pc), i > 0 && frames.activation[i]});
  }
  WaitKind kind = classify_wait(waits);
  Culprit culprit;
  std::string unrelated = fork_relation(pid, kind, waits, word, remote, slots, self, &culprit);
  if (!unrelated.empty()) {
    if (traced) ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    notice("unrelated." + std::to_string(pid),
           "forkhazard: note: process " + std::to_string(pid) + " waits in " + called + "() on " +
               wait_kind_name(kind) + " that " +
               (interrupt_only ? "only a SIGINT can end" : "nothing left in it can end") + ", but " + unrelated +
               ": not judged a fork hazard, left as it is");
    return Outcome::declined;
  }
  // The explanation where the lock names no holder: a vanished thread inside the call's glibc lock family.
  std::optional<CallFamily> family = catalogued_family(called);
  int family_index = family ? family->index : 0;
  Culprit inside;
  if (family_index > 0 && family_index < static_cast<int>(max_families)) {
    for (const ThreadSlot& s : slots) {
      if (!is_vanished(s, remote.process.generation) || s.inside[family_index] == 0) continue;
      inside = {s.tid, std::string(s.name, strnlen(s.name, sizeof s.name)), protocol::relation_vanished};
      break;
    }
  }
  const Culprit& owner = culprit.tid != 0 ? culprit : inside;

  // The action, the judged process's own (its options, as its shim read them), prepared while it is stopped;
  // it takes effect when we let it go.
  DeadlockAction action = action_of_process(remote.process.on_deadlock, remote.process.exitcode);
  if (interrupt_only) action.action = Action::report_only;
  std::string ending_words;
  bool kill_it = false;
  switch (action.action) {
    case Action::exit: {
      std::string why = traced ? inject_exit_group(pid, word, action.exitcode) : "ptrace was refused";
      if (why.empty()) {
        ending_words = "ending it with exit code " + std::to_string(action.exitcode) + " (on_deadlock=exit)";
      } else {
        ending_words = "ending it with SIGKILL: exit code " + std::to_string(action.exitcode) +
                       " cannot be injected (" + why + ")";
        kill_it = true;
      }
      break;
    }
    case Action::abort:
      ending_words = abort_kills(status) ? "aborting it with SIGABRT (on_deadlock=abort)"
                                         : "ending it with SIGKILL: SIGABRT is caught, blocked or ignored";
      break;
    case Action::report_only:
      ending_words = interrupt_only ? "leaving it as it is: a SIGINT, from anyone, would run its handler"
                                    : "leaving it hung (on_deadlock=continue)";
      break;
  }
  std::string where = view.data_symbol(word);
  std::string text = protocol::magic_line;
  text += "report pid=" + std::to_string(pid) + " ppid=" + std::to_string(p.stat.ppid) + "\n";
  text += "# forkhazard: deadlock in process " + std::to_string(pid) + ", judged by the watchdog of forkhazard run: " +
          "its only thread waits in " + called + "() on private futex word " + hex(word) +
          (where.empty() ? "" : " (" + where + ")") +
          " with no timeout, and " +
          (interrupt_only ? std::string("only its SIGINT handler could end the wait\n")
                          : std::string("no signal handler it has could end the wait\n"));
  if (culprit.tid != 0)
    text += "# forkhazard: it waits on " + std::string(wait_kind_name(kind)) + " held by thread " +
            std::to_string(culprit.tid) +
            (culprit.relation == std::string_view(protocol::relation_forker) ? ", this thread before fork()"
                                                                             : ", which vanished at fork()") +
            "\n";
  if (inside.tid != 0)
    text += "# forkhazard: thread " + std::to_string(inside.tid) + " was inside the glibc " +
            std::string(family->name) + " lock family when it vanished at fork()\n";
  text += "# forkhazard: " + ending_words + "\n";
  text += "#   symbolized: forkhazard report <this file>\n";
  text += "hazard kind=" + std::string(protocol::kind_deadlock) + " call=" + protocol_value(called) +
          (interrupt_only ? " interrupt_only=1" : "") + "\n";
  text += "lock addr=" + hex(word) + " type=" + std::string(protocol::type_futex) +
          (where.empty() ? "" : " symbol=" + protocol_value(where)) + "\n";
  if (owner.tid != 0)
    text += "owner tid=" + std::to_string(owner.tid) + " name=" + protocol_value(owner.name) +
            " relation=" + owner.relation + "\n";
  text += "stack pcs=" + pc_list(frames.pcs.data(), frames.pcs.size()) + "\n";
  std::vector<uint64_t> fork_pcs;
  if (self != nullptr) fork_pcs.assign(self->fork_pcs, self->fork_pcs + std::min<size_t>(self->nfork_pcs, max_site_pcs));
  text += "fork parent_pid=" + std::to_string(remote.process.fork_parent_pid) +
          " forking_tid=" + std::to_string(remote.process.fork_forking_tid) +
          " pcs=" + pc_list(fork_pcs.data(), fork_pcs.size()) + "\n";
  for (const ThreadSlot& s : slots)
    if (is_vanished(s, remote.process.generation)) text += thread_lines(pid, s, s.tid, protocol::relation_vanished);
  if (self != nullptr && self->nformer > 0 && self->nformer <= max_former_tids)
    text += thread_lines(pid, *self, self->former_tids[self->nformer - 1], protocol::relation_forker);
  text += view.module_lines();
  text += "end\n";

  std::string path = config.dir + "/fh." + std::to_string(pid) + ".watchdog";
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    std::string name = attempt == 0 ? path : path + "." + std::to_string(attempt);
    fd = open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd >= 0) {
    for (size_t done_bytes = 0; done_bytes < text.size();) {
      ssize_t n = write(fd, text.data() + done_bytes, text.size() - done_bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done_bytes += static_cast<size_t>(n);
    }
    close(fd);
  } else {
    notice("write", "forkhazard: cannot write the watchdog's report under " + config.dir + ": " + strerror(errno));
  }

  if (traced) ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  if (action.action == Action::report_only) return Outcome::judged;
  if (pidfd.get() < 0) {
    // No pidfd (a kernel before 5.3, a sandbox that refuses it): no signal that could reach another process. An
    // injected exit takes effect all the same; otherwise the process is left as it is.
    if (kill_it || action.action == Action::abort)
      notice("pidfd." + std::to_string(pid), "forkhazard: cannot hold process " + std::to_string(pid) +
                                                 " by a pidfd: it is reported, not ended");
    return Outcome::judged;
  }
  auto send = [&pidfd](int sig) { syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0); };
  switch (action.action) {
    case Action::exit:
      if (kill_it) send(SIGKILL);
      break;
    case Action::abort: send(abort_kills(status) ? SIGABRT : SIGKILL); break;
    case Action::report_only: break;
  }
  ending[pid] = {pidfd.release(), 1000 / poll_interval_ms};  // about a second, then SIGKILL
  return Outcome::judged;
}

Watchdog::Watchdog(Config config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->shim = read_shim_file(impl_->config.shim);
}

Watchdog::~Watchdog() = default;

void Watchdog::poll() { impl_->poll(); }

}  // namespace fh::watchdog
