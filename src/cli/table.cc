#include "cli/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/visible_text.h"

namespace georep {

std::string TerminalSafe(std::string_view s) {
  return VisibleText(s);
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
