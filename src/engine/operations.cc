#include "engine/operations.h"

#include <fmt/format.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "auth/credentials.h"
#include "base/log.h"
#include "engine/worker_supervisor.h"
#include "gluster/cli_xml.h"
#include "model/aggregate_status.h"
#include "model/names.h"
#include "model/path_guard.h"
#include "model/validation.h"

namespace georep {
namespace {

// Reads inside one transaction and hands back the value.
template <typename T, typename Fn>
Result<T> Read(Store& store, Fn fn) {
  Result<T> out = Status::Internal("not read");
  Status st = store.Transaction([&](StoreTx& tx) -> Status {
    out = fn(tx);
    return out.ok() ? Status::Ok() : out.status();
  });
  if (!st.ok()) return st;
  return out;
}

Status RequireAdmin(const Actor& a) {
  return Require(a, Role::kAdmin);
}

// Which replica/disperse set the brick at `position` belongs to.
int SetIndexOf(const Volume& v, size_t position) {
  int width = v.disperse_count > 0 ? v.disperse_count : std::max(1, v.replica_count);
  return static_cast<int>(position) / width;
}

Status ValidateVolumeSpec(const VolumeSpec& s) {
  GEOREP_RETURN_IF_ERROR(ValidateVolumeName("volume name", s.name));
  if (s.replica_count < 1 || s.replica_count > 16)
    return Status::InvalidArgument("replica count must be 1-16");
  if (s.disperse_count < 0 || s.disperse_count > 64)
    return Status::InvalidArgument("disperse count must be 0-64");
  if (s.kind == VolumeKind::kDirectory) {
    if (s.bricks.size() != 1)
      return Status::InvalidArgument("a directory volume has exactly one host and path");
    if (s.replica_count != 1 || s.disperse_count != 0)
      return Status::InvalidArgument("a directory volume has no replica or disperse sets");
  }
  if (s.bricks.empty()) return Status::InvalidArgument("a volume needs at least one brick");
  if (s.bricks.size() > 1024) return Status::InvalidArgument("a volume has at most 1024 bricks");
  int width = s.disperse_count > 0 ? s.disperse_count : s.replica_count;
  if (s.bricks.size() % static_cast<size_t>(width) != 0) {
    return Status::InvalidArgument(
        fmt::format("{} bricks cannot be split in sets of {}", s.bricks.size(), width));
  }
  for (const auto& b : s.bricks) {
    if (b.host_id.empty()) return Status::InvalidArgument("every brick needs a host");
    GEOREP_RETURN_IF_ERROR(ValidateAbsolutePath("brick path", b.path));
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- audit

Status Operations::RecordFailure(const Actor& a, std::string_view action,
                                 std::string_view object_type, const std::string& object_id,
                                 const Status& why) {
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    auto ev = tx.AppendEvent(Event{0, clock_.NowMillis(), a.name, std::string(action),
                                   std::string(object_type), object_id, "failed", why.message()});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  // Callers report the refusal itself whatever becomes of its record; a record that could not
  // be written is not dropped in silence.
  if (!st.ok()) {
    spdlog::error(
        "msg=\"audit event not written\" actor={} action={} object={} refusal={} error={}",
        LogValue(a.name), action, LogValue(object_id), LogValue(why.message()),
        LogValue(st.message()));
  }
  return st;
}

Status Operations::Audited(const Actor& a, std::string_view action, std::string_view object_type,
                           std::string& object_id, std::string& message,
                           const std::function<Status(StoreTx&)>& body) {
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(body(tx));
    auto ev = tx.AppendEvent(Event{0, clock_.NowMillis(), a.name, std::string(action),
                                   std::string(object_type), object_id, "ok", message});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) {
    // The operation's own error is what the caller sees; an audit write failure is logged by
    // the store's caller only through the returned status of the operation.
    (void)RecordFailure(a, action, object_type, object_id, st);
  }
  return st;
}

// ---------------------------------------------------------------- clusters

Result<Cluster> Operations::CreateCluster(const Actor& a, const ClusterSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Cluster c{random_.NewUuid(), spec.name, spec.description, clock_.NowMillis()};
  Status valid = ValidateObjectName("cluster name", spec.name);
  if (valid.ok() && spec.description.size() > 1024)
    valid = Status::InvalidArgument("description must be at most 1024 characters");
  if (!valid.ok()) {
    (void)RecordFailure(a, "cluster.create", "cluster", "", valid);
    return valid;
  }
  std::string msg = fmt::format("cluster '{}' created", c.name);
  Status st = Audited(a, "cluster.create", "cluster", c.id, msg, [&](StoreTx& tx) {
    Status s = tx.CreateCluster(c);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a cluster named '{}' already exists", c.name));
    return s;
  });
  if (!st.ok()) return st;
  return c;
}

Result<std::vector<Cluster>> Operations::ListClusters() {
  return Read<std::vector<Cluster>>(store_, [](StoreTx& tx) { return tx.ListClusters(); });
}

Result<Cluster> Operations::GetCluster(const std::string& id) {
  return Read<Cluster>(store_, [&](StoreTx& tx) { return tx.GetCluster(id); });
}

Status Operations::DeleteCluster(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return Audited(a, "cluster.delete", "cluster", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Cluster c, tx.GetCluster(id));
    GEOREP_ASSIGN_OR_RETURN(auto dests, tx.ListDestinations(id));
    if (!dests.empty()) {
      return Status::FailedPrecondition(fmt::format(
          "cluster '{}' has {} destination(s); remove them first", c.name, dests.size()));
    }
    GEOREP_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(id));
    for (const auto& v : vols) {
      GEOREP_ASSIGN_OR_RETURN(auto sessions, tx.ListSessions({v.id, ""}));
      if (!sessions.empty()) {
        return Status::FailedPrecondition(fmt::format(
            "volume '{}' of cluster '{}' has sessions; remove them first", v.name, c.name));
      }
    }
    msg = fmt::format("cluster '{}' deleted", c.name);
    return tx.DeleteCluster(id);
  });
}

namespace {

// Runs `gluster --mode=script ARGS --xml` and returns what it printed. The parsers judge the
// output (opRet, opErrstr); here only failures to run at all are errors.
Result<std::string> RunGluster(CommandRunner& runner, std::vector<std::string> args) {
  std::vector<std::string> argv = {"gluster", "--mode=script"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--xml");
  CommandSpec spec{argv};
  spec.timeout = std::chrono::seconds(120);
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, runner.Run(spec));
  if (r.timed_out) return Status::Unavailable("gluster did not answer within 120 s");
  if (r.exit_code == 127) return Status::FailedPrecondition("gluster is not installed on the host");
  return r.out.empty() ? r.err : r.out;
}

VolumeStatus GlusterVolumeStatus(const std::string& s) {
  if (s == "Started") return VolumeStatus::kStarted;
  if (s == "Stopped") return VolumeStatus::kStopped;
  if (s == "Created") return VolumeStatus::kCreated;
  return VolumeStatus::kUnknown;
}

}  // namespace

Status Require(const Actor& a, Role needed) {
  if (a.role >= needed) return Status::Ok();
  return Status::PermissionDenied(
      fmt::format("this needs the {} role; '{}' is {}", Name(needed), a.name, Name(a.role)));
}

