// The schema, as an ordered list of migrations. A migration is never edited once released;
// changes are new migrations. "{serial_pk}" stands for the dialect's auto-increment key.
#pragma once

#include <string_view>
#include <vector>

namespace georep {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

}  // namespace georep
