#include "base/env.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace georep {
namespace {

Status Errno(const char* what, const std::string& path, int err) {
  std::string message = std::string(what) + " " + path + ": " + strerror(err);
  return err == ENOENT ? Status::NotFound(std::move(message)) : Status::IOError(std::move(message));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(std::string_view data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("cannot write", path_, errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("cannot sync", path_, errno);
    return Status::Ok();
  }
  Status Close() override {
    const int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return Errno("cannot close", path_, errno);
    return Status::Ok();
  }

 private:
  int fd_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override {
    const int flags =
        O_WRONLY | O_CREAT | O_CLOEXEC | (mode == OpenMode::kTruncate ? O_TRUNC : O_APPEND);
    const int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) return Errno("cannot open", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(fd, path));
  }
  Result<std::string> ReadFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot read", path, errno);
    std::string data;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return Errno("cannot read", path, err);
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
  }
  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return Errno("cannot stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("cannot rename", from, errno);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("cannot remove", path, errno);
    return Status::Ok();
  }
  Status Truncate(const std::string& path, bool sync) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot truncate", path, errno);
    const bool ok = ::ftruncate(fd, 0) == 0 && (!sync || ::fsync(fd) == 0);
    const int err = errno;
    ::close(fd);
    if (!ok) return Errno("cannot truncate", path, err);
    return Status::Ok();
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();  // never destroyed: used until the process exits
  return env;
}

Status ReplaceFile(Env* env, const std::string& path, std::string_view data, bool sync) {
  const std::string tmp = path + ".tmp";
  Status st = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto file, env->OpenWritable(tmp, Env::OpenMode::kTruncate));
    GEOREP_RETURN_IF_ERROR(file->Append(data));
    if (sync) GEOREP_RETURN_IF_ERROR(file->Sync());
    GEOREP_RETURN_IF_ERROR(file->Close());
    return env->Rename(tmp, path);
  }();
  if (!st.ok()) (void)env->Remove(tmp);
  return st;
}

}  // namespace georep