Result<ImportedCluster> Operations::ImportGlusterCluster(const Actor& a,
                                                         const GlusterImportSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  Status valid = ValidateObjectName("cluster name", spec.name);
  if (valid.ok()) valid = ValidateHostName("host address", spec.address);
  if (valid.ok()) valid = ValidatePort("ssh port", spec.ssh_port);
  if (valid.ok()) valid = ValidateUnixUser("ssh user", spec.ssh_user);
  if (valid.ok()) valid = ValidateFingerprint("host key fingerprint", spec.ssh_fingerprint);
  if (valid.ok()) {
    // Refused now, before a password is sent anywhere, rather than at the insert.
    auto clusters = ListClusters();
    if (!clusters.ok()) {
      valid = clusters.status();
    } else {
      for (const auto& c : *clusters) {
        if (c.name == spec.name) {
          valid =
              Status::AlreadyExists(fmt::format("a cluster named '{}' already exists", spec.name));
        }
      }
    }
  }
  Host contact;
  contact.address = spec.address;
  contact.ssh_port = spec.ssh_port;
  contact.ssh_user = spec.ssh_user;
  contact.transport = HostTransport::kSsh;
  contact.ssh_fingerprint = spec.ssh_fingerprint;
  if (valid.ok() && !spec.one_time_password.empty()) {
    // As AddHost: the key first, so that the discovery below logs in with it.
    valid = hosts_->InstallEngineKey(contact, spec.one_time_password);
  }
  if (!valid.ok()) {
    (void)RecordFailure(a, "cluster.import", "cluster", "", valid);
    return valid;
  }
  auto runner = hosts_->RunnerFor(contact);

  // Ask the cluster first, outside any transaction.
  auto discover = [&]() -> Result<std::pair<std::vector<GlusterPeer>, std::vector<GlusterVolume>>> {
    GEOREP_ASSIGN_OR_RETURN(std::string pool_xml, RunGluster(*runner, {"pool", "list"}));
    GEOREP_ASSIGN_OR_RETURN(auto peers, ParsePoolList(pool_xml));
    GEOREP_ASSIGN_OR_RETURN(std::string info_xml, RunGluster(*runner, {"volume", "info"}));
    auto vols = ParseVolumeInfo(info_xml);
    // A cluster without volumes answers "No volumes present" as an error.
    if (!vols.ok() && vols.status().message().find("No volumes") == std::string::npos)
      return vols.status();
    return std::make_pair(peers, vols.ok() ? *vols : std::vector<GlusterVolume>{});
  };
  auto found = discover();
  if (!found.ok()) {
    Status why = found.status().WithContext(fmt::format("cannot import from {}", spec.address));
    (void)RecordFailure(a, "cluster.import", "cluster", "", why);
    return why;
  }
  auto& [peers, gvols] = *found;
  // Sizes are best effort: stopped volumes have none.
  std::vector<GlusterBrickUsage> usage;
  if (auto xml = RunGluster(*runner, {"volume", "status", "all", "detail"}); xml.ok()) {
    if (auto u = ParseVolumeStatusDetail(*xml); u.ok()) usage = *u;
  }

  const int64_t now = clock_.NowMillis();
  ImportedCluster out;
  out.cluster = Cluster{random_.NewUuid(), spec.name, "imported from " + spec.address, now};
  std::map<std::string, std::string> host_by_uuid;  // gluster peer uuid -> georep host id
  std::map<std::string, std::string> name_by_uuid;
  for (const auto& p : peers) {
    Host h;
    h.id = random_.NewUuid();
    h.cluster_id = out.cluster.id;
    h.ssh_port = spec.ssh_port;
    h.ssh_user = spec.ssh_user;
    h.transport = HostTransport::kSsh;
    h.created_at = now;
    if (p.hostname == "localhost") {  // the host that answered
      h.name = h.address = spec.address;
      h.ssh_fingerprint = spec.ssh_fingerprint;
      h.status = HostStatus::kUp;
      h.last_seen = now;
    } else {
      h.name = h.address = p.hostname;
      h.status = HostStatus::kUnknown;  // its key is not confirmed yet
    }
    host_by_uuid[p.uuid] = h.id;
    name_by_uuid[p.uuid] = h.name;
    out.hosts.push_back(h);
  }
  for (const auto& g : gvols) {
    Volume v;
    v.id = random_.NewUuid();
    v.cluster_id = out.cluster.id;
    v.name = g.name;
    v.kind = VolumeKind::kGluster;
    v.status = GlusterVolumeStatus(g.status);
    v.replica_count = g.replica_count;
    v.disperse_count = g.disperse_count;
    v.created_at = now;
    for (const auto& b : g.bricks) {
      auto it = host_by_uuid.find(b.host_uuid);
      if (it == host_by_uuid.end()) {
        Status why = Status::Corruption(fmt::format(
            "brick {}:{} of volume {} is on a host that is not a peer", b.host, b.path, g.name));
        (void)RecordFailure(a, "cluster.import", "cluster", "", why);
        return why;
      }
      v.bricks.push_back(Brick{it->second, b.path});
    }
    // Usable size: per replica set the smallest brick; a disperse set keeps (n - redundancy).
    const size_t width =
        static_cast<size_t>(g.disperse_count > 0 ? g.disperse_count : std::max(1, g.replica_count));
    for (size_t set = 0; set * width < g.bricks.size(); ++set) {
      int64_t total = INT64_MAX, used = 0;
      for (size_t i = set * width; i < std::min(g.bricks.size(), (set + 1) * width); ++i) {
        for (const auto& u : usage) {
          if (u.path == g.bricks[i].path && (u.host == g.bricks[i].host)) {
            total = std::min(total, u.size_total);
            used = std::max(used, u.size_total - u.size_free);
          }
        }
      }
      if (total == INT64_MAX) continue;
      int64_t data_bricks = g.disperse_count > 0 ? g.disperse_count - g.redundancy_count : 1;
      v.size_bytes += total * data_bricks;
      v.used_bytes += used * data_bricks;
    }
    out.volumes.push_back(v);
  }

  std::string oid = out.cluster.id;
  std::string msg = fmt::format("cluster '{}' imported from {}: {} host(s), {} volume(s){}",
                                spec.name, spec.address, out.hosts.size(), out.volumes.size(),
                                spec.one_time_password.empty()
                                    ? ""
                                    : "; the engine's key was installed with a one-time password");
  Status st = Audited(a, "cluster.import", "cluster", oid, msg, [&](StoreTx& tx) -> Status {
    Status c = tx.CreateCluster(out.cluster);
    if (c.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a cluster named '{}' already exists", spec.name));
    GEOREP_RETURN_IF_ERROR(c);
    for (const auto& h : out.hosts) GEOREP_RETURN_IF_ERROR(tx.CreateHost(h));
    for (const auto& v : out.volumes) GEOREP_RETURN_IF_ERROR(tx.CreateVolume(v));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

// ---------------------------------------------------------------- hosts

Result<Host> Operations::AddHost(const Actor& a, const HostSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Host h;
  h.id = random_.NewUuid();
  h.cluster_id = spec.cluster_id;
  h.name = spec.name;
  h.address = spec.address.empty() ? spec.name : spec.address;
  h.ssh_port = spec.ssh_port;
  h.ssh_user = spec.ssh_user;
  h.transport = spec.transport;
  h.ssh_fingerprint = spec.ssh_fingerprint;
  h.created_at = clock_.NowMillis();

  Status valid = ValidateHostName("host name", h.name);
  if (valid.ok()) valid = ValidateHostName("host address", h.address);
  if (valid.ok()) valid = ValidatePort("ssh port", h.ssh_port);
  if (valid.ok()) valid = ValidateUnixUser("ssh user", h.ssh_user);
  if (valid.ok() && h.transport == HostTransport::kSsh)
    valid = ValidateFingerprint("host key fingerprint", h.ssh_fingerprint);
  if (valid.ok() && h.transport == HostTransport::kLocal && !h.ssh_fingerprint.empty())
    valid = Status::InvalidArgument("a local host has no SSH fingerprint");
  if (valid.ok() && !spec.one_time_password.empty() && h.transport != HostTransport::kSsh)
    valid = Status::InvalidArgument("a one-time password is for ssh hosts");
  if (valid.ok()) {
    // Everything the insert below would refuse, refused now: before the one-time password
    // goes anywhere, a refused add leaves no trace on the host.
    valid = store_.Transaction([&](StoreTx& tx) -> Status {
      GEOREP_ASSIGN_OR_RETURN(Cluster cluster, tx.GetCluster(h.cluster_id));
      GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, tx.ListHosts(h.cluster_id));
      for (const auto& other : hosts) {
        if (other.name == h.name) {
          return Status::AlreadyExists(
              fmt::format("cluster '{}' already has a host '{}'", cluster.name, h.name));
        }
      }
      return Status::Ok();
    });
  }
  if (valid.ok() && !spec.one_time_password.empty()) {
    // Installed before anything is recorded: a refused password adds nothing.
    valid = hosts_ ? hosts_->InstallEngineKey(h, spec.one_time_password)
                   : Status::FailedPrecondition("this engine cannot reach hosts");
  }
  if (!valid.ok()) {
    (void)RecordFailure(a, "host.add", "host", "", valid);
    return valid;
  }
  std::string msg = fmt::format("host '{}' ({}) added{}", h.name, Name(h.transport),
                                spec.one_time_password.empty()
                                    ? ""
                                    : "; the engine's key was installed with a one-time password");
  Status st = Audited(a, "host.add", "host", h.id, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.GetCluster(h.cluster_id).status());
    Status s = tx.CreateHost(h);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("the cluster already has a host '{}'", h.name));
    return s;
  });
  if (!st.ok()) return st;
  return h;
}

Result<std::vector<Host>> Operations::ListHosts(const std::string& cluster_id) {
  return Read<std::vector<Host>>(store_, [&](StoreTx& tx) -> Result<std::vector<Host>> {
    GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
    return tx.ListHosts(cluster_id);
  });
}

Result<Host> Operations::GetHost(const std::string& id) {
  return Read<Host>(store_, [&](StoreTx& tx) { return tx.GetHost(id); });
}

Status Operations::RemoveHost(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return Audited(a, "host.remove", "host", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Host h, tx.GetHost(id));
    GEOREP_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(h.cluster_id));
    for (const auto& v : vols) {
      for (const auto& b : v.bricks) {
        if (b.host_id == id) {
          return Status::FailedPrecondition(
              fmt::format("host '{}' holds a brick of volume '{}'", h.name, v.name));
        }
      }
    }
    GEOREP_ASSIGN_OR_RETURN(auto dests, tx.ListDestinations(h.cluster_id));
    for (const auto& d : dests) {
      if (d.source_host_id == id) {
        return Status::FailedPrecondition(
            fmt::format("host '{}' is the source host of destination '{}'", h.name, d.host));
      }
    }
    msg = fmt::format("host '{}' removed", h.name);
    return tx.DeleteHost(id);
  });
}

Result<std::vector<HostKey>> Operations::ScanHostKeys(const Actor& a, const std::string& address,
                                                      int port) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  GEOREP_RETURN_IF_ERROR(ValidateHostName("host address", address));
  GEOREP_RETURN_IF_ERROR(ValidatePort("ssh port", port));
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  return hosts_->ScanHostKeys(address, port);
}

