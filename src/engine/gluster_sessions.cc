// Operations on sessions whose source is a gluster volume: they drive `gluster volume
// geo-replication` on the source cluster (and read the destination cluster for eligibility).
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <tuple>

#include "engine/operations.h"
#include "gluster/cli_xml.h"
#include "gluster/gsyncd_log.h"
#include "gluster/gsyncd_status.h"
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

}  // namespace

namespace {
constexpr int kBusyRetries = 8;  // 18 s of back-off in all
}  // namespace

Result<GlusterAnswer> Operations::RunGlusterOnCluster(const std::string& cluster_id,
                                                      const std::string& preferred_host_id,
                                                      const std::vector<std::string>& argv,
                                                      bool xml) {
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(cluster_id));
  // The preferred host first, then every other host that can be reached.
  std::stable_sort(hosts.begin(), hosts.end(), [&](const Host& x, const Host& y) {
    return (x.id == preferred_host_id) > (y.id == preferred_host_id);
  });
  std::string tried;
  auto skip = [&](const Host& h, std::string_view why) {
    tried += fmt::format("{}{}: {}", tried.empty() ? "" : "; ", h.name, why);
  };
  for (const Host& h : hosts) {
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) continue;
    CommandSpec spec{argv};
    spec.timeout = std::chrono::seconds(120);
    auto runner = hosts_->RunnerFor(h);
    auto r = runner->Run(spec);
    // glusterd runs one transaction per volume at a time (the monitor's status query, another
    // admin's command): wait and ask again rather than fail the operator's command.
    for (int attempt = 1;
         attempt <= kBusyRetries && r.ok() && r->exit_code != 0 &&
         (r->out + r->err).find("Another transaction is in progress") != std::string::npos;
         ++attempt) {
      clock_.Sleep(500L * attempt);
      r = runner->Run(spec);
    }
    if (!r.ok()) {  // unreachable: fail over to the next host
      skip(h, r.status().message());
      continue;
    }
    if (r->timed_out) {
      skip(h, "gluster timed out");
      continue;
    }
    const std::string& said = r->out.empty() ? r->err : r->out;
    // glusterd down on that host: the CLI says so in words; another host may answer.
    if (r->exit_code != 0 && said.find("<cliOutput") == std::string::npos &&
        (said.find("Connection failed") != std::string::npos ||
         r->err.find("Connection failed") != std::string::npos)) {
      skip(h, "glusterd does not answer");
      continue;
    }
    if (xml) return GlusterAnswer{said, h};
    if (r->exit_code != 0) {
      return Status::FailedPrecondition(
          fmt::format("gluster refused: {}", Trim(r->err.empty() ? r->out : r->err)));
    }
    return GlusterAnswer{r->out, h};
  }
  return Status::Unavailable(fmt::format("no host of the source cluster answers ({})",
                                         tried.empty() ? "no host has a confirmed key" : tried));
}

Result<std::string> Operations::RunGeoRep(const Session& s, const std::vector<std::string>& args,
                                          bool xml) {
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
  std::vector<std::string> argv = {"gluster",         "--mode=script", "volume",
                                   "geo-replication", v.name,          GeoRepTarget(d, s)};
  argv.insert(argv.end(), args.begin(), args.end());
  if (xml) argv.push_back("--xml");
  GEOREP_ASSIGN_OR_RETURN(GlusterAnswer answer,
                          RunGlusterOnCluster(v.cluster_id, d.source_host_id, argv, xml));
  return answer.out;
}

