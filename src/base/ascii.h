// ASCII case folding for protocol words (config keys, ssh keywords, media types): never
// locale-dependent.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace georep {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace georep
