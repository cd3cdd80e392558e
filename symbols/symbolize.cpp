// Offline symbolization with elfutils libdwfl: one session per (module file, load bias), build-id checked.
#include "symbols/symbolize.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace fh {

// A reported module and its libdwfl session. `mod` is null when the module is unusable (missing file, other
// build-id): its PCs then symbolize to nothing without retrying the file.
struct Symbolizer::Module {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  ~Module() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

namespace {

// Offline callbacks: the file is named by the report, its separate debug info is found the standard way
// (.gnu_debuglink, /usr/lib/debug/.build-id/xx/yyyy.debug).
char* default_debuginfo_path = nullptr;
const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &default_debuginfo_path,
};

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  // Only mangled C++ names: __cxa_demangle also "demangles" some plain C names (e.g. "f" -> "float").
  if (std::strncmp(name, "_Z", 2) == 0) {
    int status = 0;
    char* plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && plain != nullptr) {
      std::string result(plain);
      std::free(plain);
      return result;
    }
  }
  return name;
}

std::string hex(const unsigned char* bytes, int len) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < len; ++i) {
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 0xf];
  }
  return s;
}

// The linkage name (demangled) says which overload and namespace; a bare DW_AT_name is all C functions have, and
// all GCC gives C++ functions with internal linkage (*qualified is then false). dwarf_attr_integrate follows
// DW_AT_abstract_origin (inlined copies) and DW_AT_specification (methods defined out of their class).
std::string die_function_name(Dwarf_Die* die, bool* qualified) {
  Dwarf_Attribute attr;
  for (int name_attr : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name}) {
    if (const char* name = dwarf_formstring(dwarf_attr_integrate(die, name_attr, &attr))) {
      *qualified = name_attr != DW_AT_name;
      return demangle(name);
    }
  }
  *qualified = false;
  return {};
}

// The call site of an inlined subroutine: where the next outer function stands.
void call_site(Dwarf_Die* inlined, SourceFrame* outer) {
  Dwarf_Attribute attr;
  Dwarf_Word file_index = 0, line = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line) == 0) {
    outer->line = static_cast<int>(line);
  }
  Dwarf_Die cu;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &file_index) == 0 &&
      dwarf_diecu(inlined, &cu, nullptr, nullptr) != nullptr && dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 &&
      file_index < nfiles) {
    if (const char* name = dwarf_filesrc(files, file_index, nullptr, nullptr)) outer->file = name;
  }
}

}  // namespace

Symbolizer::Symbolizer() = default;
Symbolizer::~Symbolizer() = default;

