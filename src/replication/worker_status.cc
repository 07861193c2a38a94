// WorkerStatus (replicator.h) as status.json has it: written by the worker, read by the engine
// (and by `georep worker-link`, which relays a worker's on another host).
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "replication/replicator.h"

namespace georep::replication {

std::string StatusToJson(const WorkerStatus& s) {
  nlohmann::json j = {{"state", s.state},
                      {"crawl", s.crawl},
                      {"change_capture", s.change_capture},
                      {"last_synced_ms", s.last_synced_ms},
                      {"pending_entry", s.pending_entry},
                      {"pending_data", s.pending_data},
                      {"pending_meta", s.pending_meta},
                      {"failures", s.failures},
                      {"bytes_sent", s.bytes_sent},
                      {"files_sent", s.files_sent},
                      {"bytes_applied", s.bytes_applied},
                      {"wire_bytes", s.wire_bytes},
                      {"delta_files", s.delta_files},
                      {"delta_copied_bytes", s.delta_copied_bytes},
                      {"lag_ms", s.lag_ms},
                      {"oldest_pending_ms", s.oldest_pending_ms},
                      {"pass_scanned", s.pass_scanned},
                      {"capture_gaps", s.capture_gaps},
                      {"capture_warning", s.capture_warning},
                      {"repaired", s.repaired},
                      {"reason", s.reason},
                      {"skipped_special", s.skipped_special},
                      {"skipped_xattrs", s.skipped_xattrs},
                      {"skipped_reason", s.skipped_reason},
                      {"updated_ms", s.updated_ms}};
  return j.dump() + "\n";
}

Result<WorkerStatus> StatusFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("worker status is not JSON");
  WorkerStatus s;
  auto str = [&](const char* k, std::string* v) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) *v = it->get<std::string>();
  };
  auto num = [&](const char* k, auto* v) {
    if (auto it = j.find(k); it != j.end() && it->is_number())
      *v = it->get<std::remove_pointer_t<decltype(v)>>();
  };
  str("state", &s.state);
  str("crawl", &s.crawl);
  str("change_capture", &s.change_capture);
  str("reason", &s.reason);
  str("capture_warning", &s.capture_warning);
  num("capture_gaps", &s.capture_gaps);
  str("skipped_reason", &s.skipped_reason);
  num("skipped_special", &s.skipped_special);
  num("skipped_xattrs", &s.skipped_xattrs);
  str("repaired", &s.repaired);
  num("last_synced_ms", &s.last_synced_ms);
  num("pending_entry", &s.pending_entry);
  num("pending_data", &s.pending_data);
  num("pending_meta", &s.pending_meta);
  num("failures", &s.failures);
  num("bytes_sent", &s.bytes_sent);
  num("files_sent", &s.files_sent);
  num("bytes_applied", &s.bytes_applied);  // absent (an older worker): -1, unknown
  num("wire_bytes", &s.wire_bytes);
  num("delta_files", &s.delta_files);
  num("delta_copied_bytes", &s.delta_copied_bytes);
  num("lag_ms", &s.lag_ms);
  num("oldest_pending_ms", &s.oldest_pending_ms);
  num("pass_scanned", &s.pass_scanned);
  num("updated_ms", &s.updated_ms);
  return s;
}

Result<WorkerStatus> ReadWorkerStatus(const std::string& state_dir, Env* env) {
  auto text = env->ReadFile(state_dir + "/status.json");
  if (!text.ok()) return Status::NotFound("no worker status in " + state_dir);
  return StatusFromJson(*text);
}

// Not synced: the status is rewritten every second, and a reader that finds it damaged after a
// crash only waits for the next one.
Status WriteWorkerStatus(const std::string& state_dir, const WorkerStatus& status, Env* env) {
  return ReplaceFile(env, state_dir + "/status.json", StatusToJson(status), /*sync=*/false);
}

}  // namespace georep::replication
