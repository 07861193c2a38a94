#include "base/random.h"

#include <fmt/format.h>
#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace georep {

std::string Random::NewUuid() {
  uint8_t b[16];
  Fill(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

std::string Random::NewToken(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  Fill(raw.data(), raw.size());
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

std::string Random::NewPassword(size_t len) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out;
  out.reserve(len);
  while (out.size() < len) {
    uint8_t b;
    Fill(&b, 1);
    // Rejection sampling keeps the distribution uniform.
    if (b >= 256 - (256 % kAlphabet.size())) continue;
    out.push_back(kAlphabet[b % kAlphabet.size()]);
  }
  return out;
}

SystemRandom::SystemRandom() {
  if (sodium_init() < 0) std::abort();  // No entropy source: nothing safe can be done.
}

void SystemRandom::Fill(uint8_t* out, size_t len) {
  randombytes_buf(out, len);
}

void SeededRandom::Fill(uint8_t* out, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    out[i] = static_cast<uint8_t>(state_ >> 24);
  }
}

}  // namespace georep
