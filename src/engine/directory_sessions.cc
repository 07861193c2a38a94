// Sessions of directory volumes: georep's own replication engine. Start runs a `georep worker`
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
#include "engine/operations.h"
#include "engine/worker_supervisor.h"
#include "gluster/cli_xml.h"
#include "host/ssh_transport.h"
#include "model/command_options.h"
#include "model/names.h"
#include "model/path_guard.h"
#include "replication/repair_request.h"
#include "replication/replicator.h"

namespace georep {
namespace {

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

// How long `georep agent --describe` may take at the destination (it reads every sampled byte).
constexpr std::chrono::milliseconds kDescribeTimeout = std::chrono::hours(2);

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

// Where a worker on an ssh source host keeps its state: relative to the ssh user's home, where
// commands over ssh start (for ssh's own options, which expand "~", kRemoteSshDir).
constexpr const char* kRemoteStateRoot = ".local/state/georep";
constexpr const char* kRemoteSshDir = "~/.local/state/georep/ssh";

// Beside a session's worker state on the engine's host: the source host's worker key its
// destination was told to accept ("restrict KEY"), for the revocation at removal.
std::string TrustedKeyFile(const std::string& state_dir) {
  return state_dir + "/source-worker-key.pub";
}

std::string RemoteStateDir(const std::string& session_id) {
  return std::string(kRemoteStateRoot) + "/workers/" + session_id;
}

// The source host's copy of the destination's pinned key: named after the engine's file (host
// and port) and the pinned fingerprint, so that a re-pin changes the worker's command line
// (and the engine prepares the host again before it restarts the worker).
std::string RemoteKnownHostsName(const std::string& engine_known_hosts, const std::string& pinned) {
  std::string name = engine_known_hosts.substr(engine_known_hosts.rfind('/') + 1) + "-";
  const std::string fp = pinned.rfind("SHA256:", 0) == 0 ? pinned.substr(7) : pinned;
  for (char c : fp)
    if (std::isalnum(static_cast<unsigned char>(c)) && name.size() < 200) name += c;
  return name;
}

// The georep on an ssh source host, as words: the source-command config.
std::vector<std::string> SourceCommand(const std::vector<ConfigItem>& config) {
  std::vector<std::string> words;
  for (const auto& c : config)
    if (c.option->key == "source-command") words = SplitWords(c.value);
  if (words.empty()) words = {"georep"};
  return words;
}

}  // namespace

void Operations::SetWorkerSupervisor(WorkerSupervisor* workers, std::string georep_binary) {
  workers_ = workers;
  georep_binary_ = std::move(georep_binary);
  if (!workers_) return;
  // Every restart between the monitor's polls is checked as a start is (model/path_guard.h).
  workers_->SetRestartGuard([this](const std::string& id) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
    if (!WantsWorker(s.status)) return Status::FailedPrecondition("the session is not running");
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
    return CheckDirectoryDestination(s, v, d);
  });
  // A worker's end is shown (Faulty, with its reason and an event) when it happens.
  workers_->SetEndListener([this](const std::string& id) {
    const Actor monitor{"monitor", Role::kAdmin};
    auto polled = PollDirectorySession(monitor, id);
    if (!polled.ok())
      spdlog::warn("msg=\"worker ended\" session={} error={}", id,
                   LogValue(polled.status().message()));
  });
}

