#include "replication/verify.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "replication/content_hash.h"
#include "replication/scanner.h"

namespace georep::replication {
namespace {

bool Excluded(const std::string& path, const std::vector<std::string>& excludes) {
  for (size_t pos = 0; pos != std::string::npos;) {
    size_t slash = path.find('/', pos);
    const std::string prefix = path.substr(0, slash);
    const std::string name =
        prefix.substr(prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/') + 1);
    for (const auto& p : excludes)
      if (::fnmatch(p.c_str(), prefix.c_str(), 0) == 0 ||
          ::fnmatch(p.c_str(), name.c_str(), 0) == 0)
        return true;
    pos = slash == std::string::npos ? slash : slash + 1;
  }
  return false;
}

Result<Hash128> HashFile(const std::string& path, uint64_t* bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::IOError(fmt::format("cannot read {}", path));
  ContentHasher h;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      ::close(fd);
      return Status::IOError(fmt::format("cannot read {}", path));
    }
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    *bytes += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return h.Finish();
}

const char* TypeName(EntryType t) {
  switch (t) {
    case EntryType::kRegular:
      return "file";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kOther:
      return "special file";
  }
  return "?";
}

}  // namespace

Result<VerifyReport> VerifyTrees(const std::string& source, const std::string& destination,
                                 const VerifyOptions& options) {
  GEOREP_ASSIGN_OR_RETURN(ScanResult src, ScanTreeToVector(source));
  GEOREP_ASSIGN_OR_RETURN(ScanResult dst, ScanTreeToVector(destination));
  VerifyReport report;
  for (const auto& e : src.errors)
    report.differences.push_back({e.path, "cannot be read at the source: " + e.status.message()});
  for (const auto& e : dst.errors)
    report.differences.push_back(
        {e.path, "cannot be read at the destination: " + e.status.message()});
  std::map<std::string, const ScanEntry*> there;
  for (const auto& e : dst.entries) there[e.path] = &e;
  const int sample = std::clamp(options.sample_percent, 1, 100);
  for (const ScanEntry& s : src.entries) {
    if (s.path != "." && Excluded(s.path, options.excludes)) continue;
    ++report.entries;
    auto it = there.find(s.path);
    if (it == there.end()) {
      report.differences.push_back({s.path, "missing at the destination"});
      continue;
    }
    const ScanEntry& d = *it->second;
    there.erase(it);
    auto differ = [&](std::string what) {
      report.differences.push_back({s.path, std::move(what)});
    };
    if (s.type != d.type) {
      differ(fmt::format("is a {} at the source, a {} at the destination", TypeName(s.type),
                         TypeName(d.type)));
      continue;
    }
    if (s.type != EntryType::kSymlink && (s.mode & 07777) != (d.mode & 07777))
      differ(fmt::format("mode {:o} at the source, {:o} at the destination", s.mode & 07777,
                         d.mode & 07777));
    if (s.uid != d.uid || s.gid != d.gid)
      differ(fmt::format("owner {}:{} at the source, {}:{} at the destination", s.uid, s.gid, d.uid,
                         d.gid));
    if (s.type == EntryType::kSymlink && s.symlink_target != d.symlink_target)
      differ(fmt::format("points to '{}' at the source, '{}' at the destination", s.symlink_target,
                         d.symlink_target));
    if (s.type != EntryType::kDirectory && s.mtime_ns != d.mtime_ns)
      differ(fmt::format("modified at {} ns at the source, {} ns at the destination", s.mtime_ns,
                         d.mtime_ns));
    if (s.type != EntryType::kSymlink && s.xattrs != d.xattrs) differ("extended attributes differ");
    if (s.type != EntryType::kRegular) continue;
    if (s.size != d.size) {
      differ(fmt::format("{} bytes at the source, {} at the destination", s.size, d.size));
      continue;
    }
    if (sample < 100 && HashBytes(s.path).low % 100 >= static_cast<uint64_t>(sample)) continue;
    ++report.content_checked;
    auto a = HashFile(source + "/" + s.path, &report.bytes_hashed);
    auto b = HashFile(destination + "/" + s.path, &report.bytes_hashed);
    if (!a.ok() || !b.ok()) {
      differ(!a.ok() ? a.status().message() : b.status().message());
    } else if (!(*a == *b)) {
      differ("content differs");
    }
  }
  if (!options.ignore_deletes) {
    for (const auto& [path, e] : there) {
      if (Excluded(path, options.excludes)) continue;
      report.differences.push_back({path, "only at the destination"});
    }
  }
  return report;
}

}  // namespace georep::replication
