#include "http/router.h"

namespace georep {

namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

void Router::Add(std::string_view method, std::string_view pattern, HttpHandler handler) {
  Entry e;
  e.method = std::string(method);
  e.pattern = std::string(pattern);
  for (auto seg : SplitPath(pattern)) {
    if (seg.starts_with('{') && seg.ends_with('}')) {
      e.segments.emplace_back("{}");
    } else {
      e.segments.emplace_back(seg);
      ++e.literals;
    }
  }
  e.handler = std::move(handler);
  entries_.push_back(std::move(e));
}

Router::Found Router::Find(std::string_view method, std::string_view target) const {
  auto segments = SplitPath(target.substr(0, target.find('?')));
  std::vector<std::string> decoded(segments.size());
  for (size_t i = 0; i < segments.size(); ++i)
    if (!PercentDecode(segments[i], &decoded[i])) decoded[i] = std::string(segments[i]);
  Found found;
  const Entry* best = nullptr;
  std::vector<std::string> captures;
  for (const auto& e : entries_) {
    if (e.segments.size() != decoded.size()) continue;
    captures.clear();
    bool match = true;
    for (size_t i = 0; i < decoded.size() && match; ++i) {
      if (e.segments[i] == "{}") {
        match = !decoded[i].empty();
        captures.push_back(decoded[i]);
      } else {
        match = e.segments[i] == decoded[i];
      }
    }
    if (!match) continue;
    if (e.method != method && !(method == "HEAD" && e.method == "GET")) {
      if (found.allow.find(e.method) == std::string::npos)
        found.allow += (found.allow.empty() ? "" : ", ") + e.method;
      continue;
    }
    if (best == nullptr || e.literals > best->literals) {
      best = &e;
      found.captures = captures;
    }
  }
  if (best != nullptr) {
    found.handler = &best->handler;
    found.allow.clear();
  }
  return found;
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.emplace_back(e.method, e.pattern);
  return out;
}

}  // namespace georep
