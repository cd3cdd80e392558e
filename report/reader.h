// Reader of raw report files (grammar in shim/protocol.h) into the report model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "report/model.h"

namespace fh {

// Everything read so far. Problems are collected as one-line messages ("forkhazard: FILE: ...") rather than
// thrown, so one bad file or block never loses the reports of the others.
struct ReadResult {
  std::vector<Report> reports;
  std::vector<std::string> errors;
  size_t files = 0;  // files read
  // (pid, call, site pc) -> how many times the process made that call in all, from complete `repeats` blocks.
  // Every read applies them to the matching hazards read so far (Hazard::count), whichever file came first.
  std::map<std::tuple<int64_t, std::string, uint64_t>, int64_t> repeat_counts;
};

// Parses the raw text of one file; `name` names it in messages. Complete blocks are kept even when a later one
// is truncated; a value that fails to parse is reported (file and line) and left at its default. Then sets the
// count of every hazard read so far from `repeat_counts`.
void read_raw_text(std::string_view text, const std::string& name, ReadResult& out);

// Reads a file, or every regular file of a directory (not recursively, in name order).
void read_raw_path(const std::string& path, ReadResult& out);

// Decodes a protocol value (%XX escapes); false on a malformed escape or on a NUL, raw or %00 (values are
// C strings).
bool percent_decode(std::string_view value, std::string* decoded);

}  // namespace fh