Result<std::vector<CandidateVolume>> Operations::GlusterCandidates(const Destination& d,
                                                                   const Volume& source,
                                                                   const std::string& only) {
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, DestinationRunner(d));
  auto gluster = [&](std::vector<std::string> args) -> Result<std::string> {
    std::vector<std::string> argv = {"gluster", "--mode=script"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--xml");
    CommandSpec spec{argv};
    spec.timeout = std::chrono::seconds(60);
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, dest->Run(spec));
    return r.out.empty() ? r.err : r.out;
  };
  std::vector<std::string> info_args = {"volume", "info"};
  if (!only.empty()) info_args.push_back(only);
  auto info_xml = gluster(info_args);
  if (!info_xml.ok()) {
    return Status::Unavailable(fmt::format("destination-down: {} cannot be asked: {}", d.host,
                                           info_xml.status().message()));
  }
  auto info = ParseVolumeInfo(*info_xml);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) {
      CandidateVolume missing;
      missing.name = only;
      missing.reasons.push_back(
          fmt::format("missing: volume {} does not exist on {}", only, d.host));
      return std::vector<CandidateVolume>{missing};
    }
    return Status::Unavailable(fmt::format("destination-down: {}", info.status().message()));
  }
  // Sizes of every brick there, in one query.
  std::vector<GlusterBrickUsage> usage;
  std::vector<std::string> status_args = {"volume", "status", only.empty() ? "all" : only,
                                          "detail"};
  if (auto status_xml = gluster(status_args); status_xml.ok()) {
    if (auto parsed = ParseVolumeStatusDetail(*status_xml); parsed.ok()) usage = std::move(*parsed);
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> source_hosts, ListHosts(source.cluster_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ListSessions({}));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Destination> dests, ListDestinations(d.source_cluster_id));

  std::vector<CandidateVolume> out;
  for (const GlusterVolume& g : *info) {
    CandidateVolume c;
    c.name = g.name;
    c.status = g.status;
    auto& reasons = c.reasons;
    // not the source itself
    for (const Host& h : source_hosts) {
      if ((h.address == d.host || h.name == d.host) && g.name == source.name) {
        reasons.push_back("source-volume: the destination volume is the source volume itself");
        break;
      }
    }
    // not another session's destination (any session to this host, from any source)
    for (const Session& s : sessions) {
      for (const Destination& x : dests) {
        if (x.id == s.destination_id && x.host == d.host && s.destination_volume == g.name) {
          reasons.push_back(fmt::format("in-use: {}::{} is already the destination of session {}",
                                        d.host, g.name, s.session_key));
        }
      }
    }
    if (g.status != "Started")
      reasons.push_back(fmt::format("not-started: volume {} is {}", g.name, g.status));
    // empty: the bricks this destination host holds have nothing but gluster's own entries
    for (const auto& b : g.bricks) {
      if (b.host != d.host) continue;
      CommandSpec spec{{"find", b.path, "-mindepth", "1", "-maxdepth", "1", "!", "-name",
                        ".glusterfs", "!", "-name", ".glusterfs-anonymous-inode-*", "!", "-name",
                        ".trashcan", "-print", "-quit"}};
      auto found = dest->Run(spec);
      if (found.ok() && found->exit_code == 0 && !Trim(found->out).empty()) {
        reasons.push_back(
            fmt::format("not-empty: volume {} is not empty ({} exists)", g.name, Trim(found->out)));
        break;
      }
    }
    // size: at least the source's (usable size: the smallest brick of each replica set, the
    // data bricks of each disperse set)
    const size_t width =
        static_cast<size_t>(g.disperse_count > 0 ? g.disperse_count : std::max(1, g.replica_count));
    for (size_t set = 0; set * width < g.bricks.size(); ++set) {
      int64_t smallest = INT64_MAX;
      for (size_t i = set * width; i < std::min(g.bricks.size(), (set + 1) * width); ++i)
        for (const auto& u : usage)
          if (u.path == g.bricks[i].path && u.host == g.bricks[i].host)
            smallest = std::min(smallest, u.size_total);
      if (smallest != INT64_MAX)
        c.size_bytes +=
            smallest * (g.disperse_count > 0 ? g.disperse_count - g.redundancy_count : 1);
    }
    if (source.size_bytes > 0 && c.size_bytes > 0 && c.size_bytes < source.size_bytes) {
      reasons.push_back(fmt::format("too-small: volume {} has {} bytes, the source {}", g.name,
                                    c.size_bytes, source.size_bytes));
    }
    c.eligible = reasons.empty();
    out.push_back(std::move(c));
  }
  return out;
}

Status Operations::CheckGlusterEligibility(const Destination& d, const Volume& source,
                                           const std::string& dvol) {
  auto candidates = GlusterCandidates(d, source, dvol);
  std::vector<std::string> reasons;
  if (!candidates.ok()) {
    reasons.push_back(candidates.status().message());
  } else {
    for (const auto& c : *candidates)
      if (c.name == dvol) reasons = c.reasons;
  }
  if (reasons.empty()) return Status::Ok();
  std::string all;
  for (const auto& r : reasons) all += (all.empty() ? "" : "; ") + r;
  return Status::FailedPrecondition(
      fmt::format("destination volume {}::{} is not eligible: {} (use force to create anyway)",
                  d.host, dvol, all));
}

Result<std::vector<CandidateVolume>> Operations::ListCandidateVolumes(
    const std::string& destination_id, const std::string& source_volume_id) {
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(destination_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(source_volume_id));
  if (v.kind != VolumeKind::kGluster) {
    return Status::InvalidArgument(
        "candidate volumes are listed for gluster source volumes; a directory session names a "
        "path");
  }
  if (v.cluster_id != d.source_cluster_id) {
    return Status::InvalidArgument(
        fmt::format("volume '{}' is not in the destination's source cluster", v.name));
  }
  if (d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for destination {}; confirm it first", d.host));
  }
  GEOREP_ASSIGN_OR_RETURN(auto all, GlusterCandidates(d, v, ""));
  // Eligible first, then by name.
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return std::tie(y.eligible, x.name) < std::tie(x.eligible, y.name);
  });
  return all;
}

