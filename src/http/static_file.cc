#include "http/static_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "base/ascii.h"

namespace georep {

namespace {

namespace fs = std::filesystem;

bool Beneath(const fs::path& base, const fs::path& file) {
  auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  return b == base.end();
}

bool NotOlder(const struct stat& copy, const struct stat& file) {
  if (copy.st_mtim.tv_sec != file.st_mtim.tv_sec) return copy.st_mtim.tv_sec > file.st_mtim.tv_sec;
  return copy.st_mtim.tv_nsec >= file.st_mtim.tv_nsec;
}

// The copy `name` beside the file, canonical, when it is a regular file beneath the root and
// not older than the file.
std::optional<std::string> UsableCopy(const StaticFile& file, const std::string& name,
                                      const struct stat& original) {
  std::error_code ec;
  const fs::path copy = fs::canonical(name, ec);
  if (ec || !Beneath(fs::path(file.root), copy)) return std::nullopt;
  struct stat st {};
  if (::stat(copy.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !NotOlder(st, original))
    return std::nullopt;
  return copy.string();
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view OpaqueTag(std::string_view tag) {
  return tag.starts_with("W/") ? tag.substr(2) : tag;
}

class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads the whole of `fd`, whose size fstat gave as `size`.
bool ReadAll(int fd, size_t size, std::string* out) {
  out->resize(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, out->data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;  // shortened since: what there is
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return true;
}

}  // namespace

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

std::optional<StaticFile> FindStaticFile(const std::string& root, std::string_view path) {
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
  if (!Beneath(base, file)) return std::nullopt;
  return StaticFile{base.string(), file.string(), MediaTypeFor(file.filename().string())};
}

StaticVariant ChooseStaticVariant(const StaticFile& file, const HttpRequest& req) {
  StaticVariant v{file.path};
  struct stat original {};
  if (::stat(file.path.c_str(), &original) != 0) return v;
  const auto br = UsableCopy(file, file.path + ".br", original);
  const auto gz = UsableCopy(file, file.path + ".gz", original);
  v.varies = br || gz;
  if (!v.varies || req.has_header("Range")) return v;
  std::vector<ContentCoding> offered;
  if (br) offered.push_back(ContentCoding::kBrotli);
  if (gz) offered.push_back(ContentCoding::kGzip);
  v.coding = ChooseCoding(AcceptEncoding::Of(req), offered);
  if (v.coding == ContentCoding::kBrotli) v.path = *br;
  if (v.coding == ContentCoding::kGzip) v.path = *gz;
  return v;
}

bool ServeStaticFile(const StaticFile& file, const HttpRequest& req, HttpResponse& res) {
  StaticVariant v = ChooseStaticVariant(file, req);
  std::optional<Fd> fd;
  fd.emplace(v.path);
  if (fd->get() < 0 && v.coding != ContentCoding::kIdentity) {
    // The copy went away since it was chosen (a rebuild): the file itself.
    v.path = file.path;
    v.coding = ContentCoding::kIdentity;
    fd.emplace(v.path);
  }
  struct stat st {};
  if (fd->get() < 0 || ::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                           static_cast<int64_t>(st.st_mtim.tv_nsec);
  const std::string_view coding = CodingName(v.coding);
  const std::string etag =
      fmt::format("\"{:x}-{:x}{}{}\"", static_cast<uint64_t>(st.st_size),
                  static_cast<uint64_t>(mtime_ns), coding.empty() ? "" : "-", coding);
  const std::string inm = req.get_header_value("If-None-Match");
  const bool not_modified = !inm.empty() && EtagMatches(inm, etag);
  std::string bytes;
  if (!not_modified && !ReadAll(fd->get(), static_cast<size_t>(st.st_size), &bytes)) return false;
  if (v.varies) AddVary(res, "Accept-Encoding");
  res.set_header("ETag", etag);
  if (not_modified) {
    res.status = 304;
    res.body.clear();
    return true;
  }
  res.status = 200;
  res.set_content(std::move(bytes), file.media_type);
  if (!coding.empty()) res.set_header("Content-Encoding", std::string(coding));
  return true;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  if (TrimOws(if_none_match) == "*") return true;
  const std::string_view want = OpaqueTag(etag);
  std::string_view rest = if_none_match;
  while (true) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t' || rest.front() == ','))
      rest.remove_prefix(1);
    if (rest.empty()) return false;
    const size_t open = rest.starts_with("W/") ? 2 : 0;
    if (rest.size() <= open || rest[open] != '"') return false;  // malformed: no match
    const size_t close = rest.find('"', open + 1);
    if (close == std::string_view::npos) return false;
    if (rest.substr(open, close - open + 1) == want) return true;
    rest.remove_prefix(close + 1);
  }
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace georep
