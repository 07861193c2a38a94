#include "replication/byte_reader.h"

#include <fmt/format.h>

#include "replication/le_bytes.h"

namespace georep::replication {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutSigned(std::string* out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void PutFixed64(std::string* out, uint64_t v) {
  le::PutU64(out, v);
}

void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

ByteReader::ByteReader(std::string_view bytes) : rest_(bytes) {}
ByteReader::ByteReader(std::string_view bytes, Words words) : rest_(bytes), words_(words) {}

uint64_t ByteReader::Varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (rest_.empty()) return Fail("truncated varint");
    auto byte = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    if (shift == 63 && byte > 1) return Fail("varint overflows 64 bits");
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  return Fail("varint longer than 10 bytes");
}

uint32_t ByteReader::Varint32(std::string_view what) {
  uint64_t v = Varint();
  if (v > UINT32_MAX) {
    return static_cast<uint32_t>(Fail(what.empty() ? std::string("value does not fit in 32 bits")
                                                   : fmt::format("{} exceeds 32 bits", what)));
  }
  return static_cast<uint32_t>(v);
}

int64_t ByteReader::Signed() {
  uint64_t v = Varint();
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

uint8_t ByteReader::Byte() {
  if (rest_.empty()) return static_cast<uint8_t>(Fail(fmt::format("truncated {}", words_.unit)));
  auto b = static_cast<uint8_t>(rest_.front());
  rest_.remove_prefix(1);
  return b;
}

uint64_t ByteReader::Fixed64() {
  uint64_t v = 0;
  if (!le::GetU64(&rest_, &v)) return Fail("truncated fixed-width field");
  return v;
}

std::string ByteReader::Bytes(std::string_view what, size_t max) {
  uint64_t n = Varint();
  if (!ok()) return {};
  if (n > max) {
    Fail(fmt::format("{} of {} bytes exceeds the limit of {}", what, n, max));
    return {};
  }
  if (n > rest_.size()) {
    Fail(fmt::format("{} of {} bytes runs past {}", what, n, words_.end));
    return {};
  }
  std::string s(rest_.substr(0, n));
  rest_.remove_prefix(n);
  return s;
}

uint64_t ByteReader::Fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  rest_ = {};
  return 0;
}

}  // namespace georep::replication