namespace {

bool Troubled(SessionStatus s) {
  return s == SessionStatus::kFaulty || s == SessionStatus::kPartialFaulty;
}

bool Running(NodeStatus s) {
  return s == NodeStatus::kActive || s == NodeStatus::kPassive || s == NodeStatus::kInitializing ||
         s == NodeStatus::kFaulty;
}

// The checkpoint every Active node has reached, or 0: gluster completes a checkpoint per
// brick, and the session's checkpoint is complete when every Active brick completed it.
int64_t CompletedCheckpoint(const std::vector<SessionNodeStatus>& nodes) {
  int64_t checkpoint = 0;
  for (const auto& n : nodes) {
    if (n.status != NodeStatus::kActive) continue;
    if (n.checkpoint_time == 0 || !n.checkpoint_completed) return 0;
    if (checkpoint != 0 && checkpoint != n.checkpoint_time) return 0;
    checkpoint = n.checkpoint_time;
  }
  return checkpoint;
}

// "words only, no session" is how gluster 10 answers a status query for sessions it does not
// have (and for a cluster without any).
bool NoSuchSession(const Status& st) {
  return st.code() == StatusCode::kFailedPrecondition &&
         st.message() == "geo-replication command failed";
}

bool SameHost(const std::string& reported, const Host& h) {
  return reported == h.address || reported == h.name;
}

// A node's reason that came from gsyncd's log (ExplainWorkerFaults), not from gluster's answer.
bool FromGsyncdLog(const std::string& reason) {
  return reason.rfind("gsyncd on ", 0) == 0 || reason.rfind("gsyncd log on ", 0) == 0;
}

// gsyncd's log of session `s` on a source node (gluster 10: the session's directory is
// PRIMARYVOL_SECONDARYHOST_SECONDARYVOL, the host without its user).
std::string GsyncdLogPath(const Volume& v, const Destination& d, const Session& s) {
  return fmt::format("/var/log/glusterfs/geo-replication/{}_{}_{}/gsyncd.log", v.name, d.host,
                     s.destination_volume);
}

constexpr size_t kReasonChars = 300;
constexpr int64_t kGsyncdRereadMs = 60'000;  // a Faulty node's log, at most this often

std::string FormatUtc(int64_t millis) {
  const std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

const GeoRepStatus* Operations::FindReported(const std::vector<GeoRepStatus>& reported,
                                             const Volume& v, const Destination& d,
                                             const Session& s) {
  for (const auto& g : reported) {
    const std::string user = s.remote_user.empty() ? d.remote_user : s.remote_user;
    if (g.source_volume == v.name && g.destination_host == d.host &&
        g.destination_volume == s.destination_volume && g.remote_user == user)
      return &g;
  }
  return nullptr;
}

std::vector<SessionNodeStatus> Operations::NodeRows(const Session& s, const Volume& v,
                                                    const Destination& d,
                                                    const std::vector<Host>& hosts,
                                                    const GeoRepStatus& reported,
                                                    const std::string& answered_by) {
  const int64_t now = clock_.NowMillis();
  const int width = v.disperse_count > 0 ? v.disperse_count : std::max(1, v.replica_count);
  std::map<std::string, const Host*> by_id;
  for (const auto& h : hosts) by_id[h.id] = &h;
  std::vector<SessionNodeStatus> nodes;
  std::set<size_t> seen;  // brick positions gluster reported
  bool running = false;
  for (SessionNodeStatus n : reported.nodes) {
    n.session_id = s.id;
    n.updated_at = now;
    // The replica/disperse set comes from the brick's position in the volume: the same path
    // on another host is another brick.
    for (size_t i = 0; i < v.bricks.size(); ++i) {
      auto h = by_id.find(v.bricks[i].host_id);
      if (v.bricks[i].path != n.source_brick || h == by_id.end() ||
          !SameHost(n.source_host, *h->second))
        continue;
      n.set_index = static_cast<int>(i) / width;
      n.source_host = h->second->name;
      seen.insert(i);
    }
    if (n.destination_host.empty() || n.destination_host == "N/A") n.destination_host = d.host;
    running = running || Running(n.status);
    nodes.push_back(n);
  }
  // Bricks gluster did not report: their node's glusterd does not answer its peers. While
  // the session runs that brick is not being watched, which is a fault.
  for (size_t i = 0; i < v.bricks.size(); ++i) {
    if (seen.count(i)) continue;
    SessionNodeStatus n;
    n.session_id = s.id;
    auto h = by_id.find(v.bricks[i].host_id);
    n.source_host = h == by_id.end() ? v.bricks[i].host_id : h->second->name;
    n.source_brick = v.bricks[i].path;
    n.set_index = static_cast<int>(i) / width;
    n.destination_host = d.host;
    n.status = running ? NodeStatus::kFaulty : NodeStatus::kUnknown;
    n.status_reason = fmt::format(
        "gluster on {} does not report this brick: glusterd on {} does "
        "not answer its peers",
        answered_by, n.source_host);
    n.updated_at = now;
    nodes.push_back(n);
  }
  std::stable_sort(nodes.begin(), nodes.end(),
                   [](const auto& x, const auto& y) { return x.set_index < y.set_index; });
  return nodes;
}

void Operations::ExplainWorkerFaults(const SessionDetail& before, const Volume& v,
                                     const Destination& d, const std::vector<Host>& hosts,
                                     std::vector<SessionNodeStatus>& after) {
  const std::string& id = before.session.id;
  const int64_t now = clock_.NowMillis();
  bool stopped_by_georep = false;
  {
    std::lock_guard<std::mutex> lock(gsyncd_mu_);
    // Running again (whoever started it): a later Stopped is news again.
    if (std::any_of(after.begin(), after.end(), [](const auto& n) { return Running(n.status); }))
      stopped_by_georep_.erase(id);
    stopped_by_georep = stopped_by_georep_.count(id) > 0;
  }
  std::vector<SessionNodeStatus*> to_read;
  for (auto& n : after) {
    if (n.status == NodeStatus::kActive || n.status == NodeStatus::kPassive) {
      std::lock_guard<std::mutex> lock(gsyncd_mu_);
      gsyncd_log_reads_.erase(id + " " + n.source_host + " " + n.source_brick);
    }
    if (!n.status_reason.empty()) continue;  // gluster's answer says why (glusterd down)
    const std::string key = id + " " + n.source_host + " " + n.source_brick;
    auto old = std::find_if(before.nodes.begin(), before.nodes.end(), [&](const auto& b) {
      return b.source_host == n.source_host && b.source_brick == n.source_brick;
    });
    const bool had = old != before.nodes.end();
    const std::string known = had && FromGsyncdLog(old->status_reason) ? old->status_reason : "";
    if (n.status == NodeStatus::kInitializing) {
      // gsyncd retries a failed worker (Faulty, Initializing..., Faulty): the last failure's
      // reason stays on the node meanwhile.
      if (had && (old->status == NodeStatus::kFaulty || old->status == NodeStatus::kInitializing))
        n.status_reason = known;
      continue;
    }
    if (n.status == NodeStatus::kFaulty) {
      // Read again at most once a minute while it stays Faulty: the first failure's words
      // ("connection to peer is broken") are often not the retries' ("Connection refused").
      if (!known.empty() &&
          (old->status == NodeStatus::kFaulty || old->status == NodeStatus::kInitializing)) {
        std::lock_guard<std::mutex> lock(gsyncd_mu_);
        auto last = gsyncd_log_reads_.find(key);
        if (last != gsyncd_log_reads_.end() && now - last->second < kGsyncdRereadMs) {
          n.status_reason = known;
          continue;
        }
      }
    } else if (n.status == NodeStatus::kStopped || n.status == NodeStatus::kCreated) {
      // Stopped without georep stopping it: explained once; no worker writes more meanwhile.
      if (had && old->status == n.status && !known.empty()) {
        n.status_reason = known;
        continue;
      }
      if (!had || !Running(old->status) || stopped_by_georep) continue;
    } else {
      continue;
    }
    to_read.push_back(&n);
  }
  if (to_read.empty()) return;

  // Every node's log at once (a few seconds at most each), while the session's lock is held.
  const std::string path = GsyncdLogPath(v, d, before.session);
  auto read = [&](const SessionNodeStatus& n) -> std::string {
    auto h = std::find_if(hosts.begin(), hosts.end(), [&](const Host& x) {
      return x.name == n.source_host || x.address == n.source_host;
    });
    auto unreadable = [&](std::string_view why) {
      return OneLine(fmt::format("gsyncd log on {} unreadable: {}", n.source_host, why),
                     kReasonChars);
    };
    if (!hosts_) return unreadable("this engine cannot reach hosts");
    if (h == hosts.end()) return unreadable("the host is not in georep");
    if (h->transport == HostTransport::kSsh && h->ssh_fingerprint.empty())
      return unreadable("its host key is not confirmed");
    // The last 64 KiB: the worker's last attempts, whatever the other workers wrote.
    CommandSpec spec{{"tail", "-c", "65536", "--", path}};
    spec.timeout = std::chrono::seconds(15);
    auto r = hosts_->RunnerFor(*h)->Run(spec);
    if (!r.ok()) return unreadable(r.status().message());
    if (r->timed_out) return unreadable("tail timed out");
    if (r->exit_code != 0) return unreadable(Trim(r->err.empty() ? r->out : r->err).substr(0, 200));
    auto failure = GsyncdFailureReason(r->out, n.source_brick, kReasonChars);
    if (!failure) {
      return OneLine(fmt::format("gsyncd on {} logged nothing about the worker of {}",
                                 n.source_host, n.source_brick),
                     kReasonChars);
    }
    return OneLine(
        fmt::format("gsyncd on {} ({}): {}", n.source_host, failure->time, failure->words),
        kReasonChars);
  };
  std::vector<std::future<std::string>> reads;
  reads.reserve(to_read.size());
  for (const SessionNodeStatus* n : to_read)
    reads.push_back(std::async(std::launch::async, read, std::cref(*n)));
  for (size_t i = 0; i < to_read.size(); ++i) {
    to_read[i]->status_reason = reads[i].get();
    std::lock_guard<std::mutex> lock(gsyncd_mu_);
    gsyncd_log_reads_[id + " " + to_read[i]->source_host + " " + to_read[i]->source_brick] = now;
  }
}

Result<SessionDetail> Operations::ApplyGlusterStatus(const Actor& a, const std::string& id,
                                                     const std::vector<GeoRepStatus>* reported,
                                                     const std::string& answered_by,
                                                     const std::string& unreachable,
                                                     int64_t asked_at) {
  GEOREP_ASSIGN_OR_RETURN(SessionDetail before, GetSession(id));
  // An operation recorded fresher news than this answer (it was asked before the operation
  // ran): keep them.
  if (before.session.updated_at > asked_at) return before;
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(before.session.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(before.session.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(v.cluster_id));
  const int64_t now = clock_.NowMillis();
  SessionDetail after = before;
  after.session.updated_at = now;
  const GeoRepStatus* found = reported ? FindReported(*reported, v, d, before.session) : nullptr;
  if (found) {
    after.nodes = NodeRows(before.session, v, d, hosts, *found, answered_by);
    // gsyncd reports no lag: an Active node's is the session's end-to-end heartbeat's
    // (unknown, -1, without one); per-node throughput is not known. georep's own worker
    // measures both itself.
    if (v.kind == VolumeKind::kGluster) {
      for (auto& n : after.nodes)
        if (n.status == NodeStatus::kActive) n.lag_ms = before.lag_ms;
      ExplainWorkerFaults(before, v, d, hosts, after.nodes);  // georep's worker says why itself
    }
    after.session.status = AggregateSessionStatus(after.nodes);
    // The session's reason: a node's, one that says why (from gsyncd's log or gluster's
    // answer) before one that says only that gsyncd's log could not tell.
    after.session.status_reason.clear();
    bool telling = false;
    for (const auto& n : after.nodes) {
      if (n.status_reason.empty()) continue;
      const bool says_why = n.status_reason.rfind("gsyncd log on ", 0) != 0 &&
                            n.status_reason.find(" logged nothing about ") == std::string::npos;
      if (telling && !says_why) continue;
      after.session.status_reason = n.status_reason;
      telling = telling || says_why;
    }
  } else {
    // Gone from the cluster, or the cluster cannot be asked: what georep knew is kept, marked
    // Unknown with the reason.
    after.session.status = SessionStatus::kUnknown;
    after.session.status_reason =
        reported ? fmt::format("deleted outside georep: gluster on {} no longer has this session",
                               answered_by)
                 : unreachable;
    for (auto& n : after.nodes) {
      n.status = NodeStatus::kUnknown;
      n.crawl = CrawlStatus::kNotApplicable;
      n.status_reason = after.session.status_reason;
      n.updated_at = now;
    }
  }

  // What changed, as events: Faulty, recovered, deleted outside, checkpoint completed.
  std::vector<Event> events;
  auto event = [&](std::string action, bool ok, std::string msg) {
    events.push_back(Event{0, now, a.name, std::move(action), "session", id, ok ? "ok" : "failed",
                           std::move(msg)});
  };
  const std::string& key = after.session.session_key;
  const SessionStatus was = before.session.status, is = after.session.status;
  if (!found && reported) {
    if (before.session.status_reason != after.session.status_reason)
      event("session.deleted_outside", false,
            fmt::format("session {} {}", key, after.session.status_reason));
  } else if (is != was) {
    if (Troubled(is)) {
      event("session.faulty", false,
            fmt::format(
                "session {} is {} (was {}){}", key, Name(is), Name(was),
                after.session.status_reason.empty() ? "" : ": " + after.session.status_reason));
    } else if (Troubled(was) && found) {
      event("session.recovered", true,
            fmt::format("session {} recovered: {} (was {})", key, Name(is), Name(was)));
    } else {
      // A session that stopped by itself has its reason from gsyncd's log.
      const std::string& why = found ? after.session.status_reason : unreachable;
      event("session.status", found,
            fmt::format("session {} is {} (was {}){}", key, Name(is), Name(was),
                        why.empty() ? "" : ": " + why));
    }
  }
  // A node's own fault, even where its replica's Active worker keeps the session going (the
  // session then stays Active, but the set has lost its standby): an event of its own.
  if (found) {
    for (const auto& n : after.nodes) {
      auto old = std::find_if(before.nodes.begin(), before.nodes.end(), [&](const auto& b) {
        return b.source_host == n.source_host && b.source_brick == n.source_brick;
      });
      const NodeStatus prior = old == before.nodes.end() ? NodeStatus::kUnknown : old->status;
      if (n.status == NodeStatus::kFaulty && prior != NodeStatus::kFaulty) {
        event("session.node_faulty", false,
              fmt::format("session {}: node {}:{} is Faulty{}", key, n.source_host, n.source_brick,
                          n.status_reason.empty() ? "" : ": " + n.status_reason));
      } else if (prior == NodeStatus::kFaulty && n.status != NodeStatus::kFaulty &&
                 n.status != NodeStatus::kUnknown) {
        event("session.node_recovered", true,
              fmt::format("session {}: node {}:{} is no longer Faulty: {}", key, n.source_host,
                          n.source_brick, Name(n.status)));
      }
    }
  }
  // Once per checkpoint: nodes' checkpoint columns come and go as workers restart, fail over
  // or go unknown; what was announced is kept with the session.
  if (int64_t cp = CompletedCheckpoint(after.nodes);
      cp != 0 && cp != before.session.checkpoint_announced) {
    after.session.checkpoint_announced = cp;
    int64_t done = 0;
    for (const auto& n : after.nodes) done = std::max(done, n.checkpoint_completion_time);
    event("session.checkpoint_completed", true,
          fmt::format("session {}: checkpoint of {} completed at {}", key, FormatUtc(cp),
                      FormatUtc(done)));
  }

  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.UpdateSession(after.session));
    GEOREP_RETURN_IF_ERROR(tx.ReplaceNodeStatuses(id, after.nodes));
    for (const auto& e : events) GEOREP_RETURN_IF_ERROR(tx.AppendEvent(e).status());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return after;
}

Result<SessionDetail> Operations::RefreshSession(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto guard = locks_.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
  if (v.kind != VolumeKind::kGluster) return GetSession(id);
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
  std::vector<std::string> argv = {"gluster",         "--mode=script", "volume",
                                   "geo-replication", v.name,          GeoRepTarget(d, s),
                                   "status",          "detail",        "--xml"};
  const int64_t asked_at = clock_.NowMillis();
  auto answer = RunGlusterOnCluster(v.cluster_id, d.source_host_id, argv, true);
  if (!answer.ok()) {
    if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
    return ApplyGlusterStatus(a, id, nullptr, "", answer.status().message(), asked_at);
  }
  auto reported = ParseGeoRepStatus(answer->out);
  if (!reported.ok() && !NoSuchSession(reported.status())) return reported.status();
  std::vector<GeoRepStatus> none;
  return ApplyGlusterStatus(a, id, reported.ok() ? &*reported : &none, answer->host.name, "",
                            asked_at);
}

Status Operations::SyncGlusterConfig(const Actor& a, const std::string& id) {
  auto guard = locks_.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(std::string xml, RunGeoRep(s, {"config"}, true));
  GEOREP_ASSIGN_OR_RETURN(auto cluster, ParseGeoRepConfig(xml));
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> items, GetConfig(id));
  const int64_t now = clock_.NowMillis();
  return store_.Transaction([&](StoreTx& tx) -> Status {
    for (const ConfigItem& item : items) {
      const std::string key(item.option->key);
      if (key == "checkpoint") continue;  // a moment, not a setting; shown per node
      if (IsEngineOption(VolumeKind::kGluster, key)) continue;  // georep's own
      std::string xml_key = key;
      std::replace(xml_key.begin(), xml_key.end(), '-', '_');
      auto it = cluster.find(xml_key);
      if (it == cluster.end() && xml_key.rfind("slave_", 0) == 0)
        it = cluster.find("secondary_" + xml_key.substr(6));
      if (it == cluster.end()) continue;
      auto value = ValidateConfigValue(*item.option, it->second);
      if (!value.ok() || *value == item.value) continue;
      if (*value == item.option->default_value) {
        GEOREP_RETURN_IF_ERROR(tx.DeleteConfig(id, key));
      } else {
        GEOREP_RETURN_IF_ERROR(
            tx.PutConfig(SessionConfigEntry{id, key, *value, "outside georep", now}));
      }
      GEOREP_RETURN_IF_ERROR(
          tx.AppendEvent(
                Event{0, now, a.name, "session.config_changed_outside", "session", id, "ok",
                      fmt::format("session {}: {} changed outside georep from '{}' to '{}'",
                                  s.session_key, key, item.value, *value)})
              .status());
    }
    return Status::Ok();
  });
}

Result<std::string> Operations::DiscoverGlusterSession(const Actor& a, const Cluster& c,
                                                       const GeoRepStatus& g,
                                                       const Host& answered_by) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Volume> volumes, ListVolumes(c.id));
  const Volume* v = nullptr;
  for (const auto& x : volumes)
    if (x.kind == VolumeKind::kGluster && x.name == g.source_volume) v = &x;
  if (!v) {
    return Status::NotFound(
        fmt::format("volume {} is not in georep; import the cluster again to manage its sessions",
                    g.source_volume));
  }
  auto guard = locks_.Lock(NewSessionLockKey(c.id));
  // The poll's answer may be old news: does gluster still have it?
  std::string target = g.remote_user == "root" ? "" : g.remote_user + "@";
  target += g.destination_host + "::" + g.destination_volume;
  auto still = RunGlusterOnCluster(c.id, answered_by.id,
                                   {"gluster", "--mode=script", "volume", "geo-replication",
                                    g.source_volume, target, "status", "--xml"},
                                   true);
  if (!still.ok()) return still.status();
  if (auto parsed = ParseGeoRepStatus(still->out); !parsed.ok() || parsed->empty()) {
    if (parsed.ok() || NoSuchSession(parsed.status())) return std::string();  // gone meanwhile
    return parsed.status();
  }
  const int64_t now = clock_.NowMillis();
  Session s;
  std::string message;
  Status st = store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::vector<Destination> dests, tx.ListDestinations(c.id));
    // Recorded meanwhile (georep created it while this poll was on its way)?
    GEOREP_ASSIGN_OR_RETURN(std::vector<Session> existing, tx.ListSessions({v->id, ""}));
    for (const auto& e : existing) {
      for (const auto& x : dests) {
        if (x.id == e.destination_id && FindReported({g}, *v, x, e))
          return Status::AlreadyExists("recorded meanwhile");
      }
    }
    Destination d;
    for (const auto& x : dests)
      if (x.host == g.destination_host && x.remote_user == g.remote_user) d = x;
    if (d.id.empty()) {
      // A destination georep did not attach: recorded without a pinned key until an admin
      // confirms one (Re-establish), so the engine never trusts a key it did not show.
      d.id = random_.NewUuid();
      d.source_cluster_id = c.id;
      d.source_host_id = answered_by.id;
      d.host = g.destination_host;
      d.remote_user = g.remote_user;
      d.connection = ConnectionStatus::kUnknown;
      d.connection_reason =
          "discovered from a session created outside georep; confirm its host "
          "key with Re-establish";
      d.created_at = now;
      GEOREP_RETURN_IF_ERROR(tx.CreateDestination(d));
    }
    s.id = random_.NewUuid();
    s.destination_id = d.id;
    s.source_volume_id = v->id;
    s.destination_volume = g.destination_volume;
    s.remote_user = g.remote_user;
    s.session_key = fmt::format("{}_{}_{}", v->name, d.host, s.destination_volume);
    s.status = SessionStatus::kUnknown;
    s.created_at = now;
    s.updated_at = 0;  // its status is the poll's, recorded next
    GEOREP_RETURN_IF_ERROR(tx.CreateSession(s));
    message = fmt::format("session {} -> {}@{}::{} created outside georep was discovered", v->name,
                          s.remote_user, d.host, s.destination_volume);
    return tx
        .AppendEvent(Event{0, now, a.name, "session.discovered", "session", s.id, "ok", message})
        .status();
  });
  if (st.code() == StatusCode::kAlreadyExists) return std::string();
  if (!st.ok()) return st;
  return s.id;
}

