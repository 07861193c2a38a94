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

// A directory volume's one path is the request's `path`; a gluster volume's are in `bricks`.
std::string PathField(const VolumeSpec& s) {
  return s.kind == VolumeKind::kDirectory ? "path" : "bricks";
}

Status ValidateVolumeSpec(const VolumeSpec& s, const SessionDriver& driver) {
  GEOREP_RETURN_IF_ERROR(ValidateVolumeName("volume name", s.name).WithField("name"));
  if (s.replica_count < 1 || s.replica_count > 16)
    return Status::InvalidArgument("replica count must be 1-16");
  if (s.disperse_count < 0 || s.disperse_count > 64)
    return Status::InvalidArgument("disperse count must be 0-64");
  GEOREP_RETURN_IF_ERROR(driver.ValidateVolumeLayout(s));
  if (s.bricks.empty()) return Status::InvalidArgument("a volume needs at least one brick");
  if (s.bricks.size() > 1024) return Status::InvalidArgument("a volume has at most 1024 bricks");
  int width = s.disperse_count > 0 ? s.disperse_count : s.replica_count;
  if (s.bricks.size() % static_cast<size_t>(width) != 0) {
    return Status::InvalidArgument(
        fmt::format("{} bricks cannot be split in sets of {}", s.bricks.size(), width));
  }
  for (const auto& b : s.bricks) {
    if (b.host_id.empty()) return Status::InvalidArgument("every brick needs a host");
    GEOREP_RETURN_IF_ERROR(ValidateAbsolutePath("brick path", b.path).WithField(PathField(s)));
  }
  return Status::Ok();
}

}  // namespace

Operations::Operations(Store& store, Clock& clock, Random& random, ObjectLocks& locks,
                       HostConnector* hosts)
    : ctx_(store, clock, random, locks, hosts) {
  ctx_.fill_kind_health = [this](StoreTx& tx, const Volume& v, SessionDetail& d) {
    return DriverFor(v.kind).FillHealth(tx, v, d);
  };
  gluster_.SetActionRunner([this](const Actor& a, const std::string& id, SessionAction action,
                                  bool force) { return RunSessionAction(a, id, action, force); });
}

SessionDriver& Operations::DriverFor(VolumeKind kind) {
  switch (kind) {
    case VolumeKind::kGluster:
      return gluster_;
    case VolumeKind::kDirectory:
      return directory_;
  }
  return gluster_;
}

SessionDriver& Operations::DriverForDestination(const Destination& d) {
  auto source_host = GetHost(d.source_host_id);
  if (d.ssh_fingerprint.empty() && source_host.ok() &&
      source_host->transport == HostTransport::kLocal)
    return directory_;  // a destination on this machine: no ssh, no gluster
  auto volumes = ListVolumes(d.source_cluster_id);
  const bool directories_only = volumes.ok() && !volumes->empty() &&
                                std::all_of(volumes->begin(), volumes->end(), [](const Volume& v) {
                                  return v.kind == VolumeKind::kDirectory;
                                });
  return directories_only ? static_cast<SessionDriver&>(directory_) : gluster_;
}

// ---------------------------------------------------------------- clusters

Result<Cluster> Operations::CreateCluster(const Actor& a, const ClusterSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Cluster c{ctx_.random.NewUuid(), spec.name, spec.description, ctx_.clock.NowMillis()};
  Status valid = ValidateObjectName("cluster name", spec.name).WithField("name");
  if (valid.ok() && spec.description.size() > 1024) {
    valid = Status::InvalidArgument("description must be at most 1024 characters")
                .WithField("description");
  }
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "cluster.create", "cluster", "", valid);
    return valid;
  }
  std::string msg = fmt::format("cluster '{}' created", c.name);
  Status st = ctx_.Audited(a, "cluster.create", "cluster", c.id, msg, [&](StoreTx& tx) {
    Status s = tx.CreateCluster(c);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("a cluster named '{}' already exists", c.name));
    return s;
  });
  if (!st.ok()) return st;
  return c;
}

