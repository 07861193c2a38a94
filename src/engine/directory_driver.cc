// DirectoryDriver (directory_driver.h): sessions of directory volumes, run by georep's own
// replication engine. Start runs a `georep worker`
// (supervised by WorkerSupervisor) with the session's config as its flags; the monitor reads
// the worker's status.json into the session's node row, through the same recording (and
// events) as a gluster session's status.
//
// The worker runs on the source host. On the engine's machine (a local host) the engine starts
// it directly; on an ssh host it starts `georep worker-link` (worker_link.h), which runs the
// worker there over ssh with the engine's key and relays its status. The destination is a
// local path (a destination without a host key: only for a local source) or HOST::PATH over
// ssh, with the destination's pinned host key -- and the engine's key from the engine's
// machine, or from an ssh source host the key georep made there at start
// (PrepareRemoteSource), which the destination was then told to accept.
#include "engine/directory_driver.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "engine/worker_supervisor.h"
#include "gluster/cli_xml.h"
#include "host/ssh_transport.h"
#include "model/command_options.h"
#include "model/names.h"
#include "model/path_guard.h"
#include "model/validation.h"
#include "replication/repair_request.h"
#include "replication/replicator.h"

namespace georep {
namespace {

// A worker that has not written its status for this long is not reporting: Faulty.
constexpr int64_t kSilentWorkerMs = 60'000;

// Session states in which the worker should run.
bool WantsWorker(SessionStatus s) {
  return s != SessionStatus::kCreated && s != SessionStatus::kStopped &&
         s != SessionStatus::kPaused && s != SessionStatus::kUnknown;
}

NodeStatus FromWorkerState(const std::string& state) {
  if (state == "Active") return NodeStatus::kActive;
  if (state == "Faulty") return NodeStatus::kFaulty;
  return NodeStatus::kInitializing;
}

CrawlStatus FromWorkerCrawl(const std::string& crawl) {
  if (crawl == "Hybrid Crawl") return CrawlStatus::kHybrid;
  if (crawl == "History Crawl") return CrawlStatus::kHistory;
  if (crawl == "Changelog Crawl") return CrawlStatus::kChangelog;
  return CrawlStatus::kNotApplicable;
}

}  // namespace

void DirectoryDriver::SetWorkerSupervisor(WorkerSupervisor* workers, std::string georep_binary) {
  ctx_.workers = workers;
  ctx_.georep_binary = std::move(georep_binary);
  if (!ctx_.workers) return;
  // Every restart between the monitor's polls is checked as a start is (model/path_guard.h).
  ctx_.workers->SetRestartGuard([this](const std::string& id) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
    if (!WantsWorker(s.status)) return Status::FailedPrecondition("the session is not running");
    GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
    return CheckDirectoryDestination(s, v, d);
  });
  // A worker's end is shown (Faulty, with its reason and an event) when it happens.
  ctx_.workers->SetEndListener([this](const std::string& id) {
    const Actor monitor{"monitor", Role::kAdmin};
    auto polled = PollDirectorySession(monitor, id);
    if (!polled.ok())
      spdlog::warn("msg=\"worker ended\" session={} error={}", id,
                   LogValue(polled.status().message()));
  });
}

Status DirectoryDriver::NotEmptyRefusal(const Session& s, const Destination& d) {
  const std::string where = d.ssh_fingerprint.empty()
                                ? s.destination_volume
                                : fmt::format("{}::{}", d.host, s.destination_volume);
  return Status::FailedPrecondition(fmt::format(
      "not-empty: destination directory {} is not empty; the first sync makes it a copy of "
      "the source, deleting what the source does not have -- use force to do so",
      where));
}

