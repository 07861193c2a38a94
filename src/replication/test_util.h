// Helpers shared by the replication tests (test code only): temporary directories, file
// writing, and a tree comparison that checks content and metadata independently of the
// scanner under test.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace georep::replication::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "georep-repl-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    // Read-only directories from the tests must be writable to be removed.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A Unix socket bound at `path` and closed again: the file stays, as a crashed server's does.
// "" once it is there, else what failed.
inline std::string BindUnixSocket(const std::string& path) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return path + ": too long for a socket's address";
  std::copy(path.begin(), path.end(), addr.sun_path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int error = errno;
  ::close(fd);
  return bound == 0 ? "" : path + ": " + std::strerror(error);
}

// Every path (relative to `root`) whose last component starts with ".georep.".
inline std::vector<std::string> GeorepTempFiles(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(".georep.")) {
      out.push_back(it->path().lexically_relative(root).string());
    }
  }
  return out;
}

inline std::map<std::string, std::string> UserXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  std::string names(65536, '\0');
  ssize_t n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    if (!name.starts_with("user.")) continue;
    std::string value(65536, '\0');
    ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    value.resize(v < 0 ? 0 : static_cast<size_t>(v));
    out[name] = value;
  }
  return out;
}

// One line per entry describing everything replication must preserve; hard links are named
// by the first path (in sorted order) of their inode, so identity compares across trees.
inline std::vector<std::string> DescribeTree(const std::string& root, bool with_atime = false) {
  std::map<std::string, struct stat> stats;
  stats["."] = {};
  ::lstat(root.c_str(), &stats["."]);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = it->path().lexically_relative(root).string();
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    stats[rel] = st;
  }
  std::map<std::pair<dev_t, ino_t>, std::string> first_link;
  std::vector<std::string> lines;
  for (const auto& [rel, st] : stats) {
    std::string full = root;
    if (rel != ".") full.append("/").append(rel);
    std::string line = rel;
    line += " mode=" + std::to_string(st.st_mode);
    line += " uid=" + std::to_string(st.st_uid);
    line += " gid=" + std::to_string(st.st_gid);
    line += " mtime=" + std::to_string(st.st_mtim.tv_sec);
    line += "." + std::to_string(st.st_mtim.tv_nsec);
    if (with_atime) line += " atime=" + std::to_string(st.st_atim.tv_sec);
    if (S_ISREG(st.st_mode)) {
      line += " size=" + std::to_string(st.st_size) + " nlink=" + std::to_string(st.st_nlink);
      auto [it, inserted] = first_link.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
      line += " inode-of=" + it->second;
      line += " content=" + ReadFile(full);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      target.resize(n < 0 ? 0 : static_cast<size_t>(n));
      line += " target=" + target;
    }
    for (const auto& [name, value] : UserXattrs(full)) {
      line += " xattr:";
      line += name;
      line += "=";
      line += value;
    }
    lines.push_back(line);
  }
  return lines;
}

// The raw value of xattr `name` of `path` (a symlink itself); "<none>" when it has none.
inline std::string XattrOf(const std::string& path, const char* name) {
  std::string value(65536, '\0');
  ssize_t n = ::lgetxattr(path.c_str(), name, value.data(), value.size());
  if (n < 0) return "<none>";
  value.resize(static_cast<size_t>(n));
  return value;
}

// A POSIX ACL as the kernel keeps it in system.posix_acl_access / _default (what setfacl
// writes): version 2, then (tag, permissions, id) entries in tag and id order.
struct AclEntry {
  uint16_t tag;   // 0x01 user::, 0x02 user:ID, 0x04 group::, 0x08 group:ID, 0x10 mask, 0x20 other
  uint16_t perm;  // 4 r, 2 w, 1 x
  uint32_t id = 0xffffffff;
};
inline std::string AclXattr(const std::vector<AclEntry>& entries) {
  std::string out;
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(2, 4);
  for (const AclEntry& e : entries) {
    put(e.tag, 2);
    put(e.perm, 2);
    put(e.id, 4);
  }
  return out;
}
// user::rw- user:1234:r-- group::r-- mask::r-- other::--- (mode 0640).
inline std::string SampleAccessAcl() {
  return AclXattr({{0x01, 6}, {0x02, 4, 1234}, {0x04, 4}, {0x10, 4}, {0x20, 0}});
}
// user::rwx group::r-x group:4321:rwx mask::rwx other::--- (a directory's default ACL).
inline std::string SampleDefaultAcl() {
  return AclXattr({{0x01, 7}, {0x04, 5}, {0x08, 7, 4321}, {0x10, 7}, {0x20, 0}});
}
// security.capability for cap_net_bind_service=+ep (setcap's VFS_CAP_REVISION_2 form).
inline std::string NetBindServiceCapability() {
  std::string out;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put32(0x02000001);  // revision 2, effective
  put32(1u << 10);    // permitted: CAP_NET_BIND_SERVICE (10)
  put32(0);           // inheritable
  put32(0);           // permitted, high word
  put32(0);           // inheritable, high word
  return out;
}

}  // namespace georep::replication::testing