Status Operations::DeleteCluster(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return ctx_.Audited(a, "cluster.delete", "cluster", oid, msg, [&](StoreTx& tx) -> Status {
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

Status Require(const Actor& a, Role needed) {
  if (a.role >= needed) return Status::Ok();
  return Status::PermissionDenied(
      fmt::format("this needs the {} role; '{}' is {}", Name(needed), a.name, Name(a.role)));
}

// ---------------------------------------------------------------- hosts

Result<Host> Operations::AddHost(const Actor& a, const HostSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Host h;
  h.id = ctx_.random.NewUuid();
  h.cluster_id = spec.cluster_id;
  h.name = spec.name;
  h.address = spec.address.empty() ? spec.name : spec.address;
  h.ssh_port = spec.ssh_port;
  h.ssh_user = spec.ssh_user;
  h.transport = spec.transport;
  h.ssh_fingerprint = spec.ssh_fingerprint;
  h.created_at = ctx_.clock.NowMillis();

  Status valid = ValidateHostName("host name", h.name).WithField("name");
  if (valid.ok()) valid = ValidateHostName("host address", h.address).WithField("address");
  if (valid.ok()) valid = ValidatePort("ssh port", h.ssh_port).WithField("ssh_port");
  if (valid.ok()) valid = ValidateUnixUser("ssh user", h.ssh_user).WithField("ssh_user");
  if (valid.ok() && h.transport == HostTransport::kSsh) {
    valid =
        ValidateFingerprint("host key fingerprint", h.ssh_fingerprint).WithField("ssh_fingerprint");
  }
  if (valid.ok() && h.transport == HostTransport::kLocal && !h.ssh_fingerprint.empty()) {
    valid =
        Status::InvalidArgument("a local host has no SSH fingerprint").WithField("ssh_fingerprint");
  }
  if (valid.ok() && !spec.one_time_password.empty() && h.transport != HostTransport::kSsh)
    valid = Status::InvalidArgument("a one-time password is for ssh hosts").WithField("password");
  if (valid.ok()) {
    // Everything the insert below would refuse, refused now: before the one-time password
    // goes anywhere, a refused add leaves no trace on the host.
    valid = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
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
    valid = ctx_.hosts ? ctx_.hosts->InstallEngineKey(h, spec.one_time_password)
                       : Status::FailedPrecondition("this engine cannot reach hosts");
  }
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "host.add", "host", "", valid);
    return valid;
  }
  std::string msg = fmt::format("host '{}' ({}) added{}", h.name, Name(h.transport),
                                spec.one_time_password.empty()
                                    ? ""
                                    : "; the engine's key was installed with a one-time password");
  Status st = ctx_.Audited(a, "host.add", "host", h.id, msg, [&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.GetCluster(h.cluster_id).status());
    Status s = tx.CreateHost(h);
    if (s.code() == StatusCode::kAlreadyExists)
      return Status::AlreadyExists(fmt::format("the cluster already has a host '{}'", h.name));
    return s;
  });
  if (!st.ok()) return st;
  return h;
}

