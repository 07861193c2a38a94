// GlusterDriver (gluster_driver.h): the SessionDriver methods of gluster sessions, importing
// a cluster, and the key exchange between a source cluster and its destinations.
#include "engine/gluster_driver.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "base/log.h"
#include "gluster/cli_xml.h"
#include "model/names.h"
#include "model/validation.h"

namespace georep {
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

Result<ImportedCluster> GlusterDriver::ImportGlusterCluster(const Actor& a,
                                                            const GlusterImportSpec& spec) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kAdmin));
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  Status valid = ValidateObjectName("cluster name", spec.name).WithField("name");
  if (valid.ok()) valid = ValidateHostName("host address", spec.address).WithField("address");
  if (valid.ok()) valid = ValidatePort("ssh port", spec.ssh_port).WithField("ssh_port");
  if (valid.ok()) valid = ValidateUnixUser("ssh user", spec.ssh_user).WithField("ssh_user");
  if (valid.ok()) {
    valid = ValidateFingerprint("host key fingerprint", spec.ssh_fingerprint)
                .WithField("ssh_fingerprint");
  }
  if (valid.ok()) {
    // Refused now, before a password is sent anywhere, rather than at the insert.
    auto clusters = ctx_.ListClusters();
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
    valid = ctx_.hosts->InstallEngineKey(contact, spec.one_time_password);
  }
  if (!valid.ok()) {
    (void)ctx_.RecordFailure(a, "cluster.import", "cluster", "", valid);
    return valid;
  }
  auto runner = ctx_.hosts->RunnerFor(contact);

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
    (void)ctx_.RecordFailure(a, "cluster.import", "cluster", "", why);
    return why;
  }
  auto& [peers, gvols] = *found;
  // Sizes are best effort: stopped volumes have none.
  std::vector<GlusterBrickUsage> usage;
  if (auto xml = RunGluster(*runner, {"volume", "status", "all", "detail"}); xml.ok()) {
    if (auto u = ParseVolumeStatusDetail(*xml); u.ok()) usage = *u;
  }

  const int64_t now = ctx_.clock.NowMillis();
  ImportedCluster out;
  out.cluster = Cluster{ctx_.random.NewUuid(), spec.name, "imported from " + spec.address, now};
  std::map<std::string, std::string> host_by_uuid;  // gluster peer uuid -> georep host id
  std::map<std::string, std::string> name_by_uuid;
  for (const auto& p : peers) {
    Host h;
    h.id = ctx_.random.NewUuid();
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
    v.id = ctx_.random.NewUuid();
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
        (void)ctx_.RecordFailure(a, "cluster.import", "cluster", "", why);
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
  Status st = ctx_.Audited(a, "cluster.import", "cluster", oid, msg, [&](StoreTx& tx) -> Status {
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

Status GlusterDriver::ExchangeKeys(const Destination& d) {
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(d.source_host_id));
  if (src.transport == HostTransport::kSsh && src.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("the key of source host '{}' is not confirmed; confirm it first", src.name));
  }
  if (d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for destination {}", d.host));
  }
  auto source = ctx_.hosts->RunnerFor(src);
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, ctx_.DestinationRunner(d));
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

std::string GlusterDriver::RevokeSourceClusterKeys(const Destination& d) {
  const std::string pub = "/var/lib/glusterd/geo-replication/common_secret.pem.pub";
  const std::string where = fmt::format("{}'s ~/.ssh/authorized_keys", d.remote_user);
  // Only a Gluster cluster's hosts exchange keys (directory volumes use the engine's own).
  auto volumes = ctx_.ListVolumes(d.source_cluster_id);
  if (volumes.ok() && std::none_of(volumes->begin(), volumes->end(),
                                   [](const Volume& v) { return v.kind == VolumeKind::kGluster; }))
    return "";
  auto src = ctx_.GetHost(d.source_host_id);
  if (!src.ok())
    return fmt::format(
        "the source cluster's geo-replication keys remain in {} on the "
        "destination nodes: georep no longer knows the source host",
        where);
  CommandSpec cat{{"cat", pub}};
  cat.timeout = std::chrono::seconds(60);
  auto read = ctx_.hosts->RunnerFor(*src)->Run(cat);
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
  } else if (auto dest = ctx_.DestinationRunner(d); dest.ok()) {
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

Status GlusterDriver::CheckSshDestination(const Destination& d, const std::vector<Host>& sources,
                                          DestinationCheck& out) {
  // 1. The engine reaches the destination (itself, or through the source host) and gluster
  //    answers there.
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, ctx_.DestinationRunner(d));
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
    auto keys = ctx_.hosts->ScanHostKeys(d.host, d.ssh_port);
    if (!keys.ok() && dest->relayed()) {  // the key as the source host sees it
      if (auto src = ctx_.GetHost(d.source_host_id); src.ok())
        keys = georep::ScanHostKeys(*ctx_.hosts->RunnerFor(*src), d.host, d.ssh_port, 10);
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
  if (auto volumes = ctx_.ListVolumes(d.source_cluster_id); volumes.ok()) {
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
    auto src = ctx_.hosts->RunnerFor(h);
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
    auto r = ctx_.hosts->RunnerFor(h)->Run(spec);
    if (!r.ok()) continue;  // host reachability is the host check's business
    std::string w = RsyncPreflightWarning(h.name, ParseRsyncVersion(r->out));
    if (!w.empty()) out.warnings.push_back(w);
  }

  return Status::Ok();
}

// ---------------------------------------------------------------- SessionDriver

Status GlusterDriver::ValidateVolumeLayout(const VolumeSpec&) const {
  return Status::Ok();
}

Status GlusterDriver::ValidateVolumePlace(const VolumeSpec&) const {
  return Status::Ok();
}

Status GlusterDriver::ValidateDestinationName(const std::string& destination_volume) const {
  return ValidateVolumeName("destination volume", destination_volume)
      .WithField("destination_volume");
}

// A gluster session exists on the cluster first: eligibility, the platform preflight, then
// `create no-verify`.
Status GlusterDriver::Create(const Session& s, const Volume& v, const Destination& d,
                             const SessionCreateOptions& options, SessionCreation& created,
                             SessionDetail& out) {
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_RETURN_IF_ERROR(ValidateVolumeName("destination volume", s.destination_volume)
                             .WithField("destination_volume"));
  if (v.cluster_id != d.source_cluster_id) {
    return Status::InvalidArgument(
        fmt::format("volume '{}' is not in the destination's source cluster", v.name));
  }
  GEOREP_RETURN_IF_ERROR(ctx_.CheckDestinationUnused(d, s.destination_volume));
  if (!options.force) GEOREP_RETURN_IF_ERROR(CheckGlusterEligibility(d, v, s.destination_volume));
  // The safe sync method by default: where gsyncd's rsync would write files without their
  // content (or where that cannot be ruled out), tarssh; rsync there only when forced.
  out.preflight = PlatformPreflight(v.cluster_id, &d);
  const Preflight& pf = *out.preflight;
  std::string& sync_method = created.sync_method;
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
  // A user other than root logs in as itself; glusterd's mountbroker mounts for it.
  if (s.remote_user != "root") {
    GEOREP_ASSIGN_OR_RETURN(
        out.warnings, SetUpMountbroker(d, s.remote_user, s.destination_volume, &created.note));
  }
  std::vector<std::string> args = {"create", "no-verify"};
  if (options.force) args.push_back("force");
  GEOREP_RETURN_IF_ERROR(RunGeoRep(s, args, false).status());
  if (!sync_method.empty())
    GEOREP_RETURN_IF_ERROR(RunGeoRep(s, {"config", "sync-method", sync_method}, false).status());
  return Status::Ok();
}

// On the cluster first; a session gluster no longer knows is just forgotten.
Status GlusterDriver::DeleteForRemoval(const Session& s, const Volume&, const SessionRemoval& how) {
  if (!how.allowed || !ctx_.hosts || how.gone_outside) return Status::Ok();
  std::vector<std::string> args = {"delete"};
  if (how.reset_sync_time) args.push_back("reset-sync-time");
  return RunGeoRep(s, args, false).status();
}

// A gluster session's heartbeat file goes with it.
void GlusterDriver::ForgetRemoved(const Session& s, const Volume& v) {
  if (ctx_.hosts) ForgetHeartbeat(v, s);
}

// The cluster must accept an option before georep records it. The remote call stays outside
// any store transaction.
Status GlusterDriver::ApplyConfig(const Session& s, const Volume& v, const ConfigOption& o,
                                  const std::string& value, bool force, ConfigItem& item,
                                  std::optional<Preflight>& preflight) {
  if (!ctx_.hosts || IsEngineOption(VolumeKind::kGluster, o.key)) return Status::Ok();
  const std::string canonical = item.value;
  if (o.key == "sync-method" && canonical == "rsync") {
    GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
    preflight = PlatformPreflight(v.cluster_id, &d);
    if (preflight->rsync_unsafe && !force) {
      return Status::FailedPrecondition(
          fmt::format("sync-method rsync refused: {}; keep tarssh, or set it with force to "
                      "accept the risk",
                      preflight->Summary()));
    }
  }
  if (o.key != "checkpoint") {
    return RunGeoRep(s, {"config", std::string(o.key), canonical}, false).status();
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
    args[2] = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  GEOREP_RETURN_IF_ERROR(RunGeoRep(s, args, false).status());
  GEOREP_ASSIGN_OR_RETURN(std::string xml, RunGeoRep(s, {"config"}, true));
  GEOREP_ASSIGN_OR_RETURN(auto config, ParseGeoRepConfig(xml));
  if (auto it = config.find("checkpoint"); it != config.end() && !it->second.empty())
    item.value = it->second;
  return Status::Ok();
}

Status GlusterDriver::ResetConfig(const Session& s, const Volume& v, const ConfigOption& o) {
  if (!ctx_.hosts || IsEngineOption(VolumeKind::kGluster, o.key)) return Status::Ok();
  if (o.key == "sync-method") {
    // gluster's default is rsync: the same refusal as setting it.
    GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
    Preflight pf = PlatformPreflight(v.cluster_id, &d);
    if (pf.rsync_unsafe) {
      return Status::FailedPrecondition(
          fmt::format("sync-method's default (rsync) refused: {}; set sync-method rsync with "
                      "force to accept the risk",
                      pf.Summary()));
    }
  }
  return RunGeoRep(s, {"config", "!" + std::string(o.key)}, false).status();
}

Result<replication::VerifyReport> GlusterDriver::Verify(const Session& s, const Volume& v,
                                                        const Destination& d,
                                                        const std::vector<ConfigItem>&,
                                                        const replication::VerifyOptions& o) {
  return VerifyGlusterSession(s, v, d, o);
}

namespace {
constexpr const char* kNoRepair =
    "repair is for sessions of georep's own engine (directory volumes); a gluster session's "
    "destination is repaired by gsyncd's own full sync";
}  // namespace

Status GlusterDriver::CheckRepairable(const Session&, const Volume&) {
  return Status::FailedPrecondition(kNoRepair);
}

Status GlusterDriver::CarryOutRepair(const Session&, const replication::RepairRequest&,
                                     std::chrono::milliseconds) {
  return Status::FailedPrecondition(kNoRepair);
}

Status GlusterDriver::TestDestination(const Destination& d, const std::vector<Host>& sources,
                                      DestinationCheck& out) {
  return CheckSshDestination(d, sources, out);
}

}  // namespace georep
