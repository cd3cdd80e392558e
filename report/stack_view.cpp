// The stack from outside, and the report's call (stack_view.h).
#include "report/stack_view.h"

#include "report/catalogue.h"
#include "report/proc_files.h"
#include "shim/protocol.h"

#include <algorithm>
#include <cstring>

namespace fh::watchdog {

namespace {

char* default_debuginfo_path = nullptr;
const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = &default_debuginfo_path,
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

}  // namespace

ProcessView::ProcessView(pid_t pid) : pid_(pid) {
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

ProcessView::~ProcessView() {
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
}

Frames ProcessView::unwind(pid_t tid) {
  Frames frames;
  if (dwfl_ == nullptr) return frames;
  if (!attached_ && dwfl_linux_proc_attach(dwfl_, pid_, true) != 0) return frames;
  attached_ = true;
  dwfl_getthread_frames(dwfl_, tid > 0 ? tid : pid_, collect_frame, &frames);  // frames found before an error are kept
  return frames;
}

FrameSymbols ProcessView::symbols(uint64_t pc) {
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

std::string ProcessView::module_path(uint64_t pc) {
  Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr;
  const char* name = mod != nullptr ? dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr)
                                    : nullptr;
  return name != nullptr ? name : "";
}

std::vector<std::string> ProcessView::entered_through(uint64_t return_address) {
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

std::string ProcessView::data_symbol(uint64_t addr) {
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

uint64_t ProcessView::symbol_address(const char* name) {
  struct Search {
    const char* name;
    uint64_t found = 0;
  } search{name};
  if (dwfl_ == nullptr) return 0;
  dwfl_getmodules(
      dwfl_,
      [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void* arg) -> int {
        auto* s = static_cast<Search*>(arg);
        GElf_Addr bias = 0;
        for_each_dynsym(dwfl_module_getelf(mod, &bias), [&](const GElf_Sym& sym, const char* n) {
          if (strcmp(n, s->name) != 0) return false;
          s->found = sym.st_value + bias;
          return true;
        });
        return s->found != 0 ? DWARF_CB_ABORT : DWARF_CB_OK;
      },
      &search, 0);
  return search.found;
}

std::string ProcessView::module_lines() {
  std::string out;
  if (dwfl_ != nullptr) dwfl_getmodules(dwfl_, add_module_line, &out, 0);
  return out;
}

int ProcessView::add_module_line(Dwfl_Module* mod, void**, const char* name, Dwarf_Addr start, void* arg) {
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
  using namespace protocol;
  *out += ProtocolLine(rec::module).hex(key::module_lo, lo).hex(key::module_hi, hi).hex(key::module_bias, bias)
              .word(key::module_build_id, build_id.empty() ? "-" : build_id).text(key::module_path, name).line();
  return DWARF_CB_OK;
}

const std::multimap<uint64_t, std::string>& ProcessView::exports(Dwfl_Module* mod) {
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

}  // namespace fh::watchdog
