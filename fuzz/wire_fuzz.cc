// Fuzz target for the replication wire decoder: any bytes, cut into any chunks, must yield
// messages or Corruption -- no crash, no sanitizer report, no unbounded allocation.
//   libFuzzer:  scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined)
//   replay:     georep_wire_replay FILES...  (built by every build; CTest replays the corpus)
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "replication/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using georep::replication::Decoder;
  using georep::replication::Encoder;
  using georep::replication::Message;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The first byte picks the chunk size, so partial-frame handling is exercised too.
  size_t chunk = size > 0 ? 1 + static_cast<uint8_t>(bytes[0]) : 1;
  Decoder decoder;
  std::vector<Message> messages;
  for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
    if (!decoder.Feed(bytes.substr(pos, chunk), &messages).ok()) break;
  }
  // Whatever decoded must encode again (a decoded message is always within limits).
  Encoder encoder;
  std::string out;
  for (const Message& m : messages) {
    if (!encoder.Append(m, &out).ok()) __builtin_trap();
  }
  return 0;
}
