// DirectoryDriver's checks of a destination (directory_driver.h): the path guards of a
// session's destination (model/path_guard.h), asked on the hosts where the paths are, and
// Test's checks of a destination on this machine or over ssh (georep's agent there).
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
#include "engine/directory_driver.h"
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

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

// Where a worker on an ssh source host keeps its state: relative to the ssh user's home, where

// One path probe (model/path_guard.h) per machine: how to reach it, the paths asked there,
// and its answer.
struct Probe {
  MachineIdentity machine;
  std::function<Result<std::unique_ptr<CommandRunner>>()> reach;
  std::vector<std::string> paths;
  Result<PathProbeAnswer> answer = Status::Internal("not asked");
  const char* name = kPathProbeName;  // the script's $0: what a process list there shows
};

// Runs the path probe for `paths` where `reach` leads.
Result<PathProbeAnswer> RunPathProbe(const Probe& p) {
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<CommandRunner> runner, p.reach());
  CommandSpec spec{{"sh", "-c", kPathProbeScript, p.name}};
  spec.argv.insert(spec.argv.end(), p.paths.begin(), p.paths.end());
  spec.timeout = std::chrono::seconds(15);
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, runner->Run(spec));
  if (r.timed_out) return Status::Unavailable("the host did not answer within 15 s");
  if (r.exit_code != 0) return Status::Unavailable(FirstLine(r.err));
  return ParsePathProbe(r.out, p.paths);
}

// Asks every probe at once; a machine that cannot be asked keeps its error as the answer.
void AskPathProbes(std::map<std::string, Probe>& probes) {
  std::vector<std::pair<Probe*, std::future<Result<PathProbeAnswer>>>> running;
  for (auto& [key, probe] : probes) {
    Probe* p = &probe;
    running.emplace_back(p, std::async(std::launch::async, [p] { return RunPathProbe(*p); }));
  }
  for (auto& [p, answer] : running) {
    p->answer = answer.get();
    if (!p->answer.ok()) {
      spdlog::warn(
          "msg=\"paths compared as written: the host could not be asked\" paths={} "
          "error={}",
          LogValue(fmt::format("{}", fmt::join(p->paths, " "))),
          LogValue(p->answer.status().message()));
    }
  }
}

}  // namespace

Status DirectoryDriver::CheckVolumeDirectory(const VolumeSpec& spec) const {
  if (!ctx_.hosts) return Status::Ok();  // an engine that reaches no host adds as told
  const std::string& path = spec.bricks.at(0).path;
  auto host = ctx_.GetHost(spec.bricks.at(0).host_id);
  if (!host.ok() || host->cluster_id != spec.cluster_id) return Status::Ok();
  Probe probe;
  probe.paths = {path};
  probe.name = kVolumeCheckName;
  probe.reach = [this, h = *host]() -> Result<std::unique_ptr<CommandRunner>> {
    return ctx_.hosts->RunnerFor(h);
  };
  auto answer = RunPathProbe(probe);
  if (!answer.ok()) {
    return Status::Unavailable(fmt::format("cannot check that {} is a directory on host {}: {}",
                                           path, host->name, answer.status().message()));
  }
  const ResolvedPath& r = answer->paths.at(0);
  if (!r.exists) {
    return Status::InvalidArgument(
               fmt::format("{} does not exist on host {}; create the directory first", path,
                           host->name))
        .WithField("path");
  }
  if (!r.listed) {
    return Status::InvalidArgument(
               fmt::format("{} on host {} is not a directory georep can read", path, host->name))
        .WithField("path");
  }
  return Status::Ok();
}

