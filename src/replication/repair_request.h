// RepairRequest: what `georep session repair` asks of a worker -- the paths a verify found to
// differ at the destination -- and how the worker's index takes it in. The engine writes it
// into the worker's state directory (`repair.request`, replaced atomically and synced); the
// worker reads it at start and between passes, marks its index (ApplyRepairRequest), saves the
// index, removes the file and runs a full pass, which then sends exactly those paths again and
// deletes what only the destination has. Once that pass is applied the worker's status names
// the request (`repaired`), and the engine verifies again.
//
// Format (text, NUL-terminated records, so any path fits): "GRREPAIR 1\n" id "\n", then per
// path a kind byte -- 'S' stale (sent again), 'M' missing (sent as new), 'D' only at the
// destination (deleted; followed by its type's digit as EntryType) -- and the path, '\0'.
//
// Thread-safety: free functions on values and files; one worker owns its state directory.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "replication/scanner.h"
#include "replication/synced_index.h"
#include "replication/verify.h"

namespace georep::replication {

struct RepairRequest {
  std::string id;                    // names the request in the worker's status once done
  std::vector<std::string> stale;    // the destination's copy differs: sent again
  std::vector<std::string> missing;  // the destination has none, or one of another type
  std::vector<std::pair<std::string, EntryType>> extra;  // only at the destination: deleted
  bool operator==(const RepairRequest&) const = default;
  bool empty() const { return stale.empty() && missing.empty() && extra.empty(); }
};

inline constexpr std::string_view kRepairRequestFile = "repair.request";

// What repairs the differences of `report` (unreadable entries: nothing).
RepairRequest RepairRequestFromVerify(const VerifyReport& report, std::string id);

std::string EncodeRepairRequest(const RepairRequest& request);
// Corruption for anything but one well-formed request with relative paths.
Result<RepairRequest> DecodeRepairRequest(std::string_view bytes);

// Replaces `state_dir`'s request (written, synced, renamed into place).
Status WriteRepairRequest(const std::string& state_dir, const RepairRequest& request);
// The waiting request; NotFound when there is none.
Result<RepairRequest> ReadRepairRequest(const std::string& state_dir);
Status RemoveRepairRequest(const std::string& state_dir);

// The one place a repair changes what the worker believes the destination holds: a stale
// path is "not known to be current" (mtime -1: sent again -- a file whole, a directory's
// metadata; two paths of one inode both stale are joined again as links), a missing path is
// forgotten (sent as new), a destination-only path is recorded (so the full pass deletes it,
// deepest first). Returns the index changes, for IndexStore.
std::vector<IndexDelta> ApplyRepairRequest(const RepairRequest& request, SyncedIndex* index);

}  // namespace georep::replication