bool Symbolizer::open_module(const ModuleInfo& module, Module& slot) {
  auto warn = [&](const std::string& problem) {
    std::string text = "forkhazard: " + module.path + ": " + problem + "; frames fall back to module+offset";
    if (std::find(warnings_.begin(), warnings_.end(), text) == warnings_.end()) warnings_.push_back(text);
    return false;
  };
  // Open it ourselves: libdwfl reports a failed open without a usable errno.
  int fd = open(module.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return warn(std::string("cannot open module file: ") + std::strerror(errno));
  slot.dwfl = dwfl_begin(&offline_callbacks);
  if (slot.dwfl == nullptr) {
    close(fd);
    return warn(std::string("cannot start libdwfl: ") + dwfl_errmsg(-1));
  }
  // The recorded bias is dlpi_addr (file address + bias = runtime address), which is what add_p_vaddr=true
  // means; with false libdwfl would take it as the start of the first PT_LOAD (the same only when p_vaddr is 0).
  // On success the fd belongs to libdwfl; on failure it is still ours.
  const char* path = module.path.c_str();
  Dwfl_Module* mod = dwfl_report_elf(slot.dwfl, path, path, fd, module.bias, true);
  if (mod == nullptr) {
    close(fd);
    return warn(std::string("cannot read module file: ") + dwfl_errmsg(-1));
  }
  dwfl_report_end(slot.dwfl, nullptr, nullptr);
  if (!module.build_id.empty()) {
    std::string recorded = module.build_id;
    for (char& c : recorded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    std::string actual = len > 0 ? hex(bits, len) : "";
    if (actual != recorded)
      return warn("build-id differs from the report's (report " + recorded + ", file " +
                  (actual.empty() ? "none" : actual) + ")");
  }
  slot.mod = mod;
  return true;
}

namespace {

// Function frames from the innermost out (eu-addr2line -i): each inlined subroutine stands at the position the
// line table gives (innermost) or at the call site recorded in the next inner inlined DIE; the enclosing
// DW_TAG_subprogram is the last, real frame. dwarf_getscopes finds the innermost scope, but above an inlined
// instance it continues with the scopes of its abstract definition (what name lookup needs), so the physical
// nesting comes from dwarf_getscopes_die on that innermost scope. *qualified: the outermost name is final.
std::vector<SourceFrame> dwarf_frames(Dwfl_Module* mod, uint64_t pc, const SourceFrame& innermost, bool* qualified) {
  std::vector<SourceFrame> frames;
  Dwarf_Addr dwarf_bias = 0;
  Dwarf_Die* cudie = dwfl_module_addrdie(mod, pc, &dwarf_bias);
  Dwarf_Die* scopes = nullptr;
  if (cudie != nullptr && dwarf_getscopes(cudie, pc - dwarf_bias, &scopes) > 0) {
    Dwarf_Die innermost_scope = scopes[0];
    free(scopes);
    scopes = nullptr;
    int nscopes = dwarf_getscopes_die(&innermost_scope, &scopes);
    SourceFrame current = innermost;
    for (int i = 0; i < nscopes; ++i) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram && tag != DW_TAG_entry_point) continue;
      current.function = die_function_name(&scopes[i], qualified);
      if (tag != DW_TAG_inlined_subroutine) {
        frames.push_back(current);
        break;
      }
      current.inlined = true;
      frames.push_back(current);
      current = SourceFrame{};
      call_site(&scopes[i], &current);
    }
    // Inlined frames without their enclosing function (malformed DWARF): make the outermost one real.
    if (!frames.empty()) frames.back().inlined = false;
  }
  free(scopes);
  return frames;
}

}  // namespace

std::vector<SourceFrame> Symbolizer::symbolize(const ModuleInfo& module, uint64_t pc, bool is_return_address) {
  auto& slot = modules_[{module.path, module.bias}];
  if (!slot) {
    slot = std::make_unique<Module>();
    if (!open_module(module, *slot)) return {};
  }
  Dwfl_Module* mod = slot->mod;
  if (mod == nullptr) return {};

  // A return address points after the call; the call itself, one byte earlier, is in the caller's line (and
  // still in the caller when the call was the function's last instruction, e.g. to a noreturn function).
  if (is_return_address && pc > 0) --pc;
  if (dwfl_addrmodule(slot->dwfl, pc) != mod) return {};

  SourceFrame innermost;
  if (Dwfl_Line* line = dwfl_module_getsrc(mod, pc)) {
    int lineno = 0;
    if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) innermost.file = file;
    innermost.line = lineno;
  }
  bool qualified = false;
  std::vector<SourceFrame> frames = dwarf_frames(mod, pc, innermost, &qualified);

  // The ELF symbol table (.symtab, or .dynsym of a stripped file) names functions without DWARF, and qualifies
  // a C++ function whose DWARF has only the bare name ("helper" -> "(anonymous namespace)::helper(int)").
  if (frames.empty()) frames.push_back(innermost);
  std::string& function = frames.back().function;
  if (!qualified) {
    GElf_Off offset = 0;
    GElf_Sym sym;
    if (const char* symbol = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
      std::string demangled = demangle(symbol);
      bool qualifies = demangled != symbol && demangled.find(function) != std::string::npos;
      if (function.empty() || qualifies) function = demangled;
    }
  }
  if (frames.size() == 1 && frames[0].function.empty() && frames[0].file.empty()) return {};
  return frames;
}

}  // namespace fh