Result<HostCheck> Operations::CheckHost(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto guard = locks_.Lock("host:" + id);
  GEOREP_ASSIGN_OR_RETURN(Host h, GetHost(id));
  // The remote command runs outside any transaction: it may take seconds.
  CommandSpec spec{{"uname", "-n"}};
  spec.timeout = std::chrono::seconds(30);
  spec.max_output_bytes = 4096;
  auto r = hosts_->RunnerFor(h)->Run(spec);
  HostCheck out;
  if (!r.ok()) {
    out.reason = r.status().message();
  } else if (r->timed_out) {
    out.reason = "the host did not answer within 30 s";
  } else if (r->exit_code != 0) {
    out.reason = fmt::format("a test command failed on the host (exit {}): {}", r->exit_code,
                             r->err.substr(0, 200));
  } else {
    out.reachable = true;
  }
  const int64_t now = clock_.NowMillis();
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Host cur, tx.GetHost(id));
    cur.status = out.reachable ? HostStatus::kUp : HostStatus::kDown;
    if (out.reachable) cur.last_seen = now;
    GEOREP_RETURN_IF_ERROR(tx.UpdateHost(cur));
    out.host = cur;
    auto ev = tx.AppendEvent(
        Event{0, now, a.name, "host.check", "host", id, out.reachable ? "ok" : "failed",
              out.reachable ? fmt::format("host '{}' is Up", cur.name)
                            : fmt::format("host '{}' is Down: {}", cur.name, out.reason)});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Host> Operations::RepinHost(const Actor& a, const std::string& id,
                                   const std::string& fingerprint) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Status valid = ValidateFingerprint("host key fingerprint", fingerprint);
  if (valid.ok() && !hosts_) valid = Status::FailedPrecondition("this engine cannot reach hosts");
  if (!valid.ok()) {
    (void)RecordFailure(a, "host.repin", "host", id, valid);
    return valid;
  }
  auto guard = locks_.Lock("host:" + id);
  // Only a key the host presents now: a fingerprint copied from another host would lock
  // georep out of this one (or, worse, let that other host answer for it).
  Status presented = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Host cur, GetHost(id));
    if (cur.transport != HostTransport::kSsh)
      return Status::FailedPrecondition(
          fmt::format("host '{}' is local: it has no host key", cur.name));
    auto keys = hosts_->ScanHostKeys(cur.address, cur.ssh_port);
    if (!keys.ok()) {
      return keys.status().WithContext(
          fmt::format("cannot check that host '{}' ({} port {}) presents {}", cur.name, cur.address,
                      cur.ssh_port, fingerprint));
    }
    std::string offered;
    for (const auto& k : *keys) {
      if (k.fingerprint == fingerprint) return Status::Ok();
      offered += fmt::format("{}{} ({})", offered.empty() ? "" : ", ", k.fingerprint, k.type);
    }
    return Status::FailedPrecondition(
        fmt::format("host '{}' ({} port {}) does not present {}; it presents {}", cur.name,
                    cur.address, cur.ssh_port, fingerprint, offered.empty() ? "no key" : offered));
  }();
  if (!presented.ok()) {
    (void)RecordFailure(a, "host.repin", "host", id, presented);
    return presented;
  }
  Host h;
  std::string oid = id, msg;
  Status st = Audited(a, "host.repin", "host", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(h, tx.GetHost(id));
    if (h.transport != HostTransport::kSsh)
      return Status::FailedPrecondition(
          fmt::format("host '{}' is local: it has no host key", h.name));
    msg =
        fmt::format("host key of '{}' re-pinned: {} -> {}", h.name, h.ssh_fingerprint, fingerprint);
    h.ssh_fingerprint = fingerprint;
    h.status = HostStatus::kUnknown;
    return tx.UpdateHost(h);
  });
  if (!st.ok()) return st;
  return h;
}

Result<std::pair<std::string, std::string>> Operations::EngineSshKey() {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  return std::make_pair(hosts_->EnginePublicKey(), hosts_->EngineKeyFingerprint());
}

// ---------------------------------------------------------------- volumes

Result<Volume> Operations::AddVolume(const Actor& a, const VolumeSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Volume v;
  v.id = random_.NewUuid();
  v.cluster_id = spec.cluster_id;
  v.name = spec.name;
  v.kind = spec.kind;
  v.status = spec.kind == VolumeKind::kDirectory ? VolumeStatus::kStarted : VolumeStatus::kUnknown;
  v.bricks = spec.bricks;
  v.replica_count = spec.replica_count;
  v.disperse_count = spec.disperse_count;
  v.created_at = clock_.NowMillis();
  Status valid = ValidateVolumeSpec(spec);
  if (valid.ok() && spec.kind == VolumeKind::kDirectory && volume_roots_set_)
    valid = CheckUnderVolumeRoots("the directory", spec.bricks.at(0).path, volume_roots_);
  if (!valid.ok()) {
    (void)RecordFailure(a, "volume.add", "volume", "", valid);
    return valid;
  }
  std::string msg = fmt::format("{} volume '{}' added", Name(v.kind), v.name);
  Status st = Audited(a, "volume.add", "volume", v.id, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.GetCluster(v.cluster_id).status());
    for (const auto& b : v.bricks) {
      auto h = tx.GetHost(b.host_id);
      if (!h.ok() || h->cluster_id != v.cluster_id) {
        return Status::InvalidArgument(
            fmt::format("brick host '{}' is not a host of this cluster", b.host_id));
      }
    }
    Status s = tx.CreateVolume(v);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("the cluster already has a volume '{}'", v.name));
    return s;
  });
  if (!st.ok()) return st;
  return v;
}

Result<std::vector<Volume>> Operations::ListVolumes(const std::string& cluster_id) {
  return Read<std::vector<Volume>>(store_, [&](StoreTx& tx) -> Result<std::vector<Volume>> {
    if (!cluster_id.empty()) GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
    return tx.ListVolumes(cluster_id);
  });
}

Result<Volume> Operations::GetVolume(const std::string& id) {
  return Read<Volume>(store_, [&](StoreTx& tx) { return tx.GetVolume(id); });
}

Status Operations::RemoveVolume(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return Audited(a, "volume.remove", "volume", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(id));
    GEOREP_ASSIGN_OR_RETURN(auto sessions, tx.ListSessions({id, ""}));
    if (!sessions.empty()) {
      return Status::FailedPrecondition(
          fmt::format("volume '{}' is the source of {} session(s); remove them first", v.name,
                      sessions.size()));
    }
    msg = fmt::format("volume '{}' removed", v.name);
    return tx.DeleteVolume(id);
  });
}

// ---------------------------------------------------------------- destinations

Result<Destination> Operations::CreateDestination(const Actor& a, const DestinationSpec& spec,
                                                  bool copy_keys,
                                                  const std::string& root_password) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Destination d;
  d.id = random_.NewUuid();
  d.source_cluster_id = spec.source_cluster_id;
  d.source_host_id = spec.source_host_id;
  d.host = spec.host;
  d.ssh_port = spec.ssh_port;
  d.ssh_fingerprint = spec.ssh_fingerprint;
  d.remote_user = spec.remote_user;
  d.created_at = clock_.NowMillis();
  Status valid = ValidateHostName("destination host", d.host);
  if (valid.ok()) valid = ValidatePort("ssh port", d.ssh_port);
  if (valid.ok()) valid = ValidateUnixUser("remote user", d.remote_user);
  if (valid.ok() && !d.ssh_fingerprint.empty())
    valid = ValidateFingerprint("destination host key fingerprint", d.ssh_fingerprint);
  if (!valid.ok()) {
    (void)RecordFailure(a, "destination.create", "destination", "", valid);
    return valid;
  }
  if (!root_password.empty()) {
    // Before anything is recorded: a refused password attaches nothing.
    Status installed = InstallDestinationKey(d, root_password);
    if (!installed.ok()) {
      (void)RecordFailure(a, "destination.create", "destination", "", installed);
      return installed;
    }
  }
  std::string msg = fmt::format("destination {}@{} attached", d.remote_user, d.host);
  Status st =
      Audited(a, "destination.create", "destination", d.id, msg, [&](StoreTx& tx) -> Status {
        GEOREP_RETURN_IF_ERROR(tx.GetCluster(d.source_cluster_id).status());
        auto h = tx.GetHost(d.source_host_id);
        if (!h.ok() || h->cluster_id != d.source_cluster_id) {
          return Status::InvalidArgument(fmt::format(
              "source host '{}' is not a host of the source cluster", d.source_host_id));
        }
        Status s = tx.CreateDestination(d);
        if (s.code() == StatusCode::kAlreadyExists) {
          return Status::AlreadyExists(
              fmt::format("the cluster already has destination {}@{}", d.remote_user, d.host));
        }
        return s;
      });
  if (!st.ok()) return st;
  if (!copy_keys) return d;
  auto guard = locks_.Lock(DestinationLockKey(d.id));
  Status keys = ExchangeKeys(d);
  return RecordConnection(a, d.id, "destination.keys", keys.ok(), keys.ok() ? "" : keys.message(),
                          "keys of the source cluster's hosts installed");
}

Result<std::vector<Destination>> Operations::ListDestinations(const std::string& cluster_id) {
  return Read<std::vector<Destination>>(
      store_, [&](StoreTx& tx) -> Result<std::vector<Destination>> {
        GEOREP_RETURN_IF_ERROR(tx.GetCluster(cluster_id).status());
        return tx.ListDestinations(cluster_id);
      });
}

Result<Destination> Operations::GetDestination(const std::string& id) {
  return Read<Destination>(store_, [&](StoreTx& tx) { return tx.GetDestination(id); });
}