Status DirectoryDriver::CheckDirectoryDestination(const Session& s, const Volume& v,
                                                  const Destination& d, bool* not_empty) {
  if (not_empty) *not_empty = false;
  if (v.kind != VolumeKind::kDirectory || v.bricks.empty()) return Status::Ok();
  // One probe per host (the engine's machine, each ssh source host, each destination account),
  // all run at once; a host that cannot be asked has its paths compared as written, and by
  // how georep knows the host.
  std::map<std::string, Probe> probes;
  struct Wanted {
    std::string probe;
    GuardedTree tree;
  };
  std::vector<Wanted> wanted;  // the destination, its source, the data directory, the others
  auto engine_machine = [&]() -> std::string {
    Probe& p = probes["engine"];
    p.machine.engine = true;
    p.reach = [this]() -> Result<std::unique_ptr<CommandRunner>> {
      if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
      Host here;
      here.name = "localhost";
      here.transport = HostTransport::kLocal;
      return ctx_.hosts->RunnerFor(here);
    };
    return "engine";
  };
  auto want = [&](const std::string& probe, std::string what, std::string host,
                  const std::string& path, bool source) {
    probes[probe].paths.push_back(path);
    GuardedTree t;
    t.what = std::move(what);
    t.host = std::move(host);
    t.source = source;
    t.path.path = t.path.real = path;
    wanted.push_back({probe, std::move(t)});
  };
  auto want_source = [&](const Volume& vol, std::string what, bool source) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Host h, ctx_.GetHost(vol.bricks.at(0).host_id));
    std::string key = "host:" + h.id;
    if (h.transport == HostTransport::kLocal) {
      key = engine_machine();
    } else {
      Probe& p = probes[key];
      p.machine.host_id = h.id;
      p.machine.address = h.address;
      p.machine.fingerprint = h.ssh_fingerprint;
      p.reach = [this, h]() -> Result<std::unique_ptr<CommandRunner>> {
        if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
        return ctx_.hosts->RunnerFor(h);
      };
    }
    want(key, std::move(what), h.name, vol.bricks[0].path, source);
    return Status::Ok();
  };
  auto want_destination = [&](const Session& sess, const Volume& vol, const Destination& dest,
                              std::string what) {
    std::string key;
    if (dest.ssh_fingerprint.empty()) {
      key = engine_machine();
    } else {
      const Host there = DestinationHost(sess, dest);
      key = fmt::format("destination:{}@{}:{}", there.ssh_user, there.address, there.ssh_port);
      Probe& p = probes[key];
      p.machine.address = dest.host;
      p.machine.fingerprint = dest.ssh_fingerprint;
      Host relay;
      relay.transport = HostTransport::kLocal;
      if (auto h = ctx_.GetHost(vol.bricks.at(0).host_id); h.ok()) relay = *h;
      p.reach = [this, there, relay]() -> Result<std::unique_ptr<CommandRunner>> {
        GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> r,
                                ctx_.DestinationRunner(there, relay));
        return std::unique_ptr<CommandRunner>(std::move(r));
      };
    }
    want(key, std::move(what), dest.host, sess.destination_volume, false);
  };

  want_destination(s, v, d, "destination");
  GEOREP_RETURN_IF_ERROR(want_source(v, "the source volume's directory", true));
  if (!ctx_.data_dir.empty())
    want(engine_machine(), "the engine's data directory", "the engine's machine", ctx_.data_dir,
         false);
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ctx_.ListSessions({}));
  for (const Session& other : sessions) {
    if (other.id == s.id) continue;
    auto ov = ctx_.GetVolume(other.source_volume_id);
    auto od = ctx_.GetDestination(other.destination_id);
    if (!ov.ok() || !od.ok() || ov->kind != VolumeKind::kDirectory || ov->bricks.empty()) continue;
    GEOREP_RETURN_IF_ERROR(
        want_source(*ov, fmt::format("session {}'s source directory", other.session_key), true));
    want_destination(other, *ov, *od, fmt::format("session {}'s destination", other.session_key));
  }

  AskPathProbes(probes);
  // Each tree with what its host said, in the order asked there.
  std::map<std::string, size_t> next;
  for (Wanted& w : wanted) {
    Probe& p = probes[w.probe];
    const size_t i = next[w.probe]++;
    w.tree.machine = p.machine;
    if (!p.answer.ok()) continue;
    w.tree.machine.boot_id = p.answer->boot_id;
    w.tree.machine.mount_ns = p.answer->mount_ns;
    if (i < p.answer->paths.size()) w.tree.path = p.answer->paths[i];
  }
  GuardedTree data_dir;
  std::vector<GuardedTree> others;
  for (size_t i = 2; i < wanted.size(); ++i) {
    if (!ctx_.data_dir.empty() && i == 2)
      data_dir = wanted[i].tree;
    else
      others.push_back(wanted[i].tree);
  }
  if (not_empty) *not_empty = wanted[0].tree.path.listed && !wanted[0].tree.path.empty;
  GEOREP_RETURN_IF_ERROR(CheckDestinationPath(wanted[0].tree, wanted[1].tree, others, data_dir));
  if (ctx_.volume_roots_set) {
    // As written and as resolved: a symlink under a root may not lead out of every root.
    for (const Wanted* w : {&wanted[1], &wanted[0]}) {
      GEOREP_RETURN_IF_ERROR(
          CheckUnderVolumeRoots(w->tree.what, w->tree.path.path, ctx_.volume_roots));
      if (w->tree.path.resolved && w->tree.path.real != w->tree.path.path) {
        GEOREP_RETURN_IF_ERROR(CheckUnderVolumeRoots(w->tree.what + " (its real path)",
                                                     w->tree.path.real, ctx_.volume_roots));
      }
    }
  }
  return Status::Ok();
}

