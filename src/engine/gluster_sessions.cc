// GlusterDriver's commands and status (gluster_driver.h): `gluster volume geo-replication`
// on the source cluster, a session's status read and recorded, the monitor's pass over a
// cluster (gsyncd's files, or gluster's status), and sessions discovered or deleted outside
// georep.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <tuple>

#include "engine/gluster_driver.h"
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

Result<GlusterAnswer> GlusterDriver::RunGlusterOnCluster(const std::string& cluster_id,
                                                         const std::string& preferred_host_id,
                                                         const std::vector<std::string>& argv,
                                                         bool xml) {
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ctx_.ListHosts(cluster_id));
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
    auto runner = ctx_.hosts->RunnerFor(h);
    auto r = runner->Run(spec);
    // glusterd runs one transaction per volume at a time (the monitor's status query, another
    // admin's command): wait and ask again rather than fail the operator's command.
    for (int attempt = 1;
         attempt <= kBusyRetries && r.ok() && r->exit_code != 0 &&
         (r->out + r->err).find("Another transaction is in progress") != std::string::npos;
         ++attempt) {
      ctx_.clock.Sleep(500L * attempt);
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

Result<std::string> GlusterDriver::RunGeoRep(const Session& s, const std::vector<std::string>& args,
                                             bool xml) {
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
  std::vector<std::string> argv = {"gluster",         "--mode=script", "volume",
                                   "geo-replication", v.name,          GeoRepTarget(d, s)};
  argv.insert(argv.end(), args.begin(), args.end());
  if (xml) argv.push_back("--xml");
  GEOREP_ASSIGN_OR_RETURN(GlusterAnswer answer,
                          RunGlusterOnCluster(v.cluster_id, d.source_host_id, argv, xml));
  return answer.out;
}

namespace {

bool Running(NodeStatus s) {
  return s == NodeStatus::kActive || s == NodeStatus::kPassive || s == NodeStatus::kInitializing ||
         s == NodeStatus::kFaulty;
}

// "words only, no session" is how gluster 10 answers a status query for sessions it does not
// have (and for a cluster without any).
bool NoSuchSession(const Status& st) {
  return st.code() == StatusCode::kFailedPrecondition &&
         st.message() == "geo-replication command failed";
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

}  // namespace

void GlusterDriver::ExplainWorkerFaults(const SessionDetail& before, const Volume& v,
                                        const Destination& d, const std::vector<Host>& hosts,
                                        std::vector<SessionNodeStatus>& after) {
  const std::string& id = before.session.id;
  const int64_t now = ctx_.clock.NowMillis();
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
    if (!ctx_.hosts) return unreadable("this engine cannot reach hosts");
    if (h == hosts.end()) return unreadable("the host is not in georep");
    if (h->transport == HostTransport::kSsh && h->ssh_fingerprint.empty())
      return unreadable("its host key is not confirmed");
    // The last 64 KiB: the worker's last attempts, whatever the other workers wrote.
    CommandSpec spec{{"tail", "-c", "65536", "--", path}};
    spec.timeout = std::chrono::seconds(15);
    auto r = ctx_.hosts->RunnerFor(*h)->Run(spec);
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

Status GlusterDriver::SyncGlusterConfig(const Actor& a, const std::string& id) {
  auto guard = ctx_.locks.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(std::string xml, RunGeoRep(s, {"config"}, true));
  GEOREP_ASSIGN_OR_RETURN(auto cluster, ParseGeoRepConfig(xml));
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> items, ctx_.GetConfig(id));
  const int64_t now = ctx_.clock.NowMillis();
  return ctx_.store.Transaction([&](StoreTx& tx) -> Status {
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

Result<std::string> GlusterDriver::DiscoverGlusterSession(const Actor& a, const Cluster& c,
                                                          const GeoRepStatus& g,
                                                          const Host& answered_by) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Volume> volumes, ctx_.ListVolumes(c.id));
  const Volume* v = nullptr;
  for (const auto& x : volumes)
    if (x.kind == VolumeKind::kGluster && x.name == g.source_volume) v = &x;
  if (!v) {
    return Status::NotFound(
        fmt::format("volume {} is not in georep; import the cluster again to manage its sessions",
                    g.source_volume));
  }
  auto guard = ctx_.locks.Lock(NewSessionLockKey(c.id));
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
  const int64_t now = ctx_.clock.NowMillis();
  Session s;
  std::string message;
  Status st = ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::vector<Destination> dests, tx.ListDestinations(c.id));
    // Recorded meanwhile (georep created it while this poll was on its way)?
    GEOREP_ASSIGN_OR_RETURN(std::vector<Session> existing, tx.ListSessions({v->id, ""}));
    for (const auto& e : existing) {
      for (const auto& x : dests) {
        if (x.id == e.destination_id && ctx_.FindReported({g}, *v, x, e))
          return Status::AlreadyExists("recorded meanwhile");
      }
    }
    Destination d;
    for (const auto& x : dests)
      if (x.host == g.destination_host && x.remote_user == g.remote_user) d = x;
    if (d.id.empty()) {
      // A destination georep did not attach: recorded without a pinned key until an admin
      // confirms one (Re-establish), so the engine never trusts a key it did not show.
      d.id = ctx_.random.NewUuid();
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
    s.id = ctx_.random.NewUuid();
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

Status GlusterDriver::RecheckDataRisk(const std::string& id) {
  const Actor monitor{"monitor", Role::kAdmin};
  GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(id));
  for (const auto& item : config) {
    if (item.option->key != "sync-method") continue;
    return ctx_.RecordDataRisk(monitor, id, item.value, CachedPreflight(v.cluster_id, d));
  }
  return Status::Ok();
}

Result<GlusterDriver::GsyncdFilesPoll> GlusterDriver::ReadGsyncdFiles(
    const std::string& cluster_id, const std::vector<Volume>& volumes,
    const std::vector<Session>& known) {
  GsyncdFilesPoll out;
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ctx_.ListHosts(cluster_id));
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
    auto d = ctx_.GetDestination(s.destination_id);
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
    std::shared_ptr<CommandRunner> runner = ctx_.hosts->RunnerFor(h);
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

Result<ClusterPoll> GlusterDriver::PollGlusterCluster(const Actor& a, const std::string& cluster_id,
                                                      bool full) {
  ClusterPoll poll;
  GEOREP_ASSIGN_OR_RETURN(Cluster c, ctx_.GetCluster(cluster_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Volume> volumes, ctx_.ListVolumes(cluster_id));
  std::set<std::string> gluster_volumes;
  for (const auto& v : volumes)
    if (v.kind == VolumeKind::kGluster) gluster_volumes.insert(v.id);
  if (gluster_volumes.empty()) return poll;
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> all, ctx_.ListSessions({}));
  std::vector<Session> known;
  for (const auto& s : all)
    if (gluster_volumes.count(s.source_volume_id)) known.push_back(s);

  int64_t asked_at = ctx_.clock.NowMillis();
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
          auto guard = ctx_.locks.Lock(SessionLockKey(s.id));
          auto v = ctx_.GetVolume(s.source_volume_id);
          auto d = ctx_.GetDestination(s.destination_id);
          if (!v.ok() || !d.ok() || !ctx_.FindReported(files->reported, *v, *d, s)) continue;
          auto r = ApplyGlusterStatus(a, s.id, &files->reported, files->read_from, "", asked_at);
          if (r.ok()) ++poll.refreshed;
        }
        return poll;
      }
    }
    // gluster is asked instead: a node gsyncd's files cannot answer for, or news to look at.
    asked_at = ctx_.clock.NowMillis();
  }
  auto answer = RunGlusterOnCluster(
      cluster_id, "",
      {"gluster", "--mode=script", "volume", "geo-replication", "status", "detail", "--xml"}, true);
  if (!answer.ok()) {
    if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
    for (const auto& s : known) {
      auto guard = ctx_.locks.Lock(SessionLockKey(s.id));
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
    auto v = ctx_.GetVolume(s.source_volume_id);
    auto d = ctx_.GetDestination(s.destination_id);
    if (!v.ok() || !d.ok()) continue;
    if (const GeoRepStatus* g = ctx_.FindReported(reported, *v, *d, s))
      matched[static_cast<size_t>(g - reported.data())] = true;
  }
  for (const auto& s : known) {
    {
      auto guard = ctx_.locks.Lock(SessionLockKey(s.id));
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
      auto guard = ctx_.locks.Lock(SessionLockKey(*id));
      (void)ApplyGlusterStatus(a, *id, &reported, answer->host.name, "", asked_at);
    }
    (void)SyncGlusterConfig(a, *id);
    (void)RecheckDataRisk(*id);
  }
  return poll;
}

