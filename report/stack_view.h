// The stack of a stopped process, from outside (elfutils libdwfl), and the function a report names as its call.
// Why libdwfl and not libunwind's ptrace unwinder: README, "The hang watchdog".
#pragma once

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fh::watchdog {

// One machine frame of the blocked stack, innermost first: the symbol that contains its pc ("" when unknown), the
// names its module exports for that function (.dynsym, global or weak, default visibility), and, for the outermost
// frame of a module, the exported names of the function the next frame out called to enter it (read from that
// call instruction: a library that tail-calls away from its entry point, as libgomp's GOMP_parallel does at the
// end of a region, leaves no frame of it).
struct FrameSymbols {
  std::string symbol{};
  std::vector<std::string> exported{};
  std::vector<std::string> entered{};
};

// The function the report names as the call: the innermost frame that is a catalogued call (shim/interpose.def's
// FH_UNSAFE rows, under any of its names), else the innermost exported function that is not glibc's private
// plumbing (names starting with "__", "_dl_" or "_IO_"; a frame's own names before the ones it was entered
// through), else the innermost symbol, else "futex".
std::string pick_call(const std::vector<FrameSymbols>& frames);

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


inline constexpr size_t max_frames = 64;  // the shim's stack_depth at most

struct Frames {
  std::vector<uint64_t> pcs;  // innermost first; every one but the first is a return address
  std::vector<bool> activation;
};


// A libdwfl session on a live process: its modules from /proc/PID/maps, and its exported names.
class ProcessView {
 public:
  explicit ProcessView(pid_t pid);
  ~ProcessView();
  ProcessView(const ProcessView&) = delete;
  ProcessView& operator=(const ProcessView&) = delete;

  bool usable() const { return dwfl_ != nullptr; }

  // The frames of thread `tid` (the main thread when 0); that thread must be stopped under our ptrace.
  Frames unwind(pid_t tid = 0);

  // The symbol containing `pc` and the names the module exports for that function.
  FrameSymbols symbols(uint64_t pc);

  // The path of the module holding `pc` ("" when none).
  std::string module_path(uint64_t pc);

  // The module holding `pc` (nullptr when none): frames of one module enter it through one call.
  const void* module_of(uint64_t pc) { return dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr; }

  // The exported names of the function that the call instruction just before `return_address` called: a direct
  // `call rel32`, or `call *slot(%rip)` (-fno-plt), through at most one PLT stub (`jmp *slot(%rip)`, after an
  // optional endbr64 and bnd prefix) whose GOT slot is read from the process. Empty when it is none of these.
  std::vector<std::string> entered_through(uint64_t return_address);

  // The address of the data or function symbol `name` defined in some module's .dynsym (0 when none).
  uint64_t symbol_address(const char* name);

  // "_rtld_global+0xa50" when `addr` lies inside a sized symbol of its module, else "".
  std::string data_symbol(uint64_t addr);

  // `module` lines, as the shim writes them (symbols/modules.cpp): lo = start of the mapping at file offset 0,
  // hi = end of the highest PT_LOAD in memory (.bss included), bias, build-id, path.
  std::string module_lines();

 private:
  static int add_module_line(Dwfl_Module* mod, void**, const char* name, Dwarf_Addr start, void* arg);

  // Function start -> exported names (.dynsym: defined functions, global or weak, default visibility).
  const std::multimap<uint64_t, std::string>& exports(Dwfl_Module* mod);

  pid_t pid_;
  Dwfl* dwfl_ = nullptr;
  bool attached_ = false;
  std::map<Dwfl_Module*, std::multimap<uint64_t, std::string>> exports_;
};

}  // namespace fh::watchdog
