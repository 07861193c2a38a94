// Operations on sessions whose source is a gluster volume: they drive `gluster volume
// geo-replication` on the source cluster (and read the destination cluster for eligibility).
#include <fmt/format.h>

#include <map>
#include <set>

#include "engine/operations.h"
#include "gluster/cli_xml.h"
#include "model/aggregate_status.h"
#include "model/names.h"
#include "model/validation.h"

namespace georep {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "host::vol" for root, "user@host::vol" otherwise: gluster's spelling of a destination.
std::string GeoRepTarget(const Destination& d, const Session& s) {
  std::string t = s.remote_user == "root" || s.remote_user.empty() ? "" : s.remote_user + "@";
  return t + d.host + "::" + s.destination_volume;
}

Host DestinationAsHost(const Destination& d) {
  Host h;
  h.address = h.name = d.host;
  h.ssh_port = d.ssh_port;
  h.ssh_user = "root";
  h.transport = HostTransport::kSsh;
  h.ssh_fingerprint = d.ssh_fingerprint;
  return h;
}

}  // namespace

Result<std::string> Operations::RunGeoRep(const Session& s, const std::vector<std::string>& args,
                                          bool xml) {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(v.cluster_id));
  // The destination's source host first, then every other host that can be reached.
  std::stable_sort(hosts.begin(), hosts.end(), [&](const Host& x, const Host& y) {
    return (x.id == d.source_host_id) > (y.id == d.source_host_id);
  });
  std::vector<std::string> argv = {"gluster",         "--mode=script", "volume",
                                   "geo-replication", v.name,          GeoRepTarget(d, s)};
  argv.insert(argv.end(), args.begin(), args.end());
  if (xml) argv.push_back("--xml");
  std::string tried;
  for (const Host& h : hosts) {
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) continue;
    CommandSpec spec{argv};
    spec.timeout = std::chrono::seconds(120);
    auto r = hosts_->RunnerFor(h)->Run(spec);
    if (!r.ok()) {
      // Unreachable: fail over to the next host.
      tried += fmt::format("{}{}: {}", tried.empty() ? "" : "; ", h.name, r.status().message());
      continue;
    }
    if (r->timed_out) return Status::Unavailable(fmt::format("gluster on {} timed out", h.name));
    if (xml) return r->out.empty() ? r->err : r->out;
    if (r->exit_code != 0) {
      return Status::FailedPrecondition(
          fmt::format("gluster refused: {}", Trim(r->err.empty() ? r->out : r->err)));
    }
    return r->out;
  }
  return Status::Unavailable(fmt::format("no host of the source cluster can be reached ({})",
                                         tried.empty() ? "no host has a confirmed key" : tried));
}

Status Operations::CheckGlusterEligibility(const Destination& d, const Volume& source,
                                           const std::string& dvol) {
  std::vector<std::string> reasons;
  auto dest = hosts_->RunnerFor(DestinationAsHost(d));
  auto gluster = [&](std::vector<std::string> args) -> Result<std::string> {
    std::vector<std::string> argv = {"gluster", "--mode=script"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--xml");
    CommandSpec spec{argv};
    spec.timeout = std::chrono::seconds(60);
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, dest->Run(spec));
    return r.out.empty() ? r.err : r.out;
  };
  // not the source itself
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> source_hosts, ListHosts(source.cluster_id));
  for (const Host& h : source_hosts) {
    if ((h.address == d.host || h.name == d.host) && dvol == source.name)
      reasons.push_back("source-volume: the destination volume is the source volume itself");
  }
  auto info_xml = gluster({"volume", "info", dvol});
  if (!info_xml.ok()) {
    reasons.push_back(fmt::format("destination-down: {}", info_xml.status().message()));
  } else if (auto info = ParseVolumeInfo(*info_xml); !info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) {
      reasons.push_back(fmt::format("missing: volume {} does not exist on {}", dvol, d.host));
    } else {
      reasons.push_back(fmt::format("destination-down: {}", info.status().message()));
    }
  } else if (!info->empty()) {
    const GlusterVolume& g = (*info)[0];
    if (g.status != "Started")
      reasons.push_back(fmt::format("not-started: volume {} is {}", dvol, g.status));
    // empty: the bricks this destination host holds have nothing but gluster's own entries
    for (const auto& b : g.bricks) {
      if (b.host != d.host) continue;
      CommandSpec spec{{"find", b.path, "-mindepth", "1", "-maxdepth", "1", "!", "-name",
                        ".glusterfs", "!", "-name", ".glusterfs-anonymous-inode-*", "!", "-name",
                        ".trashcan", "-print", "-quit"}};
      auto found = dest->Run(spec);
      if (found.ok() && found->exit_code == 0 && !Trim(found->out).empty()) {
        reasons.push_back(
            fmt::format("not-empty: volume {} is not empty ({} exists)", dvol, Trim(found->out)));
        break;
      }
    }
    // size: at least the source's
    if (source.size_bytes > 0) {
      auto status_xml = gluster({"volume", "status", dvol, "detail"});
      if (status_xml.ok()) {
        if (auto usage = ParseVolumeStatusDetail(*status_xml); usage.ok()) {
          int64_t total = 0;
          const size_t width = static_cast<size_t>(
              g.disperse_count > 0 ? g.disperse_count : std::max(1, g.replica_count));
          for (size_t set = 0; set * width < g.bricks.size(); ++set) {
            int64_t smallest = INT64_MAX;
            for (size_t i = set * width; i < std::min(g.bricks.size(), (set + 1) * width); ++i)
              for (const auto& u : *usage)
                if (u.path == g.bricks[i].path && u.host == g.bricks[i].host)
                  smallest = std::min(smallest, u.size_total);
            if (smallest != INT64_MAX)
              total +=
                  smallest * (g.disperse_count > 0 ? g.disperse_count - g.redundancy_count : 1);
          }
          if (total > 0 && total < source.size_bytes) {
            reasons.push_back(fmt::format("too-small: volume {} has {} bytes, the source {}", dvol,
                                          total, source.size_bytes));
          }
        }
      }
    }
  }
  if (reasons.empty()) return Status::Ok();
  std::string all;
  for (const auto& r : reasons) all += (all.empty() ? "" : "; ") + r;
  return Status::FailedPrecondition(
      fmt::format("destination volume {}::{} is not eligible: {} (use force to create anyway)",
                  d.host, dvol, all));
}

