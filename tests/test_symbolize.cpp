// Unit tests of fh::Symbolizer on the test binary itself, libc (separate debug info) and libdw (symbol table).
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "symbols/symbolize.h"

namespace {

// The module entry the shim would record for the object that holds `addr`, built with dl_iterate_phdr the
// same way: dlpi_addr is the load bias, "" names the main program, the build-id comes from PT_NOTE in memory.
struct ModuleLookup {
  uintptr_t addr;
  fh::ModuleInfo info;
  bool found = false;
};

std::string build_id_in_memory(const dl_phdr_info* object) {
  for (int i = 0; i < object->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = object->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const size_t align = ph.p_align == 8 ? 8 : 4;
    auto pad = [align](size_t n) { return (n + align - 1) & ~(align - 1); };
    const char* p = reinterpret_cast<const char*>(object->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name = p + sizeof(ElfW(Nhdr));
      const auto* desc = reinterpret_cast<const unsigned char*>(name + pad(note->n_namesz));
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::string(name, 3) == "GNU") {
        std::string hex;
        char byte[3];
        for (unsigned j = 0; j < note->n_descsz; ++j) {
          std::snprintf(byte, sizeof byte, "%02x", desc[j]);
          hex += byte;
        }
        return hex;
      }
      p = reinterpret_cast<const char*>(desc) + pad(note->n_descsz);
    }
  }
  return {};
}

int visit_object(dl_phdr_info* object, size_t, void* data) {
  auto* lookup = static_cast<ModuleLookup*>(data);
  uint64_t lo = UINT64_MAX, hi = 0;
  bool contains = false;
  for (int i = 0; i < object->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = object->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uint64_t start = object->dlpi_addr + ph.p_vaddr, stop = start + ph.p_memsz;
    lo = std::min(lo, start);
    hi = std::max(hi, stop);
    contains = contains || (lookup->addr >= start && lookup->addr < stop);
  }
  if (!contains) return 0;
  std::string path = object->dlpi_name;
  if (path.empty()) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path.assign(exe, n > 0 ? n : 0);
  }
  lookup->info = fh::ModuleInfo{path, lo, hi, object->dlpi_addr, build_id_in_memory(object)};
  lookup->found = true;
  return 1;
}

fh::ModuleInfo module_of(const void* addr) {
  ModuleLookup lookup{reinterpret_cast<uintptr_t>(addr), {}};
  dl_iterate_phdr(visit_object, &lookup);
  cr_assert(lookup.found, "no loaded object contains %p", addr);
  return lookup.info;
}

uint64_t pc_of(const void* addr) { return reinterpret_cast<uintptr_t>(addr); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool file_exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

std::string debug_file_for(const std::string& build_id) {
  return "/usr/lib/debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug";
}

}  // namespace

// Functions to symbolize; their lines are recorded where they stand. External linkage (in a namespace of their
// own, since all tests link into one binary) gives them DWARF linkage names.
namespace symfix {

// One line, so that its entry address maps to it whatever the prologue.
const int target_line = __LINE__ + 1;
__attribute__((noinline, noclone)) int symbolize_target(int x) { asm volatile("" : "+r"(x)); return x * 3 + 1; }

__attribute__((noinline, noclone)) void* capture_return_address() {
  void* ra = __builtin_return_address(0);
  asm volatile("" : "+r"(ra));
  return ra;
}

// GCC gives functions with internal linkage no DW_AT_linkage_name; the symbol table qualifies them.
namespace {
__attribute__((noinline, noclone)) int anonymous_helper(int x) { asm volatile("" : "+r"(x)); return x ^ 0x5a; }
}  // namespace

int host_call_line, leaf_call_line;

// The asm after each call keeps GCC from turning it into a tail jump, which would leave no return address here.
static inline __attribute__((always_inline)) void* inlined_leaf() {
  void* ra = capture_return_address(); leaf_call_line = __LINE__;
  asm volatile("" : "+r"(ra));
  return ra;
}

__attribute__((noinline, noclone)) void* inline_host() {
  void* ra = inlined_leaf(); host_call_line = __LINE__;
  asm volatile("" : "+r"(ra));
  return ra;
}

__attribute__((noinline, noclone)) void* plain_caller() {
  void* ra = capture_return_address(); host_call_line = __LINE__;
  asm volatile("" : "+r"(ra));
  return ra;
}

// A call to a noreturn function is the caller's last instruction: its return address is past the caller's end.
[[noreturn]] __attribute__((noinline, noclone)) void throw_return_address() { throw __builtin_return_address(0); }
__attribute__((noinline, noclone)) void ends_in_noreturn_call() { throw_return_address(); }

}  // namespace symfix
using namespace symfix;

Test(symbolize, function_in_own_binary_by_address) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  cr_assert(!self.build_id.empty(), "the test binary has no build-id note");
  auto frames = symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&symbolize_target)), false);
  cr_assert_eq(frames.size(), 1u);
  cr_assert_str_eq(frames[0].function.c_str(), "symfix::symbolize_target(int)");
  cr_assert(ends_with(frames[0].file, "test_symbolize.cpp"), "file: %s", frames[0].file.c_str());
  cr_assert_eq(frames[0].line, target_line);
  cr_assert(!frames[0].inlined);
  cr_assert(symbolizer.warnings().empty());
}