Result<std::vector<std::string>> Operations::WorkerArgv(const Session& s, const Volume& v,
                                                        const Destination& d) {
  if (!workers_) return Status::FailedPrecondition("this engine does not run workers");
  GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(v.bricks.at(0).host_id));
  const bool remote = src.transport != HostTransport::kLocal;
  if (remote && d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(fmt::format(
        "directory volume '{}' is on ssh host '{}' while destination '{}' is a path on the "
        "engine's machine, which a worker on '{}' cannot write to: attach the destination as a "
        "host reached over ssh",
        v.name, src.name, d.host, src.name));
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(s.id));
  auto value = [&](std::string_view key) -> std::string {
    for (const auto& c : config)
      if (c.option->key == key) return c.value;
    return "";
  };
  std::vector<std::string> argv =
      remote ? SourceCommand(config) : std::vector<std::string>{georep_binary_};
  argv.insert(
      argv.end(),
      {"worker", "--source", v.bricks[0].path, "--state-dir",
       remote ? RemoteStateDir(s.id) : workers_->StateDir(s.id), "--durability",
       value("durability").empty() ? "batch" : value("durability"), "--rescan-interval",
       value("rescan-interval").empty() ? "3600" : value("rescan-interval"), "--change-capture",
       value("change-capture").empty() ? "auto" : value("change-capture")});
  if (d.ssh_fingerprint.empty()) {
    argv.insert(argv.end(), {"--destination", s.destination_volume});
  } else {
    GEOREP_ASSIGN_OR_RETURN(DestinationSsh ssh, SshToDestination(s, d, config, remote));
    argv.insert(argv.end(),
                {"--destination", fmt::format("{}::{}", ssh.user_host, s.destination_volume),
                 "--ssh-command", ssh.ssh_command, "--ssh-port", std::to_string(ssh.port),
                 "--remote-command", ssh.remote_command});
  }
  if (value("compression") == "zstd") argv.push_back("--compress");
  if (value("ignore-deletes") == "true") argv.push_back("--ignore-deletes");
  if (value("sync-xattrs") == "false") argv.push_back("--no-xattrs");
  if (value("sync-acls") == "false") argv.push_back("--no-acls");
  if (std::string level = value("log-level"); !level.empty()) {
    std::transform(level.begin(), level.end(), level.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    argv.insert(argv.end(), {"--log-level", level});
  }
  if (const std::string jobs = value("sync-jobs"); !jobs.empty() && jobs != "1")
    argv.insert(argv.end(), {"--sync-jobs", jobs});
  if (const std::string bw = value("bandwidth-limit"); !bw.empty() && bw != "0")
    argv.insert(argv.end(), {"--bandwidth-limit", bw});
  if (const std::string ex = value("exclude"); !ex.empty()) {
    size_t start = 0;
    while (start <= ex.size()) {
      size_t comma = ex.find(',', start);
      std::string pattern =
          ex.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!pattern.empty()) argv.insert(argv.end(), {"--exclude", pattern});
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (!remote) return argv;
  // On the source host, through worker-link: the engine's key and the host's pinned key.
  argv.insert(argv.end(), {"--status-stdout", "--stop-on-stdin-eof"});
  GEOREP_ASSIGN_OR_RETURN(std::vector<std::string> options, hosts_->SshClientOptions(src));
  std::vector<std::string> link = {georep_binary_, "worker-link",
                                   "--state-dir",  workers_->StateDir(s.id),
                                   "--where",      fmt::format("{}@{}", src.ssh_user, src.address),
                                   "--",           "ssh"};
  link.insert(link.end(), options.begin(), options.end());
  // A source host that stops answering ends the link within about a minute (Faulty, then a
  // restart); the worker there sees its stdin end and stops.
  link.insert(link.end(), {"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-p",
                           std::to_string(src.ssh_port), "-l", src.ssh_user, "--", src.address});
  // ssh hands the command to the remote user's shell: every word is quoted.
  for (const auto& w : argv) link.push_back(ShellQuote(w));
  return link;
}

Status Operations::NotEmptyRefusal(const Session& s, const Destination& d) {
  const std::string where = d.ssh_fingerprint.empty()
                                ? s.destination_volume
                                : fmt::format("{}::{}", d.host, s.destination_volume);
  return Status::FailedPrecondition(fmt::format(
      "not-empty: destination directory {} is not empty; the first sync makes it a copy of "
      "the source, deleting what the source does not have -- use force to do so",
      where));
}

Status Operations::CheckDirectoryDestination(const Session& s, const Volume& v,
                                             const Destination& d, bool* not_empty) {
  if (not_empty) *not_empty = false;
  if (v.kind != VolumeKind::kDirectory || v.bricks.empty()) return Status::Ok();
  // One probe per host (the engine's machine, each ssh source host, each destination account),
  // all run at once; a host that cannot be asked has its paths compared as written, and by
  // how georep knows the host.
  struct Probe {
    MachineIdentity machine;
    std::function<Result<std::unique_ptr<CommandRunner>>()> reach;
    std::vector<std::string> paths;
    Result<PathProbeAnswer> answer = Status::Internal("not asked");
  };
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
      if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
      Host here;
      here.name = "localhost";
      here.transport = HostTransport::kLocal;
      return hosts_->RunnerFor(here);
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
    GEOREP_ASSIGN_OR_RETURN(Host h, GetHost(vol.bricks.at(0).host_id));
    std::string key = "host:" + h.id;
    if (h.transport == HostTransport::kLocal) {
      key = engine_machine();
    } else {
      Probe& p = probes[key];
      p.machine.host_id = h.id;
      p.machine.address = h.address;
      p.machine.fingerprint = h.ssh_fingerprint;
      p.reach = [this, h]() -> Result<std::unique_ptr<CommandRunner>> {
        if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
        return hosts_->RunnerFor(h);
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
      if (auto h = GetHost(vol.bricks.at(0).host_id); h.ok()) relay = *h;
      p.reach = [this, there, relay]() -> Result<std::unique_ptr<CommandRunner>> {
        GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> r, DestinationRunner(there, relay));
        return std::unique_ptr<CommandRunner>(std::move(r));
      };
    }
    want(key, std::move(what), dest.host, sess.destination_volume, false);
  };

  want_destination(s, v, d, "destination");
  GEOREP_RETURN_IF_ERROR(want_source(v, "the source volume's directory", true));
  if (!data_dir_.empty())
    want(engine_machine(), "the engine's data directory", "the engine's machine", data_dir_, false);
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ListSessions({}));
  for (const Session& other : sessions) {
    if (other.id == s.id) continue;
    auto ov = GetVolume(other.source_volume_id);
    auto od = GetDestination(other.destination_id);
    if (!ov.ok() || !od.ok() || ov->kind != VolumeKind::kDirectory || ov->bricks.empty()) continue;
    GEOREP_RETURN_IF_ERROR(
        want_source(*ov, fmt::format("session {}'s source directory", other.session_key), true));
    want_destination(other, *ov, *od, fmt::format("session {}'s destination", other.session_key));
  }

  std::vector<std::pair<Probe*, std::future<Result<PathProbeAnswer>>>> running;
  for (auto& [key, probe] : probes) {
    Probe* p = &probe;
    running.emplace_back(p, std::async(std::launch::async, [p]() -> Result<PathProbeAnswer> {
                           GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<CommandRunner> runner,
                                                   p->reach());
                           CommandSpec spec{{"sh", "-c", kPathProbeScript, kPathProbeName}};
                           spec.argv.insert(spec.argv.end(), p->paths.begin(), p->paths.end());
                           spec.timeout = std::chrono::seconds(15);
                           GEOREP_ASSIGN_OR_RETURN(CommandResult r, runner->Run(spec));
                           if (r.exit_code != 0 || r.timed_out)
                             return Status::Unavailable(FirstLine(r.err));
                           return ParsePathProbe(r.out, p->paths);
                         }));
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
    if (!data_dir_.empty() && i == 2)
      data_dir = wanted[i].tree;
    else
      others.push_back(wanted[i].tree);
  }
  if (not_empty) *not_empty = wanted[0].tree.path.listed && !wanted[0].tree.path.empty;
  GEOREP_RETURN_IF_ERROR(CheckDestinationPath(wanted[0].tree, wanted[1].tree, others, data_dir));
  if (volume_roots_set_) {
    // As written and as resolved: a symlink under a root may not lead out of every root.
    for (const Wanted* w : {&wanted[1], &wanted[0]}) {
      GEOREP_RETURN_IF_ERROR(CheckUnderVolumeRoots(w->tree.what, w->tree.path.path, volume_roots_));
      if (w->tree.path.resolved && w->tree.path.real != w->tree.path.path) {
        GEOREP_RETURN_IF_ERROR(CheckUnderVolumeRoots(w->tree.what + " (its real path)",
                                                     w->tree.path.real, volume_roots_));
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

Status Operations::CheckSshDirectoryDestination(const Destination& d, DestinationCheck& out) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ListSessions({"", d.id}));
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
  if (auto src = GetHost(d.source_host_id); src.ok()) relay = *src;
  for (auto& [user, account] : accounts) {
    const Host there = DestinationHost(account.first, d);
    const std::string where = fmt::format("{}@{}", there.ssh_user, d.host);
    GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> runner,
                            DestinationRunner(there, relay));
    // 1. Reached with the pinned host key (the runner checks it), and the agent runs there.
    std::vector<std::string> agent = {"georep", "agent"};
    if (!account.first.id.empty()) {
      GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(account.first.id));
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

Host Operations::DestinationHost(const Session& s, const Destination& d) {
  Host dest;
  dest.name = dest.address = d.host;
  dest.ssh_port = d.ssh_port;
  dest.ssh_user = s.remote_user.empty() ? d.remote_user : s.remote_user;
  dest.transport = HostTransport::kSsh;
  dest.ssh_fingerprint = d.ssh_fingerprint;
  return dest;
}

Status Operations::PrepareRemoteSource(const Session& s, const Volume& v, const Destination& d) {
  GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(v.bricks.at(0).host_id));
  if (src.transport == HostTransport::kLocal || d.ssh_fingerprint.empty())
    return Status::Ok();  // nothing to prepare, or WorkerArgv says why it cannot run
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(s.id));
  const std::vector<std::string> georep = SourceCommand(config);
  const Host dest = DestinationHost(s, d);

  // 1. The destination's pinned key, as the engine's own known_hosts file has it.
  GEOREP_ASSIGN_OR_RETURN(std::vector<std::string> options, DestinationClientOptions(dest, src));
  std::string known_hosts_path;
  for (const auto& o : options)
    if (o.rfind("UserKnownHostsFile=", 0) == 0) known_hosts_path = o.substr(19);
  std::ifstream in(known_hosts_path);
  std::string known_host;
  std::getline(in, known_host);
  if (known_host.empty())
    return Status::Internal("the destination's pinned key is not in a known_hosts file");
  const std::string name = RemoteKnownHostsName(known_hosts_path, d.ssh_fingerprint);

  // 2. On the source host: its worker key (made once) and the destination's key pinned there.
  CommandSpec keys;
  keys.argv = georep;
  keys.argv.insert(keys.argv.end(),
                   {"worker-keys", "--state-root", kRemoteStateRoot, "--known-hosts", name});
  keys.stdin_data = known_host + "\n";
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, hosts_->RunnerFor(src)->Run(keys));
  const std::string georep_there = fmt::format("{}", fmt::join(georep, " "));
  if (r.exit_code != 0) {
    const std::string said = FirstLine(r.err);
    if (r.exit_code == 127 || said.find("worker-keys") != std::string::npos) {
      return Status::FailedPrecondition(fmt::format(
          "source host '{}' cannot run `{} worker-keys` (the source-command config): install "
          "georep there, or set source-command to its path; it said: {}",
          src.name, georep_there, said.empty() ? "nothing" : said));
    }
    return Status::FailedPrecondition(
        fmt::format("preparing the worker on source host '{}' failed (exit {}): {}", src.name,
                    r.exit_code, said.empty() ? "no message" : said));
  }
  const std::string key = FirstLine(r.out);
  auto parsed = ParseHostKeys("worker " + key);
  if (parsed.empty()) {
    return Status::Corruption(
        fmt::format("source host '{}' answered `{} worker-keys` with no "
                    "public key: {}",
                    src.name, georep_there, key.substr(0, 200)));
  }

  // 3. The destination accepts that key -- for commands only (no forwarding, no terminal).
  // The key travels as $1, never inside the script.
  const std::string script =
      "umask 077 && mkdir -p .ssh && touch .ssh/authorized_keys && "
      // One change of the file at a time (RevokeSourceWorkerKey takes the same lock).
      "exec 9>>.ssh/.georep-authorized_keys.lock && flock 9 && "
      "{ grep -qxF \"$1\" .ssh/authorized_keys || "
      // A last line without its newline would swallow the key.
      "{ [ -z \"$(tail -c 1 .ssh/authorized_keys)\" ] || echo >> .ssh/authorized_keys; "
      "printf '%s\\n' \"$1\" >> .ssh/authorized_keys; }; }";
  CommandSpec trust;
  trust.argv = {"sh", "-c", script, "georep-trust", "restrict " + key};
  // Directly, or through the source host when only it reaches the destination.
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> to_dest, DestinationRunner(dest, src));
  GEOREP_ASSIGN_OR_RETURN(CommandResult t, to_dest->Run(trust));
  if (t.exit_code != 0) {
    return Status::FailedPrecondition(fmt::format(
        "the destination {}@{} did not accept the worker key of source host '{}' (exit {}): {}",
        dest.ssh_user, d.host, src.name, t.exit_code, FirstLine(t.err)));
  }
  // Kept for RevokeSourceWorkerKey: the destination's line goes when the last session does.
  if (workers_) {
    const std::string dir = workers_->StateDir(s.id);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const std::string path = TrustedKeyFile(dir), tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << "restrict " << key << "\n";
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      spdlog::warn("msg=\"cannot keep the trusted worker key\" path={} error={}", LogValue(path),
                   LogValue(ec.message()));
    }
  }
  return Status::Ok();
}

