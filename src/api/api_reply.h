// How handlers answer: JSON bodies, errors as {"error": {"code", "message"}} with the HTTP
// status that fits, lists as {"items": [...]}, and the strict reading of bodies and query
// parameters that every resource shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/json_model.h"
#include "base/status.h"
#include "http/http_server.h"

namespace georep {

void SendJson(HttpResponse& res, int status, const Json& body);
void SendError(HttpResponse& res, const Status& st);
// 204 when `st` is OK, else the error.
void SendStatus(HttpResponse& res, const Status& st);

template <typename T>
void SendResult(HttpResponse& res, const Result<T>& r, int ok_status = 200) {
  if (!r.ok()) return SendError(res, r.status());
  SendJson(res, ok_status, ToJson(*r));
}

template <typename T>
void SendList(HttpResponse& res, const Result<std::vector<T>>& r) {
  if (!r.ok()) return SendError(res, r.status());
  Json arr = Json::array();
  for (const auto& x : *r) arr.push_back(ToJson(x));
  SendJson(res, 200, {{"items", arr}});
}

// Parses the request's JSON body and calls fn(json), or answers the parse error.
template <typename Fn>
void WithBody(const HttpRequest& req, HttpResponse& res, Fn fn) {
  auto j = ParseBody(req.body);
  if (!j.ok()) return SendError(res, j.status());
  fn(*j);
}

// A query flag: present empty, "true", "1" or "yes".
bool QueryFlag(const HttpRequest& req, const char* name);
// A whole, non-negative query number, or `fallback` when absent.
Result<int64_t> QueryInt(const HttpRequest& req, const char* name, int64_t fallback);
// The first failed status among `statuses`, or OK.
Status FirstError(std::initializer_list<const Status*> statuses);

}  // namespace georep
