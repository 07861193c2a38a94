#include "http/static_file.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "base/ascii.h"

namespace georep {

std::string MediaTypeFor(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
  };
  std::string lower = AsciiLower(name);
  for (const auto& [ext, type] : kTypes)
    if (lower.ends_with(ext)) return std::string(type);
  return "application/octet-stream";
}

std::optional<std::pair<std::string, std::string>> ReadStaticFile(const std::string& root,
                                                                  std::string_view path) {
  namespace fs = std::filesystem;
  if (root.empty() || !path.starts_with('/') || path.find('\\') != std::string_view::npos)
    return std::nullopt;
  // Every segment a plain name: "..", "." and empty segments name nothing here.
  std::string_view rest = path.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path file = fs::canonical(base / fs::path(path.substr(1)), ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  // A symbolic link inside the root may not lead out of it.
  auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (b != base.end()) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::make_pair(std::move(bytes), MediaTypeFor(file.filename().string()));
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace georep
