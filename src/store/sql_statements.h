// The small vocabulary the store's SQL is written in, shared by SqlStore (sql_store.cc) and the
// tables kept apart from it (sql_alert_tables.cc): parameters as SqlValues, a statement run for
// its effect, for one row or for many. Internal to src/store.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/sql.h"

namespace georep::sql {

using Params = std::vector<SqlValue>;

inline SqlValue V(const std::string& s) {
  return s;
}
inline SqlValue V(std::string_view s) {
  return std::string(s);
}
inline SqlValue V(int64_t n) {
  return n;
}
inline SqlValue V(int n) {
  return int64_t{n};
}
inline SqlValue V(bool b) {
  return int64_t{b ? 1 : 0};
}

inline Status NotFound(std::string_view what, const std::string& id) {
  return Status::NotFound(fmt::format("{} '{}' does not exist", what, id));
}

// Turns "0 rows changed" into NotFound.
inline Status ExpectOne(Result<int64_t> changed, std::string_view what, const std::string& id) {
  if (!changed.ok()) return changed.status();
  if (*changed == 0) return NotFound(what, id);
  return Status::Ok();
}

inline Status Exec(SqlConnection& db, std::string_view statement, const Params& params) {
  auto r = db.Execute(statement, params);
  return r.ok() ? Status::Ok() : r.status();
}

// The first row `from` makes a T of; NotFound (naming `what` `id`) when there is none.
template <typename T, typename From>
Result<T> One(SqlConnection& db, std::string_view statement, const Params& params, From from,
              std::string_view what, const std::string& id) {
  auto rows = db.Query(statement, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return NotFound(what, id);
  return from((*rows)[0]);
}

template <typename T, typename From>
Result<std::vector<T>> Many(SqlConnection& db, std::string_view statement, const Params& params,
                            From from) {
  auto rows = db.Query(statement, params);
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(from(r));
  return out;
}

// An INSERT ... RETURNING id's id.
inline Result<int64_t> InsertReturningId(SqlConnection& db, std::string_view statement,
                                         const Params& params) {
  auto rows = db.Query(statement, params);
  if (!rows.ok()) return rows.status();
  if (rows->size() != 1) return Status::Internal("INSERT ... RETURNING gave no id");
  return (*rows)[0].Int(0);
}

}  // namespace georep::sql
