// The fault harness's writer (fault_writer.h).
#include "fault/fault_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "fault/fault_tree.h"

namespace georep::fault {

namespace fs = std::filesystem;

namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

bool WriteAll(const std::string& path, const std::string& data, int flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0644);
  if (fd < 0) return false;
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

size_t RandomFileSize(std::mt19937_64& rng) {
  const int r = static_cast<int>(rng() % 100);
  if (r < 10) return 0;
  if (r < 80) return rng() % 8192;
  if (r < 97) return rng() % (256 << 10);
  return rng() % (2 << 20);
}

// A POSIX ACL as the kernel stores it in system.posix_acl_access (version 2 entries).
std::string AclValue(std::mt19937_64& rng) {
  auto put = [](std::string* s, uint16_t tag, uint16_t perm, uint32_t id) {
    char b[8];
    std::memcpy(b, &tag, 2);
    std::memcpy(b + 2, &perm, 2);
    std::memcpy(b + 4, &id, 4);
    s->append(b, 8);
  };
  std::string v;
  const uint32_t version = 2;
  v.append(reinterpret_cast<const char*>(&version), 4);
  put(&v, 0x01, 6, 0xffffffff);                                       // user::rw-
  put(&v, 0x02, static_cast<uint16_t>(rng() % 8), 1000 + rng() % 3);  // user:N:...
  put(&v, 0x04, 4, 0xffffffff);                                       // group::r--
  put(&v, 0x10, 7, 0xffffffff);                                       // mask::rwx
  put(&v, 0x20, static_cast<uint16_t>(rng() % 8), 0xffffffff);        // other::...
  return v;
}

}  // namespace

Writer::Writer(std::string root, std::mt19937_64* rng, const std::set<std::string>& ops,
               bool verbose)
    : root_(std::move(root)), rng_(*rng), verbose_(verbose) {
  // Weights: contents and names change most.
  const std::map<std::string, int> weight = {
      {"create", 10}, {"append", 6},      {"truncate", 4},       {"overwrite", 6},
      {"mkdir", 4},   {"rename-file", 6}, {"rename-replace", 3}, {"rename-dir", 4},
      {"link", 4},    {"unlink", 5},      {"rmdir", 2},          {"chmod", 4},
      {"chown", 3},   {"utimes", 4},      {"xattr", 4},          {"symlink", 4},
      {"fifo", 1},    {"acl", 2},         {"xattr-trusted", 2}};
  for (const auto& op : ops)
    for (int i = 0; i < weight.at(op); ++i) mix_.push_back(op);
}

uint64_t Writer::Seed(int files) {
  const int dirs = std::max(1, files / 5);
  for (int i = 0; i < dirs; ++i) {
    Refresh();
    Mkdir(Fresh(Pick(dirs_)));
  }
  uint64_t bytes = 0;
  for (int i = 0; i < files; ++i) {
    Refresh();
    const std::string p = Fresh(Pick(dirs_));
    const std::string data = RandomBytes(rng_, RandomFileSize(rng_));
    bytes += data.size();
    WriteAll(Path(p), data, O_CREAT | O_TRUNC);
  }
  Refresh();
  for (int i = 0; i < files / 20; ++i) Link();
  for (int i = 0; i < files / 20; ++i) Symlink();
  for (int i = 0; i < files / 10; ++i) Xattr(false);
  for (int i = 0; i < files / 20; ++i) Chown();
  for (int i = 0; i < files / 10; ++i) Utimes();
  log_.clear();
  return bytes;
}

uint64_t Writer::Step() {
  Refresh();
  const std::string op = mix_[rng_() % mix_.size()];
  written_ = 0;
  if (files_.empty() && op != "mkdir" && op != "rename-dir" && op != "rmdir" && op != "symlink" &&
      op != "fifo") {
    Create();
  } else if (op == "create")
    Create();
  else if (op == "append")
    Append();
  else if (op == "truncate")
    Truncate();
  else if (op == "overwrite")
    Overwrite();
  else if (op == "mkdir")
    Mkdir(Fresh(Pick(dirs_)));
  else if (op == "rename-file")
    RenameFile(false);
  else if (op == "rename-replace")
    RenameFile(true);
  else if (op == "rename-dir")
    RenameDir();
  else if (op == "link")
    Link();
  else if (op == "unlink")
    Unlink();
  else if (op == "rmdir")
    Rmdir();
  else if (op == "chmod")
    Chmod();
  else if (op == "chown")
    Chown();
  else if (op == "utimes")
    Utimes();
  else if (op == "xattr")
    Xattr(false);
  else if (op == "symlink")
    Symlink();
  else if (op == "xattr-trusted")
    Xattr(true);
  else if (op == "fifo")
    Fifo();
  else if (op == "acl")
    Acl();
  return written_;
}