std::string Operations::TrustedSourceWorkerKey(const std::string& session_id) const {
  std::string line;
  if (workers_) std::getline(std::ifstream(TrustedKeyFile(workers_->StateDir(session_id))), line);
  return line;
}

void Operations::RevokeSourceWorkerKey(const Session& gone, const Volume& v,
                                       const std::string& line) {
  if (v.bricks.empty() || !hosts_) return;
  auto d = GetDestination(gone.destination_id);
  if (!d.ok()) return;
  const Host dest = DestinationHost(gone, *d);
  auto sessions = ListSessions({});
  if (!sessions.ok()) return;  // unknown: the key stays, as it would without this
  for (const Session& other : *sessions) {
    if (other.id == gone.id) continue;
    auto ov = GetVolume(other.source_volume_id);
    auto od = GetDestination(other.destination_id);
    if (!ov.ok() || !od.ok()) return;  // unknown: the key stays
    const Host other_dest = DestinationHost(other, *od);
    // The same source account: the same key line kept (or, for a session not started since,
    // a volume on the same host). The same destination account: the same user and port on a
    // host of the same address or the same pinned host key.
    const std::string other_line = TrustedSourceWorkerKey(other.id);
    const bool same_source = other_line.empty()
                                 ? ov->kind == VolumeKind::kDirectory && !ov->bricks.empty() &&
                                       ov->bricks[0].host_id == v.bricks[0].host_id
                                 : other_line == line;
    const bool same_destination =
        other_dest.ssh_user == dest.ssh_user && other_dest.ssh_port == dest.ssh_port &&
        (other_dest.address == dest.address ||
         (!d->ssh_fingerprint.empty() && od->ssh_fingerprint == d->ssh_fingerprint));
    if (same_source && same_destination) return;  // still that key's way to this destination
  }
  // The line goes if it is there: under the lock PrepareRemoteSource's append takes, the file
  // (a symlink's target) is replaced whole by a copy without it, synced first -- never left
  // half written or empty. The key travels as $1, never inside the script.
  const std::string script =
      "[ -e .ssh/authorized_keys ] || exit 0; "
      "exec 9>>.ssh/.georep-authorized_keys.lock && flock 9 || exit 2; "
      "f=$(readlink -f .ssh/authorized_keys) || exit 2; "
      "grep -qxF \"$1\" \"$f\"; rc=$?; [ $rc -eq 1 ] && exit 0; [ $rc -eq 0 ] || exit 2; "
      "umask 077; grep -vxF \"$1\" \"$f\" > \"$f.georep-new\"; rc=$?; "
      "{ [ $rc -le 1 ] && sync \"$f.georep-new\" && mv -f \"$f.georep-new\" \"$f\"; } || "
      "{ rm -f \"$f.georep-new\"; exit 2; }";
  CommandSpec revoke;
  revoke.argv = {"sh", "-c", script, "georep-revoke", line};
  auto src = GetHost(v.bricks[0].host_id);
  if (!src.ok()) return;  // unknown: the key stays
  auto to_dest = DestinationRunner(dest, *src);
  auto r = to_dest.ok() ? (*to_dest)->Run(revoke) : Result<CommandResult>(to_dest.status());
  if (!r.ok() || r->exit_code != 0) {
    spdlog::warn(
        "msg=\"the destination still accepts the source host's worker key: remove its line from "
        "~/.ssh/authorized_keys there by hand\" destination={} key={} error={}",
        LogValue(dest.ssh_user + "@" + d->host), LogValue(line),
        LogValue(r.ok() ? FirstLine(r->err) : r.status().message()));
    return;
  }
  spdlog::info(
      "msg=\"the destination no longer accepts the source host's worker key: its last session "
      "there is removed\" destination={}",
      LogValue(dest.ssh_user + "@" + d->host));
}