Status DirectoryDriver::RunDirectoryAction(const Session& s, const Volume& v, SessionAction action,
                                           bool force) {
  if (!ctx_.workers) return Status::FailedPrecondition("this engine does not run workers");
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  SessionStatus next = SessionStatus::kInitializing;
  switch (action) {
    case SessionAction::kStart:
    case SessionAction::kResume: {
      GEOREP_ASSIGN_OR_RETURN(std::vector<std::string> argv, WorkerArgv(s, v, d));
      bool not_empty = false;
      GEOREP_RETURN_IF_ERROR(CheckDirectoryDestination(s, v, d, &not_empty));
      // Before its first sync (never started), a destination that filled since create is
      // refused as at create -- unless create was forced into it.
      if (not_empty && !force && action == SessionAction::kStart) {
        auto last = [&](const char* what) -> Result<std::vector<Event>> {
          EventFilter f;
          f.object_type = "session";
          f.object_id = s.id;
          f.action_prefix = what;
          f.result = "ok";
          f.limit = 1;
          return ctx_.ListEvents(f);
        };
        GEOREP_ASSIGN_OR_RETURN(std::vector<Event> started, last("session.start"));
        GEOREP_ASSIGN_OR_RETURN(std::vector<Event> created, last("session.create"));
        const bool forced =
            !created.empty() && created[0].message.find(kForcedNotEmpty) != std::string::npos;
        if (started.empty() && !forced) return NotEmptyRefusal(s, d);
      }
      GEOREP_RETURN_IF_ERROR(PrepareRemoteSource(s, v, d));
      GEOREP_RETURN_IF_ERROR(ctx_.workers->Ensure(s.id, argv));
      next = SessionStatus::kInitializing;
      break;
    }
    case SessionAction::kStop:
      ctx_.workers->Stop(s.id);
      next = SessionStatus::kStopped;
      break;
    case SessionAction::kPause:
      ctx_.workers->Stop(s.id);
      next = SessionStatus::kPaused;
      break;
    case SessionAction::kDelete:
      ctx_.workers->Stop(s.id);  // its state goes with the session (RemoveSession)
      return Status::Ok();
  }
  const NodeStatus node = next == SessionStatus::kStopped  ? NodeStatus::kStopped
                          : next == SessionStatus::kPaused ? NodeStatus::kPaused
                                                           : NodeStatus::kInitializing;
  return ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session cur, tx.GetSession(s.id));
    GEOREP_ASSIGN_OR_RETURN(std::vector<SessionNodeStatus> nodes, tx.ListNodeStatuses(s.id));
    for (auto& n : nodes) {
      n.status = node;
      n.status_reason.clear();
      n.crawl = CrawlStatus::kNotApplicable;
      n.updated_at = ctx_.clock.NowMillis();
      // The figures as the worker left them: stopped, it applies nothing; starting, what it
      // applies is not known before it reports.
      FiguresWithoutWorker(s.id, n);
      if (node == NodeStatus::kInitializing) n.throughput_bps = -1;
    }
    cur.status = next;
    cur.status_reason.clear();
    cur.updated_at = ctx_.clock.NowMillis();
    GEOREP_RETURN_IF_ERROR(tx.UpdateSession(cur));
    return tx.ReplaceNodeStatuses(s.id, nodes);
  });
}

