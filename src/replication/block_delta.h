// Block delta: sending a changed large file as the differences from the version the
// destination already holds (rsync's algorithm: a rolling weak checksum finds blocks of the
// old version at any offset of the new one, a strong hash confirms them).
//
// Unlike rsync, the destination is never asked for its blocks' checksums: the worker keeps
// the signature of every large file it sent (BlockSignature, in its state directory), so a
// delta costs no round trip and no read at the destination before the transfer. The new
// file's XXH3-128 still travels in FileEnd and the agent checks it over the file it built: if
// the destination's copy was changed behind the worker's back, the transfer is refused and
// the worker sends the whole file next time.
//
// Thread-safety: none; plain functions and values.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/content_hash.h"

namespace georep::replication {

// Files smaller than this are always sent whole.
inline constexpr uint64_t kDeltaMinFileSize = 1u << 20;

// The block size for a file of `size` bytes: about its square root (as rsync), a power of
// two between 4 KiB and 128 KiB.
uint32_t BlockSizeFor(uint64_t size);

// rsync's rolling checksum of a block: two 16-bit sums, updated in O(1) per byte slid.
class RollingChecksum {
 public:
  void Reset(std::string_view block);
  void Roll(uint8_t out, uint8_t in);
  uint32_t value() const { return (b_ << 16) | (a_ & 0xffff); }

 private:
  uint32_t a_ = 0, b_ = 0, length_ = 0;
};

// The blocks of one version of a file, as sent.
struct BlockSignature {
  uint64_t file_size = 0;
  int64_t mtime_ns = 0;  // of the version it describes (with file_size, checked before use)
  uint32_t block_size = 0;
  std::vector<uint32_t> weak;    // RollingChecksum of each block (the last may be short)
  std::vector<uint64_t> strong;  // XXH3-64 of each block
};

// Builds a BlockSignature from the file's bytes, in order, in chunks of any size.
class SignatureBuilder {
 public:
  explicit SignatureBuilder(uint64_t file_size);
  void Update(std::string_view bytes);
  BlockSignature Finish(int64_t mtime_ns);

 private:
  BlockSignature sig_;
  std::string pending_;  // the bytes of the block being filled
};

// One instruction of a delta, in increasing `offset` order: `length` bytes at `offset` of the
// new file are either `literal`, or the old version's bytes at `base_offset`.
struct DeltaOp {
  bool copy = false;
  uint64_t offset = 0;
  uint64_t base_offset = 0;
  uint64_t length = 0;
  std::string_view literal;  // valid during the callback only
};

// Reads the new version through `read(offset, buffer, max) -> bytes read (0 at the end, < 0
// on error, errno set)` and calls `emit` for each instruction; literals are at most
// `max_literal` bytes. Adjacent copies are merged. Also feeds every byte of the new version
// to `hasher` and `next_signature`, so that one read serves the delta, the end-to-end hash
// and the signature of the next delta.
Status ComputeDelta(const std::function<ssize_t(uint64_t, char*, size_t)>& read, uint64_t size,
                    const BlockSignature& base, size_t max_literal,
                    const std::function<Status(const DeltaOp&)>& emit, ContentHasher* hasher,
                    SignatureBuilder* next_signature);

// Signatures kept in a directory, one file per path (named by a hash of the path; the path
// is stored inside and checked).
class SignatureStore {
 public:
  explicit SignatureStore(std::string directory) : directory_(std::move(directory)) {}
  // The signature of `path`, when one is kept for exactly this size and mtime (kAnyMtime: any).
  static constexpr int64_t kAnyMtime = INT64_MIN;
  bool Find(const std::string& path, uint64_t size, int64_t mtime_ns, BlockSignature* out) const;
  Status Save(const std::string& path, const BlockSignature& signature);
  void Forget(const std::string& path);

 private:
  std::string FileFor(const std::string& path) const;
  std::string directory_;
};

}  // namespace georep::replication
