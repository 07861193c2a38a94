// ByteReader and the Put* writers: the varints (LEB128, zig-zag for signed), fixed-width
// little-endian integers and length-prefixed strings of the wire protocol (wire_codec*.cc) and
// of tree descriptions (tree_description.cc). One implementation, so the two formats cannot
// drift apart in how they spell a number.
//
// Thread-safety: a ByteReader is used by one thread; the writers are plain functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace georep::replication {

void PutVarint(std::string* out, uint64_t v);
void PutSigned(std::string* out, int64_t v);  // zig-zag, then a varint
void PutFixed64(std::string* out, uint64_t v);
void PutBytes(std::string* out, std::string_view s);  // a varint length, then the bytes

// Reads fields from a buffer it does not own. The first failure sticks (and empties the
// input; reads after it return zero values), so a caller reads a whole record and checks
// ok() once.
class ByteReader {
 public:
  // How failures name what was read: "truncated <unit>", "... runs past <end>".
  struct Words {
    std::string_view unit = "record";
    std::string_view end = "the end";
  };
  explicit ByteReader(std::string_view bytes);
  ByteReader(std::string_view bytes, Words words);

  uint64_t Varint();
  // A varint that must fit in 32 bits; `what` names it in the failure.
  uint32_t Varint32(std::string_view what = {});
  int64_t Signed();
  uint8_t Byte();
  uint64_t Fixed64();
  // A length-prefixed string of at most `max` bytes; `what` names it in the failure.
  std::string Bytes(std::string_view what, size_t max);

  // Records `why` unless a failure is recorded already; returns 0 for the caller's value.
  uint64_t Fail(std::string why);
  bool ok() const { return error_.empty(); }
  bool empty() const { return rest_.empty(); }
  size_t remaining() const { return rest_.size(); }
  const std::string& error() const { return error_; }

 private:
  std::string_view rest_;
  Words words_;
  std::string error_;
};

}  // namespace georep::replication