Result<SessionDetail> DirectoryDriver::PollDirectorySession(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto guard = ctx_.locks.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(SessionDetail before, ctx_.GetSession(id));
  if (!ctx_.workers || !WantsWorker(before.session.status)) return before;
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(before.session.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(before.session.destination_id));
  const int64_t asked_at = ctx_.clock.NowMillis();

  SessionNodeStatus n;
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(v.bricks.at(0).host_id));
  n.source_host = src.name;
  n.source_brick = v.bricks[0].path;
  n.destination_host = d.host;
  auto argv = WorkerArgv(before.session, v, d);
  Status ensured = argv.status();
  if (argv.ok()) {
    // A worker on an ssh host about to (re)start with a new command line -- the first time in
    // this engine, new config, a re-pinned destination key (the known_hosts file's name has
    // it) -- prepares its host first, as a start does.
    // Before a worker (re)starts -- the first time in this engine, a new command line, a worker
    // that went Faulty -- the destination is checked again (model/path_guard.h): the trees
    // around it may have changed (a symlink, a bind mount, another session).
    const bool faulty = std::any_of(before.nodes.begin(), before.nodes.end(),
                                    [](const auto& n) { return n.status == NodeStatus::kFaulty; });
    const bool starting = !ctx_.workers->Supervises(id, *argv);
    if (starting || faulty) ensured = CheckDirectoryDestination(before.session, v, d);
    if (!ensured.ok()) ctx_.workers->Stop(id);
    if (ensured.ok() && starting) ensured = PrepareRemoteSource(before.session, v, d);
    if (ensured.ok()) ensured = ctx_.workers->Ensure(id, *argv);
  }
  WorkerObservation seen = ctx_.workers->Observe(id);
  auto status = replication::ReadWorkerStatus(ctx_.workers->StateDir(id));
  const int64_t now = ctx_.clock.NowMillis();
  // The status is this worker's own, and it is alive.
  const bool current =
      ensured.ok() && seen.running && status.ok() && status->updated_ms >= seen.started_at;
  const bool reporting = current && now - status->updated_ms <= kSilentWorkerMs;
  if (!ensured.ok()) {
    n.status = NodeStatus::kFaulty;
    n.status_reason = ensured.message();
  } else if (!seen.running) {
    n.status = NodeStatus::kFaulty;
    n.status_reason = seen.down_reason.empty() ? "the worker is not running" : seen.down_reason;
  } else if (!current) {
    // The (re)started worker has not reported yet.
    n.status = seen.restarts > 0 && !seen.down_reason.empty() ? NodeStatus::kFaulty
                                                              : NodeStatus::kInitializing;
    if (n.status == NodeStatus::kFaulty) n.status_reason = "restarting after: " + seen.down_reason;
  } else {
    n.status = FromWorkerState(status->state);
    n.crawl = FromWorkerCrawl(status->crawl);
    n.status_reason = n.status == NodeStatus::kFaulty ? status->reason : "";
    if (n.status == NodeStatus::kActive && status->failures > 0)
      n.status_reason =
          fmt::format("{} changes not applied yet: {}", status->failures, status->reason);
    // Change capture blind somewhere (worker status capture_warning): data still flows, so
    // Active, with the reason on the node and a standing alert (below) while it lasts.
    if (n.status == NodeStatus::kActive && n.status_reason.empty())
      n.status_reason = status->capture_warning;
    // Not replicated on purpose: a note on an Active node, never Faulty.
    if (n.status == NodeStatus::kActive && n.status_reason.empty() &&
        status->skipped_special + status->skipped_xattrs > 0)
      n.status_reason = fmt::format(
          "not replicated: {} special files, {} entries' trusted.*/security.capability xattrs; "
          "e.g. {}",
          status->skipped_special, status->skipped_xattrs, status->skipped_reason);
    if (!reporting) {
      n.status = NodeStatus::kFaulty;
      n.status_reason = "the worker has not reported for over a minute";
    }
  }
  if (status.ok()) FiguresFromWorker(id, *status, reporting, now, n);
  // Checkpoint: complete once every change before it is applied (last synced passed it --
  // which an idle worker in step moves on every second). Completed, it stays so, with the
  // time it completed, while the checkpoint is the same: a worker that restarts or stops
  // does not take it back.
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(id));
  for (const auto& c : config) {
    if (c.option->key != "checkpoint" || c.value.empty() || c.value == "0") continue;
    n.checkpoint_time = std::atoll(c.value.c_str()) * 1000;
    if (n.checkpoint_time <= 0) continue;
    for (const auto& old : before.nodes) {
      if (old.checkpoint_completed && old.checkpoint_time == n.checkpoint_time) {
        n.checkpoint_completed = true;
        n.checkpoint_completion_time = old.checkpoint_completion_time;
      }
    }
    if (!n.checkpoint_completed && n.last_synced >= n.checkpoint_time) {
      n.checkpoint_completed = true;
      n.checkpoint_completion_time = n.last_synced;
    }
  }

  // The "change-capture" alert: raised and cleared by a worker's current status only.
  if (ensured.ok() && seen.running && status.ok() && status->updated_ms >= seen.started_at) {
    const bool on = !status->capture_warning.empty();
    const bool had = std::any_of(before.alerts.begin(), before.alerts.end(),
                                 [](const auto& x) { return x.kind == "change-capture"; });
    if (on || had)
      GEOREP_RETURN_IF_ERROR(ctx_.SetAlert(a, id, "change-capture", on,
                                           "change capture: " + status->capture_warning,
                                           "session.change_capture"));
  }
  GeoRepStatus reported;
  reported.source_volume = v.name;
  reported.remote_user =
      before.session.remote_user.empty() ? d.remote_user : before.session.remote_user;
  reported.destination_host = d.host;
  reported.destination_volume = before.session.destination_volume;
  reported.nodes.push_back(n);
  std::vector<GeoRepStatus> all = {reported};
  return ctx_.ApplyReportedStatus(a, id, &all, "the worker", "", asked_at, nullptr);
}

