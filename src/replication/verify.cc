#include "replication/verify.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "replication/content_hash.h"
#include "replication/privileges.h"
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

bool HasPrefix(std::string_view name, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return name.starts_with(p); });
}

// The xattrs of `path` (not followed when a symlink) whose names start with one of `prefixes`,
// sorted by name.
Status ReadVerifiedXattrs(const std::string& path, const std::vector<std::string>& prefixes,
                          std::vector<Xattr>* out) {
  std::string names;
  for (int attempt = 0;; ++attempt) {  // the list can grow between the two calls
    ssize_t size = ::llistxattr(path.c_str(), nullptr, 0);
    if (size < 0 && (errno == ENOTSUP || errno == ENOENT)) return Status::Ok();
    if (size >= 0) {
      names.assign(static_cast<size_t>(size), '\0');
      size = ::llistxattr(path.c_str(), names.data(), names.size());
      if (size >= 0) {
        names.resize(static_cast<size_t>(size));
        break;
      }
    }
    if (errno != ERANGE || attempt > 3)
      return Status::IOError(fmt::format("cannot list xattrs: {}", std::strerror(errno)));
  }
  for (size_t pos = 0; pos < names.size();) {
    size_t end = names.find('\0', pos);
    if (end == std::string::npos) end = names.size();
    std::string name = names.substr(pos, end - pos);
    pos = end + 1;
    if (!HasPrefix(name, prefixes)) continue;
    for (int attempt = 0;; ++attempt) {
      ssize_t size = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (size < 0 && errno == ENODATA) break;  // removed meanwhile
      std::string value;
      if (size >= 0) {
        value.assign(static_cast<size_t>(size), '\0');
        size = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
        if (size >= 0) {
          value.resize(static_cast<size_t>(size));
          out->push_back({name, std::move(value)});
          break;
        }
      }
      if (errno != ERANGE || attempt > 3) {
        return Status::IOError(
            fmt::format("cannot read xattr '{}': {}", name, std::strerror(errno)));
      }
    }
  }
  std::sort(out->begin(), out->end(),
            [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return Status::Ok();
}

std::vector<Xattr> OnlyPrefixed(const std::vector<Xattr>& xattrs,
                                const std::vector<std::string>& prefixes) {
  std::vector<Xattr> kept;
  for (const Xattr& x : xattrs)
    if (HasPrefix(x.name, prefixes)) kept.push_back(x);
  return kept;
}

// Names of the xattrs that differ between two sorted lists (at most three, then "...").
std::string DifferingXattrs(const std::vector<Xattr>& a, const std::vector<Xattr>& b) {
  std::map<std::string_view, std::pair<const std::string*, const std::string*>> both;
  for (const Xattr& x : a) both[x.name].first = &x.value;
  for (const Xattr& x : b) both[x.name].second = &x.value;
  std::string names;
  int listed = 0;
  for (const auto& [name, values] : both) {
    const auto& [left, right] = values;
    if (left && right && *left == *right) continue;
    if (listed++ == 3) return names + ", ...";
    names.append(names.empty() ? "" : ", ").append(name);
  }
  return names;
}

// For each regular file both sides have: the paths of those that are links of its inode on
// that side, itself included, in path order.
using LinkClasses = std::map<std::string_view, std::vector<std::string_view>>;
LinkClasses LinkClassesOf(const TreeDescription& side, const std::set<std::string_view>& common) {
  std::map<uint64_t, std::vector<std::string_view>> groups;
  for (const DescribedEntry& e : side.entries)
    if (e.link_group != 0 && common.count(e.path)) groups[e.link_group].push_back(e.path);
  LinkClasses classes;
  for (const DescribedEntry& e : side.entries) {
    if (!common.count(e.path)) continue;
    if (e.link_group == 0) {
      classes[e.path] = {e.path};
    } else {
      classes[e.path] = groups[e.link_group];  // in path order: the entries are sorted
    }
  }
  return classes;
}

// "one inode with 'b', 'c'" or "a separate file": `path`'s links on one side.
std::string LinksOf(std::string_view path, const std::vector<std::string_view>& links) {
  std::string others;
  int listed = 0;
  for (std::string_view p : links) {
    if (p == path) continue;
    if (listed++ == 3) {
      others += ", ...";
      break;
    }
    others.append(others.empty() ? "'" : ", '").append(p).append("'");
  }
  return others.empty() ? "a separate file" : "one inode with " + others;
}

// What a comparison of these two sides leaves out, and why.
std::vector<std::string> NotCompared(const TreeDescription& source,
                                     const TreeDescription& destination,
                                     const VerifyOptions& options,
                                     const std::vector<std::string>& compared_xattrs) {
  std::vector<std::string> out;
  if (!source.links_described || !destination.links_described) {
    out.push_back(fmt::format(
        "hard-link structure (the {} was described without it: a georep from before link "
        "groups, or a gluster mount)",
        !source.links_described ? "source" : "destination"));
  }
  const std::vector<std::string_view> replicated = ComparedXattrNamespaces(options.xattrs);
  std::string unreplicated;
  std::string unread;
  for (const XattrNamespace& ns : kVerifiedXattrNamespaces) {
    if (std::find(compared_xattrs.begin(), compared_xattrs.end(), ns.prefix) !=
        compared_xattrs.end())
      continue;
    const bool is_replicated =
        std::find(replicated.begin(), replicated.end(), ns.prefix) != replicated.end();
    std::string& list = is_replicated ? unread : unreplicated;
    list.append(list.empty() ? "" : ", ").append(ns.label);
  }
  if (!unreplicated.empty()) out.push_back(unreplicated + " (not replicated by this session)");
  if (!unread.empty()) {
    out.push_back(unread +
                  " (one side could not read them: trusted.* needs root, an older georep "
                  "reads only user.*)");
  }
  out.push_back(
      "other xattrs: security.* but security.capability (SELinux and other labels), system.* "
      "but POSIX ACLs (not replicated)");
  out.push_back("access and change times (atime, ctime), special files' device numbers");
  if (options.sample_percent < 100) {
    out.push_back(
        fmt::format("the content of files outside the {}% sample (their size and "
                    "mtime are compared)",
                    options.sample_percent));
  }
  return out;
}

// What the re-check compares: the source entry as this verify saw it.
std::string SourceState(const DescribedEntry& s) {
  return fmt::format("{} {:o} {} {}{}{}", TypeName(s.type), s.mode & 07777, s.size, s.mtime_ns,
                     s.hashed ? " " : "", s.hashed ? s.hash.ToHex() : "");
}

}  // namespace

std::vector<std::string_view> ComparedXattrNamespaces(const ReplicatedXattrs& replicated) {
  std::vector<std::string_view> prefixes;
  for (const XattrNamespace& ns : kVerifiedXattrNamespaces) {
    const bool compared = ns.prefix == "user."                        ? replicated.user
                          : ns.prefix.starts_with("system.posix_acl") ? replicated.acls
                                                                      : replicated.privileged;
    if (compared) prefixes.push_back(ns.prefix);
  }
  return prefixes;
}

bool SampledForVerify(std::string_view path, int sample_percent) {
  return sample_percent >= 100 || HashBytes(path).low % 100 < static_cast<uint64_t>(sample_percent);
}

Result<TreeDescription> DescribeTreeForVerify(const std::string& root,
                                              const DescribeOptions& options) {
  // Said here: the scanner's own message speaks of a source root, and this may be the other side.
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0)
    return Status::IOError(fmt::format("cannot read {}: {}", root, std::strerror(errno)));
  ScanOptions scan_options;
  scan_options.read_xattrs = false;  // read below, of every namespace verify compares
  GEOREP_ASSIGN_OR_RETURN(ScanResult scan, ScanTreeToVector(root, scan_options));
  if (options.cancel && options.cancel->load()) return Cancelled(root);
  TreeDescription d;
  d.sample_percent = std::clamp(options.sample_percent, 1, 100);
  d.links_described = true;
  for (const XattrNamespace& ns : kVerifiedXattrNamespaces) {
    // Only root reads trusted.*: anyone else is told they are not there.
    if (ns.prefix == "trusted." && !HostRoot()) continue;
    d.xattr_namespaces.emplace_back(ns.prefix);
  }
  std::map<std::pair<uint64_t, uint64_t>, std::vector<size_t>> inodes;  // of multi-link files
  for (auto& e : scan.errors) {
    if (e.path != "." && Excluded(e.path, options.excludes)) continue;
    d.errors.push_back({std::move(e.path), e.status.message()});
  }
  d.entries.reserve(scan.entries.size());
  for (ScanEntry& s : scan.entries) {
    if (s.path != "." && Excluded(s.path, options.excludes)) continue;
    if (!IsDescribablePath(s.path)) {
      d.errors.push_back(
          {s.path.substr(0, kMaxPathBytes), "beyond what verify describes (path length)"});
      continue;
    }
    if (s.type != EntryType::kSymlink) {
      Status read = ReadVerifiedXattrs(s.path == "." ? root : root + "/" + s.path,
                                       d.xattr_namespaces, &s.xattrs);
      if (!read.ok() || s.xattrs.size() > kMaxXattrsPerEntry) {
        d.errors.push_back(
            {s.path, read.ok() ? "beyond what verify describes (xattr count)" : read.message()});
        continue;
      }
    }
    if (s.type == EntryType::kRegular && s.nlink > 1)
      inodes[{s.dev, s.ino}].push_back(d.entries.size());
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
  // Link groups, numbered in the order of each group's first path (as sorted below).
  std::vector<std::pair<std::string_view, std::vector<size_t>*>> groups;
  for (auto& [inode, members] : inodes) {
    std::string_view first = d.entries[members[0]].path;
    for (size_t i : members) first = std::min<std::string_view>(first, d.entries[i].path);
    groups.emplace_back(first, &members);
  }
  std::sort(groups.begin(), groups.end());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : *groups[g].second) d.entries[i].link_group = g + 1;
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
  // The xattrs compared: what the session replicates, of what both sides read.
  std::vector<std::string> xattrs;
  for (std::string_view prefix : ComparedXattrNamespaces(options.xattrs)) {
    const std::string p(prefix);
    if (std::find(source.xattr_namespaces.begin(), source.xattr_namespaces.end(), p) !=
            source.xattr_namespaces.end() &&
        std::find(destination.xattr_namespaces.begin(), destination.xattr_namespaces.end(), p) !=
            destination.xattr_namespaces.end())
      xattrs.push_back(p);
  }
  report.not_compared = NotCompared(source, destination, options, xattrs);
  for (const auto& e : source.errors)
    report.differences.push_back({e.path, "cannot be read at the source: " + e.message, "",
                                  DifferenceKind::kUnreadable, EntryType::kOther});
  for (const auto& e : destination.errors)
    report.differences.push_back({e.path, "cannot be read at the destination: " + e.message, "",
                                  DifferenceKind::kUnreadable, EntryType::kOther});
  std::map<std::string_view, const DescribedEntry*> there;
  for (const auto& e : destination.entries) there.emplace(e.path, &e);
  // Hard-link structure, over the regular files both sides have: two of them are links of one
  // inode at the source iff they are at the destination.
  const bool links = source.links_described && destination.links_described;
  std::set<std::string_view> common;
  for (const DescribedEntry& s : source.entries) {
    auto it = there.find(s.path);
    if (links && s.type == EntryType::kRegular && it != there.end() &&
        it->second->type == EntryType::kRegular && !Excluded(s.path, options.excludes))
      common.insert(s.path);
  }
  const LinkClasses source_links = LinkClassesOf(source, common);
  const LinkClasses destination_links = LinkClassesOf(destination, common);
  for (const DescribedEntry& s : source.entries) {
    if (s.path != "." && Excluded(s.path, options.excludes)) continue;
    ++report.entries;
    auto it = there.find(s.path);
    if (it == there.end()) {
      report.differences.push_back({s.path, "missing at the destination", SourceState(s),
                                    DifferenceKind::kMissing, EntryType::kOther});
      continue;
    }
    const DescribedEntry& d = *it->second;
    there.erase(it);
    auto differ = [&](std::string what) {
      report.differences.push_back(
          {s.path, std::move(what), SourceState(s), DifferenceKind::kDiffers, d.type});
    };
    if (s.type != d.type) {
      report.differences.push_back({s.path,
                                    fmt::format("is a {} at the source, a {} at the destination",
                                                TypeName(s.type), TypeName(d.type)),
                                    SourceState(s), DifferenceKind::kMissing, d.type});
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
    if (s.mtime_ns != d.mtime_ns)
      differ(fmt::format("modified at {} at the source, {} at the destination",
                         FormatIsoNanos(s.mtime_ns), FormatIsoNanos(d.mtime_ns)));
    if (s.type != EntryType::kSymlink) {
      const auto a = OnlyPrefixed(s.xattrs, xattrs);
      const auto b = OnlyPrefixed(d.xattrs, xattrs);
      if (a != b) differ("extended attributes differ: " + DifferingXattrs(a, b));
    }
    if (s.type != EntryType::kRegular) continue;
    if (common.count(s.path) && source_links.at(s.path) != destination_links.at(s.path)) {
      differ(fmt::format("hard links: {} at the source, {} at the destination",
                         LinksOf(s.path, source_links.at(s.path)),
                         LinksOf(s.path, destination_links.at(s.path))));
    }
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
      report.differences.push_back({std::string(path), "only at the destination", "absent",
                                    DifferenceKind::kOnlyAtDestination, e->type});
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
