// Helpers shared by the replication tests (test code only): temporary directories, file
// writing, and a tree comparison that checks content and metadata independently of the
// scanner under test.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

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

}  // namespace georep::replication::testing
