// libFuzzer target: report/reader.cpp's read_raw_text over arbitrary bytes, one or two files into one result.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "report/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fh::ReadResult result;
  fh::read_raw_text(text, "fuzz.raw", result);
  // A second file read into the same result (repeat counts apply across files): the input split at a form feed.
  size_t split = text.find('\f');
  if (split != std::string_view::npos) {
    fh::read_raw_text(text.substr(0, split), "a.raw", result);
    fh::read_raw_text(text.substr(split + 1), "b.raw", result);
  }
  // Every problem is one line naming the file.
  for (const std::string& error : result.errors) {
    if (error.rfind("forkhazard: ", 0) != 0) std::abort();
  }
  // No decoded value holds a NUL: the printers write C strings, and one would end the report there
  // (corpus/reader/regress_nul_escape.raw).
  auto check = [](const std::string& value) {
    if (value.find('\0') != std::string::npos) std::abort();
  };
  for (const fh::Report& report : result.reports) {
    for (const fh::ModuleInfo& module : report.modules) {
      check(module.path);
      check(module.build_id);
    }
    for (const fh::Hazard& hazard : report.hazards) {
      check(hazard.call);
      check(hazard.why);
      check(hazard.kind_spelling);
      check(hazard.klass_spelling);
      if (hazard.lock) check(hazard.lock->type_spelling);
      if (hazard.owner) check(hazard.owner->name);
      if (hazard.owner) check(hazard.owner->relation_spelling);
      if (hazard.fork)
        for (const fh::ForkThread& thread : hazard.fork->threads) check(thread.name);
    }
  }
  std::string decoded;
  (void)fh::percent_decode(text, &decoded);
  return 0;
}
