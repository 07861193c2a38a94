// Little-endian fixed-width integers and length-prefixed strings, for the files a worker keeps
// in its state directory (synced index, change journal, block signatures). The wire protocol
// and tree descriptions count in varints (byte_reader.h), which reads and writes their
// fixed-width fields with these.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace georep::replication::le {

inline void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// False (and `in` unchanged past what was read) when fewer than 8 bytes are left.
inline bool GetU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i)
    *v |= static_cast<uint64_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(8);
  return true;
}

inline void PutStr(std::string* out, std::string_view s) {
  PutU64(out, s.size());
  out->append(s);
}

inline bool GetStr(std::string_view* in, std::string* s) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || n > in->size()) return false;
  s->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

}  // namespace georep::replication::le
