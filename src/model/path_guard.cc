#include "model/path_guard.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <sstream>

namespace georep {
namespace {

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// `inner` lies strictly beneath `outer` (by name: /a/src2 is not beneath /a/src).
bool Beneath(std::string_view inner, std::string_view outer) {
  if (outer == "/") return inner.size() > 1 && inner.front() == '/';
  return inner.size() > outer.size() && inner.substr(0, outer.size()) == outer &&
         inner[outer.size()] == '/';
}

bool Has(const std::vector<FileId>& ids, const FileId& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// "/srv/p" or "/srv/link (really /srv/p)".
std::string Shown(const ResolvedPath& p) {
  if (!p.resolved || p.real == p.path) return p.path;
  return fmt::format("{} (really {})", p.path, p.real);
}

std::string_view Words(PathRelation r) {
  switch (r) {
    case PathRelation::kEqual:
      return "is the same directory as";
    case PathRelation::kInside:
      return "lies inside";
    case PathRelation::kContains:
      return "is a parent of";
    case PathRelation::kApart:
      break;
  }
  return "is apart from";
}

// What `destination` standing so to a tree of `kind` would do.
enum class TreeKind {
  kOwnSource,
  kDataDir,
  kSourceHoldsDataDir,
  kOtherSource,
  kOtherDestination,
  kSourceOfThis
};
std::string_view Consequence(TreeKind kind, PathRelation r) {
  switch (kind) {
    case TreeKind::kOwnSource:
      if (r == PathRelation::kEqual) return "replication would resend it to itself without end";
      if (r == PathRelation::kInside)
        return "replication would copy the destination into itself without end";
      return "replication would overwrite and delete the source";
    case TreeKind::kDataDir:
      return "replication would overwrite and delete the engine's own state";
    case TreeKind::kSourceHoldsDataDir:
      return "replication would copy the engine's private key, database and password hashes";
    case TreeKind::kOtherSource:
      return "replication would overwrite and delete what that session replicates";
    case TreeKind::kOtherDestination:
      return "the two sessions would overwrite and delete each other's files";
    case TreeKind::kSourceOfThis:
      return "that session would overwrite and delete this session's source";
  }
  return "";
}

Status Check(const GuardedTree& d, const GuardedTree& t, TreeKind kind) {
  if (t.path.path.empty()) return Status::Ok();
  const MachineMatch m = CompareMachines(d.machine, t.machine);
  if (m == MachineMatch::kDifferent) return Status::Ok();
  const PathRelation r = RelatePaths(d.path, t.path, m == MachineMatch::kSame);
  if (r == PathRelation::kApart) return Status::Ok();
  return Status::FailedPrecondition(fmt::format("{} {} {} {} {} (same host {}): {}", d.what,
                                                Shown(d.path), Words(r), t.what, Shown(t.path),
                                                t.host, Consequence(kind, r)));
}

}  // namespace

MachineMatch CompareMachines(const MachineIdentity& a, const MachineIdentity& b) {
  // What the kernels said wins: one boot id is one kernel (its device numbers are its own),
  // and one mount namespace is one name space of paths.
  if (!a.boot_id.empty() && !b.boot_id.empty()) {
    if (a.boot_id != b.boot_id) return MachineMatch::kDifferent;
    if (!a.mount_ns.empty() && a.mount_ns == b.mount_ns) return MachineMatch::kSame;
    return MachineMatch::kSameKernel;
  }
  // Otherwise how georep knows the hosts.
  if (a.engine && b.engine) return MachineMatch::kSame;
  if (!a.host_id.empty() && a.host_id == b.host_id) return MachineMatch::kSame;
  if (!a.address.empty() && SameText(a.address, b.address)) return MachineMatch::kSame;
  if (!a.fingerprint.empty() && a.fingerprint == b.fingerprint) return MachineMatch::kSame;
  return MachineMatch::kDifferent;
}

PathRelation RelatePaths(const ResolvedPath& a, const ResolvedPath& b, bool by_name) {
  if (a.exists && b.exists && a.id == b.id) return PathRelation::kEqual;
  if (by_name && a.real == b.real) return PathRelation::kEqual;
  // A bind mount of `b` (or of a directory above it) is found among `a`'s ancestors by its id.
  if ((b.exists && Has(a.ancestor_ids, b.id)) || (by_name && Beneath(a.real, b.real)))
    return PathRelation::kInside;
  if ((a.exists && Has(b.ancestor_ids, a.id)) || (by_name && Beneath(b.real, a.real)))
    return PathRelation::kContains;
  return PathRelation::kApart;
}

std::string SystemDirectoryProblem(std::string_view real) {
  static constexpr std::array<std::string_view, 15> kNever = {
      "/",       "/bin",  "/boot", "/dev",  "/etc", "/lib", "/lib32", "/lib64",
      "/libx32", "/proc", "/run",  "/sbin", "/sys", "/usr", "/var"};
  static constexpr std::array<std::string_view, 12> kNorInside = {
      "/proc", "/sys",  "/dev", "/boot",  "/etc",   "/usr",
      "/bin",  "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
  for (std::string_view s : kNever)
    if (real == s) return fmt::format("{} is a system directory", real);
  for (std::string_view s : kNorInside)
    if (Beneath(real, s)) return fmt::format("{} lies inside the system directory {}", real, s);
  return "";
}

Status CheckDestinationPath(const GuardedTree& destination, const GuardedTree& source,
                            const std::vector<GuardedTree>& others, const GuardedTree& data_dir) {
  for (const std::string& p : {destination.path.real, destination.path.path}) {
    if (std::string why = SystemDirectoryProblem(p); !why.empty()) {
      return Status::FailedPrecondition(
          fmt::format("destination {} on {} refused: {}, which replication would overwrite and "
                      "delete",
                      Shown(destination.path), destination.host, why));
    }
  }
  Status st = Check(destination, source, TreeKind::kOwnSource);
  if (st.ok()) st = Check(destination, data_dir, TreeKind::kDataDir);
  if (st.ok()) st = Check(source, data_dir, TreeKind::kSourceHoldsDataDir);
  for (const GuardedTree& o : others) {
    if (!st.ok()) break;
    st = Check(destination, o, o.source ? TreeKind::kOtherSource : TreeKind::kOtherDestination);
    // And the other way round: this session's source is not another one's destination.
    if (st.ok() && !o.source) st = Check(o, source, TreeKind::kSourceOfThis);
  }
  return st;
}

const char* const kPathProbeScript =
    "for p in \"$@\"; do "
    "r=$(realpath -m -- \"$p\" 2>/dev/null) || r=; "
    "printf 'P %s\\n' \"$r\"; "
    "if [ -d \"$r\" ] && [ -r \"$r\" ] && [ -x \"$r\" ]; then "
    "if [ -n \"$(ls -A -- \"$r\" 2>/dev/null | head -n 1)\" ]; then echo 'C 1'; else echo 'C 0'; "
    "fi; "
    "fi; "
    "a=$r; "
    "while [ -n \"$a\" ]; do "
    "if s=$(stat -c '%d %i' -- \"$a\" 2>/dev/null); then printf 'I %s %s\\n' \"$s\" \"$a\"; fi; "
    "[ \"$a\" = / ] && break; "
    "a=$(dirname -- \"$a\"); "
    "done; "
    "done; "
    "printf 'B %s\\n' \"$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)\"; "
    "printf 'N %s\\n' \"$(readlink /proc/self/ns/mnt 2>/dev/null)\"; "
    "echo E";

Result<PathProbeAnswer> ParsePathProbe(std::string_view out,
                                       const std::vector<std::string>& paths) {
  PathProbeAnswer answer;
  std::istringstream in{std::string(out)};
  std::string line;
  bool ended = false;
  ResolvedPath* cur = nullptr;
  while (std::getline(in, line)) {
    if (line.empty() || ended) continue;
    const std::string rest = line.size() > 2 ? line.substr(2) : "";
    switch (line[0]) {
      case 'P': {
        if (answer.paths.size() >= paths.size() || rest.empty() || rest.front() != '/')
          return Status::Corruption("path probe: an unexpected or unresolved path");
        ResolvedPath p;
        p.path = paths[answer.paths.size()];
        p.real = rest;
        p.resolved = true;
        answer.paths.push_back(p);
        cur = &answer.paths.back();
        break;
      }
      case 'I': {
        if (!cur) return Status::Corruption("path probe: an id before any path");
        std::istringstream words(rest);
        FileId id;
        std::string name;
        if (!(words >> id.dev >> id.ino)) return Status::Corruption("path probe: a bad id line");
        std::getline(words >> std::ws, name);
        if (name == cur->real) {
          cur->exists = true;
          cur->id = id;
        } else {
          cur->ancestor_ids.push_back(id);
        }
        break;
      }
      case 'C':
        if (!cur) return Status::Corruption("path probe: a listing before any path");
        cur->listed = true;
        cur->empty = rest == "0";
        break;
      case 'B':
        answer.boot_id = rest;
        break;
      case 'N':
        answer.mount_ns = rest;
        break;
      case 'E':
        ended = true;
        break;
      default:
        return Status::Corruption("path probe: an unexpected line");
    }
  }
  if (!ended || answer.paths.size() != paths.size())
    return Status::Corruption("path probe: the answer is incomplete");
  return answer;
}

Status CheckUnderVolumeRoots(std::string_view what, std::string_view path,
                             const std::vector<std::string>& roots) {
  for (std::string_view root : roots) {
    while (root.size() > 1 && root.ends_with('/')) root.remove_suffix(1);
    if (path == root || root == "/") return Status::Ok();
    if (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/')
      return Status::Ok();
  }
  if (roots.empty()) {
    return Status::PermissionDenied(fmt::format(
        "{} {} is not allowed: this engine allows directory volumes under no directory; its "
        "administrator starts it with --volume-root DIR (repeatable) to allow some",
        what, path));
  }
  return Status::PermissionDenied(
      fmt::format("{} {} is not under a directory this engine allows volumes in ({}); its "
                  "administrator can add one with --volume-root DIR",
                  what, path, fmt::join(roots, ", ")));
}

}  // namespace georep
