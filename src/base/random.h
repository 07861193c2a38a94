// Random: the seam for unpredictable bytes (ids, tokens, passwords). Production uses the
// kernel's CSPRNG through libsodium; tests may pass a seeded source for repeatable ids.
#pragma once

#include <cstdint>
#include <string>

namespace georep {

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(uint8_t* out, size_t len) = 0;

  // RFC 4122 version-4 UUID, lower-case: "3f0c...-...".
  std::string NewUuid();
  // `bytes` random bytes as unpadded base64url.
  std::string NewToken(size_t bytes);
  // A password of `len` characters from an unambiguous alphabet (no 0/O, 1/l/I).
  std::string NewPassword(size_t len);
};

class SystemRandom final : public Random {
 public:
  SystemRandom();
  void Fill(uint8_t* out, size_t len) override;
};

// Deterministic xorshift source for tests. Not for secrets.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed ? seed : 0x9e3779b97f4a7c15ULL) {}
  void Fill(uint8_t* out, size_t len) override;

 private:
  uint64_t state_;
};

}  // namespace georep