Result<std::string> Operations::RemoveDestination(const Actor& a, const std::string& id,
                                                  bool force) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  auto guard = locks_.Lock(DestinationLockKey(id));
  std::string oid = id, msg;
  Destination d;
  Status removed =
      Audited(a, "destination.remove", "destination", oid, msg, [&](StoreTx& tx) -> Status {
        GEOREP_ASSIGN_OR_RETURN(d, tx.GetDestination(id));
        GEOREP_ASSIGN_OR_RETURN(auto sessions, tx.ListSessions({"", id}));
        if (!sessions.empty() && !force) {
          return Status::FailedPrecondition(fmt::format(
              "destination {}@{} is used by {} session(s); remove them first or use force",
              d.remote_user, d.host, sessions.size()));
        }
        for (const auto& s : sessions) GEOREP_RETURN_IF_ERROR(tx.DeleteSession(s.id));
        msg = fmt::format(
            "destination {}@{} detached{}", d.remote_user, d.host,
            sessions.empty() ? "" : fmt::format(" with {} session(s) (forced)", sessions.size()));
        return tx.DeleteDestination(id);
      });
  if (!removed.ok()) return removed;
  // Detached: the keys that let the source cluster in go too (a cluster has one destination
  // per host and user, so no other needs them).
  const std::string keys = hosts_ ? RevokeSourceClusterKeys(d) : "";
  if (!keys.empty()) {
    const bool remain = keys.find("remain") != std::string::npos;
    (void)store_.Transaction([&](StoreTx& tx) -> Status {
      return tx
          .AppendEvent(Event{0, clock_.NowMillis(), a.name, "destination.keys_revoked",
                             "destination", id, remain ? "failed" : "ok",
                             fmt::format("destination {}@{}: {}", d.remote_user, d.host, keys)})
          .status();
    });
  }
  return msg + (keys.empty() ? "" : "; " + keys);
}

Result<std::unique_ptr<RelayingRunner>> Operations::DestinationRunner(const Destination& d) {
  Host dest;
  dest.name = dest.address = d.host;
  dest.ssh_port = d.ssh_port;
  dest.ssh_user = "root";
  dest.transport = HostTransport::kSsh;
  dest.ssh_fingerprint = d.ssh_fingerprint;
  Host relay;  // none, unless the source host is known
  relay.transport = HostTransport::kLocal;
  if (auto src = GetHost(d.source_host_id); src.ok()) relay = *src;
  return DestinationRunner(dest, relay);
}

Result<std::unique_ptr<RelayingRunner>> Operations::DestinationRunner(const Host& dest,
                                                                      const Host& relay) {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  std::unique_ptr<CommandRunner> relayed;
  std::string relay_name;
  if (relay.transport == HostTransport::kSsh && !relay.ssh_fingerprint.empty()) {
    relayed = hosts_->RunnerVia(dest, relay);
    relay_name = fmt::format("source host {}", relay.name);
  }
  return std::make_unique<RelayingRunner>(hosts_->RunnerFor(dest), std::move(relayed), relay_name);
}

Status Operations::InstallDestinationKey(const Destination& d, const std::string& password) {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  if (d.ssh_fingerprint.empty()) {
    return Status::InvalidArgument(
        fmt::format("the host key of {} must be pinned before a password is sent to it", d.host));
  }
  Host dest;
  dest.name = dest.address = d.host;
  dest.ssh_port = d.ssh_port;
  dest.ssh_user = "root";
  dest.transport = HostTransport::kSsh;
  dest.ssh_fingerprint = d.ssh_fingerprint;
  return hosts_->InstallEngineKey(dest, password);
}

Status Operations::ExchangeKeys(const Destination& d) {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(d.source_host_id));
  if (src.transport == HostTransport::kSsh && src.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("the key of source host '{}' is not confirmed; confirm it first", src.name));
  }
  if (d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for destination {}", d.host));
  }
  auto source = hosts_->RunnerFor(src);
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, DestinationRunner(d));
  auto run = [](CommandRunner& r, const std::string& where, std::vector<std::string> argv,
                std::string input = "") -> Result<std::string> {
    CommandSpec spec{argv, std::move(input)};
    spec.timeout = std::chrono::seconds(120);
    GEOREP_ASSIGN_OR_RETURN(CommandResult res, r.Run(spec));
    if (res.timed_out || res.exit_code != 0) {
      std::string words = res.err.empty() ? res.out : res.err;
      while (!words.empty() && (words.back() == '\n' || words.back() == ' ')) words.pop_back();
      return Status::FailedPrecondition(
          fmt::format("'{}' failed on {}: {}", argv.size() > 4 ? argv[4] : argv[0], where,
                      res.timed_out ? "timed out" : words.substr(0, 300)));
    }
    return res.out;
  };
  const std::string pub = "geo-replication/common_secret.pem.pub";
  GEOREP_RETURN_IF_ERROR(
      run(*source, src.name, {"gluster", "--mode=script", "system::", "execute", "gsec_create"})
          .status());
  GEOREP_ASSIGN_OR_RETURN(std::string keys,
                          run(*source, src.name, {"cat", "/var/lib/glusterd/" + pub}));
  if (keys.empty() || keys.size() > (1 << 20))
    return Status::FailedPrecondition("gsec_create left no public keys on " + src.name);
  GEOREP_RETURN_IF_ERROR(
      run(*dest, d.host, {"mkdir", "-p", "/var/lib/glusterd/geo-replication"}).status());
  GEOREP_RETURN_IF_ERROR(run(*dest, d.host, {"tee", "/var/lib/glusterd/" + pub}, keys).status());
  GEOREP_RETURN_IF_ERROR(
      run(*dest, d.host, {"gluster", "--mode=script", "system::", "copy", "file", "/" + pub})
          .status());
  // A user other than root must exist on every destination node before its keys can.
  std::vector<std::string> unreachable;
  if (d.remote_user != "root") {
    GEOREP_ASSIGN_OR_RETURN(unreachable, PrepareGeoAccounts(d));
  }
  Status added =
      run(*dest, d.host,
          {"gluster", "--mode=script", "system::", "execute", "add_secret_pub", d.remote_user, pub})
          .status();
  if (!added.ok() && !unreachable.empty()) {
    std::string names;
    for (const auto& n : unreachable) names += (names.empty() ? "" : ", ") + n;
    return Status::FailedPrecondition(fmt::format(
        "{}; user {} must exist on every destination node: create it on {} (georep cannot reach "
        "them), or import the destination cluster so that georep can",
        added.message(), d.remote_user, names));
  }
  return added;
}

std::string Operations::RevokeSourceClusterKeys(const Destination& d) {
  const std::string pub = "/var/lib/glusterd/geo-replication/common_secret.pem.pub";
  const std::string where = fmt::format("{}'s ~/.ssh/authorized_keys", d.remote_user);
  // Only a Gluster cluster's hosts exchange keys (directory volumes use the engine's own).
  auto volumes = ListVolumes(d.source_cluster_id);
  if (volumes.ok() && std::none_of(volumes->begin(), volumes->end(),
                                   [](const Volume& v) { return v.kind == VolumeKind::kGluster; }))
    return "";
  auto src = GetHost(d.source_host_id);
  if (!src.ok())
    return fmt::format(
        "the source cluster's geo-replication keys remain in {} on the "
        "destination nodes: georep no longer knows the source host",
        where);
  CommandSpec cat{{"cat", pub}};
  cat.timeout = std::chrono::seconds(60);
  auto read = hosts_->RunnerFor(*src)->Run(cat);
  if (read.ok() && !read->timed_out && read->exit_code != 0 &&
      read->err.find("No such file") != std::string::npos)
    return "";  // no key exchange ever ran there (not a gluster cluster)
  if (!read.ok() || read->timed_out || read->exit_code != 0)
    return fmt::format(
        "the source cluster's geo-replication keys remain in {} on the destination nodes: they "
        "cannot be read on source host {} ({}); remove the lines of {} there by hand",
        where, src->name,
        !read.ok()        ? read.status().message()
        : read->timed_out ? "timed out"
                          : FirstLine(read->err),
        pub);
  // The exact lines add_secret_pub appended; blank lines would match every line.
  std::string keys;
  int lines = 0;
  std::istringstream in(read->out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find("ssh-") == std::string::npos && line.find("ecdsa-") == std::string::npos)
      continue;
    keys += line + "\n";
    ++lines;
  }
  if (lines == 0) return "";

  // On every destination node georep reaches (the destination host at least), under the lock
  // the engine's other authorized_keys edits take; the file is replaced whole by a synced copy
  // without those lines, owner and mode kept. The user travels as $1, the keys on stdin.
  const std::string script =
      "h=$(getent passwd \"$1\" | cut -d: -f6); [ -n \"$h\" ] || { echo 0; exit 0; }; "
      "f=\"$h/.ssh/authorized_keys\"; [ -e \"$f\" ] || { echo 0; exit 0; }; "
      "f=$(readlink -f \"$f\") || exit 2; k=$(mktemp) || exit 2; "
      "trap 'rm -f \"$k\" \"$f.georep-new\"' EXIT; cat > \"$k\" || exit 2; "
      "exec 9>>\"$h/.ssh/.georep-authorized_keys.lock\" && flock 9 || exit 2; "
      "n=$(grep -cxF -f \"$k\" \"$f\"); [ \"$n\" -gt 0 ] 2>/dev/null || { echo 0; exit 0; }; "
      "(umask 077; grep -vxF -f \"$k\" \"$f\" > \"$f.georep-new\"); [ $? -le 1 ] || exit 2; "
      "chown --reference=\"$f\" \"$f.georep-new\" && chmod --reference=\"$f\" \"$f.georep-new\" && "
      "sync \"$f.georep-new\" && mv -f \"$f.georep-new\" \"$f\" || exit 2; echo \"$n\"";
  std::vector<std::string> removed, remain;
  auto revoke = [&](const std::string& node, CommandRunner& r) {
    CommandSpec spec{{"sh", "-c", script, "georep-revoke", d.remote_user}, keys};
    spec.timeout = std::chrono::seconds(60);
    auto res = r.Run(spec);
    if (res.ok() && !res->timed_out && res->exit_code == 0) {
      removed.push_back(fmt::format("{} ({} lines)", node, std::atoi(res->out.c_str())));
      return;
    }
    remain.push_back(fmt::format("{} ({})", node,
                                 !res.ok()        ? res.status().message()
                                 : res->timed_out ? "timed out"
                                                  : FirstLine(res->err)));
  };
  auto nodes = ReachDestinationNodes(d);
  if (nodes.ok()) {
    for (auto& n : nodes->nodes) revoke(n.name, *n.runner);
    for (const auto& n : nodes->unreachable)
      remain.push_back(n + " (georep cannot reach it; import the destination cluster to)");
  } else if (auto dest = DestinationRunner(d); dest.ok()) {
    // gluster there does not say which nodes it has: the destination host alone.
    revoke(d.host, **dest);
    remain.push_back(
        fmt::format("any other node of the destination cluster ({})", nodes.status().message()));
  } else {
    remain.push_back(fmt::format("{} ({})", d.host, dest.status().message()));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  std::string out;
  if (!removed.empty())
    out = fmt::format("the source cluster's geo-replication keys were removed from {} on {}", where,
                      join(removed));
  if (!remain.empty()) {
    out += fmt::format(
        "{}the source cluster's geo-replication keys remain in {} on {}: remove there the "
        "lines of {} on source host {}",
        out.empty() ? "" : "; ", where, join(remain), pub, src->name);
    spdlog::warn("msg=\"{}\" destination={}", out, LogValue(d.remote_user + "@" + d.host));
  }
  return out;
}