Result<SessionDetail> Operations::RefreshSession(const Actor& a, const std::string& id) {
  auto guard = locks_.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(SessionDetail before, GetSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(before.session.source_volume_id));
  if (v.kind != VolumeKind::kGluster) return before;
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(before.session.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::string xml, RunGeoRep(before.session, {"status", "detail"}, true));
  GEOREP_ASSIGN_OR_RETURN(std::vector<GeoRepStatus> sessions, ParseGeoRepStatus(xml));
  const GeoRepStatus* found = nullptr;
  for (const auto& g : sessions) {
    if (g.source_volume == v.name && g.destination_host == d.host &&
        g.destination_volume == before.session.destination_volume)
      found = &g;
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(v.cluster_id));
  std::map<std::string, std::string> host_name;  // address -> name
  for (const auto& h : hosts) host_name[h.address] = h.name;
  std::vector<SessionNodeStatus> nodes;
  const int64_t now = clock_.NowMillis();
  if (found) {
    for (SessionNodeStatus n : found->nodes) {
      n.session_id = id;
      n.updated_at = now;
      // The replica/disperse set comes from the brick's position in the volume.
      for (size_t i = 0; i < v.bricks.size(); ++i) {
        if (v.bricks[i].path != n.source_brick) continue;
        int width = v.disperse_count > 0 ? v.disperse_count : std::max(1, v.replica_count);
        n.set_index = static_cast<int>(i) / width;
      }
      if (auto it = host_name.find(n.source_host); it != host_name.end())
        n.source_host = it->second;
      if (n.destination_host.empty() || n.destination_host == "N/A") n.destination_host = d.host;
      nodes.push_back(n);
    }
  }
  const SessionStatus status = found ? AggregateSessionStatus(nodes) : SessionStatus::kUnknown;
  SessionDetail after = before;
  after.nodes = nodes;
  after.session.status = status;
  after.session.updated_at = now;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.UpdateSession(after.session));
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(id, nodes));
    if (status == before.session.status) return Status::Ok();
    std::string msg = found ? fmt::format("session {} is {} (was {})", after.session.session_key,
                                          Name(status), Name(before.session.status))
                            : fmt::format("session {} no longer exists on the cluster",
                                          after.session.session_key);
    const bool bad =
        status == SessionStatus::kFaulty || status == SessionStatus::kPartialFaulty || !found;
    auto ev = tx.AppendEvent(
        Event{0, now, a.name, "session.status", "session", id, bad ? "failed" : "ok", msg});
    return ev.ok() ? Status::Ok() : ev.status();
  });
  if (!st.ok()) return st;
  return after;
}

Result<SessionDetail> Operations::RunSessionAction(const Actor& a, const std::string& id,
                                                   SessionAction action, bool force) {
  const std::string event = "session." + std::string(Name(action));
  Status done = [&]() -> Status {
    auto guard = locks_.Lock(SessionLockKey(id));
    GEOREP_ASSIGN_OR_RETURN(SessionDetail s, GetSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.session.source_volume_id));
    GEOREP_RETURN_IF_ERROR(CheckSessionAction(s.session.status, action, force));
    if (v.kind != VolumeKind::kGluster) {
      return Status::FailedPrecondition(
          "sessions of directory volumes run on georep's own replication engine, which this "
          "version does not include yet");
    }
    std::vector<std::string> args = {std::string(Name(action))};
    if (force) args.push_back("force");
    GEOREP_ASSIGN_OR_RETURN(std::string out, RunGeoRep(s.session, args, false));
    std::string oid = id, msg = fmt::format("{}: {}", s.session.session_key, Trim(out));
    return Audited(a, event, "session", oid, msg, [](StoreTx&) { return Status::Ok(); });
  }();
  if (!done.ok()) {
    (void)RecordFailure(a, event, "session", id, done);
    return done;
  }
  return RefreshSession(a, id);
}

}  // namespace georep
