// Non-root destinations: gluster's mountbroker on the destination cluster.
//
// With a geo-replication user other than root, the source nodes log in to the destination
// nodes as that user and glusterd mounts the destination volume on its behalf (the
// mountbroker). georep performs gluster's documented set-up:
//   1. on every destination node, a group (the cluster's mountbroker group if it has one, else
//      `geogroup`) and the user in it, with a home for its authorized_keys and no password
//      (key logins only);
//   2. the geo-replication keys in that user's authorized_keys (the key exchange, with the user);
//   3. `gluster-mountbroker setup <root> <group>` and `add <volume> <user>`, which edit
//      /etc/glusterfs/glusterd.vol on every node;
//   4. glusterd restarted on every node, since it reads glusterd.vol only when it starts.
// Steps 1-2 happen when the destination is attached or re-established; 3-4 when a session to a
// volume is created, and only when something changed.
//
// The destination's nodes georep can run commands on are the destination host itself and,
// when the destination cluster is imported into georep too, its hosts with confirmed keys.
// Nodes it cannot reach are named in the errors and warnings, with what to do there by hand.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "engine/gluster_driver.h"
#include "gluster/cli_xml.h"
#include "gluster/mountbroker.h"

namespace georep {
namespace {

constexpr const char* kDefaultGroup = "geogroup";
constexpr const char* kDefaultMountRoot = "/var/mountbroker-root";

std::string Words(const CommandResult& r) {
  std::string w = r.err.empty() ? r.out : r.err;
  while (!w.empty() && (w.back() == '\n' || w.back() == ' ')) w.pop_back();
  if (auto nl = w.rfind('\n'); nl != std::string::npos) w = w.substr(nl + 1);
  return w.substr(0, 300);
}

Result<CommandResult> RunOn(CommandRunner& r, std::vector<std::string> argv, int seconds = 60) {
  CommandSpec spec{std::move(argv)};
  spec.timeout = std::chrono::seconds(seconds);
  spec.max_output_bytes = 1 << 20;
  GEOREP_ASSIGN_OR_RETURN(CommandResult res, r.Run(spec));
  if (res.timed_out) {
    return Status::Unavailable(fmt::format("'{}' timed out after {} s", spec.argv[0], seconds));
  }
  return res;
}

// Runs one step of gluster's mountbroker tool on every node of the cluster `r` belongs to.
Result<std::vector<MountbrokerNode>> MountbrokerStep(CommandRunner& r, const std::string& where,
                                                     std::vector<std::string> args) {
  std::vector<std::string> argv = {"gluster", "--mode=script", "system::", "execute",
                                   "mountbroker.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  GEOREP_ASSIGN_OR_RETURN(CommandResult res, RunOn(r, argv, 120));
  auto nodes = ParseMountbrokerNodes(res.out);
  if (!nodes.ok()) {
    std::string why = res.exit_code != 0 ? Words(res) : nodes.status().message();
    if (why.find("command not found") != std::string::npos)
      why = "GlusterFS there has no mountbroker tool (gluster-mountbroker)";
    return Status::FailedPrecondition(
        fmt::format("mountbroker {} failed on {}: {}", args[0], where, why));
  }
  return nodes;
}

std::string NodeName(const std::map<std::string, std::string>& names, const std::string& uuid) {
  auto it = names.find(uuid);
  return it == names.end() ? uuid : it->second;
}

}  // namespace

Result<GlusterDriver::DestinationNodes> GlusterDriver::ReachDestinationNodes(const Destination& d) {
  DestinationNodes out;
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, ctx_.DestinationRunner(d));
  CommandSpec pool{{"gluster", "--mode=script", "pool", "list", "--xml"}};
  pool.timeout = std::chrono::seconds(60);
  GEOREP_ASSIGN_OR_RETURN(CommandResult listed, dest->Run(pool));
  GEOREP_ASSIGN_OR_RETURN(std::vector<GlusterPeer> peers,
                          ParsePoolList(listed.out.empty() ? listed.err : listed.out));