int DirectoryDriver::PollDirectorySessions(const Actor& a) {
  if (!ctx_.workers) return 0;
  auto sessions = ctx_.ListSessions({});
  if (!sessions.ok()) return 0;
  int polled = 0;
  std::set<std::string> live;
  for (const Session& s : *sessions) {
    auto v = ctx_.GetVolume(s.source_volume_id);
    if (!v.ok() || v->kind != VolumeKind::kDirectory) continue;
    live.insert(s.id);
    if (PollDirectorySession(a, s.id).ok()) ++polled;
  }
  // Workers of sessions that are gone.
  for (const auto& id : ctx_.workers->Supervised())
    if (!live.count(id)) ctx_.workers->Stop(id);
  return polled;
}

// ---------------------------------------------------------------- SessionDriver

Status DirectoryDriver::ValidateVolumeLayout(const VolumeSpec& spec) const {
  if (spec.bricks.size() != 1)
    return Status::InvalidArgument("a directory volume has exactly one host and path");
  if (spec.replica_count != 1 || spec.disperse_count != 0)
    return Status::InvalidArgument("a directory volume has no replica or disperse sets");
  return Status::Ok();
}

Status DirectoryDriver::ValidateVolumePlace(const VolumeSpec& spec) const {
  if (ctx_.volume_roots_set) {
    GEOREP_RETURN_IF_ERROR(
        CheckUnderVolumeRoots("the directory", spec.bricks.at(0).path, ctx_.volume_roots)
            .WithField("path"));
  }
  return CheckVolumeDirectory(spec);
}

Status DirectoryDriver::ValidateDestinationName(const std::string& destination_volume) const {
  return ValidateAbsolutePath("destination path", destination_volume)
      .WithField("destination_volume");
}

// A directory session's destination may never point where it hurts (model/path_guard.h).
Status DirectoryDriver::Create(const Session& s, const Volume& v, const Destination& d,
                               const SessionCreateOptions& options, SessionCreation&,
                               SessionDetail& out) {
  GEOREP_RETURN_IF_ERROR(ValidateAbsolutePath("destination path", s.destination_volume)
                             .WithField("destination_volume"));
  GEOREP_RETURN_IF_ERROR(ctx_.CheckDestinationUnused(d, s.destination_volume));
  bool not_empty = false;
  GEOREP_RETURN_IF_ERROR(CheckDirectoryDestination(s, v, d, &not_empty));
  // As gluster's create refuses a destination volume that is not empty, unless forced.
  if (not_empty && !options.force) return NotEmptyRefusal(s, d);
  // Recorded in the create event: start then does not ask again.
  if (not_empty)
    out.warnings.push_back(
        fmt::format("destination directory {} {}: the first sync makes it a copy of the "
                    "source: what the source does not have is deleted there; a file with the "
                    "source's size and modification time is taken as equal and kept (as "
                    "rsync judges) -- verify compares contents",
                    s.destination_volume, kForcedNotEmpty));
  return Status::Ok();
}

Result<std::string> DirectoryDriver::RunAction(const SessionDetail& s, const Volume& v,
                                               SessionAction action, bool force,
                                               std::optional<Preflight>&) {
  GEOREP_RETURN_IF_ERROR(RunDirectoryAction(s.session, v, action, force));
  return std::string(Name(action));
}