Result<std::vector<std::string>> Operations::DestinationClientOptions(const Host& dest,
                                                                      const Host& relay) {
  auto options = hosts_->SshClientOptions(dest);
  if (options.ok() || options.status().code() != StatusCode::kUnavailable) return options;
  // The engine cannot reach it to read its key: through the source host, the key it presents
  // there is checked against the pin and kept in the same known_hosts file, which the direct
  // way then reads without reaching the host. (The key is kept before the login, so a login
  // refused here still leaves it.)
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> to_dest, DestinationRunner(dest, relay));
  auto probe = to_dest->Run({{"true"}});
  auto again = hosts_->SshClientOptions(dest);
  if (again.ok() || probe.ok()) return again;
  return probe.status();
}

Result<Operations::DestinationSsh> Operations::SshToDestination(
    const Session& s, const Destination& d, const std::vector<ConfigItem>& config,
    bool from_source_host) {
  // The engine's key, and the destination's pinned host key only.
  if (!hosts_) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto value = [&](std::string_view key, bool set_only) -> std::string {
    for (const auto& c : config)
      if (c.option->key == key && !(set_only && c.is_default)) return c.value;
    return "";
  };
  DestinationSsh ssh;
  const Host dest = DestinationHost(s, d);
  ssh.user_host = fmt::format("{}@{}", dest.ssh_user, d.host);
  Host relay;  // the worker's host: the destination's key is read through it if need be
  relay.transport = HostTransport::kLocal;
  if (auto v = GetVolume(s.source_volume_id); v.ok() && !v->bricks.empty())
    if (auto src = GetHost(v->bricks[0].host_id); src.ok()) relay = *src;
  GEOREP_ASSIGN_OR_RETURN(std::vector<std::string> options, DestinationClientOptions(dest, relay));
  if (from_source_host) {
    // The same options with the source host's files (PrepareRemoteSource put them there).
    for (size_t i = 0; i < options.size(); ++i) {
      if (options[i] == "-i" && i + 1 < options.size())
        options[i + 1] = std::string(kRemoteSshDir) + "/id_ed25519";
      if (options[i].rfind("UserKnownHostsFile=", 0) == 0) {
        options[i] = fmt::format("UserKnownHostsFile={}/known_hosts-{}", kRemoteSshDir,
                                 RemoteKnownHostsName(options[i].substr(19), d.ssh_fingerprint));
      }
    }
  }
  // georep's options first (ssh keeps an option's first value), then the admin's, checked
  // again here: a value stored by an older engine may not have been.
  GEOREP_ASSIGN_OR_RETURN(SshCommandWords words,
                          ParseSshCommand("ssh-command", value("ssh-command", false)));
  ssh.ssh_command = words.program;
  for (const auto& o : options) ssh.ssh_command += " " + o;
  for (const auto& o : words.options) ssh.ssh_command += " " + o;
  // The ssh-port config when set, else the destination's own port (the config's default, 22,
  // would hide a destination's other port).
  const std::string port = value("ssh-port", true);
  ssh.port = port.empty() ? d.ssh_port : std::atoi(port.c_str());
  ssh.remote_command =
      value("remote-command", false).empty() ? "georep agent" : value("remote-command", false);
  return ssh;
}