  // The destination cluster, if it is imported too: its hosts are the nodes' ways in.
  std::vector<Host> imported;
  GEOREP_ASSIGN_OR_RETURN(std::vector<Cluster> clusters, ctx_.ListClusters());
  for (const Cluster& c : clusters) {
    if (c.id == d.source_cluster_id) continue;
    GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ctx_.ListHosts(c.id));
    if (std::any_of(hosts.begin(), hosts.end(),
                    [&](const Host& h) { return h.address == d.host || h.name == d.host; })) {
      imported = std::move(hosts);
      break;
    }
  }

  out.nodes.push_back({d.host, std::move(dest)});
  for (const GlusterPeer& p : peers) {
    if (p.hostname == "localhost") {
      out.names[p.uuid] = d.host;
      continue;
    }
    out.names[p.uuid] = p.hostname;
    auto h = std::find_if(imported.begin(), imported.end(), [&](const Host& h) {
      return h.address == p.hostname || h.name == p.hostname;
    });
    // A host that is Down now may answer; one whose key is not confirmed is never used.
    if (h != imported.end() &&
        (h->transport != HostTransport::kSsh || !h->ssh_fingerprint.empty())) {
      out.nodes.push_back({p.hostname, ctx_.hosts->RunnerFor(*h)});
    } else {
      out.unreachable.push_back(p.hostname);
    }
  }
  return out;
}

std::string GlusterDriver::MountbrokerGroup(CommandRunner& dest, const std::string& where) {
  auto status = MountbrokerStep(dest, where, {"node-status"});
  if (status.ok()) {
    for (const auto& n : *status)
      if (!n.group.empty()) return n.group;
  }
  return kDefaultGroup;
}

Status GlusterDriver::EnsureGeoAccount(const std::string& node, CommandRunner& r,
                                       const std::string& user, const std::string& group) {
  auto failed = [&](const std::string& what, const CommandResult& res) {
    return Status::FailedPrecondition(
        fmt::format("cannot {} on destination node {}: {}", what, node, Words(res)));
  };
  // getent: 0 found, 2 not found.
  GEOREP_ASSIGN_OR_RETURN(CommandResult g, RunOn(r, {"getent", "group", group}));
  if (g.exit_code == 2) {
    GEOREP_ASSIGN_OR_RETURN(CommandResult add, RunOn(r, {"groupadd", group}));
    if (add.exit_code != 0) return failed("create group " + group, add);
  } else if (g.exit_code != 0) {
    return failed("look up group " + group, g);
  }
  GEOREP_ASSIGN_OR_RETURN(CommandResult u, RunOn(r, {"getent", "passwd", user}));
  if (u.exit_code == 2) {
    // No password ("*", not the locked "!"): the account takes key logins only, also from an
    // sshd that does not use PAM.
    GEOREP_ASSIGN_OR_RETURN(CommandResult add, RunOn(r, {"useradd", "--create-home", "--groups",
                                                         group, "--password", "*", user}));
    if (add.exit_code != 0) return failed("create user " + user, add);
    return Status::Ok();
  }
  if (u.exit_code != 0) return failed("look up user " + user, u);
  GEOREP_ASSIGN_OR_RETURN(CommandResult groups, RunOn(r, {"id", "-nG", user}));
  std::istringstream in(groups.out);
  std::string word;
  while (in >> word)
    if (word == group) return Status::Ok();
  GEOREP_ASSIGN_OR_RETURN(CommandResult mod,
                          RunOn(r, {"usermod", "--append", "--groups", group, user}));
  if (mod.exit_code != 0) return failed(fmt::format("add user {} to group {}", user, group), mod);
  return Status::Ok();
}

Result<std::vector<std::string>> GlusterDriver::PrepareGeoAccounts(const Destination& d) {
  GEOREP_ASSIGN_OR_RETURN(DestinationNodes nodes, ReachDestinationNodes(d));
  const std::string group = MountbrokerGroup(*nodes.nodes[0].runner, d.host);
  for (auto& n : nodes.nodes)
    GEOREP_RETURN_IF_ERROR(EnsureGeoAccount(n.name, *n.runner, d.remote_user, group));
  return nodes.unreachable;
}

