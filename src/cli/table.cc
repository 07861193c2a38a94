#include "cli/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace georep {
namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), with its code point; 0 if there is none.
size_t Utf8Sequence(std::string_view s, char32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n || byte(1) < low || byte(1) > high) return 0;
  char32_t cp = lead & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  *code_point = cp;
  return n;
}

// Characters that move the cursor or reorder text although they are not C0 controls.
bool IsFormatControl(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||      // C1 controls (0x9B is a CSI on some terminals)
         cp == 0x2028 || cp == 0x2029 ||    // line and paragraph separators
         cp == 0x200E || cp == 0x200F ||    // left-to-right and right-to-left marks
         (cp >= 0x202A && cp <= 0x202E) ||  // bidirectional embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069);    // bidirectional isolates
}

}  // namespace

std::string TerminalSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t n = c < 0x80 ? 0 : Utf8Sequence(s.substr(i), &cp);
    if (n == 0) {  // a C0 control, DEL, or a byte that is not UTF-8
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (IsFormatControl(cp)) {
      out += fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
      i += n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 0) return "N/A";
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // 1023.96 KiB shows as "1.0 MiB", not "1024.0 KiB".
  while (value >= 1023.95 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string HumanRate(int64_t bytes_per_second) {
  if (bytes_per_second < 0) return "N/A";
  return HumanBytes(bytes_per_second) + "/s";
}

std::string Table::Render() const {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows_.size() + 1);
  cells.push_back(headers_);
  for (const auto& r : rows_) cells.push_back(r);
  std::vector<size_t> width(headers_.size(), 0);
  for (auto& row : cells) {
    row.resize(width.size());
    for (size_t i = 0; i < width.size(); ++i) {
      row[i] = TerminalSafe(row[i]);
      width[i] = std::max(width[i], DisplayWidth(row[i]));
    }
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < width.size(); ++i) {
      out += row[i];
      if (i + 1 < width.size()) out += std::string(width[i] - DisplayWidth(row[i]) + 3, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(cells[0]);
  size_t total = 0;
  for (size_t w : width) total += w + 3;
  out += std::string(total > 3 ? total - 3 : 0, '-') + "\n";
  for (size_t r = 1; r < cells.size(); ++r) out += line(cells[r]);
  return out;
}

}  // namespace georep
