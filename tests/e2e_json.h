// A small JSON reader for the end-to-end tests: the CLI's --json and --sarif output parsed into a tree the tests
// walk (tests/e2e_support.h). Only what those documents use; errors name the offset.
#pragma once

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace e2e {

struct Json {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;  // in document order

  // The member named `key`, or nullptr when this is not an object or has no such member.
  const Json* get(std::string_view key) const {
    if (kind != Kind::object) return nullptr;
    for (const auto& [name, value] : object)
      if (name == key) return &value;
    return nullptr;
  }
};

// Convenience accessors that tolerate a missing value (nullptr), so tests can chain look-ups.
inline const Json* member(const Json* value, std::string_view key) { return value ? value->get(key) : nullptr; }
inline std::string string_of(const Json* value) {
  return value && value->kind == Json::Kind::string ? value->string : std::string();
}
inline long long integer_of(const Json* value, long long fallback = -1) {
  return value && value->kind == Json::Kind::number ? static_cast<long long>(value->number) : fallback;
}
inline const std::vector<Json>& array_of(const Json* value) {
  static const std::vector<Json> empty;
  return value && value->kind == Json::Kind::array ? value->array : empty;
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<Json> parse(std::string* error) {
    Json value;
    skip_space();
    if (parse_value(value, 0)) {
      skip_space();
      if (pos_ == text_.size()) return value;
      fail("trailing characters");
    }
    if (error) *error = error_ + " at offset " + std::to_string(pos_);
    return std::nullopt;
  }

 private:
  bool fail(const char* why) {
    if (error_.empty()) error_ = why;
    return false;
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return fail("bad literal");
    pos_ += word.size();
    return true;
  }

  bool parse_value(Json& out, int depth) {
    if (depth > 64) return fail("nested too deeply");
    if (pos_ >= text_.size()) return fail("unexpected end");
    switch (text_[pos_]) {
      case '{': return parse_object(out, depth);
      case '[': return parse_array(out, depth);
      case '"': out.kind = Json::Kind::string; return parse_string(out.string);
      case 't': out.kind = Json::Kind::boolean; out.boolean = true; return literal("true");
      case 'f': out.kind = Json::Kind::boolean; out.boolean = false; return literal("false");
      case 'n': out.kind = Json::Kind::null; return literal("null");
      default: return parse_number(out);
    }
  }

  bool parse_object(Json& out, int depth) {
    out.kind = Json::Kind::object;
    ++pos_;  // '{'
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') return ++pos_, true;
    for (;;) {
      std::string key;
      Json value;
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a member name");
      if (!parse_string(key)) return false;
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      skip_space();
      if (!parse_value(value, depth + 1)) return false;
      out.object.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < text_.size() && text_[pos_] == '}') return ++pos_, true;
      return fail("expected ',' or '}'");
    }
  }

  bool parse_array(Json& out, int depth) {
    out.kind = Json::Kind::array;
    ++pos_;  // '['
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') return ++pos_, true;
    for (;;) {
      Json value;
      skip_space();
      if (!parse_value(value, depth + 1)) return false;
      out.array.push_back(std::move(value));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') { ++pos_; continue; }
      if (pos_ < text_.size() && text_[pos_] == ']') return ++pos_, true;
      return fail("expected ',' or ']'");
    }
  }

  bool parse_hex4(unsigned& code) {
    if (pos_ + 4 > text_.size()) return fail("short \\u escape");
    code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') code |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= static_cast<unsigned>(c - 'A' + 10);
      else return fail("bad \\u escape");
    }
    return true;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool parse_string(std::string& out) {
    ++pos_;  // '"'
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      switch (char escape = text_[pos_++]) {
        case '"': case '\\': case '/': out += escape; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code;
          if (!parse_hex4(code)) return false;
          if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            unsigned low;
            if (!parse_hex4(low)) return false;
            if (low < 0xDC00 || low >= 0xE000) return fail("bad surrogate pair");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code);
          break;
        }
        default: return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }

  bool parse_number(Json& out) {
    size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '\0' && std::strchr("0123456789.eE+-", text_[pos_]) != nullptr)
      ++pos_;
    std::string token(text_.substr(start, pos_ - start));
    char* end = nullptr;
    out.kind = Json::Kind::number;
    out.number = std::strtod(token.c_str(), &end);
    if (token.empty() || *end != '\0') return pos_ = start, fail("bad value");
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

inline std::optional<Json> parse_json(std::string_view text, std::string* error = nullptr) {
  return JsonParser(text).parse(error);
}

}  // namespace e2e