Status Operations::RecheckDataRisk(const std::string& id) {
  const Actor monitor{"monitor", Role::kAdmin};
  GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(id));
  for (const auto& item : config) {
    if (item.option->key != "sync-method") continue;
    return RecordDataRisk(monitor, id, item.value, CachedPreflight(v.cluster_id, d));
  }
  return Status::Ok();
}

Result<Operations::GsyncdFilesPoll> Operations::ReadGsyncdFiles(const std::string& cluster_id,
                                                                const std::vector<Volume>& volumes,
                                                                const std::vector<Session>& known) {
  GsyncdFilesPoll out;
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ListHosts(cluster_id));
  std::map<std::string, const Volume*> volume_by_id;
  for (const auto& v : volumes) volume_by_id[v.id] = &v;
  struct Known {
    const Session* session;
    const Volume* volume;
    Destination destination;
    std::string dir;
  };
  std::vector<Known> sessions;
  for (const auto& s : known) {
    auto v = volume_by_id.find(s.source_volume_id);
    auto d = GetDestination(s.destination_id);
    if (v == volume_by_id.end() || !d.ok()) continue;
    sessions.push_back(
        {&s, v->second, *d, GsyncdSessionDir(v->second->name, d->host, s.destination_volume)});
  }
  // Every source node that holds a brick of a known session's volume, asked at once.
  struct NodeRead {
    const Host* host;
    std::future<Result<GsyncdNodeReport>> report;
  };
  std::vector<NodeRead> reads;
  std::set<std::string> known_dirs;
  for (const auto& k : sessions) known_dirs.insert(k.dir);
  for (const Host& h : hosts) {
    std::vector<std::pair<std::string, std::string>> asked;
    for (const auto& k : sessions) {
      bool holds = false;
      for (const auto& b : k.volume->bricks) holds = holds || b.host_id == h.id;
      if (holds)
        asked.emplace_back(k.dir, GsyncdPidFile(k.volume->name, k.destination.host,
                                                k.session->destination_volume));
    }
    // A node with no known session's brick is read too: a session made there by hand shows.
    bool holds_any = false;
    for (const auto& v : volumes)
      for (const auto& b : v.bricks)
        holds_any = holds_any || (v.kind == VolumeKind::kGluster && b.host_id == h.id);
    if (!holds_any) continue;
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) {
      out.needs_gluster = fmt::format("{} has no confirmed host key", h.name);
      return out;
    }
    std::shared_ptr<CommandRunner> runner = hosts_->RunnerFor(h);
    reads.push_back({&h, std::async(std::launch::async, [runner, asked] {
                       CommandSpec spec{GsyncdStatusReader(asked)};
                       spec.timeout = std::chrono::seconds(30);
                       auto r = runner->Run(spec);
                       if (!r.ok()) return Result<GsyncdNodeReport>(r.status());
                       if (r->timed_out || r->exit_code != 0)
                         return Result<GsyncdNodeReport>(
                             Status::Unavailable(fmt::format("the status reader ended with {}: {}",
                                                             r->exit_code, r->err.substr(0, 200))));
                       return ParseGsyncdNodeReport(r->out);
                     })});
  }
  std::map<std::string, GsyncdNodeReport> by_host;  // by host id
  std::set<std::string> evidence;
  for (auto& read : reads) {
    auto report = read.report.get();
    if (!report.ok()) {
      if (out.needs_gluster.empty())
        out.needs_gluster = fmt::format("{}: {}", read.host->name, report.status().message());
      continue;
    }
    if (!report->glusterd_running && out.needs_gluster.empty())
      out.needs_gluster = fmt::format("glusterd does not run on {}", read.host->name);
    for (const auto& dir : report->session_dirs)
      if (!known_dirs.count(dir)) evidence.insert("new " + dir);
    out.read_from += (out.read_from.empty() ? "" : ", ") + read.host->name;
    by_host[read.host->id] = std::move(*report);
  }
  if (!out.needs_gluster.empty()) return out;
  for (const auto& k : sessions) {
    GeoRepStatus g;
    g.source_volume = k.volume->name;
    g.remote_user =
        k.session->remote_user.empty() ? k.destination.remote_user : k.session->remote_user;
    g.destination_host = k.destination.host;
    g.destination_volume = k.session->destination_volume;
    bool everywhere = true;
    for (const auto& b : k.volume->bricks) {
      auto node = by_host.find(b.host_id);
      auto h = std::find_if(hosts.begin(), hosts.end(),
                            [&](const Host& x) { return x.id == b.host_id; });
      if (node == by_host.end() || h == hosts.end()) {
        everywhere = false;
        evidence.insert(fmt::format("unread {} on {}", k.dir, b.host_id));
        continue;
      }
      auto files = node->second.sessions.find(k.dir);
      if (files == node->second.sessions.end() || !files->second.present) {
        everywhere = false;
        evidence.insert(fmt::format("gone {} on {}", k.dir, h->name));
        continue;
      }
      g.nodes.push_back(GsyncdBrickRow(files->second, b.path, h->address));
    }
    if (everywhere) out.reported.push_back(std::move(g));
  }
  for (const auto& e : evidence) out.evidence += (out.evidence.empty() ? "" : "; ") + e;
  return out;
}

