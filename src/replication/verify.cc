#include "replication/verify.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string_view>

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

Status Cancelled(const std::string& root) {
  return Status::Unavailable(fmt::format("verify of {} cancelled", root));
}

// What the re-check compares: the source entry as this verify saw it.
std::string SourceState(const DescribedEntry& s) {
  return fmt::format("{} {:o} {} {}{}{}", TypeName(s.type), s.mode & 07777, s.size, s.mtime_ns,
                     s.hashed ? " " : "", s.hashed ? s.hash.ToHex() : "");
}

}  // namespace

bool SampledForVerify(std::string_view path, int sample_percent) {
  return sample_percent >= 100 || HashBytes(path).low % 100 < static_cast<uint64_t>(sample_percent);
}

Result<TreeDescription> DescribeTreeForVerify(const std::string& root,
                                              const DescribeOptions& options) {
  // Said here: the scanner's own message speaks of a source root, and this may be the other side.
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0)
    return Status::IOError(fmt::format("cannot read {}: {}", root, std::strerror(errno)));
  GEOREP_ASSIGN_OR_RETURN(ScanResult scan, ScanTreeToVector(root));
  if (options.cancel && options.cancel->load()) return Cancelled(root);
  TreeDescription d;
  d.sample_percent = std::clamp(options.sample_percent, 1, 100);
  for (auto& e : scan.errors) {
    if (e.path != "." && Excluded(e.path, options.excludes)) continue;
    d.errors.push_back({std::move(e.path), e.status.message()});
  }
  d.entries.reserve(scan.entries.size());
  for (ScanEntry& s : scan.entries) {
    if (s.path != "." && Excluded(s.path, options.excludes)) continue;
    if (!IsDescribablePath(s.path) || s.xattrs.size() > kMaxXattrsPerEntry) {
      d.errors.push_back({s.path.substr(0, kMaxPathBytes),
                          "beyond what verify describes (path length or xattr count)"});
      continue;
    }
    DescribedEntry e;
    e.path = std::move(s.path);
    e.type = s.type;
    e.mode = s.mode;
    e.uid = s.uid;
    e.gid = s.gid;
    e.size = s.size;
    e.mtime_ns = s.mtime_ns;
    e.symlink_target = std::move(s.symlink_target);
    e.xattrs = std::move(s.xattrs);
    d.entries.push_back(std::move(e));
  }
  std::sort(d.entries.begin(), d.entries.end(),
            [](const DescribedEntry& a, const DescribedEntry& b) { return a.path < b.path; });
  for (DescribedEntry& e : d.entries) {
    if (e.type != EntryType::kRegular || !SampledForVerify(e.path, d.sample_percent)) continue;
    if (options.cancel && options.cancel->load()) return Cancelled(root);
    auto hash = HashFile(e.path == "." ? root : root + "/" + e.path, &d.bytes_hashed);
    if (!hash.ok()) {
      d.errors.push_back({e.path, hash.status().message()});
      continue;
    }
    e.hashed = true;
    e.hash = *hash;
  }
  return d;
}

Result<VerifyReport> CompareTreeDescriptions(const TreeDescription& source,
                                             const TreeDescription& destination,
                                             const VerifyOptions& options) {
  if (source.sample_percent != destination.sample_percent) {
    return Status::FailedPrecondition(
        fmt::format("the source was described with a {}% sample, the destination with {}%",
                    source.sample_percent, destination.sample_percent));
  }
  VerifyReport report;
  for (const auto& e : source.errors)
    report.differences.push_back({e.path, "cannot be read at the source: " + e.message});
  for (const auto& e : destination.errors)
    report.differences.push_back({e.path, "cannot be read at the destination: " + e.message});
  std::map<std::string_view, const DescribedEntry*> there;
  for (const auto& e : destination.entries) there.emplace(e.path, &e);
  for (const DescribedEntry& s : source.entries) {
    if (s.path != "." && Excluded(s.path, options.excludes)) continue;
    ++report.entries;
    auto it = there.find(s.path);
    if (it == there.end()) {
      report.differences.push_back({s.path, "missing at the destination", SourceState(s)});
      continue;
    }
    const DescribedEntry& d = *it->second;
    there.erase(it);
    auto differ = [&](std::string what) {
      report.differences.push_back({s.path, std::move(what), SourceState(s)});
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
    // A file one side could not read is listed among that side's errors already.
    if (!s.hashed || !d.hashed) continue;
    ++report.content_checked;
    report.bytes_hashed += s.size + d.size;
    if (!(s.hash == d.hash)) differ("content differs");
  }
  if (!options.ignore_deletes) {
    for (const auto& [path, e] : there) {
      if (Excluded(std::string(path), options.excludes)) continue;
      report.differences.push_back({std::string(path), "only at the destination", "absent"});
    }
  }
  return report;
}

Result<VerifyReport> VerifyTrees(const std::string& source, const std::string& destination,
                                 const VerifyOptions& options) {
  const DescribeOptions describe{options.sample_percent, options.excludes, options.cancel};
  GEOREP_ASSIGN_OR_RETURN(TreeDescription src, DescribeTreeForVerify(source, describe));
  GEOREP_ASSIGN_OR_RETURN(TreeDescription dst, DescribeTreeForVerify(destination, describe));
  return CompareTreeDescriptions(src, dst, options);
}

}  // namespace georep::replication
