// Env: the one seam for the files a worker keeps in its state directory (the synced index, the
// change journal, status.json). Production code takes an Env*; Env::Default() is POSIX, tests
// pass a MemEnv (mem_env.h) or a FaultEnv (fault_env.h) that fails writes, syncs and renames
// and drops what was not synced at a simulated crash.
//
// Errors are IOError (NotFound for a file that is not there) with the path and the system's
// reason. Thread-safety: an Env is safe to use from several threads; one WritableFile is used
// by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace georep {

// A file open for writing. Destroying it closes it (errors then go unseen: call Close()).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // All of `data`, or an error (part of it may have been written: a torn write).
  virtual Status Append(std::string_view data) = 0;
  // What was appended is on stable storage (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

class Env {
 public:
  enum class OpenMode { kTruncate, kAppend };

  virtual ~Env() = default;
  // The POSIX file system; never destroyed.
  static Env* Default();

  // Opens `path` for writing, created (mode 0600) when absent: emptied first (kTruncate) or
  // written at its end (kAppend).
  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             OpenMode mode) = 0;
  // The whole file; NotFound when it is not there.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Its size; NotFound when it is not there.
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Replaces `to` with `from` atomically.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // NotFound when it is not there.
  virtual Status Remove(const std::string& path) = 0;
  // Empties `path` (and, with `sync`, makes that durable); NotFound when it is not there.
  virtual Status Truncate(const std::string& path, bool sync) = 0;
};

// Writes `data` to `path` + ".tmp" (synced first when `sync`) and renames it over `path`: a
// reader finds the old file or the new one, whole. The temporary file is removed on failure.
Status ReplaceFile(Env* env, const std::string& path, std::string_view data, bool sync);

}  // namespace georep
