// Content checksums for replicated files: XXH3-128 (libxxhash), chosen for speed (many GB/s)
// with a 128-bit result, so that an accidental match is out of the question. It detects
// corruption and bugs in transit; it is not a defence against a malicious peer (ssh is).
//
// Thread-safety: a ContentHasher is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace georep::replication {

struct Hash128 {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const Hash128&) const = default;
  std::string ToHex() const;  // 32 hex digits, high half first (as xxhsum prints it)
};

// Streaming XXH3-128. Holes of sparse files are hashed as the zeros they read as.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(ContentHasher&&) noexcept;
  ContentHasher& operator=(ContentHasher&&) noexcept;

  void Update(std::string_view bytes);
  void UpdateZeros(uint64_t count);
  Hash128 Finish() const;  // the hash so far; hashing may continue
  void Reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Hash128 HashBytes(std::string_view bytes);

}  // namespace georep::replication
