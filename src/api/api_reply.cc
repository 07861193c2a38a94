#include "api/api_reply.h"

#include <fmt/format.h>

#include <charconv>

#include "api/http_api.h"

namespace georep {

void SendJson(HttpResponse& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(HttpResponse& res, const Status& st) {
  res.status = HttpStatusFor(st.code());
  if (st.code() == StatusCode::kUnauthenticated)
    res.set_header("WWW-Authenticate", "Bearer realm=\"georep\"");
  Json body = {{"error", {{"code", StatusCodeName(st.code())}, {"message", st.message()}}}};
  if (!st.field().empty()) body["error"]["field"] = st.field();
  res.set_content(body.dump(), "application/json");
}

void SendStatus(HttpResponse& res, const Status& st) {
  if (!st.ok()) return SendError(res, st);
  res.status = 204;
}

bool QueryFlag(const HttpRequest& req, const char* name) {
  if (!req.has_param(name)) return false;
  std::string v = req.get_param_value(name);
  return v.empty() || v == "true" || v == "1" || v == "yes";
}

Result<int64_t> QueryInt(const HttpRequest& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  std::string v = req.get_param_value(name);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0) {
    return Status::InvalidArgument(
        fmt::format("query parameter '{}' must be a whole number", name));
  }
  return n;
}

Status FirstError(std::initializer_list<const Status*> statuses) {
  for (const Status* st : statuses)
    if (!st->ok()) return *st;
  return Status::Ok();
}

}  // namespace georep