Test(symbolize, internal_linkage_function_is_qualified) {
  fh::Symbolizer symbolizer;
  const void* entry = reinterpret_cast<void*>(&anonymous_helper);
  auto frames = symbolizer.symbolize(module_of(entry), pc_of(entry), false);
  cr_assert_eq(frames.size(), 1u);
  cr_assert_str_eq(frames[0].function.c_str(), "symfix::(anonymous namespace)::anonymous_helper(int)");
  cr_assert(ends_with(frames[0].file, "test_symbolize.cpp"), "file: %s", frames[0].file.c_str());
}

Test(symbolize, return_address_names_the_call_line) {
  fh::Symbolizer symbolizer;
  void* ra = plain_caller();
  auto frames = symbolizer.symbolize(module_of(ra), pc_of(ra));
  cr_assert_eq(frames.size(), 1u);
  cr_assert_str_eq(frames[0].function.c_str(), "symfix::plain_caller()");
  cr_assert(ends_with(frames[0].file, "test_symbolize.cpp"), "file: %s", frames[0].file.c_str());
  cr_assert_eq(frames[0].line, host_call_line);
}

// pc-1 is applied only to return addresses: at a function's first byte it lands before the function.
Test(symbolize, return_address_is_looked_up_one_byte_earlier) {
  fh::Symbolizer symbolizer;
  const void* entry = reinterpret_cast<void*>(&symbolize_target);
  fh::ModuleInfo self = module_of(entry);
  auto as_return = symbolizer.symbolize(self, pc_of(entry), true);
  cr_assert(as_return.empty() || as_return.back().function != "symfix::symbolize_target(int)");
  auto as_pc = symbolizer.symbolize(self, pc_of(entry), false);
  cr_assert_eq(as_pc.size(), 1u);
  cr_assert_str_eq(as_pc[0].function.c_str(), "symfix::symbolize_target(int)");
}

Test(symbolize, return_address_after_noreturn_call_stays_in_caller) {
  fh::Symbolizer symbolizer;
  void* ra = nullptr;
  try {
    ends_in_noreturn_call();
  } catch (void* thrown) {
    ra = thrown;
  }
  cr_assert_not_null(ra);
  auto frames = symbolizer.symbolize(module_of(ra), pc_of(ra));
  cr_assert_eq(frames.size(), 1u);
  cr_assert_str_eq(frames[0].function.c_str(), "symfix::ends_in_noreturn_call()");
}

Test(symbolize, inlined_frames_innermost_first) {
  fh::Symbolizer symbolizer;
  void* ra = inline_host();
  auto frames = symbolizer.symbolize(module_of(ra), pc_of(ra));
  cr_assert_eq(frames.size(), 2u);
  // Internal linkage: GCC's DWARF has no linkage name for it, and an inlined copy has no ELF symbol either.
  cr_assert_str_eq(frames[0].function.c_str(), "inlined_leaf");
  cr_assert(frames[0].inlined);
  cr_assert(ends_with(frames[0].file, "test_symbolize.cpp"), "file: %s", frames[0].file.c_str());
  cr_assert_eq(frames[0].line, leaf_call_line);
  cr_assert_str_eq(frames[1].function.c_str(), "symfix::inline_host()");
  cr_assert(!frames[1].inlined);
  cr_assert(ends_with(frames[1].file, "test_symbolize.cpp"), "file: %s", frames[1].file.c_str());
  cr_assert_eq(frames[1].line, host_call_line);
}

// libc is stripped; Debian's libc6-dbg puts its DWARF under /usr/lib/debug/.build-id, which libdwfl finds.
Test(symbolize, libc_function_with_separate_debug_info) {
  fh::Symbolizer symbolizer;
  void* getpid_addr = dlsym(RTLD_DEFAULT, "getpid");
  cr_assert_not_null(getpid_addr);
  fh::ModuleInfo libc = module_of(getpid_addr);
  cr_assert(libc.path.find("libc.so") != std::string::npos, "path: %s", libc.path.c_str());
  auto frames = symbolizer.symbolize(libc, pc_of(getpid_addr), false);
  cr_assert(!frames.empty());
  cr_assert(frames.back().function.find("getpid") != std::string::npos, "function: %s",
            frames.back().function.c_str());
  if (file_exists(debug_file_for(libc.build_id))) {
    cr_assert(!frames.back().file.empty(), "debug info installed but no file found");
    cr_assert_gt(frames.back().line, 0);
  }
  cr_assert(symbolizer.warnings().empty());
}

