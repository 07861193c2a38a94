// How DirectoryDriver's workers and verifies reach what they work on (directory_driver.h): a
// worker's command line, a source on an ssh host prepared for its worker (a worker key there,
// the destination's pinned key, the key accepted at the destination) and taken back at
// removal, ssh to the destination, and `georep agent --describe` of either side.
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
#include "model/worker_config.h"
#include "replication/repair_request.h"
#include "replication/replicator.h"

namespace georep {
namespace {

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

Result<std::vector<std::string>> DirectoryDriver::WorkerArgv(const Session& s, const Volume& v,
                                                             const Destination& d) {
  if (!ctx_.workers) return Status::FailedPrecondition("this engine does not run workers");
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(v.bricks.at(0).host_id));
  const bool remote = src.transport != HostTransport::kLocal;
  if (remote && d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(fmt::format(
        "directory volume '{}' is on ssh host '{}' while destination '{}' is a path on the "
        "engine's machine, which a worker on '{}' cannot write to: attach the destination as a "
        "host reached over ssh",
        v.name, src.name, d.host, src.name));
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(s.id));
  WorkerConfig w;
  for (const auto& c : config) {
    auto applied = ApplyWorkerSetting(w, c.option->key, c.value);
    if (!applied.ok()) {  // stored by an older engine, or by hand: the catalogue refuses it now
      return Status::FailedPrecondition(fmt::format(
          "the session's config cannot start a worker: {}", applied.status().message()));
    }
  }
  w.source = v.bricks[0].path;
  w.state_dir = remote ? RemoteStateDir(s.id) : ctx_.workers->StateDir(s.id);
  w.destination_path = s.destination_volume;
  if (!d.ssh_fingerprint.empty()) {
    GEOREP_ASSIGN_OR_RETURN(w.ssh, SshToDestination(s, d, config, remote));
  }
  // On the source host, through worker-link: it reports on stdout, and stops with the link.
  w.remote_worker = remote;
  std::vector<std::string> argv =
      remote ? SourceCommand(config) : std::vector<std::string>{ctx_.georep_binary};
  argv.push_back("worker");
  for (auto& f : w.Flags()) argv.push_back(std::move(f));
  if (!remote) return argv;
  // The link to the source host: the engine's key and the host's pinned key.
  GEOREP_ASSIGN_OR_RETURN(PinnedSshClient to_source, ctx_.hosts->SshClient(src));
  const std::vector<std::string> options = to_source.Options();
  std::vector<std::string> link = {ctx_.georep_binary,
                                   "worker-link",
                                   "--state-dir",
                                   ctx_.workers->StateDir(s.id),
                                   "--where",
                                   fmt::format("{}@{}", src.ssh_user, src.address),
                                   "--",
                                   "ssh"};
  link.insert(link.end(), options.begin(), options.end());
  // A source host that stops answering ends the link within about a minute (Faulty, then a
  // restart); the worker there sees its stdin end and stops.
  link.insert(link.end(), {"-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-p",
                           std::to_string(src.ssh_port), "-l", src.ssh_user, "--", src.address});
  // ssh hands the command to the remote user's shell: every word is quoted.
  for (const auto& w : argv) link.push_back(ShellQuote(w));
  return link;
}

Host DirectoryDriver::DestinationHost(const Session& s, const Destination& d) {
  Host dest;
  dest.name = dest.address = d.host;
  dest.ssh_port = d.ssh_port;
  dest.ssh_user = s.remote_user.empty() ? d.remote_user : s.remote_user;
  dest.transport = HostTransport::kSsh;
  dest.ssh_fingerprint = d.ssh_fingerprint;
  return dest;
}

Status DirectoryDriver::PrepareRemoteSource(const Session& s, const Volume& v,
                                            const Destination& d) {
  GEOREP_ASSIGN_OR_RETURN(Host src, ctx_.GetHost(v.bricks.at(0).host_id));
  if (src.transport == HostTransport::kLocal || d.ssh_fingerprint.empty())
    return Status::Ok();  // nothing to prepare, or WorkerArgv says why it cannot run
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(s.id));
  const std::vector<std::string> georep = SourceCommand(config);
  const Host dest = DestinationHost(s, d);

