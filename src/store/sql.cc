#include "store/sql.h"

#include <fmt/format.h>

namespace georep {

int64_t SqlRow::Int(size_t i) const {
  const SqlValue& v = cols.at(i);
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (auto* p = std::get_if<std::string>(&v)) return std::stoll(*p);
  return 0;
}

double SqlRow::Double(size_t i) const {
  const SqlValue& v = cols.at(i);
  if (auto* p = std::get_if<double>(&v)) return *p;
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (auto* p = std::get_if<std::string>(&v)) return std::stod(*p);
  return 0;
}

std::string SqlRow::Text(size_t i) const {
  const SqlValue& v = cols.at(i);
  if (auto* p = std::get_if<std::string>(&v)) return *p;
  if (auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto* p = std::get_if<double>(&v)) return fmt::format("{}", *p);
  return "";
}

}  // namespace georep