Status Operations::RemoveHost(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return ctx_.Audited(a, "host.remove", "host", oid, msg, [&](StoreTx& tx) -> Status {
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
  GEOREP_RETURN_IF_ERROR(ValidateHostName("host address", address).WithField("address"));
  GEOREP_RETURN_IF_ERROR(ValidatePort("ssh port", port).WithField("port"));
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  return ctx_.hosts->ScanHostKeys(address, port);
}

Result<HostCheck> Operations::CheckHost(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto guard = ctx_.locks.Lock("host:" + id);
  GEOREP_ASSIGN_OR_RETURN(Host h, GetHost(id));
  // The remote command runs outside any transaction: it may take seconds.
  CommandSpec spec{{"uname", "-n"}};
  spec.timeout = std::chrono::seconds(30);
  spec.max_output_bytes = 4096;
  auto r = ctx_.hosts->RunnerFor(h)->Run(spec);
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
  const int64_t now = ctx_.clock.NowMillis();
  Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
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
  if (valid.ok() && !ctx_.hosts)
    valid = Status::FailedPrecondition("this engine cannot reach hosts");
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "host.repin", "host", id, valid);
    return valid;
  }
  auto guard = ctx_.locks.Lock("host:" + id);
  // Only a key the host presents now: a fingerprint copied from another host would lock
  // georep out of this one (or, worse, let that other host answer for it).
  Status presented = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Host cur, GetHost(id));
    if (cur.transport != HostTransport::kSsh)
      return Status::FailedPrecondition(
          fmt::format("host '{}' is local: it has no host key", cur.name));
    auto keys = ctx_.hosts->ScanHostKeys(cur.address, cur.ssh_port);
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
    (void)ctx_.RecordFailure(a, "host.repin", "host", id, presented);
    return presented;
  }
  Host h;
  std::string oid = id, msg;
  Status st = ctx_.Audited(a, "host.repin", "host", oid, msg, [&](StoreTx& tx) -> Status {
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
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  return std::make_pair(ctx_.hosts->EnginePublicKey(), ctx_.hosts->EngineKeyFingerprint());
}

// ---------------------------------------------------------------- volumes

Result<Volume> Operations::AddVolume(const Actor& a, const VolumeSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  Volume v;
  v.id = ctx_.random.NewUuid();
  v.cluster_id = spec.cluster_id;
  v.name = spec.name;
  v.kind = spec.kind;
  const SessionDriver& driver = DriverFor(spec.kind);
  v.status = driver.InitialVolumeStatus();
  v.bricks = spec.bricks;
  v.replica_count = spec.replica_count;
  v.disperse_count = spec.disperse_count;
  v.created_at = ctx_.clock.NowMillis();
  Status valid = ValidateVolumeSpec(spec, driver);
  if (valid.ok()) valid = driver.ValidateVolumePlace(spec);
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "volume.add", "volume", "", valid);
    return valid;
  }
  std::string msg = fmt::format("{} volume '{}' added", Name(v.kind), v.name);
  Status st = ctx_.Audited(a, "volume.add", "volume", v.id, msg, [&](StoreTx& tx) -> Status {
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

Status Operations::RemoveVolume(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  std::string oid = id, msg;
  return ctx_.Audited(a, "volume.remove", "volume", oid, msg, [&](StoreTx& tx) -> Status {
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
  d.id = ctx_.random.NewUuid();
  d.source_cluster_id = spec.source_cluster_id;
  d.source_host_id = spec.source_host_id;
  d.host = spec.host;
  d.ssh_port = spec.ssh_port;
  d.ssh_fingerprint = spec.ssh_fingerprint;
  d.remote_user = spec.remote_user;
  d.created_at = ctx_.clock.NowMillis();
  Status valid = ValidateHostName("destination host", d.host).WithField("host");
  if (valid.ok()) valid = ValidatePort("ssh port", d.ssh_port).WithField("ssh_port");
  if (valid.ok()) valid = ValidateUnixUser("remote user", d.remote_user).WithField("remote_user");
  if (valid.ok() && !d.ssh_fingerprint.empty()) {
    valid = ValidateFingerprint("destination host key fingerprint", d.ssh_fingerprint)
                .WithField("ssh_fingerprint");
  }
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "destination.create", "destination", "", valid);
    return valid;
  }
  if (!root_password.empty()) {
    // Before anything is recorded: a refused password attaches nothing.
    Status installed = InstallDestinationKey(d, root_password);
    if (!installed.ok()) {
      (void)ctx_.RecordFailure(a, "destination.create", "destination", "", installed);
      return installed;
    }
  }
  std::string msg = fmt::format("destination {}@{} attached", d.remote_user, d.host);
  Status st =
      ctx_.Audited(a, "destination.create", "destination", d.id, msg, [&](StoreTx& tx) -> Status {
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
  auto guard = ctx_.locks.Lock(DestinationLockKey(d.id));
  Status keys = gluster_.ExchangeKeys(d);
  return RecordConnection(a, d.id, "destination.keys", keys.ok(), keys.ok() ? "" : keys.message(),
                          "keys of the source cluster's hosts installed");
}

Result<std::string> Operations::RemoveDestination(const Actor& a, const std::string& id,
                                                  bool force) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  auto guard = ctx_.locks.Lock(DestinationLockKey(id));
  std::string oid = id, msg;
  Destination d;
  Status removed =
      ctx_.Audited(a, "destination.remove", "destination", oid, msg, [&](StoreTx& tx) -> Status {
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
  const std::string keys = ctx_.hosts ? gluster_.RevokeSourceClusterKeys(d) : "";
  if (!keys.empty()) {
    const bool remain = keys.find("remain") != std::string::npos;
    (void)ctx_.store.Transaction([&](StoreTx& tx) -> Status {
      return tx
          .AppendEvent(Event{0, ctx_.clock.NowMillis(), a.name, "destination.keys_revoked",
                             "destination", id, remain ? "failed" : "ok",
                             fmt::format("destination {}@{}: {}", d.remote_user, d.host, keys)})
          .status();
    });
  }
  return msg + (keys.empty() ? "" : "; " + keys);
}

Status Operations::InstallDestinationKey(const Destination& d, const std::string& password) {
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
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
  return ctx_.hosts->InstallEngineKey(dest, password);
}

Result<Destination> Operations::RecordConnection(const Actor& a, const std::string& id,
                                                 std::string_view action, bool connected,
                                                 const std::string& reason,
                                                 const std::string& extra) {
  const int64_t now = ctx_.clock.NowMillis();
  Destination out;
  Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
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
      (void)ctx_.RecordFailure(a, "destination.reestablish", "destination", id, valid);
      return valid;
    }
  }
  auto guard = ctx_.locks.Lock(DestinationLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(id));
  if (!new_fingerprint.empty() && new_fingerprint != d.ssh_fingerprint) {
    std::string oid = id;
    std::string msg = fmt::format("host key of destination {} re-pinned: {} -> {}", d.host,
                                  d.ssh_fingerprint, new_fingerprint);
    GEOREP_RETURN_IF_ERROR(
        ctx_.Audited(a, "destination.repin", "destination", oid, msg, [&](StoreTx& tx) -> Status {
          d.ssh_fingerprint = new_fingerprint;
          return tx.UpdateDestination(d);
        }));
  }
  Status keys = root_password.empty() ? Status::Ok() : InstallDestinationKey(d, root_password);
  if (keys.ok()) keys = DriverForDestination(d).ReestablishDestination(d);
  return RecordConnection(a, id, "destination.reestablish", keys.ok(),
                          keys.ok() ? "" : keys.message(), "keys re-established");
}

Result<DestinationCheck> Operations::TestDestination(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto guard = ctx_.locks.Lock(DestinationLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> sources, ListHosts(d.source_cluster_id));
  DestinationCheck out;

  GEOREP_RETURN_IF_ERROR(DriverForDestination(d).TestDestination(d, sources, out));

  const int64_t now = ctx_.clock.NowMillis();
  const bool connected = out.problems.empty();
  std::string reason;
  for (const auto& p : out.problems) reason += (reason.empty() ? "" : "; ") + p;
  Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
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

}  // namespace georep