Result<ClusterPoll> Operations::PollGlusterCluster(const Actor& a, const std::string& cluster_id,
                                                   bool full) {
  ClusterPoll poll;
  GEOREP_ASSIGN_OR_RETURN(Cluster c, GetCluster(cluster_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Volume> volumes, ListVolumes(cluster_id));
  std::set<std::string> gluster_volumes;
  for (const auto& v : volumes)
    if (v.kind == VolumeKind::kGluster) gluster_volumes.insert(v.id);
  if (gluster_volumes.empty()) return poll;
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> all, ListSessions({}));
  std::vector<Session> known;
  for (const auto& s : all)
    if (gluster_volumes.count(s.source_volume_id)) known.push_back(s);

  int64_t asked_at = clock_.NowMillis();
  std::string evidence;  // what gsyncd's files showed appear or go (the full pass looks)
  if (!full) {
    auto files = ReadGsyncdFiles(cluster_id, volumes, known);
    if (files.ok() && files->needs_gluster.empty()) {
      // News (a session directory that appeared or went) is looked at when a second pass
      // sees it too: georep's own create and remove show it for a moment, and an admin's
      // series of commands is not met by the query at once.
      bool ask = false;
      {
        std::lock_guard<std::mutex> lock(truth_mu_);
        auto& [pending, seen] = gsyncd_evidence_[cluster_id];
        if (files->evidence.empty()) {
          pending.clear();
          seen.clear();
        } else if (files->evidence != seen) {
          ask = files->evidence == pending;
          pending = files->evidence;
        }
      }
      evidence = files->evidence;
      if (!ask) {
        poll.answered_by = files->read_from;
        for (const auto& s : known) {
          auto guard = locks_.Lock(SessionLockKey(s.id));
          auto v = GetVolume(s.source_volume_id);
          auto d = GetDestination(s.destination_id);
          if (!v.ok() || !d.ok() || !FindReported(files->reported, *v, *d, s)) continue;
          auto r = ApplyGlusterStatus(a, s.id, &files->reported, files->read_from, "", asked_at);
          if (r.ok()) ++poll.refreshed;
        }
        return poll;
      }
    }
    // gluster is asked instead: a node gsyncd's files cannot answer for, or news to look at.
    asked_at = clock_.NowMillis();
  }
  auto answer = RunGlusterOnCluster(
      cluster_id, "",
      {"gluster", "--mode=script", "volume", "geo-replication", "status", "detail", "--xml"}, true);
  if (!answer.ok()) {
    if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
    for (const auto& s : known) {
      auto guard = locks_.Lock(SessionLockKey(s.id));
      auto r = ApplyGlusterStatus(a, s.id, nullptr, "", answer.status().message(), asked_at);
      if (r.ok()) ++poll.refreshed;
    }
    return answer.status();
  }
  poll.answered_by = answer->host.name;
  std::vector<GeoRepStatus> reported;
  if (auto parsed = ParseGeoRepStatus(answer->out); parsed.ok()) {
    reported = std::move(*parsed);
  } else if (!NoSuchSession(parsed.status())) {
    return parsed.status();
  }
  if (!evidence.empty()) {
    std::lock_guard<std::mutex> lock(truth_mu_);
    gsyncd_evidence_[cluster_id].second = evidence;
  }

  // Which reported sessions georep knows, decided before any is updated: a session removed
  // while this poll was on its way is still no stranger to discover.
  std::vector<bool> matched(reported.size(), false);
  for (const auto& s : known) {
    auto v = GetVolume(s.source_volume_id);
    auto d = GetDestination(s.destination_id);
    if (!v.ok() || !d.ok()) continue;
    if (const GeoRepStatus* g = FindReported(reported, *v, *d, s))
      matched[static_cast<size_t>(g - reported.data())] = true;
  }
  for (const auto& s : known) {
    {
      auto guard = locks_.Lock(SessionLockKey(s.id));
      auto r = ApplyGlusterStatus(a, s.id, &reported, answer->host.name, "", asked_at);
      if (!r.ok()) continue;  // removed meanwhile
      ++poll.refreshed;
    }
    if (!full) continue;
    if (Status cs = SyncGlusterConfig(a, s.id); !cs.ok()) poll.problems.push_back(cs.message());
    if (Status rs = RecheckDataRisk(s.id); !rs.ok()) poll.problems.push_back(rs.message());
  }
  for (size_t i = 0; i < reported.size(); ++i) {
    if (matched[i]) continue;
    auto id = DiscoverGlusterSession(a, c, reported[i], answer->host);
    if (!id.ok()) {
      poll.problems.push_back(id.status().message());
      continue;
    }
    if (id->empty()) continue;
    ++poll.discovered;
    {
      auto guard = locks_.Lock(SessionLockKey(*id));
      (void)ApplyGlusterStatus(a, *id, &reported, answer->host.name, "", asked_at);
    }
    (void)SyncGlusterConfig(a, *id);
    (void)RecheckDataRisk(*id);
  }
  return poll;
}