// libdw ships without debug info here: the name comes from the ELF symbol table (.dynsym).
Test(symbolize, symbol_table_fallback_without_dwarf) {
  fh::Symbolizer symbolizer;
  void* addr = dlsym(RTLD_DEFAULT, "dwfl_begin");
  cr_assert_not_null(addr);
  fh::ModuleInfo libdw = module_of(addr);
  auto frames = symbolizer.symbolize(libdw, pc_of(addr) + 4);
  cr_assert_eq(frames.size(), 1u);
  cr_assert_str_eq(frames[0].function.c_str(), "dwfl_begin");
  cr_assert(!frames[0].inlined);
  if (!file_exists(debug_file_for(libdw.build_id))) {
    cr_assert(frames[0].file.empty());
    cr_assert_eq(frames[0].line, 0);
  }
}

Test(symbolize, wrong_build_id_warns_once_and_yields_nothing) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  std::string actual = self.build_id;
  self.build_id = std::string(actual.size(), '0');
  cr_assert(symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&symbolize_target)), false).empty());
  cr_assert(symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&plain_caller)), false).empty());
  cr_assert_eq(symbolizer.warnings().size(), 1u);
  std::string expected = "forkhazard: " + self.path + ": build-id differs from the report's (report " +
                         self.build_id + ", file " + actual + "); frames fall back to module+offset";
  cr_assert_str_eq(symbolizer.warnings()[0].c_str(), expected.c_str());
}

Test(symbolize, build_id_comparison_ignores_case) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  for (char& c : self.build_id) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  auto frames = symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&symbolize_target)), false);
  cr_assert_eq(frames.size(), 1u);
  cr_assert(symbolizer.warnings().empty());
}

Test(symbolize, garbage_build_id_warns) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  self.build_id = "not hex!";
  cr_assert(symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&symbolize_target)), false).empty());
  cr_assert_eq(symbolizer.warnings().size(), 1u);
  cr_assert(symbolizer.warnings()[0].find("build-id differs") != std::string::npos);
}

Test(symbolize, empty_build_id_skips_the_check) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  self.build_id.clear();
  auto frames = symbolizer.symbolize(self, pc_of(reinterpret_cast<void*>(&symbolize_target)), false);
  cr_assert_eq(frames.size(), 1u);
  cr_assert(symbolizer.warnings().empty());
}

Test(symbolize, missing_file_warns_once_and_yields_nothing) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo missing{"/nonexistent/libnothing.so", 0x7f0000000000, 0x7f0000010000, 0x7f0000000000,
                         "0123456789abcdef"};
  cr_assert(symbolizer.symbolize(missing, 0x7f0000001234).empty());
  cr_assert(symbolizer.symbolize(missing, 0x7f0000005678).empty());
  cr_assert_eq(symbolizer.warnings().size(), 1u);
  cr_assert_str_eq(symbolizer.warnings()[0].c_str(),
                   "forkhazard: /nonexistent/libnothing.so: cannot open module file: No such file or directory; "
                   "frames fall back to module+offset");
}

Test(symbolize, non_elf_file_warns) {
  char path[] = "/tmp/fh-symbolize-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "not an ELF file\n", 16), 16);
  close(fd);
  fh::Symbolizer symbolizer;
  auto frames = symbolizer.symbolize(fh::ModuleInfo{path, 0x1000, 0x2000, 0x1000, ""}, 0x1800);
  unlink(path);
  cr_assert(frames.empty());
  cr_assert_eq(symbolizer.warnings().size(), 1u);
  cr_assert(symbolizer.warnings()[0].find("cannot read module file") != std::string::npos, "%s",
            symbolizer.warnings()[0].c_str());
}

Test(symbolize, pc_outside_the_module_yields_nothing) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  // libdwfl rounds a module's end up to the segment alignment (a page): just past that is outside.
  const uint64_t past_end = (self.hi + 0xfff) & ~uint64_t{0xfff};
  const uint64_t outside[] = {0, 1, self.lo - 1, past_end, past_end + 8, self.hi + 0x100000, UINT64_MAX};
  for (uint64_t pc : outside)
    cr_assert(symbolizer.symbolize(self, pc, false).empty(), "pc 0x%llx", static_cast<unsigned long long>(pc));
  cr_assert(symbolizer.warnings().empty());
}

// Each (path, bias) is its own session: the same file reported at bias 0 takes file addresses.
Test(symbolize, bias_selects_the_address_space) {
  fh::Symbolizer symbolizer;
  fh::ModuleInfo self = module_of(reinterpret_cast<void*>(&symbolize_target));
  uint64_t pc = pc_of(reinterpret_cast<void*>(&symbolize_target));
  fh::ModuleInfo at_zero = self;
  at_zero.bias = 0;
  at_zero.lo -= self.bias;
  at_zero.hi -= self.bias;
  auto by_file_address = symbolizer.symbolize(at_zero, pc - self.bias, false);
  auto by_runtime_address = symbolizer.symbolize(self, pc, false);
  cr_assert_eq(by_file_address.size(), 1u);
  cr_assert_eq(by_runtime_address.size(), 1u);
  cr_assert_str_eq(by_file_address[0].function.c_str(), "symfix::symbolize_target(int)");
  cr_assert_str_eq(by_runtime_address[0].function.c_str(), "symfix::symbolize_target(int)");
  if (self.bias != 0) cr_assert(symbolizer.symbolize(at_zero, pc, false).empty());
}
