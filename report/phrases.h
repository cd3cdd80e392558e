// Phrases the text and SARIF printers share: how a thread, a lock and its owner are named.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "report/model.h"

namespace fh {

std::string hex(uint64_t value);                                   // "0x55d5d2a2c040"
std::string basename_of(const std::string& path);
std::string thread_label(int64_t tid, const std::string& name);    // `thread 4239 "worker"` or `thread 4239`
std::string lock_noun(const LockRef& lock);                        // "mutex", "condition variable", ...
std::string owner_phrase(const Owner& owner);                      // `thread 4239 "w", which vanished at fork()`
std::string owner_was(const std::optional<Owner>& owner, const std::string& doing);

}  // namespace fh
