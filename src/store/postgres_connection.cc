// PostgreSQL driver over libpq. Parameters are sent separately from the statement text
// (PQexecParams), in text format. A connection that drops is reset once before a transaction.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstring>
#include <string>

#include "store/sql.h"

namespace georep {
namespace {

// int8 / int4 / int2 / oid / float8 / float4 / numeric type oids (see pg_type.h).
constexpr Oid kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

class PostgresConnection final : public SqlConnection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
  ~PostgresConnection() override { PQfinish(conn_); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  SqlDialect dialect() const override { return SqlDialect::kPostgres; }

  Status ExecScript(std::string_view sql) override {
    std::string s(sql);
    PGresult* res = PQexec(conn_, s.c_str());
    Status st = Check(res);
    PQclear(res);
    return st;
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    const std::vector<SqlValue>& params) override {
    PGresult* res = Run(sql, params);
    Status st = Check(res);
    if (!st.ok()) {
      PQclear(res);
      return st;
    }
    std::vector<SqlRow> rows;
    int nrows = PQntuples(res), ncols = PQnfields(res);
    rows.reserve(static_cast<size_t>(nrows));
    for (int r = 0; r < nrows; ++r) {
      SqlRow row;
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.cols.emplace_back(std::monostate{});
          continue;
        }
        const char* v = PQgetvalue(res, r, c);
        Oid t = PQftype(res, c);
        if (t == kInt8 || t == kInt4 || t == kInt2 || t == kOid) {
          row.cols.emplace_back(int64_t{std::stoll(v)});
        } else if (t == kFloat8 || t == kFloat4 || t == kNumeric) {
          row.cols.emplace_back(std::stod(v));
        } else {
          row.cols.emplace_back(std::string(v, static_cast<size_t>(PQgetlength(res, r, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

  Result<int64_t> Execute(std::string_view sql, const std::vector<SqlValue>& params) override {
    PGresult* res = Run(sql, params);
    Status st = Check(res);
    int64_t n = 0;
    if (st.ok()) {
      const char* affected = PQcmdTuples(res);
      n = (affected && *affected) ? std::stoll(affected) : 0;
    }
    PQclear(res);
    if (!st.ok()) return st;
    return n;
  }

  Status Begin() override {
    if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Status::Unavailable(
          fmt::format("postgresql: connection lost: {}", PQerrorMessage(conn_)));
    }
    return ExecScript("BEGIN");
  }
  Status Commit() override { return ExecScript("COMMIT"); }
  Status Rollback() override { return ExecScript("ROLLBACK"); }
  Status LockForMigration() override {
    // An arbitrary constant key: "georep" in ASCII.
    return ExecScript("SELECT pg_advisory_xact_lock(111225014514)");
  }

 private:
  PGresult* Run(std::string_view sql, const std::vector<SqlValue>& params) {
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlValue& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) continue;
      if (auto* n = std::get_if<int64_t>(&v)) {
        text[i] = std::to_string(*n);
      } else if (auto* d = std::get_if<double>(&v)) {
        text[i] = fmt::format("{}", *d);
      } else {
        text[i] = std::get<std::string>(v);
      }
      values[i] = text[i].c_str();
    }
    std::string s(sql);
    return PQexecParams(conn_, s.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                        nullptr, nullptr, 0);
  }

  Status Check(PGresult* res) {
    if (!res) return Status::Unavailable(fmt::format("postgresql: {}", PQerrorMessage(conn_)));
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)
      return Status::Ok();
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string msg = fmt::format("postgresql: {}", PQresultErrorMessage(res));
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    std::string code = state ? state : "";
    if (code == "23505") return Status::AlreadyExists(msg);
    if (code.rfind("23", 0) == 0) return Status::FailedPrecondition(msg);
    if (code.rfind("08", 0) == 0 || code == "57P01" || code == "40001" || code == "40P01")
      return Status::Unavailable(msg);
    if (code == "53100") return Status::IOError(msg);
    if (PQstatus(conn_) != CONNECTION_OK) return Status::Unavailable(msg);
    return Status::Internal(msg);
  }

  PGconn* conn_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) return Status::Unavailable("postgresql: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn);
    // The connection string may hold a password: it is never repeated in the error.
    return Status::Unavailable(fmt::format("cannot connect to PostgreSQL: {}", msg));
  }
  auto c = std::make_unique<PostgresConnection>(conn);
  GEOREP_RETURN_IF_ERROR(c->ExecScript("SET client_min_messages TO WARNING"));
  return std::unique_ptr<SqlConnection>(std::move(c));
}

}  // namespace georep
