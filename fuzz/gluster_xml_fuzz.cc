// Fuzz target for the gluster CLI parsers (XML, the mountbroker's JSON lines) and gsyncd's log
// reader: any bytes, no crash, no sanitizer report.
//   libFuzzer:  scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined)
//   replay:     georep_fuzz_replay FILES...  (built by every build; CTest replays the corpus)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gluster/cli_xml.h"
#include "gluster/gsyncd_log.h"
#include "gluster/mountbroker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)georep::ParsePoolList(text);
  (void)georep::ParseVolumeInfo(text);
  (void)georep::ParseVolumeStatusDetail(text);
  (void)georep::ParseGeoRepStatus(text);
  (void)georep::ParseGeoRepConfig(text);
  (void)georep::ParseGlusterTime(text);
  (void)georep::ParseMountbrokerNodes(text);
  (void)georep::GsyncdFailureReason(text, "/var/tmp/grgc/src1/bricks/gv0", 300);
  (void)georep::OneLine(text, 7);
  return 0;
}