Result<SessionDetail> GlusterDriver::ApplyGlusterStatus(const Actor& a, const std::string& id,
                                                        const std::vector<GeoRepStatus>* reported,
                                                        const std::string& answered_by,
                                                        const std::string& unreachable,
                                                        int64_t asked_at) {
  return ctx_.ApplyReportedStatus(
      a, id, reported, answered_by, unreachable, asked_at,
      [this](const SessionDetail& before, const Volume& v, const Destination& d,
             const std::vector<Host>& hosts, std::vector<SessionNodeStatus>& after) {
        // gsyncd reports no lag: a node's is the session's end-to-end heartbeat's (unknown,
        // -1, without one; a Passive standby has none); per-node throughput is not known.
        for (auto& n : after) n.lag_ms = n.status == NodeStatus::kPassive ? -1 : before.lag_ms;
        ExplainWorkerFaults(before, v, d, hosts, after);
      });
}

Result<SessionDetail> GlusterDriver::Refresh(const Actor& a, const Session& s, const Volume& v) {
  const std::string& id = s.id;
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  std::vector<std::string> argv = {"gluster",         "--mode=script", "volume",
                                   "geo-replication", v.name,          GeoRepTarget(d, s),
                                   "status",          "detail",        "--xml"};
  const int64_t asked_at = ctx_.clock.NowMillis();
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

Result<std::string> GlusterDriver::RunAction(const SessionDetail& s, const Volume& v,
                                             SessionAction action, bool force,
                                             std::optional<Preflight>& preflight) {
  const std::string& id = s.session.id;
  // Starting with gsyncd's rsync where it writes files without their content: refused
  // unless forced (the session then keeps its "data-at-risk" alert).
  if (action == SessionAction::kStart) {
    GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(id));
    for (const auto& item : config) {
      if (item.option->key != "sync-method" || item.value != "rsync") continue;
      GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.session.destination_id));
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
  return Trim(out);
}

}  // namespace georep
