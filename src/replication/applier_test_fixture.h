// The fixture the Applier's tests share (applier*_test.cc): an applier on a temporary
// destination, with file-system calls that fail on demand and a clock that moves only when
// told.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "replication/applier.h"
#include "replication/test_util.h"

namespace georep::replication::applier_testing {

// What the applier's tests take from test_util.h.
using testing::DescribeTree;
using testing::Exists;
using testing::GeorepTempFiles;
using testing::ReadFile;
using testing::TempDir;
using testing::UserXattrs;
using testing::WriteFile;

// Injects failures into the applier's file-system calls. Thread-safe, as file threads need:
// set the fields while the applier is idle.
class FaultyCalls final : public FileSystemCalls {
 public:
  ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset) override;
  ssize_t CopyFileRange(int in, off_t* in_offset, int out, off_t* out_offset,
                        size_t count) override;
  int Fsync(int fd) override;
  int Syncfs(int fd) override;
  int Renameat(int old_dir, const char* old_name, int new_dir, const char* new_name) override;
  // While held, a syncfs waits until it is let go (to see what goes on meanwhile).
  void HoldSyncs(bool hold);
  bool WaitForHeldSync();

  int syncfs_errno = 0;
  int copy_errno = 0;  // copy_file_range fails with it
  int in_kernel_copies = 0;
  std::vector<int> renames_after_syncfs;  // syncfs calls made before each rename
  int write_errno = 0;
  size_t write_budget = 0;
  size_t written = 0;
  int fsync_errno = 0;
  int fsyncs = 0;
  int syncfs_calls = 0;

 private:
  std::mutex mutex_;  // the counters' (syncfs_calls: the applier runs one sync at a time)
  std::mutex gate_mutex_;
  std::condition_variable gate_changed_;
  bool hold_syncs_ = false;
  bool sync_waiting_ = false;
};

SetMeta Meta(std::string path, uint32_t fields, uint32_t mode = 0, int64_t mtime_ns = 0);

// The messages of one whole file and its SetMeta, as a worker sends them.
std::vector<Message> FileWithMeta(uint64_t* seq, const std::string& path,
                                  const std::string& content, const SetMeta& meta);

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(ApplierOptions options = {});
  Status Apply(Message m);
  // A whole-file transfer, in chunks of `chunk` bytes; every message is sent, as a worker
  // would, and the first failure is returned.
  Status SendFile(const std::string& path, const std::string& content, uint32_t mode = 0644,
                  size_t chunk = 3);
  std::string D(const std::string& rel) const { return dest_ / rel; }
  // Reopens at `durability` with `file_threads` and speaks the handshake.
  void StartConversation(Durability durability, size_t file_threads = 0);
  void StartBatchConversation() { StartConversation(Durability::kBatch); }

  TempDir dest_;
  TempDir outside_;
  FaultyCalls calls_;
  FakeClock clock_;
  std::unique_ptr<Applier> applier_;
  uint64_t seq_ = 0;
};

}  // namespace georep::replication::applier_testing