void Writer::Note(const std::string& what) {
  log_ += what + "\n";
  if (verbose_) std::cout << "    " << what << "\n";
}

void Writer::Refresh() {
  files_.clear();
  dirs_ = {""};
  symlinks_.clear();
  all_.clear();
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(root_).string();
    all_.push_back(rel);
    if (it->is_symlink(ec))
      symlinks_.push_back(rel);
    else if (it->is_directory(ec))
      dirs_.push_back(rel);
    else if (it->is_regular_file(ec))
      files_.push_back(rel);
  }
  std::sort(files_.begin(), files_.end());
  std::sort(dirs_.begin(), dirs_.end());
  std::sort(symlinks_.begin(), symlinks_.end());
  std::sort(all_.begin(), all_.end());
}

std::string Writer::Fresh(const std::string& dir) {
  std::string name = "n" + std::to_string(++counter_);
  if (rng_() % 4 == 0) {
    std::vector<std::string> beside;
    for (const std::string& d : dirs_) {
      const auto slash = d.rfind('/');
      if (!d.empty() && (slash == std::string::npos ? dir.empty() : d.substr(0, slash) == dir))
        beside.push_back(slash == std::string::npos ? d : d.substr(slash + 1));
    }
    if (!beside.empty()) name = Pick(beside) + (rng_() % 2 ? "-" : ".") + std::to_string(counter_);
  }
  return (dir.empty() ? "" : dir + "/") + name;
}

void Writer::Create() {
  const std::string p = Fresh(Pick(dirs_));
  const std::string data = RandomBytes(rng_, RandomFileSize(rng_));
  WriteAll(Path(p), data, O_CREAT | O_TRUNC);
  written_ = data.size();
  Note("create " + p + " " + std::to_string(data.size()));
}

void Writer::Append() {
  const std::string p = Pick(files_);
  const std::string data = RandomBytes(rng_, rng_() % 16384);
  WriteAll(Path(p), data, O_APPEND);
  written_ = data.size();
  Note("append " + p + " " + std::to_string(data.size()));
}

void Writer::Truncate() {
  const std::string p = Pick(files_);
  const off_t n = static_cast<off_t>(rng_() % 4096);
  (void)::truncate(Path(p).c_str(), n);
  Note("truncate " + p + " " + std::to_string(n));
}

void Writer::Overwrite() {
  const std::string p = Pick(files_);
  const off_t at = static_cast<off_t>(rng_() % 8192);
  const std::string data = RandomBytes(rng_, 1 + rng_() % 512);
  int fd = ::open(Path(p).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    (void)::pwrite(fd, data.data(), data.size(), at);
    ::close(fd);
  }
  written_ = data.size();
  Note("overwrite " + p + " at " + std::to_string(at) + " " + std::to_string(data.size()));
}

void Writer::Mkdir(const std::string& p) {
  ::mkdir(Path(p).c_str(), rng_() % 4 == 0 ? 0700 : 0755);
  Note("mkdir " + p);
}

void Writer::RenameFile(bool replace) {
  const std::string from = Pick(files_);
  std::string to;
  if (replace) {
    // Over another file, or over a symlink.
    to = !symlinks_.empty() && rng_() % 4 == 0 ? Pick(symlinks_) : Pick(files_);
  } else {
    to = Fresh(Pick(dirs_));
  }
  const int r = ::rename(Path(from).c_str(), Path(to).c_str());
  Note(std::string(replace ? "rename-replace " : "rename ") + from + " -> " + to +
       (r == 0 ? "" : " (failed)"));
}

void Writer::RenameDir() {
  if (dirs_.size() < 2) return Mkdir(Fresh(""));
  const std::string from = dirs_[1 + rng_() % (dirs_.size() - 1)];
  std::string to;
  const int how = static_cast<int>(rng_() % 4);
  if (how == 0) {
    // Over an empty directory (made empty here if it is a fresh one).
    to = Fresh(Pick(dirs_));
    ::mkdir(Path(to).c_str(), 0755);
  } else {
    to = Fresh(Pick(dirs_));  // within its parent or across directories
  }
  if (to.rfind(from + "/", 0) == 0 || to == from) return;  // not into itself
  const int r = ::rename(Path(from).c_str(), Path(to).c_str());
  Note(std::string(how == 0 ? "rename-dir over empty " : "rename-dir ") + from + " -> " + to +
       (r == 0 ? "" : " (failed: " + std::string(std::strerror(errno)) + ")"));
}

void Writer::Link() {
  if (files_.empty()) return;
  const std::string target = Pick(files_);
  const std::string p = Fresh(Pick(dirs_));
  ::link(Path(target).c_str(), Path(p).c_str());
  Note("link " + target + " " + p);
}

void Writer::Unlink() {
  std::vector<std::string> victims = files_;
  victims.insert(victims.end(), symlinks_.begin(), symlinks_.end());
  const std::string p = Pick(victims);
  ::unlink(Path(p).c_str());
  Note("unlink " + p);
}

