#include "http/http_message.h"

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>

#include "base/ascii.h"
#include "http/beast_request.h"

namespace georep {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

bool NameIs(std::string_view a, std::string_view b) {
  return AsciiLower(a) == AsciiLower(b);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view raw_key = pair.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    std::string key, value;
    if (!PercentDecode(raw_key, &key, true)) key = std::string(raw_key);
    if (!PercentDecode(raw_value, &value, true)) value = std::string(raw_value);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

bool HttpRequest::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return NameIs(h.first, name); });
}

std::string HttpRequest::get_header_value(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (NameIs(n, name)) return v;
  return "";
}

std::string HttpRequest::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

void HttpResponse::set_header(std::string name, std::string value) {
  for (auto& [n, v] : headers) {
    if (NameIs(n, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

bool HttpResponse::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return NameIs(h.first, name); });
}

void HttpResponse::set_content(std::string content, std::string content_type) {
  body = std::move(content);
  set_header("Content-Type", std::move(content_type));
}

void HttpResponse::set_stream(std::string content_type, HttpStreamSource source,
                              std::function<void()> end) {
  set_header("Content-Type", std::move(content_type));
  stream = std::move(source);
  on_stream_end = std::move(end);
}

bool FillRequest(const bhttp::request_header<>& h, HttpRequest* req) {
  req->method = std::string(h.method_string());
  req->target = std::string(h.target());
  for (const auto& f : h) req->headers.emplace_back(f.name_string(), f.value());
  std::string_view target = req->target;
  size_t q = target.find('?');
  if (!target.starts_with('/') || !PercentDecode(target.substr(0, q), &req->path)) {
    req->path = std::string(target.substr(0, std::min<size_t>(q, 200)));
    return false;
  }
  if (q != std::string_view::npos) req->params = ParseQuery(target.substr(q + 1));
  return true;
}

Result<HttpRequest> ParseHttpRequest(std::string_view bytes, size_t max_header_bytes,
                                     size_t max_body_bytes) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(static_cast<std::uint32_t>(max_header_bytes));
  parser.body_limit(max_body_bytes);
  error_code ec;
  while (!bytes.empty() && !parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec == bhttp::error::need_more) ec = {};
    if (ec || used == 0) break;
    bytes.remove_prefix(used);
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
  }
  if (ec) return Status::InvalidArgument(ec.message());
  HttpRequest req;
  if (!FillRequest(parser.get(), &req)) return Status::InvalidArgument("malformed request target");
  req.body = std::move(parser.get().body());
  return req;
}

}  // namespace georep
