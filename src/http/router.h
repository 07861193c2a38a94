// Router: which handler answers a request, from its method and path. Patterns are paths whose
// segments may be {placeholders}, each matching one non-empty segment (decoded); where several
// patterns match, the one with more literal segments wins. A HEAD request is served by GET's.
//
// Thread-safety: Add before the first Find; Find from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_message.h"

namespace georep {

class Router {
 public:
  void Add(std::string_view method, std::string_view pattern, HttpHandler handler);

  struct Found {
    const HttpHandler* handler = nullptr;  // null: no route for this method and path
    std::vector<std::string> captures;     // the placeholders' values, in order
    std::string allow;                     // no handler: the methods the path has ("GET, PUT")
  };
  // `target`: the request's target as sent (path and query, percent-encoded).
  Found Find(std::string_view method, std::string_view target) const;

  // Every route as registered: (method, pattern).
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{}" for a placeholder
    int literals = 0;
    HttpHandler handler;
  };
  std::vector<Entry> entries_;
};

}  // namespace georep
