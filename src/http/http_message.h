// HttpRequest and HttpResponse: what a handler reads and fills, and the parsing of a request's
// words (target, query, headers) shared by the server and the fuzz target.
//
// Thread-safety: values; one request and its response belong to one handler call.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace georep {

class HttpRequest {
 public:
  std::string method;       // "GET", as sent (upper case)
  std::string target;       // as sent: path and query, still percent-encoded
  std::string path;         // percent-decoded, without the query
  std::string body;         // read whole; at most the server's max_body_bytes
  std::string remote_addr;  // the peer's IP address
  bool tls = false;
  // [0] the whole path; [1..] the values of a route's {placeholders}, decoded, in order.
  std::vector<std::string> matches;
  std::vector<std::pair<std::string, std::string>> headers;
  std::multimap<std::string, std::string> params;  // decoded query parameters

  bool has_header(std::string_view name) const;
  // The first value of a header (case-insensitive name); "" if absent.
  std::string get_header_value(std::string_view name) const;
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_param_value(const std::string& name) const;
};

// A body produced piece by piece on a worker thread: append the next piece to *out (it may
// block a while, e.g. waiting for the next event) and return true, or return false when the
// body is complete. An empty piece is not sent.
using HttpStreamSource = std::function<bool(std::string* out)>;

class HttpResponse {
 public:
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  HttpStreamSource stream;              // set: the body is sent chunked from it
  std::function<void()> on_stream_end;  // called once when a stream ends, however it ends

  void set_header(std::string name, std::string value);
  bool has_header(std::string_view name) const;
  void set_content(std::string content, std::string content_type);
  void set_stream(std::string content_type, HttpStreamSource source, std::function<void()> end);
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// Parses one whole request from `bytes` with the limits a connection applies, and fills an
// HttpRequest as a connection does (for fuzzing and tests: the server reads sockets itself).
Result<HttpRequest> ParseHttpRequest(std::string_view bytes, size_t max_header_bytes,
                                     size_t max_body_bytes);

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space); malformed escapes stay as sent.
std::multimap<std::string, std::string> ParseQuery(std::string_view query);
// Decodes %XX escapes; nullopt-like false when an escape is malformed or decodes to NUL.
bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space = false);

}  // namespace georep