Status DirectoryDriver::DeleteForRemoval(const Session& s, const Volume&,
                                         const SessionRemoval& how) {
  // A forced removal of a running session stops its worker.
  if (ctx_.workers && (how.allowed || how.force)) ctx_.workers->Stop(s.id);
  return Status::Ok();
}

// Its worker's state (index, status, logs) goes with it, here and on an ssh source host.
void DirectoryDriver::ForgetRemoved(const Session& s, const Volume& v) {
  {
    std::lock_guard<std::mutex> lock(rates_mu_);
    rates_.erase(s.id);
  }
  if (!ctx_.workers) return;
  const std::string trusted = TrustedSourceWorkerKey(s.id);
  std::error_code ec;
  std::filesystem::remove_all(ctx_.workers->StateDir(s.id), ec);
  RemoveRemoteWorkerState(v, s.id);
  if (!trusted.empty()) RevokeSourceWorkerKey(s, v, trusted);
}

// The worker reads its config at start: nothing to tell anyone now.
Status DirectoryDriver::ApplyConfig(const Session&, const Volume&, const ConfigOption&,
                                    const std::string&, bool, ConfigItem&,
                                    std::optional<Preflight>&) {
  return Status::Ok();
}

Status DirectoryDriver::ResetConfig(const Session&, const Volume&, const ConfigOption&) {
  return Status::Ok();
}

// The monitor polls the worker (PollDirectorySession); a refresh shows what it recorded.
Result<SessionDetail> DirectoryDriver::Refresh(const Actor&, const Session& s, const Volume&) {
  return ctx_.GetSession(s.id);
}

// georep's own engine measures lag and throughput per node (FiguresFromWorker); a lag recorded
// while a change was pending is read as it is now. The session's are its node's.
Status DirectoryDriver::FillHealth(StoreTx&, const Volume&, SessionDetail& d) {
  const int64_t now = ctx_.clock.NowMillis();
  for (auto& n : d.nodes) n.lag_ms = NodeLagNow(n, now);
  d.lag_ms = SessionLag(d.nodes);
  d.throughput_bps = SessionThroughput(d.nodes);
  return Status::Ok();
}

void DirectoryDriver::FiguresFromWorker(const std::string& id,
                                        const replication::WorkerStatus& status, bool reporting,
                                        int64_t now, SessionNodeStatus& n) {
  n.last_synced = status.last_synced_ms;
  n.entry_pending = static_cast<int64_t>(status.pending_entry);
  n.data_pending = static_cast<int64_t>(status.pending_data);
  n.meta_pending = static_cast<int64_t>(status.pending_meta);
  n.failures = static_cast<int64_t>(status.failures);
  // Lag: a change was pending when the worker wrote it -- it has grown since, whether the
  // worker is still at it, silent or gone (the next run counts on from it too). Nothing
  // pending: 0 while the worker reports, as measured; unknown otherwise (nobody watches).
  n.lag_ms = -1;
  n.lag_grows = false;
  if (status.lag_ms >= 0 && status.oldest_pending_ms != 0) {
    n.lag_ms = status.lag_ms + std::max<int64_t>(0, now - status.updated_ms);
    n.lag_grows = true;
  } else if (reporting && status.lag_ms >= 0) {
    n.lag_ms = status.lag_ms;
  }
  // Throughput: what the worker applied, over the window of its reports.
  std::lock_guard<std::mutex> lock(rates_mu_);
  ThroughputWindow& window = rates_[id];
  if (reporting && status.bytes_applied >= 0) window.Add(status.updated_ms, status.bytes_applied);
  n.throughput_bps = reporting ? window.BytesPerSecond(now) : -1;
}

void DirectoryDriver::FiguresWithoutWorker(const std::string& id, SessionNodeStatus& n) {
  {
    std::lock_guard<std::mutex> lock(rates_mu_);
    rates_.erase(id);
  }
  n.throughput_bps = 0;
  n.lag_ms = -1;
  n.lag_grows = false;
  auto status = replication::ReadWorkerStatus(ctx_.workers->StateDir(id));
  if (status.ok()) {
    FiguresFromWorker(id, *status, false, ctx_.clock.NowMillis(), n);
    n.throughput_bps = 0;
    std::lock_guard<std::mutex> lock(rates_mu_);
    rates_.erase(id);
  }
}