Result<replication::TreeDescription> Operations::DescribeDestination(
    const Session& s, const Destination& d, const std::vector<ConfigItem>& config,
    const replication::DescribeOptions& options, const Host* src) {
  std::string remote_command;
  // The worker's own ssh command line (replication_commands.cc), with describe's arguments;
  // ssh hands the command to the remote user's shell, so every word is quoted.
  auto describe = [&](const Host& from, std::string* where) -> Result<CommandResult> {
    const bool from_source_host = from.transport != HostTransport::kLocal;
    GEOREP_ASSIGN_OR_RETURN(DestinationSsh ssh, SshToDestination(s, d, config, from_source_host));
    CommandSpec spec;
    if (from_source_host) {
      // The runner that reaches the source host reads ssh's 255 as its own failure: the inner
      // ssh's 255 (the destination not reached from there) comes back as 254.
      spec.argv = {"sh", "-c", "\"$@\"; rc=$?; [ $rc -ne 255 ] || rc=254; exit $rc",
                   "georep-describe"};
    }
    std::vector<std::string> ssh_argv = SplitWords(ssh.ssh_command);
    if (ssh_argv.empty()) ssh_argv = {"ssh"};
    spec.argv.insert(spec.argv.end(), ssh_argv.begin(), ssh_argv.end());
    spec.argv.insert(spec.argv.end(),
                     {"-o", "BatchMode=yes", "-p", std::to_string(ssh.port), "--", ssh.user_host});
    std::vector<std::string> remote = SplitWords(ssh.remote_command);
    remote.insert(remote.end(), {"--root", s.destination_volume, "--describe", "--sample",
                                 std::to_string(options.sample_percent)});
    for (const auto& p : options.excludes) remote.insert(remote.end(), {"--exclude", p});
    for (const auto& w : remote) spec.argv.push_back(ShellQuote(w));
    spec.timeout = kDescribeTimeout;
    spec.cancel = options.cancel;
    spec.max_output_bytes = replication::kMaxTreeDescriptionBytes + 1;
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, hosts_->RunnerFor(from)->Run(spec));
    if (from_source_host && r.exit_code == 254) r.exit_code = 255;
    *where = from_source_host ? fmt::format("the destination {} port {} (from source host {})",
                                            ssh.user_host, ssh.port, from.name)
                              : fmt::format("the destination {} port {}", ssh.user_host, ssh.port);
    remote_command = ssh.remote_command;
    return r;
  };
  Host here;
  here.name = "localhost";
  here.transport = HostTransport::kLocal;
  std::string where;
  GEOREP_ASSIGN_OR_RETURN(CommandResult direct, describe(here, &where));
  // Not reached from the engine (no route, refused...; not a changed key, a refused login or
  // a timeout): the source host's worker reaches it, so can its describe.
  if (direct.exit_code == 255 && !direct.timed_out && SshSaysUnreachable(direct.err) &&
      src != nullptr && src->transport == HostTransport::kSsh) {
    const std::string direct_where = where;
    GEOREP_ASSIGN_OR_RETURN(CommandResult relayed, describe(*src, &where));
    if (relayed.exit_code == 255 && !relayed.timed_out) {
      return Status::Unavailable(fmt::format("cannot reach {} over ssh: {}; nor {}: {}",
                                             direct_where, FirstLine(direct.err), where,
                                             FirstLine(relayed.err)));
    }
    return DescribedTree(relayed, s.destination_volume, where, d.host, remote_command);
  }
  return DescribedTree(direct, s.destination_volume, where, d.host, remote_command);
}

