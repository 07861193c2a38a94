// Verify of a gluster session, the parts that talk to nothing: the commands a node runs to
// describe a volume, and the parsers of what it prints.
//
// Each side's volume is mounted read-only on one node of its cluster, at a mount point of
// georep's own for this verify only (kMountRoot/VOLUME-ID, unmounted at the end: a client
// mounted afresh reads what the bricks hold -- a mount kept from an earlier verify serves
// file contents from its caches, which do not see a brick changed behind gluster's back; the
// lab showed it); that node lists the tree
// (`find -printf`, NUL-separated records) and hashes the files it is asked for (`xargs -0
// sha256sum`, the paths NUL-separated on stdin). Only the listings and the digests reach the
// engine: no file's data leaves its node, and the engine hashes nothing. The engine picks the
// files to hash from the listings (by a hash of the path, as directory sessions sample) and
// asks both nodes for the same ones, then compares as for directory sessions
// (replication/verify.h), so the report reads the same.
//
// Thread-safety: free functions on values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "host/command_runner.h"
#include "replication/tree_description.h"

namespace georep::gluster_verify {

// Where georep mounts volumes to verify them, on the node that describes them.
inline constexpr std::string_view kMountRoot = "/run/georep/verify";

// What a volume's mount shows at its root that is not the users' data, left out on both sides
// (find -path patterns below the mount point): georep's own directory (the source's
// heartbeat), gluster's trash directory, and the directory in which gluster keeps entries it
// could not place (a distribute volume shows it).
inline constexpr std::string_view kNotUserData[] = {".georep", ".trashcan",
                                                    ".glusterfs-anonymous-inode-*"};

// Whether `volume` can name a mount point and a mount source as is (gluster's own rule for
// volume names: letters, digits, '-' and '_').
bool IsPlainVolumeName(std::string_view volume);

// kMountRoot/VOLUME-ID: `id` tells apart verifies that run at once (letters, digits, '-').
std::string MountPoint(const std::string& volume, const std::string& id);

// Mounts `volume` read-only from the node's own glusterd at `mount_point` (made, and refused if
// something is mounted there already). A fixed script with the mount point and the source as
// positional arguments.
CommandSpec MountCommand(const std::string& volume, const std::string& mount_point);
// Unmounts it (lazily if it is busy) and removes the directory.
CommandSpec UnmountCommand(const std::string& mount_point);

// Lists every entry below the mount point except kNotUserData: one record per entry,
// "TYPE MODE UID GID SIZE MTIME PATH\0TARGET\0" (find's %y %m %U %G %s %T@ %P and %l).
CommandSpec ListCommand(const std::string& mount_point);

// sha256sum of `paths` (relative to the mount point), given NUL-separated on stdin.
CommandSpec HashCommand(const std::string& mount_point, const std::vector<std::string>& paths);

// ListCommand's output as a description (entries sorted by path, no content hashed yet), its
// times as gsyncd keeps them: a regular file's mtime in whole seconds, no other entry's (see
// the definition). Corruption when it is not a well-formed listing.
Result<replication::TreeDescription> ParseListing(std::string_view out, int sample_percent);

// HashCommand's output: path (relative to `mount_point`) -> the first 128 bits of its
// SHA-256. sha256sum's escaping of names holding '\\', '\n' or '\r' is undone.
Result<std::map<std::string, replication::Hash128>> ParseDigests(std::string_view out,
                                                                 const std::string& mount_point);

// The files both nodes hash: those picked by the sample (the path's hash) among the regular
// files that are on both sides with the same size (content is compared only then), sorted.
std::vector<std::string> FilesToHash(const replication::TreeDescription& source,
                                     const replication::TreeDescription& destination,
                                     int sample_percent);

// Records `digests` of the `asked` files in `description`; an asked file without a digest is
// an error of that side, saying `why` (what the node said).
void ApplyDigests(const std::vector<std::string>& asked,
                  const std::map<std::string, replication::Hash128>& digests,
                  const std::string& why, replication::TreeDescription* description);

}  // namespace georep::gluster_verify
