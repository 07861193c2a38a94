#include "base/fault_env.h"

#include <errno.h>

#include <cstring>
#include <utility>

namespace georep {
namespace {

Status Injected(const char* what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + strerror(err));
}

}  // namespace

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::unique_ptr<WritableFile> base, std::string path)
      : env_(env), base_(std::move(base)), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    bool torn = false;
    if (const int err = env_->Take(&env_->writes_, path_); err != 0) {
      {
        std::lock_guard<std::mutex> lock(env_->mutex_);
        torn = env_->torn_;
      }
      if (torn) (void)base_->Append(data.substr(0, data.size() / 2));
      return Injected("cannot write", path_, err);
    }
    return base_->Append(data);
  }
  Status Sync() override {
    if (const int err = env_->Take(&env_->syncs_, path_); err != 0)
      return Injected("cannot sync", path_, err);
    GEOREP_RETURN_IF_ERROR(base_->Sync());
    env_->Synced(path_);
    return Status::Ok();
  }
  Status Close() override { return base_->Close(); }

 private:
  FaultEnv* env_;
  std::unique_ptr<WritableFile> base_;
  std::string path_;
};

void FaultEnv::FailWrites(int times, int err, bool torn, std::string path_part) {
  std::lock_guard<std::mutex> lock(mutex_);
  writes_ = {times, err, std::move(path_part)};
  torn_ = torn;
}

void FaultEnv::FailSyncs(int times, int err, std::string path_part) {
  std::lock_guard<std::mutex> lock(mutex_);
  syncs_ = {times, err, std::move(path_part)};
}

void FaultEnv::FailRenames(int times, int err, std::string path_part) {
  std::lock_guard<std::mutex> lock(mutex_);
  renames_ = {times, err, std::move(path_part)};
}

void FaultEnv::SetActive(bool active) {
  std::lock_guard<std::mutex> lock(mutex_);
  active_ = active;
}

int FaultEnv::injected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return injected_;
}

int FaultEnv::Take(Armed* armed, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  int err = 0;
  if (!active_) {
    err = EIO;
  } else if (armed != nullptr && armed->times > 0 &&
             path.find(armed->path_part) != std::string::npos) {
    --armed->times;
    err = armed->err;
  }
  if (err != 0) ++injected_;
  return err;
}

void FaultEnv::Synced(const std::string& path) {
  auto size = base_->FileSize(path);
  std::lock_guard<std::mutex> lock(mutex_);
  synced_[path] = size.ok() ? *size : 0;
}

Result<std::unique_ptr<WritableFile>> FaultEnv::OpenWritable(const std::string& path,
                                                             OpenMode mode) {
  if (const int err = Take(nullptr, path); err != 0) return Injected("cannot open", path, err);
  // What a file held before this Env first wrote to it counts as durable.
  uint64_t durable = 0;
  if (mode == OpenMode::kAppend) {
    auto size = base_->FileSize(path);
    durable = size.ok() ? *size : 0;
  }
  GEOREP_ASSIGN_OR_RETURN(auto file, base_->OpenWritable(path, mode));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (mode == OpenMode::kTruncate || synced_.count(path) == 0) synced_[path] = durable;
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<FaultWritableFile>(this, std::move(file), path));
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  if (const int err = Take(&renames_, from); err != 0) return Injected("cannot rename", from, err);
  GEOREP_RETURN_IF_ERROR(base_->Rename(from, to));
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = synced_.find(from); it != synced_.end()) {
    synced_[to] = it->second;
    synced_.erase(it);
  } else {
    synced_.erase(to);  // durable as it was
  }
  return Status::Ok();
}

Status FaultEnv::Remove(const std::string& path) {
  if (const int err = Take(nullptr, path); err != 0) return Injected("cannot remove", path, err);
  GEOREP_RETURN_IF_ERROR(base_->Remove(path));
  std::lock_guard<std::mutex> lock(mutex_);
  synced_.erase(path);
  return Status::Ok();
}

Status FaultEnv::Truncate(const std::string& path, bool sync) {
  if (const int err = Take(nullptr, path); err != 0) return Injected("cannot truncate", path, err);
  GEOREP_RETURN_IF_ERROR(base_->Truncate(path, sync));
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = synced_.find(path); it != synced_.end()) it->second = 0;
  return Status::Ok();
}

Status FaultEnv::DropUnsyncedData() {
  std::map<std::string, uint64_t> synced;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    synced = synced_;
  }
  for (const auto& [path, durable] : synced) {
    auto data = base_->ReadFile(path);
    if (!data.ok() || data->size() <= durable) continue;
    GEOREP_ASSIGN_OR_RETURN(auto file, base_->OpenWritable(path, OpenMode::kTruncate));
    GEOREP_RETURN_IF_ERROR(file->Append(std::string_view(*data).substr(0, durable)));
    GEOREP_RETURN_IF_ERROR(file->Sync());
    GEOREP_RETURN_IF_ERROR(file->Close());
  }
  return Status::Ok();
}

}  // namespace georep