Result<Destination> Operations::RecordConnection(const Actor& a, const std::string& id,
                                                 std::string_view action, bool connected,
                                                 const std::string& reason,
                                                 const std::string& extra) {
  const int64_t now = clock_.NowMillis();
  Destination out;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(out, tx.GetDestination(id));
    out.connection = connected ? ConnectionStatus::kConnected : ConnectionStatus::kBroken;
    out.connection_reason = reason;
    out.last_checked = now;
    GEOREP_RETURN_IF_ERROR(tx.UpdateDestination(out));
    std::string msg = connected ? fmt::format("destination {}: {}", out.host, extra)
                                : fmt::format("destination {} is Broken: {}", out.host, reason);
    auto ev = tx.AppendEvent(Event{0, now, a.name, std::string(action), "destination", id,
                                   connected ? "ok" : "failed", msg});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Destination> Operations::ReestablishDestination(const Actor& a, const std::string& id,
                                                       const std::string& new_fingerprint,
                                                       const std::string& root_password) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  if (!new_fingerprint.empty()) {
    Status valid = ValidateFingerprint("destination host key fingerprint", new_fingerprint);
    if (!valid.ok()) {
      (void)RecordFailure(a, "destination.reestablish", "destination", id, valid);
      return valid;
    }
  }
  auto guard = locks_.Lock(DestinationLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(id));
  if (!new_fingerprint.empty() && new_fingerprint != d.ssh_fingerprint) {
    std::string oid = id;
    std::string msg = fmt::format("host key of destination {} re-pinned: {} -> {}", d.host,
                                  d.ssh_fingerprint, new_fingerprint);
    GEOREP_RETURN_IF_ERROR(
        Audited(a, "destination.repin", "destination", oid, msg, [&](StoreTx& tx) -> Status {
          d.ssh_fingerprint = new_fingerprint;
          return tx.UpdateDestination(d);
        }));
  }
  Status keys = root_password.empty() ? Status::Ok() : InstallDestinationKey(d, root_password);
  if (keys.ok()) keys = ExchangeKeys(d);
  return RecordConnection(a, id, "destination.reestablish", keys.ok(),
                          keys.ok() ? "" : keys.message(), "keys re-established");
}

Status Operations::CheckLocalDestination(const Destination& d, const Host& source,
                                         DestinationCheck& out) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ListSessions({"", d.id}));
  auto runner = hosts_->RunnerFor(source);
  auto test = [&](const char* flag, const std::string& path) {
    CommandSpec spec{{"test", flag, path}};
    spec.timeout = std::chrono::seconds(10);
    auto r = runner->Run(spec);
    return r.ok() && !r->timed_out && r->exit_code == 0;
  };
  for (const Session& s : sessions) {
    const std::string& path = s.destination_volume;
    if (test("-d", path)) {
      if (!test("-w", path))
        out.problems.push_back(fmt::format("destination directory {} is not writable", path));
      continue;
    }
    if (test("-e", path)) {
      out.problems.push_back(fmt::format("destination {} exists and is not a directory", path));
      continue;
    }
    // Not there yet: the agent creates it, in a parent that must be there and writable.
    const std::string parent = std::filesystem::path(path).parent_path().string();
    if (!test("-d", parent) || !test("-w", parent)) {
      out.problems.push_back(fmt::format(
          "destination directory {} does not exist and cannot be created in {}", path, parent));
    }
  }
  return Status::Ok();
}

Status Operations::CheckSshDestination(const Destination& d, const std::vector<Host>& sources,
                                       DestinationCheck& out) {
  // 1. The engine reaches the destination (itself, or through the source host) and gluster
  //    answers there.
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, DestinationRunner(d));
  auto info = RunGluster(*dest, {"volume", "info"});
  if (dest->relayed() && info.ok()) {
    out.warnings.push_back(
        fmt::format("the engine reaches {} only through {}", d.host, dest->relay_name()));
  }
  if (!info.ok()) {
    out.problems.push_back(info.status().message());
  } else if (auto vols = ParseVolumeInfo(*info);
             !vols.ok() && vols.status().message().find("No volumes") == std::string::npos) {
    out.problems.push_back(
        fmt::format("gluster on {} does not answer: {}", d.host, vols.status().message()));
  }

  // 2. Every source host logs in to the destination with the geo-replication key, checking
  //    the destination's pinned host key (written to a known_hosts file on the source host).
  std::string known_line;
  if (out.problems.empty()) {
    auto keys = hosts_->ScanHostKeys(d.host, d.ssh_port);
    if (!keys.ok() && dest->relayed()) {  // the key as the source host sees it
      if (auto src = GetHost(d.source_host_id); src.ok())
        keys = georep::ScanHostKeys(*hosts_->RunnerFor(*src), d.host, d.ssh_port, 10);
    }
    if (keys.ok()) {
      for (const auto& k : *keys) {
        if (k.fingerprint != d.ssh_fingerprint) continue;
        const std::string name =
            d.ssh_port == 22 ? d.host : fmt::format("[{}]:{}", d.host, d.ssh_port);
        known_line = fmt::format("{} {} {}\n", name, k.type, k.blob_base64);
      }
    }
    if (known_line.empty())
      out.problems.push_back(
          fmt::format("host key of {} no longer matches the pinned one", d.host));
  }
  const std::string known_file = "/var/lib/glusterd/geo-replication/georep_known_hosts";
  // Every source host that runs a worker (holds a brick of a gluster volume) is checked, and
  // each one that cannot be is named: one host's login says nothing of another's.
  std::set<std::string> brick_hosts;
  if (auto volumes = ListVolumes(d.source_cluster_id); volumes.ok()) {
    for (const Volume& v : *volumes)
      if (v.kind == VolumeKind::kGluster)
        for (const Brick& b : v.bricks) brick_hosts.insert(b.host_id);
  }
  for (const Host& h : sources) {
    if (known_line.empty()) break;
    if (!brick_hosts.empty() && !brick_hosts.count(h.id)) continue;  // runs no worker
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) {
      out.problems.push_back(fmt::format(
          "source host {} runs a worker but was not checked: its host key is not confirmed "
          "(confirm it, then test again)",
          h.name));
      continue;
    }
    auto src = hosts_->RunnerFor(h);
    CommandSpec write{{"tee", known_file}, known_line};
    write.timeout = std::chrono::seconds(30);
    auto w = src->Run(write);
    if (!w.ok() || w->exit_code != 0) {
      out.problems.push_back(fmt::format("cannot prepare the check on source host {}", h.name));
      continue;
    }
    // ssh inside ssh: the inner exit status is printed, so that the inner ssh's 255 is not
    // mistaken for the engine's own connection failing. The script is fixed; every value
    // travels as a positional argument.
    CommandSpec login{{"sh",
                       "-c",
                       "ssh \"$@\"; echo \"georep-ssh-exit=$?\"",
                       "sh",
                       "-i",
                       "/var/lib/glusterd/geo-replication/secret.pem",
                       "-p",
                       std::to_string(d.ssh_port),
                       "-o",
                       "BatchMode=yes",
                       "-o",
                       "StrictHostKeyChecking=yes",
                       "-o",
                       "UserKnownHostsFile=" + known_file,
                       "-o",
                       "ConnectTimeout=10",
                       "-l",
                       d.remote_user,
                       "--",
                       d.host,
                       "true"}};
    login.timeout = std::chrono::seconds(30);
    auto r = src->Run(login);
    int inner = -1;
    if (r.ok()) {
      auto pos = r->out.rfind("georep-ssh-exit=");
      if (pos != std::string::npos) inner = std::atoi(r->out.c_str() + pos + 16);
    }
    // Authenticated logins end in gsyncd's restricted command (exit 1); 255 is ssh failing.
    if (inner >= 0 && inner != 255) continue;
    std::string why = !r.ok() ? r.status().message() : r->timed_out ? "timed out" : r->err;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (auto nl = why.rfind('\n'); nl != std::string::npos) why = why.substr(nl + 1);
    out.problems.push_back(
        fmt::format("source host {} cannot log in to {}@{} with the geo-replication key ({}); "
                    "Re-establish the destination",
                    h.name, d.remote_user, d.host, why));
  }

  // 3. Preflight on the source hosts: rsync >= 3.4 makes gsyncd write 0-byte files.
  for (const Host& h : sources) {
    if (h.status != HostStatus::kUp ||
        (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()))
      continue;
    CommandSpec spec{{"rsync", "--version"}};
    spec.timeout = std::chrono::seconds(30);
    spec.max_output_bytes = 4096;
    auto r = hosts_->RunnerFor(h)->Run(spec);
    if (!r.ok()) continue;  // host reachability is the host check's business
    std::string w = RsyncPreflightWarning(h.name, ParseRsyncVersion(r->out));
    if (!w.empty()) out.warnings.push_back(w);
  }

  return Status::Ok();
}

