// Table: the CLI's human output -- aligned columns, header in capitals, like gluster's own
// status tables -- and text made safe for a terminal.
#pragma once

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

}  // namespace georep