Result<SessionDetail> Operations::RunSessionAction(const Actor& a, const std::string& id,
                                                   SessionAction action, bool force) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  const std::string event = "session." + std::string(Name(action));
  std::optional<Preflight> preflight;  // at the start of a gluster rsync session
  std::string after_warning;
  Status done = [&]() -> Status {
    auto guard = locks_.Lock(SessionLockKey(id));
    GEOREP_ASSIGN_OR_RETURN(SessionDetail s, GetSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.session.source_volume_id));
    GEOREP_RETURN_IF_ERROR(CheckSessionAction(s.session.status, action, force));
    if (v.kind != VolumeKind::kGluster) {
      GEOREP_RETURN_IF_ERROR(RunDirectoryAction(s.session, v, action, force));
      std::string oid = id, msg = fmt::format("{}: {}", s.session.session_key, Name(action));
      return Audited(a, event, "session", oid, msg, [](StoreTx&) { return Status::Ok(); });
    }
    // Starting with gsyncd's rsync where it writes files without their content: refused
    // unless forced (the session then keeps its "data-at-risk" alert).
    if (action == SessionAction::kStart) {
      GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(id));
      for (const auto& item : config) {
        if (item.option->key != "sync-method" || item.value != "rsync") continue;
        GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.session.destination_id));
        preflight = PlatformPreflight(v.cluster_id, &d);
        if (preflight->rsync_unsafe && !force) {
          return Status::FailedPrecondition(fmt::format(
              "start refused: sync-method is rsync, and {}; set sync-method tarssh, or start "
              "with force to accept the risk",
              preflight->Summary()));
        }
      }
    }
    std::vector<std::string> args = {std::string(Name(action))};
    if (force) args.push_back("force");
    GEOREP_ASSIGN_OR_RETURN(std::string out, RunGeoRep(s.session, args, false));
    if (action == SessionAction::kStop) {
      // Its workers' Stopped is georep's doing, not a fault to explain (ExplainWorkerFaults).
      std::lock_guard<std::mutex> lock(gsyncd_mu_);
      stopped_by_georep_.insert(id);
    }
    std::string oid = id, msg = fmt::format("{}: {}", s.session.session_key, Trim(out));
    return Audited(a, event, "session", oid, msg, [](StoreTx&) { return Status::Ok(); });
  }();
  if (!done.ok()) {
    (void)RecordFailure(a, event, "session", id, done);
    return done;
  }
  if (preflight) {
    GEOREP_RETURN_IF_ERROR(RecordDataRisk(a, id, "rsync", *preflight));
    if (preflight->rsync_unsafe)
      after_warning = fmt::format("data at risk (forced): {}", preflight->Summary());
  }
  GEOREP_ASSIGN_OR_RETURN(SessionDetail after, RefreshSession(a, id));
  after.preflight = preflight;
  if (!after_warning.empty()) after.warnings.push_back(after_warning);
  return after;
}

}  // namespace georep