Result<DestinationCheck> Operations::TestDestination(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto guard = locks_.Lock(DestinationLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> sources, ListHosts(d.source_cluster_id));
  DestinationCheck out;

  auto source_host = GetHost(d.source_host_id);
  if (d.ssh_fingerprint.empty() && source_host.ok() &&
      source_host->transport == HostTransport::kLocal) {
    // A destination on this machine (directory volumes): no ssh, no gluster.
    GEOREP_RETURN_IF_ERROR(CheckLocalDestination(d, *source_host, out));
  } else if (auto volumes = ListVolumes(d.source_cluster_id);
             volumes.ok() && !volumes->empty() &&
             std::all_of(volumes->begin(), volumes->end(),
                         [](const Volume& v) { return v.kind == VolumeKind::kDirectory; })) {
    // Directory volumes only: georep's own agent at the other end, not gluster.
    GEOREP_RETURN_IF_ERROR(CheckSshDirectoryDestination(d, out));
  } else {
    GEOREP_RETURN_IF_ERROR(CheckSshDestination(d, sources, out));
  }

  const int64_t now = clock_.NowMillis();
  const bool connected = out.problems.empty();
  std::string reason;
  for (const auto& p : out.problems) reason += (reason.empty() ? "" : "; ") + p;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination cur, tx.GetDestination(id));
    cur.connection = connected ? ConnectionStatus::kConnected : ConnectionStatus::kBroken;
    cur.connection_reason = reason;
    cur.last_checked = now;
    GEOREP_RETURN_IF_ERROR(tx.UpdateDestination(cur));
    out.destination = cur;
    std::string msg = connected ? fmt::format("destination {} is Connected", cur.host)
                                : fmt::format("destination {} is Broken: {}", cur.host, reason);
    for (const auto& w : out.warnings) msg += "; warning: " + w;
    auto ev = tx.AppendEvent(Event{0, now, a.name, "destination.test", "destination", id,
                                   connected ? "ok" : "failed", msg});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return out;
}

// ---------------------------------------------------------------- sessions

Result<SessionDetail> Operations::CreateSession(const Actor& a, const SessionSpec& spec,
                                                const SessionCreateOptions& options) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  SessionDetail out;
  Session& s = out.session;
  s.id = random_.NewUuid();
  s.destination_id = spec.destination_id;
  s.source_volume_id = spec.source_volume_id;
  s.destination_volume = spec.destination_volume;
  s.remote_user = spec.remote_user;
  s.created_at = s.updated_at = clock_.NowMillis();
  if (!s.remote_user.empty()) {
    Status valid = ValidateUnixUser("remote user", s.remote_user);
    if (!valid.ok()) {
      (void)RecordFailure(a, "session.create", "session", "", valid);
      return valid;
    }
  }
  if (!options.sync_method.empty() && options.sync_method != "rsync" &&
      options.sync_method != "tarssh") {
    Status bad = Status::InvalidArgument("sync method must be rsync or tarssh");
    (void)RecordFailure(a, "session.create", "session", "", bad);
    return bad;
  }
  auto guard = locks_.Lock(DestinationLockKey(spec.destination_id));
  // The monitor must not discover the gluster session between its creation on the cluster
  // and its record here.
  auto dest_for_lock = GetDestination(spec.destination_id);
  auto creating =
      locks_.Lock(NewSessionLockKey(dest_for_lock.ok() ? dest_for_lock->source_cluster_id : ""));

  // A gluster session exists on the cluster first: eligibility, the platform preflight, then
  // `create no-verify`.
  std::string mountbroker;                        // what the non-root set-up did, for the event
  std::string sync_method = options.sync_method;  // what the session is created with
  auto gluster_step = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    if (v.kind != VolumeKind::kGluster) return Status::Ok();
    if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
    GEOREP_RETURN_IF_ERROR(ValidateVolumeName("destination volume", s.destination_volume));
    if (v.cluster_id != d.source_cluster_id) {
      return Status::InvalidArgument(
          fmt::format("volume '{}' is not in the destination's source cluster", v.name));
    }
    GEOREP_ASSIGN_OR_RETURN(auto existing, ListSessions({"", d.id}));
    for (const auto& e : existing) {
      if (e.destination_volume == s.destination_volume) {
        return Status::AlreadyExists(fmt::format(
            "{}::{} is already the destination of another session", d.host, s.destination_volume));
      }
    }
    if (!options.force) GEOREP_RETURN_IF_ERROR(CheckGlusterEligibility(d, v, s.destination_volume));
    // The safe sync method by default: where gsyncd's rsync would write files without their
    // content (or where that cannot be ruled out), tarssh; rsync there only when forced.
    out.preflight = PlatformPreflight(v.cluster_id, &d);
    const Preflight& pf = *out.preflight;
    if (sync_method.empty() && (pf.rsync_unsafe || !pf.complete)) {
      sync_method = "tarssh";
      out.warnings.push_back(fmt::format("sync-method tarssh chosen: {}", pf.Summary()));
    } else if (sync_method == "rsync" && pf.rsync_unsafe) {
      if (!options.force) {
        return Status::FailedPrecondition(fmt::format(
            "sync-method rsync refused: {}; create the session with sync-method tarssh (the "
            "default here), or with force to accept the risk",
            pf.Summary()));
      }
      out.warnings.push_back(fmt::format("data at risk (forced): {}", pf.Summary()));
    } else if (!pf.complete) {
      out.warnings.push_back(pf.Summary());
    }
    Session probe = s;
    if (probe.remote_user.empty()) probe.remote_user = d.remote_user;
    // A user other than root logs in as itself; glusterd's mountbroker mounts for it.
    if (probe.remote_user != "root") {
      GEOREP_ASSIGN_OR_RETURN(
          out.warnings, SetUpMountbroker(d, probe.remote_user, s.destination_volume, &mountbroker));
    }
    std::vector<std::string> args = {"create", "no-verify"};
    if (options.force) args.push_back("force");
    GEOREP_RETURN_IF_ERROR(RunGeoRep(probe, args, false).status());
    if (!sync_method.empty())
      GEOREP_RETURN_IF_ERROR(
          RunGeoRep(probe, {"config", "sync-method", sync_method}, false).status());
    return Status::Ok();
  };
  if (Status g = gluster_step(); !g.ok()) {
    (void)RecordFailure(a, "session.create", "session", "", g);
    return g;
  }
  // A directory session's destination may never point where it hurts (model/path_guard.h).
  auto directory_step = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    if (v.kind != VolumeKind::kDirectory) return Status::Ok();
    GEOREP_RETURN_IF_ERROR(ValidateAbsolutePath("destination path", s.destination_volume));
    GEOREP_ASSIGN_OR_RETURN(auto existing, ListSessions({"", d.id}));
    for (const auto& e : existing) {
      if (e.destination_volume == s.destination_volume) {
        return Status::AlreadyExists(fmt::format(
            "{}::{} is already the destination of another session", d.host, s.destination_volume));
      }
    }
    Session probe = s;
    if (probe.remote_user.empty()) probe.remote_user = d.remote_user;
    bool not_empty = false;
    GEOREP_RETURN_IF_ERROR(CheckDirectoryDestination(probe, v, d, &not_empty));
    // As gluster's create refuses a destination volume that is not empty, unless forced.
    if (not_empty && !options.force) return NotEmptyRefusal(probe, d);
    // Recorded in the create event: start then does not ask again.
    if (not_empty)
      out.warnings.push_back(
          fmt::format("destination directory {} {}: the first sync makes it a copy of the "
                      "source: what the source does not have is deleted there; a file with the "
                      "source's size and modification time is taken as equal and kept (as "
                      "rsync judges) -- verify compares contents",
                      s.destination_volume, kForcedNotEmpty));
    return Status::Ok();
  };
  if (Status g = directory_step(); !g.ok()) {
    (void)RecordFailure(a, "session.create", "session", "", g);
    return g;
  }

  std::string msg;
  Status st = Audited(a, "session.create", "session", s.id, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Destination d, tx.GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(s.source_volume_id));
    if (v.cluster_id != d.source_cluster_id) {
      return Status::InvalidArgument(
          fmt::format("volume '{}' is not in the destination's source cluster", v.name));
    }
    GEOREP_RETURN_IF_ERROR(v.kind == VolumeKind::kGluster
                               ? ValidateVolumeName("destination volume", s.destination_volume)
                               : ValidateAbsolutePath("destination path", s.destination_volume));
    if (s.remote_user.empty()) s.remote_user = d.remote_user;
    GEOREP_ASSIGN_OR_RETURN(auto existing, tx.ListSessions({"", d.id}));
    for (const auto& e : existing) {
      if (e.destination_volume == s.destination_volume) {
        return Status::AlreadyExists(fmt::format(
            "{}::{} is already the destination of another session", d.host, s.destination_volume));
      }
    }
    s.session_key = fmt::format("{}_{}_{}", v.name, d.host, s.destination_volume);
    for (size_t i = 0; i < v.bricks.size(); ++i) {
      SessionNodeStatus n;
      n.session_id = s.id;
      auto h = tx.GetHost(v.bricks[i].host_id);
      n.source_host = h.ok() ? h->name : v.bricks[i].host_id;
      n.source_brick = v.bricks[i].path;
      n.set_index = SetIndexOf(v, i);
      n.destination_host = d.host;
      n.status = NodeStatus::kCreated;
      n.updated_at = s.created_at;
      out.nodes.push_back(n);
    }
    s.status = AggregateSessionStatus(out.nodes);
    GEOREP_RETURN_IF_ERROR(tx.CreateSession(s));
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(s.id, out.nodes));
    msg = fmt::format("session {} -> {}@{}::{} created", v.name, s.remote_user, d.host,
                      s.destination_volume);
    if (!mountbroker.empty()) msg += "; " + mountbroker;
    for (const auto& w : out.warnings) msg += "; warning: " + w;
    if (!sync_method.empty()) {
      GEOREP_RETURN_IF_ERROR(
          tx.PutConfig(SessionConfigEntry{s.id, "sync-method", sync_method, a.name, s.created_at}));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.preflight) {
    // A forced rsync session on such a platform shows it for as long as it lasts.
    GEOREP_RETURN_IF_ERROR(
        RecordDataRisk(a, s.id, sync_method.empty() ? "rsync" : sync_method, *out.preflight));
    GEOREP_ASSIGN_OR_RETURN(SessionDetail fresh, GetSession(s.id));
    out.alerts = fresh.alerts;
  }
  return out;
}

