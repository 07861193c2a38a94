// Table: the CLI's human output -- aligned columns, header in capitals, like gluster's own
// status tables -- and the pieces of it: text made safe for a terminal, sizes and rates in
// binary units.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace georep {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Every cell on one line (TerminalSafe), columns aligned by DisplayWidth.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `s` for one line of a terminal: control characters shown as escapes -- \n, \r, \t, other C0
// controls and DEL as \xHH, C1 controls, line separators and bidirectional controls as \uHHHH
// -- and bytes that are not UTF-8 as \xHH; everything else unchanged. Server data (a reason,
// a file name) can then neither break a table's layout nor drive the terminal.
std::string TerminalSafe(std::string_view s);

// Columns a TerminalSafe string takes: one per UTF-8 character (wide characters not counted
// twice).
size_t DisplayWidth(std::string_view s);

// 512 -> "512 B", 1536 -> "1.5 KiB", 1610612736 -> "1.5 GiB"; negative (unknown) -> "N/A".
std::string HumanBytes(int64_t bytes);
// The same per second: 74240 -> "72.5 KiB/s".
std::string HumanRate(int64_t bytes_per_second);

}  // namespace georep
