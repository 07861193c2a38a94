#include "base/mem_env.h"

#include <utility>

namespace georep {

// Writes to its File whatever name the file has by now (a rename moves the File).
class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemEnv* env, std::shared_ptr<MemEnv::File> file)
      : env_(env), file_(std::move(file)) {}
  Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_->mutex_);
    file_->data.append(data);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }

 private:
  MemEnv* env_;
  std::shared_ptr<MemEnv::File> file_;
};

Result<std::unique_ptr<WritableFile>> MemEnv::OpenWritable(const std::string& path, OpenMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& file = files_[path];
  if (!file) file = std::make_shared<File>();
  if (mode == OpenMode::kTruncate) file->data.clear();
  return std::unique_ptr<WritableFile>(std::make_unique<MemWritableFile>(this, file));
}

Result<std::string> MemEnv::ReadFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound("cannot read " + path + ": no such file");
  return it->second->data;
}

Result<uint64_t> MemEnv::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound("cannot stat " + path + ": no such file");
  return static_cast<uint64_t>(it->second->data.size());
}

bool MemEnv::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  return files_.count(path) != 0;
}

Status MemEnv::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = files_.find(from);
  if (it == files_.end()) return Status::NotFound("cannot rename " + from + ": no such file");
  auto file = std::move(it->second);
  files_.erase(it);
  files_[to] = std::move(file);
  return Status::Ok();
}

Status MemEnv::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (files_.erase(path) == 0) return Status::NotFound("cannot remove " + path + ": no such file");
  return Status::Ok();
}

Status MemEnv::Truncate(const std::string& path, bool /*sync*/) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound("cannot truncate " + path + ": no such file");
  it->second->data.clear();
  return Status::Ok();
}

}  // namespace georep