Result<std::vector<Session>> Operations::ListSessions(const SessionFilter& filter) {
  return Read<std::vector<Session>>(store_, [&](StoreTx& tx) -> Result<std::vector<Session>> {
    if (!filter.source_volume_id.empty())
      GEOREP_RETURN_IF_ERROR(tx.GetVolume(filter.source_volume_id).status());
    if (!filter.destination_id.empty())
      GEOREP_RETURN_IF_ERROR(tx.GetDestination(filter.destination_id).status());
    return tx.ListSessions(filter);
  });
}

Result<std::vector<SessionDetail>> Operations::ListSessionDetails(const SessionFilter& filter) {
  return Read<std::vector<SessionDetail>>(
      store_, [&](StoreTx& tx) -> Result<std::vector<SessionDetail>> {
        if (!filter.source_volume_id.empty())
          GEOREP_RETURN_IF_ERROR(tx.GetVolume(filter.source_volume_id).status());
        if (!filter.destination_id.empty())
          GEOREP_RETURN_IF_ERROR(tx.GetDestination(filter.destination_id).status());
        GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, tx.ListSessions(filter));
        std::vector<SessionDetail> out;
        out.reserve(sessions.size());
        for (Session& s : sessions) {
          SessionDetail d;
          GEOREP_ASSIGN_OR_RETURN(d.nodes, tx.ListNodeStatuses(s.id));
          d.session = std::move(s);
          GEOREP_RETURN_IF_ERROR(FillHealth(tx, d));
          out.push_back(std::move(d));
        }
        return out;
      });
}

Result<Session> Operations::ReadSession(const std::string& id) {
  return Read<Session>(store_, [&](StoreTx& tx) { return tx.GetSession(id); });
}

Result<SessionDetail> Operations::GetSession(const std::string& id) {
  return Read<SessionDetail>(store_, [&](StoreTx& tx) -> Result<SessionDetail> {
    SessionDetail d;
    GEOREP_ASSIGN_OR_RETURN(d.session, tx.GetSession(id));
    GEOREP_ASSIGN_OR_RETURN(d.nodes, tx.ListNodeStatuses(id));
    GEOREP_RETURN_IF_ERROR(FillHealth(tx, d));
    return d;
  });
}

Status Operations::RemoveSession(const Actor& a, const std::string& id, bool force,
                                 bool reset_sync_time) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  // One lock across both steps, so the monitor never sees the session gone from the cluster
  // but still recorded.
  auto guard = locks_.Lock(SessionLockKey(id));
  std::optional<Volume> removed_volume;  // the session's source
  std::optional<Session> removed_session;
  bool gone_outside = false;  // gluster no longer has it: nothing to stop or delete there
  {
    // On the cluster first (gluster sessions); a session gluster no longer knows is just
    // forgotten.
    auto s = GetSession(id);
    if (s.ok()) {
      removed_session = s->session;
      auto v = GetVolume(s->session.source_volume_id);
      if (v.ok()) removed_volume = *v;
      gone_outside = s->session.status == SessionStatus::kUnknown &&
                     s->session.status_reason.rfind("deleted outside georep", 0) == 0;
      Status allowed = CheckSessionAction(s->session.status, SessionAction::kDelete, force);
      if (v.ok() && v->kind == VolumeKind::kGluster && allowed.ok() && hosts_ && !gone_outside) {
        std::vector<std::string> args = {"delete"};
        if (reset_sync_time) args.push_back("reset-sync-time");
        auto r = RunGeoRep(s->session, args, false);
        if (!r.ok() && !force) {
          (void)RecordFailure(a, "session.remove", "session", id, r.status());
          return r.status();
        }
      }
      // A directory session's worker (a forced removal of a running one).
      if (v.ok() && v->kind == VolumeKind::kDirectory && workers_ && (allowed.ok() || force))
        workers_->Stop(id);
    }
  }
  std::string oid = id, msg;
  Status removed = Audited(a, "session.remove", "session", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, tx.GetSession(id));
    bool removable =
        s.status == SessionStatus::kCreated || s.status == SessionStatus::kStopped || gone_outside;
    if (!removable && !force) {
      return Status::FailedPrecondition(
          fmt::format("session is {}; stop it before removing it, or use force", Name(s.status)));
    }
    msg = fmt::format("session {} removed{}", s.session_key,
                      gone_outside ? " (it had been deleted outside georep)"
                      : removable  ? ""
                                   : " (forced)");
    return tx.DeleteSession(id);
  });
  // A gluster session's heartbeat file goes with it.
  if (removed.ok() && removed_volume && removed_session &&
      removed_volume->kind == VolumeKind::kGluster && hosts_)
    ForgetHeartbeat(*removed_volume, *removed_session);
  // Its worker's state (index, status, logs) goes with it, here and on an ssh source host.
  if (removed.ok() && workers_) {
    const std::string trusted = TrustedSourceWorkerKey(id);
    std::error_code ec;
    std::filesystem::remove_all(workers_->StateDir(id), ec);
    if (removed_volume) RemoveRemoteWorkerState(*removed_volume, id);
    if (removed_volume && removed_session && !trusted.empty())
      RevokeSourceWorkerKey(*removed_session, *removed_volume, trusted);
  }
  return removed;
}

// ---------------------------------------------------------------- config

