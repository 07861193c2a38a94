// Table: the CLI's human output -- aligned columns, header in capitals, like gluster's own
// status tables.
#pragma once

#include <string>
#include <vector>

namespace georep {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace georep