namespace {

// Per path (an argument): "X PATH" when it exists and is not a directory, else "D KIND W FREE
// DIR" -- KIND "dir" (DIR is the path) or "parent" (DIR is its parent: the agent creates the
// path there; "missing" when that is no directory either), W 1 when DIR is writable, FREE the
// kilobytes available there ("?" unknown).
constexpr const char* kDestinationCheckScript =
    "for p in \"$@\"; do "
    "if [ -d \"$p\" ]; then t=$p; k=dir; "
    "elif [ -e \"$p\" ] || [ -L \"$p\" ]; then printf 'X %s\\n' \"$p\"; continue; "
    "else t=$(dirname -- \"$p\"); k=parent; [ -d \"$t\" ] || k=missing; fi; "
    "if [ -w \"$t\" ]; then w=1; else w=0; fi; "
    "f=$(df -Pk -- \"$t\" 2>/dev/null | awk 'NR==2 {print $4}'); "
    "printf 'D %s %s %s %s\\n' \"$k\" \"$w\" \"${f:-?}\" \"$t\"; "
    "done; echo E";
constexpr const char* kDestinationCheckName = "georep-destination-check";
// Less free space than this is a problem; less than kLowSpaceKb a warning.
constexpr int64_t kNoSpaceKb = int64_t{64} * 1024;
constexpr int64_t kLowSpaceKb = int64_t{1024} * 1024;

}  // namespace

