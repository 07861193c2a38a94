// Internal to the Applier (applier*.cc): the helpers, limits and in-flight file records its
// files share. Not for other users.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/applier.h"
#include "replication/content_hash.h"
#include "replication/path_beneath.h"
#include "replication/wire.h"

namespace georep::replication {
namespace applier_internal {

// kBatch: a batch ends at the latest after this many files.
constexpr size_t kMaxStagedFiles = 4096;

// The wire ErrorCode for a failed system call's errno.
ErrorCode CodeForErrno(int err);

// `path` itself in `paths`, a path of `paths` beneath it, or one above it.
bool MeetsOneOf(const std::set<std::string>& paths, const std::string& path);
// A path of `paths` above `path` (a directory it would be in).
bool BeneathOneOf(const std::set<std::string>& paths, const std::string& path);

// Writes all of `bytes` at `offset` of `fd` through `calls` and, when large and `durability`
// asks for syncs, starts their writeback at once (so that the sync before the rename finds
// little left to do). 0, or the errno of the failure.
int WriteAt(FileSystemCalls* calls, int fd, std::string_view bytes, uint64_t offset,
            Durability durability);

// The one or two paths an entry operation works on; `other` for what is not one (a
// Barrier...). A file's data and end work on the path of its FileBegin: none here.
struct PathsOf {
  explicit PathsOf(const Message& message);
  template <typename Pred>
  bool Any(Pred pred) const {
    return (first != nullptr && pred(*first)) || (second != nullptr && pred(*second));
  }
  const std::string* first = nullptr;
  const std::string* second = nullptr;
  bool other = false;
};

}  // namespace applier_internal

// The file being transferred on the applier's own thread (FileBegin to FileEnd).
struct Applier::OpenFile {
  uint64_t begin_seq = 0;
  std::string path;
  Parent parent;
  std::string temp_name;
  UniqueFd fd;
  uint32_t mode = 0;
  uint64_t next_offset = 0;
  ContentHasher hasher;
  UniqueFd basis;   // the old version BlockCopy copies from, opened at the first one
  UniqueFd source;  // the source file SourceCopy copies from, opened at the first one
  bool source_copied = false;
};

// A whole small file written on a file thread (ApplierOptions::file_threads).
struct Applier::FileJob {
  Parent parent;
  std::string temp;
  std::string path;
  uint32_t mode = 0;
  uint64_t begin_seq = 0;
  std::vector<FileData> data;
  FileEnd end;
  std::optional<SetMeta> meta;
  uint64_t bytes = 0;
  // The outcome. A failure is the one of message `failed_seq`; the file was left as it was.
  bool done = false;  // guarded by jobs_mutex_
  Status status = Status::Ok();
  ErrorCode code = ErrorCode::kOther;
  uint64_t failed_seq = 0;
  // The SetMeta's own failure: the content went in all the same.
  Status meta_status = Status::Ok();
  ErrorCode meta_code = ErrorCode::kOther;
  bool staged = false;  // kBatch: verified, under `temp`
  // The rename found another entry at `path`: the applier's thread removes it, and renames.
  bool in_the_way = false;
};

// Fails the operation with kInvalidPath unless `path` is a valid path beneath the root.
#define GEOREP_VALIDATE_PATH(path, allow_root)                               \
  do {                                                                       \
    Status georep_path_status_ = ValidateRelativePath((path), (allow_root)); \
    if (!georep_path_status_.ok()) {                                         \
      return Fail(ErrorCode::kInvalidPath, georep_path_status_);             \
    }                                                                        \
  } while (false)

}  // namespace georep::replication
