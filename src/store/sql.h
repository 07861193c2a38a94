// SqlConnection: the narrow seam between georep's store and a SQL database engine.
//
// The store (sql_store.cc) is written once, in the SQL both engines accept, against this
// interface; sqlite_connection.cc and postgres_connection.cc implement it. Statements use
// PostgreSQL's positional parameters ($1, $2 ...); the SQLite driver maps them to ?NNN.
//
// Not thread-safe: one connection is used by one thread at a time (SqlStore serialises).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace georep {

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

struct SqlRow {
  std::vector<SqlValue> cols;

  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(cols.at(i)); }
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  std::string Text(size_t i) const;
};

enum class SqlDialect { kSqlite, kPostgres };

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;

  virtual SqlDialect dialect() const = 0;

  // Runs one or more statements without parameters (DDL, BEGIN, COMMIT).
  virtual Status ExecScript(std::string_view sql) = 0;

  // Runs one statement; returns its rows (empty for statements without results).
  virtual Result<std::vector<SqlRow>> Query(std::string_view sql,
                                            const std::vector<SqlValue>& params) = 0;

  // Runs one statement; returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<SqlValue>& params) = 0;

  // Starts a transaction that takes the write lock at once (SQLite: BEGIN IMMEDIATE).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;

  // Inside a transaction: serialise schema migrations between processes sharing the database.
  virtual Status LockForMigration() = 0;
};

// "sqlite:///var/lib/georep/georep.db", "sqlite:relative.db" or a bare path.
Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path);
// A libpq connection string or URL: "postgresql://user@127.0.0.1:5432/georep".
Result<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& conninfo);

}  // namespace georep
