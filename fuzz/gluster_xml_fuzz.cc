// Fuzz target for the gluster CLI parsers (XML, the mountbroker's JSON lines), gsyncd's log
// reader and what the gsyncd status reader prints: any bytes, no crash, no sanitizer report.
//   libFuzzer:  scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined)
//   replay:     georep_fuzz_replay FILES...  (built by every build; CTest replays the corpus)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gluster/cli_xml.h"
#include "gluster/gsyncd_log.h"
#include "gluster/gsyncd_status.h"
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
  if (auto report = georep::ParseGsyncdNodeReport(text); report.ok()) {
    for (const auto& [dir, files] : report->sessions) {
      for (const auto& [file, json] : files.bricks) (void)georep::GsyncdBrickRow(files, file, "h");
      (void)georep::GsyncdBrickRow(files, "/b", "h");
    }
  }
  return 0;
}