Result<std::vector<ConfigItem>> Operations::GetConfig(const std::string& session_id) {
  return Read<std::vector<ConfigItem>>(store_, [&](StoreTx& tx) -> Result<std::vector<ConfigItem>> {
    GEOREP_ASSIGN_OR_RETURN(Session s, tx.GetSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, tx.GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(auto set, tx.ListConfig(session_id));
    std::vector<ConfigItem> items;
    for (const auto& o : ConfigCatalog(v.kind)) {
      ConfigItem item{&o, std::string(o.default_value), true, "", 0};
      for (const auto& e : set) {
        if (e.key == o.key) {
          item.value = e.value;
          item.is_default = false;
          item.changed_by = e.changed_by;
          item.changed_at = e.changed_at;
        }
      }
      items.push_back(item);
    }
    return items;
  });
}

Result<ConfigItem> Operations::SetConfig(const Actor& a, const std::string& session_id,
                                         const std::string& key, const std::string& value,
                                         bool force) {
  // A checkpoint is a moment, set as operators run sessions; every other option is the
  // session's shape, and several name programs that run as root on the hosts.
  GEOREP_RETURN_IF_ERROR(
      Require(a, NormaliseConfigKey(key) == "checkpoint" ? Role::kOperator : Role::kAdmin));
  auto guard = locks_.Lock(SessionLockKey(session_id));
  ConfigItem item;
  std::optional<Preflight> preflight;  // when sync-method is set
  std::string oid = session_id, msg;
  // Validate, then (gluster sessions) have the cluster accept it, then record it. The remote
  // call stays outside any store transaction.
  Status st = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    const ConfigOption* o = FindConfigOption(v.kind, key);
    if (!o) {
      return Status::InvalidArgument(fmt::format("'{}' is not a config option of {} sessions",
                                                 key.substr(0, 64), Name(v.kind)));
    }
    std::string given = value;
    if (o->key == "checkpoint" && value == "now") given = std::to_string(clock_.NowMillis() / 1000);
    GEOREP_ASSIGN_OR_RETURN(std::string canonical, ValidateConfigValue(*o, given));
    item = ConfigItem{o, canonical, false, a.name, clock_.NowMillis()};
    if (v.kind == VolumeKind::kGluster && hosts_ && !IsEngineOption(v.kind, o->key)) {
      if (o->key == "sync-method" && canonical == "rsync") {
        GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
        preflight = PlatformPreflight(v.cluster_id, &d);
        if (preflight->rsync_unsafe && !force) {
          return Status::FailedPrecondition(
              fmt::format("sync-method rsync refused: {}; keep tarssh, or set it with force to "
                          "accept the risk",
                          preflight->Summary()));
        }
      }
      if (o->key != "checkpoint") {
        return RunGeoRep(s, {"config", std::string(o->key), canonical}, false).status();
      }
      // gluster takes "now" or a "Y-m-d H:M:S" label and clears with "!checkpoint"; what it
      // recorded (Unix seconds, its clock) is what georep keeps.
      std::vector<std::string> args = {"config", "checkpoint", value == "now" ? "now" : ""};
      if (canonical == "0") {
        args = {"config", "!checkpoint"};
      } else if (value != "now") {
        const std::time_t t = std::strtoll(canonical.c_str(), nullptr, 10);
        std::tm tm{};
        gmtime_r(&t, &tm);
        args[2] = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
      }
      GEOREP_RETURN_IF_ERROR(RunGeoRep(s, args, false).status());
      GEOREP_ASSIGN_OR_RETURN(std::string xml, RunGeoRep(s, {"config"}, true));
      GEOREP_ASSIGN_OR_RETURN(auto config, ParseGeoRepConfig(xml));
      if (auto it = config.find("checkpoint"); it != config.end() && !it->second.empty())
        item.value = it->second;
    }
    return Status::Ok();
  }();
  if (!st.ok()) {
    (void)RecordFailure(a, "session.config.set", "session", oid, st);
    return st;
  }
  msg = fmt::format("{} set to '{}'", item.option->key, item.value);
  st = Audited(a, "session.config.set", "session", oid, msg, [&](StoreTx& tx) -> Status {
    return tx.PutConfig(SessionConfigEntry{session_id, std::string(item.option->key), item.value,
                                           a.name, item.changed_at});
  });
  if (!st.ok()) return st;
  if (item.option->key == "sync-method")
    GEOREP_RETURN_IF_ERROR(
        RecordDataRisk(a, session_id, item.value, preflight.value_or(Preflight{})));
  return item;
}

Status Operations::ResetConfig(const Actor& a, const std::string& session_id,
                               const std::string& key) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  auto guard = locks_.Lock(SessionLockKey(session_id));
  std::string oid = session_id, msg;
  const ConfigOption* option = nullptr;
  Status st = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(session_id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    option = FindConfigOption(v.kind, key);
    if (!option) {
      return Status::InvalidArgument(fmt::format("'{}' is not a config option of {} sessions",
                                                 key.substr(0, 64), Name(v.kind)));
    }
    if (v.kind == VolumeKind::kGluster && hosts_ && !IsEngineOption(v.kind, option->key)) {
      if (option->key == "sync-method") {
        // gluster's default is rsync: the same refusal as setting it.
        GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
        Preflight pf = PlatformPreflight(v.cluster_id, &d);
        if (pf.rsync_unsafe) {
          return Status::FailedPrecondition(fmt::format(
              "sync-method's default (rsync) refused: {}; set sync-method rsync with force to "
              "accept the risk",
              pf.Summary()));
        }
      }
      GEOREP_RETURN_IF_ERROR(
          RunGeoRep(s, {"config", "!" + std::string(option->key)}, false).status());
    }
    return Status::Ok();
  }();
  if (!st.ok()) {
    (void)RecordFailure(a, "session.config.reset", "session", oid, st);
    return st;
  }
  msg = fmt::format("{} reset to default '{}'", option->key, option->default_value);
  return Audited(a, "session.config.reset", "session", oid, msg, [&](StoreTx& tx) {
    return tx.DeleteConfig(session_id, std::string(option->key));
  });
}

// ---------------------------------------------------------------- events

Result<std::vector<Event>> Operations::ListEvents(const EventFilter& filter) {
  return Read<std::vector<Event>>(store_, [&](StoreTx& tx) { return tx.ListEvents(filter); });
}

// ---------------------------------------------------------------- users and tokens

Result<User> Operations::CreateUser(const Actor& a, const std::string& name,
                                    const std::string& password, Role role) {
  Status valid = RequireAdmin(a);
  if (valid.ok()) valid = ValidateObjectName("user name", name);
  if (valid.ok()) valid = ValidateNewPassword(password);
  if (!valid.ok()) {
    (void)RecordFailure(a, "user.create", "user", "", valid);
    return valid;
  }
  GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  User u{random_.NewUuid(), name, hash, role, clock_.NowMillis()};
  std::string msg = fmt::format("user '{}' created with the {} role", name, Name(role));
  Status st = Audited(a, "user.create", "user", u.id, msg, [&](StoreTx& tx) {
    Status s = tx.CreateUser(u);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a user named '{}' already exists", name));
    return s;
  });
  if (!st.ok()) return st;
  return u;
}

Result<std::vector<User>> Operations::ListUsers(const Actor& a) {
  GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
  return Read<std::vector<User>>(store_, [](StoreTx& tx) { return tx.ListUsers(); });
}

Status Operations::DeleteUser(const Actor& a, const std::string& id) {
  std::string oid = id, msg;
  return Audited(a, "user.delete", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(id));
    if (u.name == a.name) return Status::FailedPrecondition("you cannot delete yourself");
    msg = fmt::format("user '{}' deleted", u.name);
    return tx.DeleteUser(id);
  });
}

Result<User> Operations::SetRole(const Actor& a, const std::string& user_id, Role role) {
  std::string oid = user_id, msg;
  User changed;
  Status st = Audited(a, "user.role", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    if (u.role == Role::kAdmin && role != Role::kAdmin) {
      GEOREP_ASSIGN_OR_RETURN(std::vector<User> all, tx.ListUsers());
      if (std::count_if(all.begin(), all.end(),
                        [](const User& x) { return x.role == Role::kAdmin; }) < 2) {
        return Status::FailedPrecondition(
            fmt::format("'{}' is the only administrator; make another user admin first", u.name));
      }
    }
    msg = fmt::format("role of '{}' changed from {} to {}", u.name, Name(u.role), Name(role));
    u.role = role;
    changed = u;
    return tx.UpdateUser(u);
  });
  if (!st.ok()) return st;
  return changed;
}

Status Operations::SetPassword(const Actor& a, const std::string& user_id,
                               const std::string& password) {
  GEOREP_RETURN_IF_ERROR(ValidateNewPassword(password));
  GEOREP_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  std::string oid = user_id, msg;
  return Audited(a, "user.password", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    if (u.name != a.name) GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    u.password_hash = hash;
    GEOREP_RETURN_IF_ERROR(tx.UpdateUser(u));
    // Whoever held the old password may hold a token: they all go (the user logs in again).
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) GEOREP_RETURN_IF_ERROR(tx.DeleteToken(t.id));
    msg = fmt::format("password of '{}' changed; {} token(s) revoked", u.name, tokens.size());
    return Status::Ok();
  });
}

Result<std::vector<ApiToken>> Operations::ListUserTokens(const Actor& a,
                                                         const std::string& user_id) {
  GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
  return Read<std::vector<ApiToken>>(store_, [&](StoreTx& tx) -> Result<std::vector<ApiToken>> {
    GEOREP_RETURN_IF_ERROR(tx.GetUser(user_id).status());
    return tx.ListTokens(user_id);
  });
}

Status Operations::RevokeUserTokens(const Actor& a, const std::string& user_id) {
  std::string oid = user_id, msg;
  return Audited(a, "token.revoke", "user", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(RequireAdmin(a));
    GEOREP_ASSIGN_OR_RETURN(User u, tx.GetUser(user_id));
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) GEOREP_RETURN_IF_ERROR(tx.DeleteToken(t.id));
    msg = fmt::format("{} token(s) of '{}' revoked", tokens.size(), u.name);
    return Status::Ok();
  });
}

Result<std::vector<ApiToken>> Operations::ListTokens(const User& u) {
  return Read<std::vector<ApiToken>>(store_, [&](StoreTx& tx) { return tx.ListTokens(u.id); });
}

Status Operations::RevokeToken(const Actor& a, const User& u, const std::string& token_id) {
  std::string oid = token_id, msg;
  return Audited(a, "token.revoke", "token", oid, msg, [&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(auto tokens, tx.ListTokens(u.id));
    for (const auto& t : tokens) {
      if (t.id == token_id) {
        msg = fmt::format("token '{}' revoked", t.name);
        return tx.DeleteToken(token_id);
      }
    }
    return Status::NotFound(fmt::format("token '{}' does not exist", token_id));
  });
}

}  // namespace georep