Result<replication::TreeDescription> Operations::DescribeSource(
    const Host& src, const Volume& v, const std::vector<ConfigItem>& config,
    const replication::DescribeOptions& options) {
  CommandSpec spec;
  spec.argv = SourceCommand(config);
  const std::string command = fmt::format("{} agent", fmt::join(spec.argv, " "));
  spec.argv.insert(spec.argv.end(), {"agent", "--root", v.bricks.at(0).path, "--describe",
                                     "--sample", std::to_string(options.sample_percent)});
  for (const auto& p : options.excludes) spec.argv.insert(spec.argv.end(), {"--exclude", p});
  spec.timeout = kDescribeTimeout;
  spec.cancel = options.cancel;
  spec.max_output_bytes = replication::kMaxTreeDescriptionBytes + 1;
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, hosts_->RunnerFor(src)->Run(spec));
  return DescribedTree(
      r, v.bricks[0].path,
      fmt::format("the source host {}@{} port {}", src.ssh_user, src.address, src.ssh_port),
      src.name, command);
}

Result<replication::TreeDescription> Operations::DescribedTree(const CommandResult& r,
                                                               const std::string& path,
                                                               const std::string& where,
                                                               const std::string& host,
                                                               const std::string& command) {
  const std::string said = FirstLine(r.err);
  if (r.timed_out) {
    return Status::Unavailable(fmt::format("describing {} on {} took over {} minutes", path, where,
                                           kDescribeTimeout.count() / 60000));
  }
  if (r.exit_code == 255) {  // ssh's own failure: the host was not reached
    return Status::Unavailable(
        fmt::format("cannot reach {} over ssh: {}", where, said.empty() ? "ssh failed" : said));
  }
  if (r.exit_code != 0 && r.err.find("--describe") != std::string::npos) {
    return Status::FailedPrecondition(fmt::format(
        "the georep on {} is too old to describe a tree for verify (`{} --describe`): upgrade "
        "it there; it said: {}",
        host, command, said));
  }
  if (r.exit_code != 0) {
    return Status::FailedPrecondition(fmt::format("describing {} on {} failed (exit {}): {}", path,
                                                  where, r.exit_code,
                                                  said.empty() ? "no message" : said));
  }
  if (r.truncated) {
    return Status::FailedPrecondition(fmt::format("the description of {} on {} exceeds {} MiB",
                                                  path, host,
                                                  replication::kMaxTreeDescriptionBytes >> 20));
  }
  auto description = replication::DecodeTreeDescription(r.out);
  if (!description.ok()) {
    return Status::Corruption(
        fmt::format("{} answered `{} --describe` with something else ({}): is the remote command "
                    "a georep agent new enough for verify?",
                    host, command, description.status().message()));
  }
  return description;
}

void Operations::RemoveRemoteWorkerState(const Volume& v, const std::string& session_id) {
  // A worker on an ssh source host leaves its state there. Best effort: the host may be down,
  // and the session goes all the same.
  if (v.kind != VolumeKind::kDirectory || v.bricks.empty() || !hosts_) return;
  auto src = GetHost(v.bricks[0].host_id);
  if (!src.ok() || src->transport == HostTransport::kLocal) return;
  const std::string dir = RemoteStateDir(session_id);
  auto r = hosts_->RunnerFor(*src)->Run({{"rm", "-rf", "--", dir}});
  if (!r.ok() || r->exit_code != 0) {
    spdlog::warn(
        "msg=\"the session's worker state stays on its source host\" host={} dir={} error={}",
        LogValue(src->name), LogValue(dir),
        LogValue(r.ok() ? FirstLine(r->err) : r.status().message()));
  }
}

Status Operations::RunDirectoryAction(const Session& s, const Volume& v, SessionAction action,
                                      bool force) {
  if (!workers_) return Status::FailedPrecondition("this engine does not run workers");
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
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
          return ListEvents(f);
        };
        GEOREP_ASSIGN_OR_RETURN(std::vector<Event> started, last("session.start"));
        GEOREP_ASSIGN_OR_RETURN(std::vector<Event> created, last("session.create"));
        const bool forced =
            !created.empty() && created[0].message.find(kForcedNotEmpty) != std::string::npos;
        if (started.empty() && !forced) return NotEmptyRefusal(s, d);
      }
      GEOREP_RETURN_IF_ERROR(PrepareRemoteSource(s, v, d));
      GEOREP_RETURN_IF_ERROR(workers_->Ensure(s.id, argv));
      next = SessionStatus::kInitializing;
      break;
    }
    case SessionAction::kStop:
      workers_->Stop(s.id);
      next = SessionStatus::kStopped;
      break;
    case SessionAction::kPause:
      workers_->Stop(s.id);
      next = SessionStatus::kPaused;
      break;
    case SessionAction::kDelete:
      workers_->Stop(s.id);  // its state goes with the session (RemoveSession)
      return Status::Ok();
  }
  const NodeStatus node = next == SessionStatus::kStopped  ? NodeStatus::kStopped
                          : next == SessionStatus::kPaused ? NodeStatus::kPaused
                                                           : NodeStatus::kInitializing;
  return store_.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session cur, tx.GetSession(s.id));
    GEOREP_ASSIGN_OR_RETURN(std::vector<SessionNodeStatus> nodes, tx.ListNodeStatuses(s.id));
    for (auto& n : nodes) {
      n.status = node;
      n.status_reason.clear();
      n.crawl = CrawlStatus::kNotApplicable;
      n.updated_at = clock_.NowMillis();
    }
    cur.status = next;
    cur.status_reason.clear();
    cur.updated_at = clock_.NowMillis();
    GEOREP_RETURN_IF_ERROR(tx.UpdateSession(cur));
    return tx.ReplaceNodeStatuses(s.id, nodes);
  });
}

