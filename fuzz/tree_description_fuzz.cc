// Fuzz target for the tree description decoder (what `georep verify` reads back from
// `georep agent --describe` over ssh): any bytes must yield a description or Corruption -- no
// crash, no sanitizer report, no unbounded allocation -- and a decoded description must encode
// to bytes that decode to it again.
//   libFuzzer:  scripts/fuzz.sh SECONDS tree
//   replay:     georep_tree_description_replay FILES...  (CTest replays the corpus)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "replication/tree_description.h"

namespace {

void Check(std::string_view bytes) {
  using georep::replication::DecodeTreeDescription;
  using georep::replication::EncodeTreeDescription;
  auto decoded = DecodeTreeDescription(bytes);
  if (!decoded.ok()) return;
  auto encoded = EncodeTreeDescription(*decoded);
  if (!encoded.ok()) __builtin_trap();
  auto again = DecodeTreeDescription(*encoded);
  if (!again.ok() || !(*again == *decoded)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  // And the input with a valid checksum appended, so the parser behind it is reached too.
  std::string sealed(bytes);
  const georep::replication::Hash128 sum = georep::replication::HashBytes(sealed);
  for (uint64_t v : {sum.low, sum.high})
    for (int i = 0; i < 8; ++i) sealed.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  Check(sealed);
  return 0;
}