void Writer::Rmdir() {
  if (dirs_.size() < 2) return;
  const std::string p = dirs_[1 + rng_() % (dirs_.size() - 1)];
  std::error_code ec;
  // Mostly an empty one; now and then a whole subtree.
  if (fs::is_empty(Path(p), ec) || rng_() % 3 == 0) {
    fs::remove_all(Path(p), ec);
    Note("rmdir -r " + p);
  }
}

void Writer::Chmod() {
  std::vector<std::string> any = files_;
  any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
  const std::string p = Pick(any);
  static const mode_t kModes[] = {0600, 0644, 0640, 0755, 0700, 0444, 02755, 01777, 0750};
  mode_t m = kModes[rng_() % std::size(kModes)];
  struct stat st {};
  if (::lstat(Path(p).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) m |= 0700;  // stay writable
  ::chmod(Path(p).c_str(), m);
  Note("chmod " + p + " " + Octal(m));
}

void Writer::Chown() {
  std::vector<std::string> any = files_;
  any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
  any.insert(any.end(), symlinks_.begin(), symlinks_.end());
  const std::string p = Pick(any);
  static const uid_t kIds[] = {0, 1, 1000, 1001, 65534};
  const uid_t u = kIds[rng_() % std::size(kIds)];
  const gid_t g = kIds[rng_() % std::size(kIds)];
  ::lchown(Path(p).c_str(), u, g);
  Note("chown " + p + " " + std::to_string(u) + ":" + std::to_string(g));
}

void Writer::Utimes() {
  std::vector<std::string> any = files_;
  any.insert(any.end(), dirs_.begin(), dirs_.end());
  any.insert(any.end(), symlinks_.begin(), symlinks_.end());
  const std::string p = Pick(any);
  struct timespec t[2];
  t[0].tv_sec = 1000000000 + static_cast<time_t>(rng_() % 700000000);
  t[0].tv_nsec = static_cast<long>(rng_() % 1000000000);
  t[1].tv_sec = 1000000000 + static_cast<time_t>(rng_() % 700000000);
  t[1].tv_nsec = static_cast<long>(rng_() % 1000000000);
  ::utimensat(AT_FDCWD, Path(p).c_str(), t, AT_SYMLINK_NOFOLLOW);
  Note("utimes " + (p.empty() ? "." : p) + " " + std::to_string(t[1].tv_sec) + "." +
       std::to_string(t[1].tv_nsec));
}

void Writer::Xattr(bool trusted) {
  std::vector<std::string> any = files_;
  any.insert(any.end(), dirs_.begin() + 1, dirs_.end());
  if (any.empty()) return;
  const std::string p = Pick(any);
  const int how = static_cast<int>(rng_() % 5);
  const std::string name = trusted ? "trusted.georep-harness" : "user.k" + std::to_string(how % 3);
  if (how == 4 && !trusted) {
    ::lremovexattr(Path(p).c_str(), "user.k0");
    Note("removexattr " + p + " user.k0");
    return;
  }
  const std::string v = how == 3 ? RandomBytes(rng_, rng_() % 200) : std::to_string(rng_() % 1000);
  ::lsetxattr(Path(p).c_str(), name.c_str(), v.data(), v.size(), 0);
  Note("setxattr " + p + " " + name + " (" + std::to_string(v.size()) + " bytes)");
}

void Writer::Symlink() {
  // A new symlink, or one retargeted (a new symlink renamed over the old one).
  std::string target;
  if (!all_.empty() && rng_() % 2)
    target = "/" + Pick(all_);  // absolute, never followed
  else
    target = "target-" + std::to_string(rng_() % 10);
  if (!symlinks_.empty() && rng_() % 2) {
    const std::string p = Pick(symlinks_);
    const std::string tmp = Fresh(Pick(dirs_));
    ::symlink(target.c_str(), Path(tmp).c_str());
    ::rename(Path(tmp).c_str(), Path(p).c_str());
    Note("symlink retarget " + p + " -> " + target);
  } else {
    const std::string p = Fresh(Pick(dirs_));
    ::symlink(target.c_str(), Path(p).c_str());
    Note("symlink " + p + " -> " + target);
  }
}

void Writer::Fifo() {
  const std::string p = Fresh(Pick(dirs_));
  ::mkfifo(Path(p).c_str(), 0644);
  Note("mkfifo " + p);
}

void Writer::Acl() {
  const std::string p = Pick(files_);
  const std::string v = AclValue(rng_);
  const int r = ::lsetxattr(Path(p).c_str(), "system.posix_acl_access", v.data(), v.size(), 0);
  Note("setfacl " + p + (r == 0 ? "" : " (failed: " + std::string(std::strerror(errno)) + ")"));
}

}  // namespace georep::fault