Result<SessionDetail> Operations::PollDirectorySession(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto guard = locks_.Lock(SessionLockKey(id));
  GEOREP_ASSIGN_OR_RETURN(SessionDetail before, GetSession(id));
  if (!workers_ || !WantsWorker(before.session.status)) return before;
  GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(before.session.source_volume_id));
  GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(before.session.destination_id));
  const int64_t asked_at = clock_.NowMillis();

  SessionNodeStatus n;
  GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(v.bricks.at(0).host_id));
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
    const bool starting = !workers_->Supervises(id, *argv);
    if (starting || faulty) ensured = CheckDirectoryDestination(before.session, v, d);
    if (!ensured.ok()) workers_->Stop(id);
    if (ensured.ok() && starting) ensured = PrepareRemoteSource(before.session, v, d);
    if (ensured.ok()) ensured = workers_->Ensure(id, *argv);
  }
  WorkerObservation seen = workers_->Observe(id);
  auto status = replication::ReadWorkerStatus(workers_->StateDir(id));
  if (!ensured.ok()) {
    n.status = NodeStatus::kFaulty;
    n.status_reason = ensured.message();
  } else if (!seen.running) {
    n.status = NodeStatus::kFaulty;
    n.status_reason = seen.down_reason.empty() ? "the worker is not running" : seen.down_reason;
  } else if (!status.ok() || status->updated_ms < seen.started_at) {
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
    if (clock_.NowMillis() - status->updated_ms > 60000) {
      n.status = NodeStatus::kFaulty;
      n.status_reason = "the worker has not reported for over a minute";
    }
  }
  if (status.ok()) {
    n.last_synced = status->last_synced_ms;
    n.entry_pending = static_cast<int64_t>(status->pending_entry);
    n.data_pending = static_cast<int64_t>(status->pending_data);
    n.meta_pending = static_cast<int64_t>(status->pending_meta);
    n.failures = static_cast<int64_t>(status->failures);
    // The lag went on growing since the worker wrote it while a change was pending.
    n.lag_ms = status->lag_ms;
    if (status->oldest_pending_ms != 0)
      n.lag_ms += std::max<int64_t>(0, clock_.NowMillis() - status->updated_ms);
    n.throughput_bps = static_cast<int64_t>(status->throughput_bps);
  }
  // Checkpoint: complete once every change before it is applied (last synced passed it).
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(id));
  for (const auto& c : config) {
    if (c.option->key != "checkpoint" || c.value.empty() || c.value == "0") continue;
    n.checkpoint_time = std::atoll(c.value.c_str()) * 1000;
    n.checkpoint_completed = n.checkpoint_time > 0 && n.last_synced >= n.checkpoint_time;
    if (n.checkpoint_completed) {
      n.checkpoint_completion_time = n.last_synced;
      for (const auto& old : before.nodes)
        if (old.checkpoint_completed && old.checkpoint_time == n.checkpoint_time)
          n.checkpoint_completion_time = old.checkpoint_completion_time;
    }
  }

  // The "change-capture" alert: raised and cleared by a worker's current status only.
  if (ensured.ok() && seen.running && status.ok() && status->updated_ms >= seen.started_at) {
    const bool on = !status->capture_warning.empty();
    const bool had = std::any_of(before.alerts.begin(), before.alerts.end(),
                                 [](const auto& x) { return x.kind == "change-capture"; });
    if (on || had)
      GEOREP_RETURN_IF_ERROR(SetAlert(a, id, "change-capture", on,
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
  return ApplyGlusterStatus(a, id, &all, "the worker", "", asked_at);
}

Result<replication::VerifyReport> Operations::VerifySession(const Actor& a, const std::string& id,
                                                            int sample_percent) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto report = RunVerify(a, id, sample_percent, nullptr);
  if (!report.ok()) return report;  // what cannot run says nothing about the destination
  GEOREP_RETURN_IF_ERROR(RecordVerifyDiffers(
      a, id, report->differences,
      fmt::format("a verify by {} of {}% of the files", a.name, sample_percent)));
  return report;
}

Result<RepairReport> Operations::RepairSession(const Actor& a, const std::string& id,
                                               std::chrono::milliseconds timeout) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  RepairReport out;
  auto repaired = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    if (v.kind != VolumeKind::kDirectory || !workers_) {
      return Status::FailedPrecondition(
          "repair is for sessions of georep's own engine (directory volumes); a gluster "
          "session's destination is repaired by gsyncd's own full sync");
    }
    GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(v.bricks.at(0).host_id));
    if (src.transport != HostTransport::kLocal) {
      return Status::FailedPrecondition(
          "repair of a session whose source is on another host is not supported yet");
    }
    if (s.status == SessionStatus::kCreated || s.status == SessionStatus::kStopped ||
        s.status == SessionStatus::kPaused) {
      return Status::FailedPrecondition(
          fmt::format("the session is {}: start it first, its worker carries the repair out",
                      ::georep::Name(s.status)));
    }
    GEOREP_ASSIGN_OR_RETURN(out.before, RunVerify(a, id, 100, nullptr));
    if (out.before.differences.empty()) {
      out.after = out.before;
      return Status::Ok();
    }
    const replication::RepairRequest request =
        replication::RepairRequestFromVerify(out.before, random_.NewUuid());
    out.resent = request.stale.size() + request.missing.size();
    out.deleted = request.extra.size();
    if (!request.empty()) {
      const std::string state_dir = workers_->StateDir(id);
      GEOREP_RETURN_IF_ERROR(replication::WriteRepairRequest(state_dir, request));
      // The worker takes it in between passes, or at its start: a full pass then carries it
      // out, and its status names it.
      const auto until = std::chrono::steady_clock::now() + timeout;
      for (;;) {
        auto status = replication::ReadWorkerStatus(state_dir);
        if (status.ok() && status->repaired == request.id) break;
        if (std::chrono::steady_clock::now() >= until) {
          return Status::Unavailable(fmt::format(
              "the worker has not carried out the repair within {} s{}", timeout.count() / 1000,
              status.ok() && !status->reason.empty() ? ": " + status->reason : std::string()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    GEOREP_ASSIGN_OR_RETURN(out.after, RunVerify(a, id, 100, nullptr));
    return Status::Ok();
  }();
  if (!repaired.ok()) {
    (void)RecordFailure(a, "session.repair", "session", id, repaired);
    return repaired;
  }
  GEOREP_RETURN_IF_ERROR(RecordVerifyDiffers(
      a, id, out.after.differences, fmt::format("the verify after a repair by {}", a.name)));
  const std::string msg =
      out.before.differences.empty()
          ? std::string("nothing differed: nothing to repair")
          : fmt::format(
                "{} differences: {} paths sent again, {} deleted; after: {}",
                out.before.differences.size(), out.resent, out.deleted,
                out.after.differences.empty()
                    ? std::string("identical")
                    : fmt::format("{} differences remain, first: {} {}",
                                  out.after.differences.size(), out.after.differences[0].path,
                                  out.after.differences[0].what));
  GEOREP_RETURN_IF_ERROR(store_.Transaction([&](StoreTx& tx) -> Status {
    return tx
        .AppendEvent(Event{0, clock_.NowMillis(), a.name, "session.repair", "session", id,
                           out.after.differences.empty() ? "ok" : "failed", msg})
        .status();
  }));
  return out;
}

Result<replication::VerifyReport> Operations::RunVerify(const Actor& a, const std::string& id,
                                                        int sample_percent,
                                                        const std::atomic<bool>* cancel) {
  auto run = [&]() -> Result<replication::VerifyReport> {
    if (sample_percent < 1 || sample_percent > 100)
      return Status::InvalidArgument("sample must be 1-100 percent");
    GEOREP_ASSIGN_OR_RETURN(Session s, ReadSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(Destination d, GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, GetConfig(id));
    replication::VerifyOptions o;
    o.sample_percent = sample_percent;
    o.cancel = cancel;
    for (const auto& c : config) {
      if (c.option->key == "ignore-deletes") o.ignore_deletes = c.value == "true";
      // What the session replicates of xattrs is what verify compares.
      if (c.option->key == "sync-xattrs" && c.value == "false")
        o.xattrs.user = o.xattrs.acls = o.xattrs.privileged = false;
      if (c.option->key == "sync-acls" && c.value == "false") o.xattrs.acls = false;
      if (c.option->key != "exclude") continue;
      size_t start = 0;
      while (start <= c.value.size()) {
        size_t comma = c.value.find(',', start);
        std::string p = c.value.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!p.empty()) o.excludes.push_back(p);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (v.kind == VolumeKind::kGluster) return VerifyGlusterSession(s, v, d, o);
    GEOREP_ASSIGN_OR_RETURN(Host src, GetHost(v.bricks.at(0).host_id));
    const bool remote = src.transport != HostTransport::kLocal;
    if (d.ssh_fingerprint.empty() && !remote)
      return replication::VerifyTrees(v.bricks.at(0).path, s.destination_volume, o);
    // Over ssh: the destination describes itself while the source is described where it is.
    const replication::DescribeOptions describe{sample_percent, o.excludes, cancel};
    auto there = std::async(std::launch::async,
                            [&] { return DescribeDestination(s, d, config, describe, &src); });
    auto here = remote ? DescribeSource(src, v, config, describe)
                       : replication::DescribeTreeForVerify(v.bricks.at(0).path, describe);
    auto destination = there.get();
    if (!here.ok()) return here.status();
    if (!destination.ok()) return destination.status();
    return replication::CompareTreeDescriptions(*here, *destination, o);
  };
  auto report = run();
  if (cancel && cancel->load())
    return Status::Unavailable("verify cancelled: the engine is stopping");
  if (!report.ok()) {
    (void)RecordFailure(a, "session.verify", "session", id, report.status());
    return report;
  }
  std::string msg =
      fmt::format("{} entries compared, content of {} files ({} bytes): {}", report->entries,
                  report->content_checked, report->bytes_hashed,
                  report->differences.empty()
                      ? std::string("no differences")
                      : fmt::format("{} differences, first: {} {}", report->differences.size(),
                                    report->differences[0].path, report->differences[0].what));
  // Differences are a failed verification, in the audit trail as such.
  GEOREP_RETURN_IF_ERROR(store_.Transaction([&](StoreTx& tx) -> Status {
    return tx
        .AppendEvent(Event{0, clock_.NowMillis(), a.name, "session.verify", "session", id,
                           report->differences.empty() ? "ok" : "failed", msg})
        .status();
  }));
  return report;
}

int Operations::PollDirectorySessions(const Actor& a) {
  if (!workers_) return 0;
  auto sessions = ListSessions({});
  if (!sessions.ok()) return 0;
  int polled = 0;
  std::set<std::string> live;
  for (const Session& s : *sessions) {
    auto v = GetVolume(s.source_volume_id);
    if (!v.ok() || v->kind != VolumeKind::kDirectory) continue;
    live.insert(s.id);
    if (PollDirectorySession(a, s.id).ok()) ++polled;
  }
  // Workers of sessions that are gone.
  for (const auto& id : workers_->Supervised())
    if (!live.count(id)) workers_->Stop(id);
  return polled;
}

}  // namespace georep
