// FaultEnv: an Env (env.h) decorator for tests that fails what a test arms -- writes (ENOSPC,
// EIO; torn: half the data written first, a short write that then fails), syncs, renames, or
// everything while the file system is "gone" -- and simulates a crash: DropUnsyncedData() cuts
// each file written through it back to what was synced of it (leveldb's
// FaultInjectionTestEnv, rocksdb's FaultInjectionTestFS). Renames, removals and truncations
// count as durable at once; file data only once synced.
//
// Thread-safety: all calls from any thread (one mutex). A file renamed while open keeps
// being tracked under the name it was opened with.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/env.h"

namespace georep {

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base) : base_(base) {}

  // The next `times` Appends fail with `err`; with `torn`, each first writes half its data.
  // Each fault hits only paths that contain `path_part` (empty: any path).
  void FailWrites(int times, int err, bool torn = false, std::string path_part = "");
  void FailSyncs(int times, int err, std::string path_part = "");
  void FailRenames(int times, int err, std::string path_part = "");
  // While inactive, every write, sync, rename, removal and truncation fails with EIO.
  void SetActive(bool active);
  // A crash: each file written through this Env keeps only what was synced of it.
  Status DropUnsyncedData();
  // Faults injected so far.
  int injected() const;

  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_->ReadFile(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status Truncate(const std::string& path, bool sync) override;

 private:
  friend class FaultWritableFile;
  struct Armed {
    int times = 0;
    int err = 0;
    std::string path_part;
  };
  // Whether a fault of `armed` (or an inactive file system) fails this call on `path`; its
  // errno then, else 0.
  int Take(Armed* armed, const std::string& path);
  void Synced(const std::string& path);

  Env* const base_;
  mutable std::mutex mutex_;
  Armed writes_, syncs_, renames_;  // guarded by mutex_ (all below too)
  bool torn_ = false;
  bool active_ = true;
  int injected_ = 0;
  std::map<std::string, uint64_t> synced_;  // bytes of each file written here that are durable
};

}  // namespace georep
