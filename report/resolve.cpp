// PC -> frames through the report's module map and fh::Symbolizer, with inlined calls expanded.
#include "report/resolve.h"

#include <algorithm>

namespace fh {

const ModuleInfo* find_module(const Report& report, uint64_t pc) {
  for (const ModuleInfo& module : report.modules)
    if (module.lo <= pc && pc < module.hi) return &module;
  return nullptr;
}

void FrameResolver::resolve(const Report& report, Stack& stack) {
  Stack resolved;
  resolved.reserve(stack.size());
  for (const Frame& raw : stack) {
    const ModuleInfo* module = find_module(report, raw.pc);
    if (module == nullptr) {
      resolved.push_back(raw);
      continue;
    }
    Frame frame = raw;
    frame.module = module->path;
    frame.offset = raw.pc - module->bias;
    auto key = std::make_tuple(module->path, module->bias, raw.pc);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      // Every recorded PC is a return address (or a call site captured the same way): look up pc-1.
      it = cache_.emplace(key, symbolizer_.symbolize(*module, raw.pc, true)).first;
    }
    if (it->second.empty()) {
      resolved.push_back(frame);
      continue;
    }
    for (const SourceFrame& source : it->second) {
      frame.function = source.function;
      frame.file = source.file;
      frame.line = source.line;
      frame.inlined = source.inlined;
      resolved.push_back(frame);
    }
  }
  stack = std::move(resolved);
}

void FrameResolver::resolve(Report& report) {
  for (Hazard& hazard : report.hazards) {
    if (hazard.site) {
      // The site is one machine frame; of its source frames keep the innermost that is the program's: the line
      // that made the call. Frames inlined from the system headers (the fortify wrappers of
      // -D_FORTIFY_SOURCE: syslog() in bits/syslog.h calling __syslog_chk) are the library's, not the program's.
      Stack site{*hazard.site};
      resolve(report, site);
      auto program_frame = std::find_if(site.begin(), site.end(), [](const Frame& f) {
        return !(f.inlined && f.file.starts_with("/usr/include/"));
      });
      if (program_frame != site.end()) hazard.site = *program_frame;
    }
    resolve(report, hazard.acquired_at);
    resolve(report, hazard.stack);
    for (WaitingThread& waiting : hazard.waiting) resolve(report, waiting.stack);
    if (!hazard.fork) continue;
    resolve(report, hazard.fork->stack);
    for (ForkThread& thread : hazard.fork->threads) {
      resolve(report, thread.created_at);
      for (HeldLock& held : thread.held) resolve(report, held.acquired_at);
    }
  }
}

}  // namespace fh
