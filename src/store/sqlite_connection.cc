// SQLite driver: WAL journal, foreign keys on, a busy time-out so that a second process
// (the CLI reading the same file, a restarted engine) waits instead of failing.
#include <fmt/format.h>
#include <sqlite3.h>

#include <string>

#include "store/sql.h"

namespace georep {
namespace {

// $1 -> ?1 outside string literals.
std::string ToSqliteParams(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool in_string = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'') in_string = !in_string;
    if (!in_string && c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out.push_back('?');
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }

  Status ExecScript(std::string_view sql) override {
    char* err = nullptr;
    std::string s(sql);
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      Status st = Error(err ? err : sqlite3_errmsg(db_));
      sqlite3_free(err);
      return st;
    }
    return Status::Ok();
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    const std::vector<SqlValue>& params) override {
    std::vector<SqlRow> rows;
    GEOREP_RETURN_IF_ERROR(Run(sql, params, &rows));
    return rows;
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<SqlValue>& params) override {
    GEOREP_RETURN_IF_ERROR(Run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  Status Begin() override { return ExecScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  Status Rollback() override { return ExecScript("ROLLBACK"); }
  // BEGIN IMMEDIATE already holds the database's single write lock.
  Status LockForMigration() override { return Status::Ok(); }

 private:
  Status Error(std::string_view what) {
    int code = sqlite3_extended_errcode(db_);
    std::string msg = fmt::format("sqlite: {}", what);
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
      return Status::AlreadyExists(msg);
    if ((code & 0xff) == SQLITE_CONSTRAINT) return Status::FailedPrecondition(msg);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
      return Status::Unavailable(msg);
    if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR) return Status::IOError(msg);
    if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
      return Status::Corruption(msg);
    return Status::Internal(msg);
  }

  Status Run(std::string_view sql, const std::vector<SqlValue>& params, std::vector<SqlRow>* rows) {
    std::string s = ToSqliteParams(sql);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, s.c_str(), static_cast<int>(s.size()), &stmt, nullptr) !=
        SQLITE_OK) {
      return Error(sqlite3_errmsg(db_));
    }
    struct Finalizer {
      sqlite3_stmt* s;
      ~Finalizer() { sqlite3_finalize(s); }
    } finalizer{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      const SqlValue& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *d);
      } else {
        const std::string& t = std::get<std::string>(v);
        rc = sqlite3_bind_text(stmt, idx, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return Error(sqlite3_errmsg(db_));
    }
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error(sqlite3_errmsg(db_));
      if (!rows) continue;
      SqlRow row;
      int n = sqlite3_column_count(stmt);
      row.cols.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            row.cols.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.cols.emplace_back(int64_t{sqlite3_column_int64(stmt, c)});
            break;
          case SQLITE_FLOAT:
            row.cols.emplace_back(sqlite3_column_double(stmt, c));
            break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            row.cols.emplace_back(
                std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
          }
        }
      }
      rows->push_back(std::move(row));
    }
    return Status::Ok();
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Status::Unavailable(fmt::format("cannot open SQLite database {}: {}", path, msg));
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_busy_timeout(db, 10000);
  Status st =
      conn->ExecScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!st.ok()) return st.WithContext(fmt::format("cannot configure SQLite database {}", path));
  // A file that is not a database fails here rather than at the first query.
  auto check = conn->Query("SELECT count(*) FROM sqlite_master", {});
  if (!check.ok()) return check.status().WithContext(fmt::format("cannot read {}", path));
  return std::unique_ptr<SqlConnection>(std::move(conn));
}

}  // namespace georep
