// What gluster's mountbroker (non-root geo-replication on a destination cluster) reports per
// node. `gluster system:: execute mountbroker.py node-status|node-setup|node-add` runs the
// step on every node of the cluster and prints one JSON object per node that answered; this
// is what the `gluster-mountbroker` tool itself reads before it draws its tables.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace georep {

struct MountbrokerNode {
  std::string node_id;  // the gluster peer uuid
  bool ok = false;      // the step succeeded on that node
  std::string error;    // why not
  // node-status only:
  std::string mount_root;  // empty: not set up
  std::string group;       // geo-replication-log-group, empty: not set up
  bool group_exists = false;
  bool root_exists = false;
  std::map<std::string, std::set<std::string>> user_volumes;  // user -> volumes it may mount
};

// One entry per JSON line; other lines (gluster's own messages) are ignored. Corruption when
// a line that looks like JSON is not the expected object, or when no node answered.
Result<std::vector<MountbrokerNode>> ParseMountbrokerNodes(std::string_view out);

}  // namespace georep