  // 1. The destination's pinned key, as the engine's own known_hosts file has it.
  GEOREP_ASSIGN_OR_RETURN(PinnedSshClient client, DestinationClient(dest, src));
  const std::string known_hosts_path = client.known_hosts_file;
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
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, ctx_.hosts->RunnerFor(src)->Run(keys));
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
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> to_dest,
                          ctx_.DestinationRunner(dest, src));
  GEOREP_ASSIGN_OR_RETURN(CommandResult t, to_dest->Run(trust));
  if (t.exit_code != 0) {
    return Status::FailedPrecondition(fmt::format(
        "the destination {}@{} did not accept the worker key of source host '{}' (exit {}): {}",
        dest.ssh_user, d.host, src.name, t.exit_code, FirstLine(t.err)));
  }
  // Kept for RevokeSourceWorkerKey: the destination's line goes when the last session does.
  if (ctx_.workers) {
    const std::string dir = ctx_.workers->StateDir(s.id);
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

std::string DirectoryDriver::TrustedSourceWorkerKey(const std::string& session_id) const {
  std::string line;
  if (ctx_.workers)
    std::getline(std::ifstream(TrustedKeyFile(ctx_.workers->StateDir(session_id))), line);
  return line;
}

void DirectoryDriver::RevokeSourceWorkerKey(const Session& gone, const Volume& v,
                                            const std::string& line) {
  if (v.bricks.empty() || !ctx_.hosts) return;
  auto d = ctx_.GetDestination(gone.destination_id);
  if (!d.ok()) return;
  const Host dest = DestinationHost(gone, *d);
  auto sessions = ctx_.ListSessions({});
  if (!sessions.ok()) return;  // unknown: the key stays, as it would without this
  for (const Session& other : *sessions) {
    if (other.id == gone.id) continue;
    auto ov = ctx_.GetVolume(other.source_volume_id);
    auto od = ctx_.GetDestination(other.destination_id);
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
  auto src = ctx_.GetHost(v.bricks[0].host_id);
  if (!src.ok()) return;  // unknown: the key stays
  auto to_dest = ctx_.DestinationRunner(dest, *src);
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

Result<PinnedSshClient> DirectoryDriver::DestinationClient(const Host& dest, const Host& relay) {
  auto client = ctx_.hosts->SshClient(dest);
  if (client.ok() || client.status().code() != StatusCode::kUnavailable) return client;
  // The engine cannot reach it to read its key: through the source host, the key it presents
  // there is checked against the pin and kept in the same known_hosts file, which the direct
  // way then reads without reaching the host. (The key is kept before the login, so a login
  // refused here still leaves it.)
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> to_dest,
                          ctx_.DestinationRunner(dest, relay));
  auto probe = to_dest->Run({{"true"}});
  auto again = ctx_.hosts->SshClient(dest);
  if (again.ok() || probe.ok()) return again;
  return probe.status();
}

Result<WorkerSsh> DirectoryDriver::SshToDestination(const Session& s, const Destination& d,
                                                    const std::vector<ConfigItem>& config,
                                                    bool from_source_host) {
  // The engine's key, and the destination's pinned host key only.
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  auto value = [&](std::string_view key, bool set_only) -> std::string {
    for (const auto& c : config)
      if (c.option->key == key && !(set_only && c.is_default)) return c.value;
    return "";
  };
  WorkerSsh ssh;
  const Host dest = DestinationHost(s, d);
  ssh.user_host = fmt::format("{}@{}", dest.ssh_user, d.host);
  Host relay;  // the worker's host: the destination's key is read through it if need be
  relay.transport = HostTransport::kLocal;
  if (auto v = ctx_.GetVolume(s.source_volume_id); v.ok() && !v->bricks.empty())
    if (auto src = ctx_.GetHost(v->bricks[0].host_id); src.ok()) relay = *src;
  GEOREP_ASSIGN_OR_RETURN(PinnedSshClient client, DestinationClient(dest, relay));
  if (from_source_host) {
    // The same options with the source host's files (PrepareRemoteSource put them there).
    client.known_hosts_file =
        fmt::format("{}/known_hosts-{}", kRemoteSshDir,
                    RemoteKnownHostsName(client.known_hosts_file, d.ssh_fingerprint));
    client.identity_file = std::string(kRemoteSshDir) + "/id_ed25519";
  }
  // georep's options first (ssh keeps an option's first value), then the admin's, checked
  // again here: a value stored by an older engine may not have been.
  GEOREP_ASSIGN_OR_RETURN(SshCommandWords words,
                          ParseSshCommand("ssh-command", value("ssh-command", false)));
  ssh.command = {words.program};
  for (auto& o : client.Options()) ssh.command.push_back(std::move(o));
  ssh.command.insert(ssh.command.end(), words.options.begin(), words.options.end());
  // The ssh-port config when set, else the destination's own port (the config's default, 22,
  // would hide a destination's other port).
  const std::string port = value("ssh-port", true);
  ssh.port = port.empty() ? d.ssh_port : std::atoi(port.c_str());
  const std::string remote = value("remote-command", false);
  ssh.remote_command = SplitWords(remote.empty() ? "georep agent" : remote);
  return ssh;
}

Result<replication::TreeDescription> DirectoryDriver::DescribeDestination(
    const Session& s, const Destination& d, const std::vector<ConfigItem>& config,
    const replication::DescribeOptions& options, const Host* src) {
  std::string remote_command;
  // The worker's own ssh command line (worker/commands.cc), with describe's arguments;
  // ssh hands the command to the remote user's shell, so every word is quoted.
  auto describe = [&](const Host& from, std::string* where) -> Result<CommandResult> {
    const bool from_source_host = from.transport != HostTransport::kLocal;
    GEOREP_ASSIGN_OR_RETURN(WorkerSsh ssh, SshToDestination(s, d, config, from_source_host));
    CommandSpec spec;
    if (from_source_host) {
      // The runner that reaches the source host reads ssh's 255 as its own failure: the inner
      // ssh's 255 (the destination not reached from there) comes back as 254.
      spec.argv = {"sh", "-c", "\"$@\"; rc=$?; [ $rc -ne 255 ] || rc=254; exit $rc",
                   "georep-describe"};
    }
    spec.argv.insert(spec.argv.end(), ssh.command.begin(), ssh.command.end());
    spec.argv.insert(spec.argv.end(),
                     {"-o", "BatchMode=yes", "-p", std::to_string(ssh.port), "--", ssh.user_host});
    std::vector<std::string> remote = ssh.remote_command;
    remote.insert(remote.end(), {"--root", s.destination_volume, "--describe", "--sample",
                                 std::to_string(options.sample_percent)});
    for (const auto& p : options.excludes) remote.insert(remote.end(), {"--exclude", p});
    for (const auto& w : remote) spec.argv.push_back(ShellQuote(w));
    spec.timeout = kDescribeTimeout;
    spec.cancel = options.cancel;
    spec.max_output_bytes = replication::kMaxTreeDescriptionBytes + 1;
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, ctx_.hosts->RunnerFor(from)->Run(spec));
    if (from_source_host && r.exit_code == 254) r.exit_code = 255;
    *where = from_source_host ? fmt::format("the destination {} port {} (from source host {})",
                                            ssh.user_host, ssh.port, from.name)
                              : fmt::format("the destination {} port {}", ssh.user_host, ssh.port);
    remote_command = fmt::format("{}", fmt::join(ssh.remote_command, " "));
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

Result<replication::TreeDescription> DirectoryDriver::DescribeSource(
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
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, ctx_.hosts->RunnerFor(src)->Run(spec));
  return DescribedTree(
      r, v.bricks[0].path,
      fmt::format("the source host {}@{} port {}", src.ssh_user, src.address, src.ssh_port),
      src.name, command);
}

Result<replication::TreeDescription> DirectoryDriver::DescribedTree(const CommandResult& r,
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

void DirectoryDriver::RemoveRemoteWorkerState(const Volume& v, const std::string& session_id) {
  // A worker on an ssh source host leaves its state there. Best effort: the host may be down,
  // and the session goes all the same.
  if (v.kind != VolumeKind::kDirectory || v.bricks.empty() || !ctx_.hosts) return;
  auto src = ctx_.GetHost(v.bricks[0].host_id);
  if (!src.ok() || src->transport == HostTransport::kLocal) return;
  const std::string dir = RemoteStateDir(session_id);
  auto r = ctx_.hosts->RunnerFor(*src)->Run({{"rm", "-rf", "--", dir}});
  if (!r.ok() || r->exit_code != 0) {
    spdlog::warn(
        "msg=\"the session's worker state stays on its source host\" host={} dir={} error={}",
        LogValue(src->name), LogValue(dir),
        LogValue(r.ok() ? FirstLine(r->err) : r.status().message()));
  }
}

}  // namespace georep
