// Path guards: where a directory session's destination may never point. Pure rules on facts
// already gathered (a path's real path and the device/inode of it and of its ancestors, and
// which machine said so); the engine gathers them by running kPathProbeScript on each host
// (engine/directory_destination.cc) and asks CheckDestinationPath before a session is created,
// started or its worker restarted.
//
// A destination may not equal, contain or lie inside its own source, another session's source
// or another session's destination on the same machine (so neither may another session's
// destination stand so to this session's source); may not be a system directory; may
// not equal, contain or lie inside the engine's data directory, and neither may its source
// (which would copy the engine's key and database to wherever the destination is). Paths are
// compared by real path (symlinks resolved) and by device/inode (a bind mount has its original's),
// so neither a symlink nor a bind mount slips through; /a/src and /a/src2 are apart.
//
// Nothing here touches state; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace georep {

struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileId&) const = default;
};

// One path as its machine resolved it.
struct ResolvedPath {
  std::string path;  // as configured
  // Symlinks of the existing part resolved, the rest appended as written; `path` when the
  // machine could not be asked (resolved false).
  std::string real;
  bool resolved = false;
  bool exists = false;
  FileId id;                         // of `real`, when it exists
  std::vector<FileId> ancestor_ids;  // of each existing ancestor of `real`, nearest first
  // A directory that could be listed: whether it holds anything (hidden entries too).
  bool listed = false;
  bool empty = false;
};

// Which machine a path lives on: what the probe said (kernel boot id, mount namespace) and,
// to fall back on, how georep knows the host.
struct MachineIdentity {
  bool engine = false;      // the engine's own machine (a local host or local destination)
  std::string host_id;      // a georep Host's id; empty for a destination
  std::string address;      // ssh address; empty for the engine's machine
  std::string fingerprint;  // pinned ssh host key; empty if none
  std::string boot_id;      // /proc/sys/kernel/random/boot_id there; empty: unknown
  std::string mount_ns;     // "mnt:[4026531841]"; empty: unknown
};

enum class MachineMatch {
  kDifferent,
  // One kernel, another mount namespace (a container): only device/inode compare.
  kSameKernel,
  kSame,
};
MachineMatch CompareMachines(const MachineIdentity& a, const MachineIdentity& b);

// How `a` stands to `b`.
enum class PathRelation { kApart, kEqual, kInside, kContains };
// `by_name`: real paths compare too (one mount namespace); device/inode always do.
PathRelation RelatePaths(const ResolvedPath& a, const ResolvedPath& b, bool by_name);

// Whether `real` is a system directory (/, /etc, anything in /usr ...): why, or empty.
std::string SystemDirectoryProblem(std::string_view real);

// A tree a destination must keep away from.
struct GuardedTree {
  // "destination", "the source volume's directory", "session gv0_x_y's destination": the
  // subject or object of a refusal.
  std::string what;
  std::string host;  // as shown to people
  MachineIdentity machine;
  ResolvedPath path;
  bool source = false;  // another session's source (else its destination)
};

// FailedPrecondition naming the first rule `destination` breaks (its own source, the engine's
// data directory, another session's trees, in that order; the system directories first of all),
// or Ok. `data_dir`: the engine's data directory on the engine's machine (path empty: none).
Status CheckDestinationPath(const GuardedTree& destination, const GuardedTree& source,
                            const std::vector<GuardedTree>& others, const GuardedTree& data_dir);

// Whether `path` is one of `roots` or lies beneath one (whole segments: /srv/a is not beneath
// /srv/ab), the roots an admin allowed directory volumes under (`--volume-root`). No roots:
// no directory volume anywhere. The refusal names `what` and the option.
Status CheckUnderVolumeRoots(std::string_view what, std::string_view path,
                             const std::vector<std::string>& roots);

// The probe: `sh -c kPathProbeScript georep-path-probe PATH...` prints, per path, "P REAL",
// "C 0" or "C 1" when REAL is a directory it can list (empty or not), then "I DEV INO PATH"
// for REAL (if it exists) and each existing ancestor, then "B BOOT_ID", "N MOUNT_NS" and "E".
// Paths only ever arrive as arguments.
extern const char* const kPathProbeScript;
inline constexpr const char* kPathProbeName = "georep-path-probe";
// The same probe when it checks that a new directory volume's path is a directory.
inline constexpr const char* kVolumeCheckName = "georep-volume-check";

struct PathProbeAnswer {
  std::vector<ResolvedPath> paths;  // in the order asked
  std::string boot_id;
  std::string mount_ns;
};
// Corruption when `out` is not a whole answer for `paths`.
Result<PathProbeAnswer> ParsePathProbe(std::string_view out, const std::vector<std::string>& paths);

}  // namespace georep