Result<replication::VerifyReport> DirectoryDriver::Verify(const Session& s, const Volume& v,
                                                          const Destination& d,
                                                          const std::vector<ConfigItem>& config,
                                                          const replication::VerifyOptions& o) {
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(v.bricks.at(0).host_id));
  const bool remote = src.transport != HostTransport::kLocal;
  if (d.ssh_fingerprint.empty() && !remote)
    return replication::VerifyTrees(v.bricks.at(0).path, s.destination_volume, o);
  // Over ssh: the destination describes itself while the source is described where it is.
  const replication::DescribeOptions describe{o.sample_percent, o.excludes, o.cancel};
  auto there = std::async(std::launch::async,
                          [&] { return DescribeDestination(s, d, config, describe, &src); });
  auto here = remote ? DescribeSource(src, v, config, describe)
                     : replication::DescribeTreeForVerify(v.bricks.at(0).path, describe);
  auto destination = there.get();
  if (!here.ok()) return here.status();
  if (!destination.ok()) return destination.status();
  return replication::CompareTreeDescriptions(*here, *destination, o);
}

Status DirectoryDriver::CheckRepairable(const Session&, const Volume& v) {
  if (!ctx_.workers) {
    return Status::FailedPrecondition(
        "repair is for sessions of georep's own engine (directory volumes); a gluster "
        "session's destination is repaired by gsyncd's own full sync");
  }
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(v.bricks.at(0).host_id));
  if (src.transport != HostTransport::kLocal) {
    return Status::FailedPrecondition(
        "repair of a session whose source is on another host is not supported yet");
  }
  return Status::Ok();
}

Status DirectoryDriver::CarryOutRepair(const Session& s, const replication::RepairRequest& request,
                                       std::chrono::milliseconds timeout) {
  const std::string state_dir = ctx_.workers->StateDir(s.id);
  GEOREP_RETURN_IF_ERROR(replication::WriteRepairRequest(state_dir, request));
  // The worker takes it in between passes, or at its start: a full pass then carries it
  // out, and its status names it.
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto status = replication::ReadWorkerStatus(state_dir);
    if (status.ok() && status->repaired == request.id) return Status::Ok();
    if (std::chrono::steady_clock::now() >= until) {
      return Status::Unavailable(fmt::format(
          "the worker has not carried out the repair within {} s{}", timeout.count() / 1000,
          status.ok() && !status->reason.empty() ? ": " + status->reason : std::string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status DirectoryDriver::TestDestination(const Destination& d, const std::vector<Host>&,
                                        DestinationCheck& out) {
  auto source_host = ctx_.GetHost(d.source_host_id);
  // A destination on this machine: no ssh.
  if (d.ssh_fingerprint.empty() && source_host.ok() &&
      source_host->transport == HostTransport::kLocal)
    return CheckLocalDestination(d, *source_host, out);
  return CheckSshDirectoryDestination(d, out);
}

Status DirectoryDriver::ReestablishDestination(const Destination& d) {
  std::vector<std::string> problems;
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ctx_.ListSessions({"", d.id}));
  for (const Session& s : sessions) {
    auto v = ctx_.GetVolume(s.source_volume_id);
    Status prepared = v.ok() ? PrepareRemoteSource(s, *v, d) : v.status();
    if (!prepared.ok())
      problems.push_back(fmt::format("session {}: {}", s.session_key, prepared.message()));
  }
  DestinationCheck check;
  GEOREP_RETURN_IF_ERROR(TestDestination(d, {}, check));
  problems.insert(problems.end(), check.problems.begin(), check.problems.end());
  if (problems.empty()) return Status::Ok();
  return Status::FailedPrecondition(fmt::format("{}", fmt::join(problems, "; ")));
}

}  // namespace georep