Status DirectoryDriver::CheckSshDirectoryDestination(const Destination& d, DestinationCheck& out) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ctx_.ListSessions({"", d.id}));
  // One account per session (its remote user); each checked once, with its sessions' paths.
  struct Account {
    Session first;
    std::vector<std::string> paths;
  };
  std::map<std::string, Account> accounts;
  for (const Session& s : sessions) {
    const std::string user = s.remote_user.empty() ? d.remote_user : s.remote_user;
    auto [it, fresh] = accounts.try_emplace(user);
    if (fresh) it->second.first = s;
    it->second.paths.push_back(s.destination_volume);
  }
  if (accounts.empty()) {  // no session yet: the destination's own account
    Session none;
    accounts[d.remote_user].first = none;
  }
  Host relay;
  relay.transport = HostTransport::kLocal;
  if (auto src = ctx_.GetHost(d.source_host_id); src.ok()) relay = *src;
  for (auto& [user, account] : accounts) {
    const Host there = DestinationHost(account.first, d);
    const std::string where = fmt::format("{}@{}", there.ssh_user, d.host);
    GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> runner,
                            ctx_.DestinationRunner(there, relay));
    // 1. Reached with the pinned host key (the runner checks it), and the agent runs there.
    std::vector<std::string> agent = {"georep", "agent"};
    if (!account.first.id.empty()) {
      GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(account.first.id));
      for (const auto& c : config)
        if (c.option->key == "remote-command" && !c.value.empty()) agent = SplitWords(c.value);
    }
    CommandSpec version{agent};
    version.argv.push_back("--version");
    version.timeout = std::chrono::seconds(30);
    version.max_output_bytes = 4096;
    auto v = runner->Run(version);
    if (!v.ok() || (v->exit_code == 255 && !v->timed_out)) {
      out.problems.push_back(fmt::format("cannot reach {} over ssh: {}", where,
                                         v.ok() ? FirstLine(v->err) : v.status().message()));
      continue;
    }
    if (runner->relayed())
      out.warnings.push_back(
          fmt::format("the engine reaches {} only through {}", d.host, runner->relay_name()));
    const std::string command = fmt::format("{}", fmt::join(agent, " "));
    if (v->timed_out || v->exit_code != 0 || v->out.empty()) {
      out.problems.push_back(fmt::format("`{} --version` does not run on {} (exit {}): {}", command,
                                         where, v->exit_code,
                                         FirstLine(v->err.empty() ? v->out : v->err)));
      continue;
    }
    // 2. Each path: a writable directory, or creatable in one; and room there.
    if (account.paths.empty()) continue;
    CommandSpec check{{"sh", "-c", kDestinationCheckScript, kDestinationCheckName}};
    check.argv.insert(check.argv.end(), account.paths.begin(), account.paths.end());
    check.timeout = std::chrono::seconds(30);
    auto r = runner->Run(check);
    if (!r.ok() || r->timed_out || r->exit_code != 0 || r->out.find("\nE") == std::string::npos) {
      out.problems.push_back(fmt::format("cannot check the destination paths on {}: {}", where,
                                         !r.ok()        ? r.status().message()
                                         : r->timed_out ? "timed out"
                                                        : FirstLine(r->err)));
      continue;
    }
    std::istringstream lines(r->out);
    std::string line;
    size_t i = 0;
    while (std::getline(lines, line) && i < account.paths.size()) {
      const std::string& path = account.paths[i];
      if (line.starts_with("X ")) {
        out.problems.push_back(
            fmt::format("destination {} on {} exists and is not a directory", path, where));
        ++i;
        continue;
      }
      if (!line.starts_with("D ")) continue;
      ++i;
      std::istringstream words(line.substr(2));
      std::string kind, writable, free_kb, dir;
      words >> kind >> writable >> free_kb;
      std::getline(words >> std::ws, dir);
      if (kind == "missing") {
        out.problems.push_back(fmt::format(
            "destination directory {} on {} does not exist and cannot be created: {} is not a "
            "directory",
            path, where, dir));
        continue;
      }
      if (writable != "1") {
        out.problems.push_back(
            kind == "dir"
                ? fmt::format("destination directory {} on {} is not writable", path, where)
                : fmt::format("destination directory {} on {} does not exist and cannot be "
                              "created: {} is not writable",
                              path, where, dir));
        continue;
      }
      const int64_t free = free_kb == "?" ? -1 : std::atoll(free_kb.c_str());
      if (free >= 0 && free < kNoSpaceKb) {
        out.problems.push_back(fmt::format("the file system of {} on {} is full ({} MiB free)",
                                           path, where, free / 1024));
      } else if (free >= 0 && free < kLowSpaceKb) {
        out.warnings.push_back(fmt::format("the file system of {} on {} has only {} MiB free", path,
                                           where, free / 1024));
      }
    }
  }
  return Status::Ok();
}

Status DirectoryDriver::CheckLocalDestination(const Destination& d, const Host& source,
                                              DestinationCheck& out) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ctx_.ListSessions({"", d.id}));
  auto runner = ctx_.hosts->RunnerFor(source);
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

}  // namespace georep
