#include "replication/applier_test_fixture.h"

#include <cerrno>
#include <chrono>
#include <utility>

#include "replication/content_hash.h"

namespace georep::replication::applier_testing {

ssize_t FaultyCalls::Pwrite(int fd, const void* buf, size_t count, off_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (write_errno != 0 && written + count > write_budget) {
    errno = write_errno;
    return -1;
  }
  written += count;
  return FileSystemCalls::Pwrite(fd, buf, count, offset);
}
ssize_t FaultyCalls::CopyFileRange(int in, off_t* in_offset, int out, off_t* out_offset,
                                   size_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (copy_errno != 0) {
    errno = copy_errno;
    return -1;
  }
  ++in_kernel_copies;
  return FileSystemCalls::CopyFileRange(in, in_offset, out, out_offset, count);
}
int FaultyCalls::Fsync(int fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fsync_errno != 0) {
    errno = fsync_errno;
    return -1;
  }
  ++fsyncs;
  return FileSystemCalls::Fsync(fd);
}
int FaultyCalls::Syncfs(int fd) {
  {
    std::unique_lock<std::mutex> lock(gate_mutex_);
    sync_waiting_ = true;
    gate_changed_.notify_all();
    gate_changed_.wait(lock, [&] { return !hold_syncs_; });
    sync_waiting_ = false;
  }
  if (syncfs_errno != 0) {
    errno = syncfs_errno;
    return -1;
  }
  ++syncfs_calls;
  return FileSystemCalls::Syncfs(fd);
}
int FaultyCalls::Renameat(int old_dir, const char* old_name, int new_dir, const char* new_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  renames_after_syncfs.push_back(syncfs_calls);
  return FileSystemCalls::Renameat(old_dir, old_name, new_dir, new_name);
}
void FaultyCalls::HoldSyncs(bool hold) {
  std::lock_guard<std::mutex> lock(gate_mutex_);
  hold_syncs_ = hold;
  gate_changed_.notify_all();
}
bool FaultyCalls::WaitForHeldSync() {
  std::unique_lock<std::mutex> lock(gate_mutex_);
  return gate_changed_.wait_for(lock, std::chrono::seconds(20), [&] { return sync_waiting_; });
}

SetMeta Meta(std::string path, uint32_t fields, uint32_t mode, int64_t mtime_ns) {
  SetMeta m;
  m.path = std::move(path);
  m.fields = fields;
  m.mode = mode;
  m.mtime_ns = mtime_ns;
  return m;
}

std::vector<Message> FileWithMeta(uint64_t* seq, const std::string& path,
                                  const std::string& content, const SetMeta& meta) {
  std::vector<Message> out;
  out.push_back(FileBegin{++*seq, path, content.size(), 0600});
  out.push_back(FileData{++*seq, 0, content});
  out.push_back(FileEnd{++*seq, content.size(), HashBytes(content)});
  SetMeta m = meta;
  m.seq = ++*seq;
  m.path = path;
  out.push_back(m);
  return out;
}

void ApplierTest::Reopen(ApplierOptions options) {
  if (options.clock == nullptr) options.clock = &clock_;  // time moves only when told
  applier_.reset();
  auto a = Applier::Open(dest_.path(), std::move(options), &calls_);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  applier_ = std::move(a).value();
  seq_ = 0;
}

Status ApplierTest::Apply(Message m) {
  std::visit(
      [&](auto& x) {
        if constexpr (requires { x.seq; }) x.seq = ++seq_;
      },
      m);
  return applier_->Apply(m);
}

Status ApplierTest::SendFile(const std::string& path, const std::string& content, uint32_t mode,
                             size_t chunk) {
  Status first = Apply(FileBegin{0, path, content.size(), mode});
  for (size_t off = 0; off < content.size(); off += chunk) {
    Status st = Apply(FileData{0, off, content.substr(off, chunk)});
    if (first.ok()) first = st;
  }
  Status st = Apply(FileEnd{0, content.size(), HashBytes(content)});
  return first.ok() ? st : first;
}

void ApplierTest::StartConversation(Durability durability, size_t file_threads) {
  ApplierOptions options;
  options.durability = durability;
  options.file_threads = file_threads;
  Reopen(options);
  std::vector<Message> replies;
  ASSERT_TRUE(applier_->Handle(Hello{1, 1, 0, "w"}, &replies).ok());
}

}  // namespace georep::replication::applier_testing
