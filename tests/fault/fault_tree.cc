// The fault harness's own description of a tree and its strict comparison (fault_tree.h).
#include "fault/fault_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace georep::fault {

namespace fs = std::filesystem;

namespace {

std::string HashFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::string("unreadable: ") + std::strerror(errno);
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  std::vector<char> buf(1 << 16);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0)
    XXH3_128bits_update(st, buf.data(), static_cast<size_t>(n));
  ::close(fd);
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  char out[40];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return out;
}

// Replicated xattr namespaces: user.* and, as root, trusted.*; ACLs (system.posix_acl_*).
bool ComparedXattr(const std::string& name) {
  return name.starts_with("user.") || name.starts_with("trusted.") ||
         name == "system.posix_acl_access" || name == "system.posix_acl_default";
}

std::map<std::string, std::string> Xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  std::string names(1 << 16, '\0');
  ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (!ComparedXattr(name)) continue;
    std::string value(1 << 16, '\0');
    ssize_t m = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(m < 0 ? 0 : static_cast<size_t>(m));
    out[name] = value;
  }
  return out;
}

void Walk(const std::string& root, const std::string& rel, Tree* tree,
          std::map<std::pair<dev_t, ino_t>, std::vector<std::string>>* inodes) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // gone meanwhile: the caller compares again
  Entry e;
  e.type = S_ISREG(st.st_mode)    ? 'f'
           : S_ISDIR(st.st_mode)  ? 'd'
           : S_ISLNK(st.st_mode)  ? 'l'
           : S_ISFIFO(st.st_mode) ? 'p'
           : S_ISSOCK(st.st_mode) ? 's'
           : S_ISCHR(st.st_mode)  ? 'c'
           : S_ISBLK(st.st_mode)  ? 'b'
                                  : '?';
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  e.xattrs = Xattrs(path);
  if (e.type == 'f') {
    e.size = st.st_size;
    e.content_hash = HashFile(path);
    if (st.st_nlink > 1) (*inodes)[{st.st_dev, st.st_ino}].push_back(rel);
  } else if (e.type == 'l') {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    target.resize(n < 0 ? 0 : static_cast<size_t>(n));
    e.target = target;
    e.size = st.st_size;
  }
  (*tree)[rel.empty() ? "." : rel] = e;
  if (e.type != 'd') return;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& d : fs::directory_iterator(path, ec)) names.push_back(d.path().filename());
  for (const auto& n : names) Walk(root, rel.empty() ? n : rel + "/" + n, tree, inodes);
}

std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out.size() > 80 ? out.substr(0, 80) + "..." : out;
}

}  // namespace

Tree DescribeTree(const std::string& root) {
  Tree tree;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;
  Walk(root, "", &tree, &inodes);
  for (auto& [inode, paths] : inodes) {
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::string others;
      for (const auto& q : paths)
        if (q != p) others += (others.empty() ? "" : " ") + q;
      tree[p].links = others;
    }
  }
  return tree;
}

std::string Octal(mode_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "%04o", m);
  return b;
}

std::vector<std::string> Compare(const Tree& a, const Tree& b, bool dir_mtime) {
  std::vector<std::string> out;
  for (const auto& [path, x] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      out.push_back(path + ": missing at the destination (source type " + x.type + ")");
      continue;
    }
    const Entry& y = it->second;
    auto diff = [&](const std::string& what, const std::string& sv, const std::string& dv) {
      out.push_back(path + ": " + what + " source " + sv + " destination " + dv);
    };
    if (x.type != y.type) {
      diff("type", std::string(1, x.type), std::string(1, y.type));
      continue;
    }
    const bool root = path == ".";
    if (x.mode != y.mode && x.type != 'l' && !root) diff("mode", Octal(x.mode), Octal(y.mode));
    if ((x.uid != y.uid || x.gid != y.gid) && !root)
      diff("owner", std::to_string(x.uid) + ":" + std::to_string(x.gid),
           std::to_string(y.uid) + ":" + std::to_string(y.gid));
    if (x.type == 'f' && x.size != y.size)
      diff("size", std::to_string(x.size), std::to_string(y.size));
    if (x.type == 'f' && x.content_hash != y.content_hash)
      diff("content", x.content_hash, y.content_hash);
    if (x.type == 'l' && x.target != y.target) diff("symlink target", x.target, y.target);
    if (x.mtime_ns != y.mtime_ns && !root && (x.type != 'd' || dir_mtime))
      diff("mtime", std::to_string(x.mtime_ns), std::to_string(y.mtime_ns));
    if (x.xattrs != y.xattrs && !root) {
      std::string sv, dv;
      for (const auto& [k, v] : x.xattrs) sv += k + "=" + Printable(v) + ";";
      for (const auto& [k, v] : y.xattrs) dv += k + "=" + Printable(v) + ";";
      diff("xattrs", "{" + sv + "}", "{" + dv + "}");
    }
    if (x.links != y.links) diff("hard links", "[" + x.links + "]", "[" + y.links + "]");
  }
  for (const auto& [path, y] : b)
    if (!a.count(path))
      out.push_back(path + ": only at the destination (type " + std::string(1, y.type) + ")");
  return out;
}

}  // namespace georep::fault
