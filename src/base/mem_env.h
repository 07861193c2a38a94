// MemEnv: an Env (env.h) whose files live in memory -- hermetic tests of what a worker keeps
// in its state directory. Paths are plain keys: no directories are needed or checked. A crash
// (what was not synced is lost) is FaultEnv's (fault_env.h), over this or any Env.
//
// Thread-safety: all calls from any thread (one mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/env.h"

namespace georep {

class MemEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  bool Exists(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status Truncate(const std::string& path, bool sync) override;

  struct File {
    std::string data;
  };

 private:
  friend class MemWritableFile;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<File>> files_;  // guarded by mutex_
};

}  // namespace georep