Result<std::vector<std::string>> GlusterDriver::SetUpMountbroker(const Destination& d,
                                                                 const std::string& user,
                                                                 const std::string& volume,
                                                                 std::string* done) {
  std::vector<std::string> warnings;
  GEOREP_ASSIGN_OR_RETURN(DestinationNodes nodes, ReachDestinationNodes(d));
  CommandRunner& dest = *nodes.nodes[0].runner;
  GEOREP_ASSIGN_OR_RETURN(std::vector<MountbrokerNode> status,
                          MountbrokerStep(dest, d.host, {"node-status"}));
  std::string group = kDefaultGroup, root = kDefaultMountRoot;
  for (const auto& n : status) {
    if (!n.group.empty()) group = n.group;
    if (!n.mount_root.empty()) root = n.mount_root;
  }
  bool setup = false, add = false;
  for (const auto& n : status) {
    if (!n.ok) {
      return Status::FailedPrecondition(fmt::format("mountbroker status failed on {}: {}",
                                                    NodeName(nodes.names, n.node_id), n.error));
    }
    if (n.mount_root != root || n.group != group || !n.group_exists || !n.root_exists) setup = true;
    auto it = n.user_volumes.find(user);
    if (it == n.user_volumes.end() || it->second.count(volume) == 0) add = true;
  }
  if (!setup && !add) return warnings;

  for (auto& n : nodes.nodes)
    GEOREP_RETURN_IF_ERROR(EnsureGeoAccount(n.name, *n.runner, user, group));
  auto check = [&](const std::vector<MountbrokerNode>& answers, const char* step) -> Status {
    for (const auto& n : answers) {
      if (n.ok) continue;
      return Status::FailedPrecondition(fmt::format("mountbroker {} failed on {}: {}", step,
                                                    NodeName(nodes.names, n.node_id), n.error));
    }
    return Status::Ok();
  };
  if (setup) {
    GEOREP_ASSIGN_OR_RETURN(auto answers,
                            MountbrokerStep(dest, d.host, {"node-setup", root, group}));
    GEOREP_RETURN_IF_ERROR(check(answers, "setup"));
  }
  if (add) {
    GEOREP_ASSIGN_OR_RETURN(auto answers,
                            MountbrokerStep(dest, d.host, {"node-add", volume, user}));
    GEOREP_RETURN_IF_ERROR(check(answers, "add"));
  }

  // glusterd reads glusterd.vol only when it starts.
  std::vector<std::string> restarted;
  for (auto& n : nodes.nodes) {
    GEOREP_ASSIGN_OR_RETURN(CommandResult r,
                            RunOn(*n.runner, {"systemctl", "restart", "glusterd.service"}, 120));
    if (r.exit_code != 0) {
      return Status::FailedPrecondition(fmt::format(
          "mountbroker set up on {}, but glusterd could not be restarted there ({}); restart "
          "it by hand, then create the session again",
          n.name, Words(r)));
    }
    bool answers = false;
    for (int i = 0; i < 60 && !answers; ++i) {
      auto v = RunOn(*n.runner, {"gluster", "--mode=script", "volume", "list"}, 30);
      answers = v.ok() && v->exit_code == 0;
      if (!answers) ctx_.clock.Sleep(1000);
    }
    if (!answers) {
      return Status::Unavailable(
          fmt::format("glusterd on {} did not answer within 60 s of its restart", n.name));
    }
    restarted.push_back(n.name);
  }
  for (const auto& name : nodes.unreachable) {
    warnings.push_back(fmt::format(
        "georep cannot reach destination node {}: restart glusterd there so that user {} can "
        "mount {} (import the destination cluster to let georep do it)",
        name, user, volume));
  }
  std::string joined;
  for (const auto& r : restarted) joined += (joined.empty() ? "" : ", ") + r;
  *done = fmt::format("mountbroker: {} may mount {} (group {}, root {}); glusterd restarted on {}",
                      user, volume, group, root, joined);
  return warnings;
}

}  // namespace georep
