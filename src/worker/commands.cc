#include "worker/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "host/command_runner.h"
#include "host/ssh_transport.h"
#include "replication/agent.h"
#include "replication/replicator.h"
#include "replication/verify.h"
#include "replication/worker_link.h"
#include "replication/worker_lock.h"
#include "worker/worker_flags.h"

#ifndef GEOREP_VERSION
#define GEOREP_VERSION "0.0.0"
#endif

namespace georep {
namespace {

std::atomic<replication::Replicator*> g_running{nullptr};
std::mutex g_running_mu;  // the stdin watcher's way to g_running (the signal handler needs none)
std::atomic<bool> g_link_stop{false};

void OnStopSignal(int) {
  if (auto* r = g_running.load()) r->RequestStop();
  g_link_stop.store(true);
}

void OnStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// Quotes one argument for the remote shell that ssh hands its command to.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string SelfPath() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "georep" : p.string();
}

// Whether this CPU has AES instructions (x86's AES-NI, ARMv8's crypto extension). With them,
// AES-GCM moves about 1.6x the bytes per CPU second of ssh's default cipher, chacha20-poly1305
// (1 GiB through ssh on loopback: 2.6-3.3 s against 4.6-4.8 s); without them chacha20 is the
// faster one.
bool CpuHasAes() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0 && line.rfind("Features", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;)
      if (w == "aes") return true;
    return false;
  }
  return false;
}

// The ciphers ssh would offer, from `ssh ... -G` (argv: an ssh command line ending in the host);
// empty if it cannot say.
std::string SshCiphers(std::vector<std::string> argv) {
  argv.insert(argv.end() - 1, "-G");  // before the host
  LocalCommandRunner local;
  CommandSpec spec(argv);
  spec.timeout = std::chrono::seconds(10);
  auto r = local.Run(spec);
  if (!r.ok() || r->exit_code != 0) return "";
  std::istringstream out(r->out);
  for (std::string line; std::getline(out, line);)
    if (line.rfind("ciphers ", 0) == 0) return line.substr(8);
  return "";
}

// The ciphers to offer for the file data: AES-GCM first where the CPU has AES instructions --
// unless someone chose the ciphers: the ssh command (-c, -o Ciphers) or an ssh_config, seen as
// `ssh -G` differing from this ssh's own defaults (`-F none`). Empty: leave ssh be.
std::string PreferredCiphers(const std::vector<std::string>& ssh_argv) {
  if (!CpuHasAes()) return "";
  const std::string chosen = SshCiphers(ssh_argv);
  const std::string defaults = SshCiphers({ssh_argv.front(), "-F", "none", "localhost"});
  if (chosen.empty() || chosen != defaults ||
      defaults.find("aes128-gcm@openssh.com") == std::string::npos)
    return "";
  // The same ciphers, AES-GCM first (named, not "^aes128-gcm..." which older clients reject).
  std::string out = "aes128-gcm@openssh.com,aes256-gcm@openssh.com";
  std::istringstream rest(defaults);
  for (std::string c; std::getline(rest, c, ',');)
    if (c != "aes128-gcm@openssh.com" && c != "aes256-gcm@openssh.com") out += "," + c;
  return out;
}

// The worker logs to worker.log in its state directory (where the engine also collects its
// stdout and stderr), in the same logfmt as the engine; `level` decides how much.
void InitWorkerLog(const std::string& state_dir, std::string level) {
  std::transform(level.begin(), level.end(), level.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(state_dir + "/worker.log");
    auto logger = std::make_shared<spdlog::logger>("georep-worker", sink);
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
    logger->flush_on(spdlog::level::trace);  // a few lines per pass: each is on disk at once
    spdlog::set_default_logger(logger);
  } catch (const spdlog::spdlog_ex& e) {
    std::cerr << "georep worker: cannot log to " << state_dir << "/worker.log: " << e.what()
              << "\n";
  }
}

int RunWorker(const WorkerFlags& flags) {
  auto config = flags.Config();
  if (!config.ok()) {
    std::cerr << "georep worker: " << config.status().message() << "\n";
    return 2;
  }
  const WorkerConfig& a = *config;
  replication::ReplicatorOptions o;
  o.source = a.source;
  o.state_dir = a.state_dir;
  o.compress = a.compress;
  o.ignore_deletes = a.ignore_deletes;
  o.excludes = a.excludes;
  o.rescan_interval_s = static_cast<int>(a.rescan_interval_s);
  o.bandwidth_limit = a.bandwidth_limit;
  o.durable_batches = a.durability != "none";
  o.send_xattrs = a.sync_xattrs;
  o.send_acls = a.sync_acls;
  o.change_capture = *replication::ParseChangeCapture(a.change_capture);  // checked by CLI11
  o.sync_jobs = a.sync_jobs;
  std::error_code ec;
  std::filesystem::create_directories(a.state_dir, ec);
  // Absolute from here on: a worker started over ssh is given paths relative to its home.
  o.state_dir = std::filesystem::absolute(a.state_dir, ec).string();
  o.source = std::filesystem::absolute(a.source, ec).string();
  InitWorkerLog(o.state_dir, a.log_level);
  pid_t replaced = 0;
  auto lock = replication::WorkerLock::Acquire(o.state_dir, {}, &replaced);
  if (!lock.ok()) {
    std::cerr << "georep worker: " << lock.status().message() << "\n";
    return 1;
  }
  if (replaced > 0) {
    spdlog::warn("msg=\"took the state directory over from a worker still running\" pid={}",
                 replaced);
  }
  if (flags.status_stdout) {
    ::signal(SIGPIPE, SIG_IGN);  // a gone reader is an EPIPE, on which the worker stops
    o.status_fd = STDOUT_FILENO;
  }
  if (!a.ssh) {
    o.agent_argv = {SelfPath(),         "agent",        "--root",
                    a.destination_path, "--durability", a.durability};
    // On this host the agent copies large files from the source itself (SourceCopy), unless
    // the stream is to be shaped (compressed, limited) or was asked for.
    if (!flags.stream_only && !a.compress && a.bandwidth_limit == 0) {
      o.agent_argv.push_back("--source-root");
      o.agent_argv.push_back(o.source);
    }
  } else {
    // The agent runs on the host behind the ssh command.
    o.agent_argv = a.ssh->command;
    // A destination that stops answering (a cut link) ends the connection within about a
    // minute, so the worker turns Faulty and is restarted. Options the ssh command already
    // sets come first and win.
    o.agent_argv.insert(o.agent_argv.end(), {"-o", "BatchMode=yes", "-o", "ServerAliveInterval=15",
                                             "-o", "ServerAliveCountMax=4"});
    std::vector<std::string> port;
    if (a.ssh->port > 0) port = {"-p", std::to_string(a.ssh->port)};
    // The file data's cipher: AES-GCM first where the CPU has AES instructions -- unless the
    // ssh command or an ssh_config chose the ciphers.
    std::vector<std::string> probe = o.agent_argv;
    probe.insert(probe.end(), port.begin(), port.end());
    probe.push_back(a.ssh->user_host);
    if (const std::string ciphers = PreferredCiphers(probe); !ciphers.empty())
      o.agent_argv.insert(o.agent_argv.end(), {"-o", "Ciphers=" + ciphers});
    o.agent_argv.insert(o.agent_argv.end(), port.begin(), port.end());
    o.agent_argv.push_back("--");
    o.agent_argv.push_back(a.ssh->user_host);
    // ssh hands the command to the remote user's shell: every word is quoted.
    std::vector<std::string> agent = a.ssh->remote_command;
    agent.insert(agent.end(), {"--root", a.destination_path, "--durability", a.durability});
    for (const auto& w : agent) o.agent_argv.push_back(ShellQuote(w));
  }
  replication::Replicator r(o);
  g_running.store(&r);
  OnStopSignals();
  if (flags.stop_on_stdin_eof) {
    // Whoever started this worker over ssh is gone, or wants it stopped, when its stdin ends.
    // Detached: it may still wait on stdin when the worker returns, so it reaches the
    // replicator only under g_running_mu, while it exists.
    std::thread([] {
      char c;
      while (true) {
        ssize_t n = ::read(STDIN_FILENO, &c, 1);
        if (n > 0 || (n < 0 && errno == EINTR)) continue;
        break;
      }
      std::lock_guard<std::mutex> hold(g_running_mu);
      if (auto* running = g_running.load()) {
        spdlog::info("msg=\"stdin ended: stopping\"");
        running->RequestStop();
      }
    }).detach();
  }
  Status st = flags.once ? r.RunOnce() : r.Run();
  {
    std::lock_guard<std::mutex> hold(g_running_mu);
    g_running.store(nullptr);
  }
  if (!st.ok()) {
    std::cerr << "georep worker: " << st.message() << "\n";
    return 1;
  }
  return 0;
}

// `georep agent --root DIR --describe`: the destination side of `georep verify` over ssh.
// The description goes to stdout (binary, tree_description.h); errors to stderr, exit 1.
int RunDescribe(const std::string& root, const replication::DescribeOptions& options) {
  auto description = replication::DescribeTreeForVerify(root, options);
  auto bytes = description.ok() ? replication::EncodeTreeDescription(*description)
                                : Result<std::string>(description.status());
  if (!bytes.ok()) {
    std::cerr << "georep agent: cannot describe the tree: " << bytes.status().message() << "\n";
    return 1;
  }
  std::string_view rest = *bytes;
  while (!rest.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::cerr << "georep agent: cannot write the tree description: " << std::strerror(errno)
                << "\n";
      return 1;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// `georep worker-keys`: see its help. The known_hosts line comes from the engine, which pinned
// it; it is checked to be one host key line all the same.
int RunWorkerKeys(const std::string& root, const std::string& name) {
  std::string line;
  std::getline(std::cin, line);
  if (line.empty() || ParseHostKeys(line).size() != 1) {
    std::cerr << "georep worker-keys: stdin is not one known_hosts line\n";
    return 1;
  }
  const std::string dir = root + "/ssh";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(root.c_str(), 0700);
  ::chmod(dir.c_str(), 0700);
  // Two sessions started at once on this host: one key is made, and both print it.
  const int lock = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    std::cerr << "georep worker-keys: cannot lock " << dir << "/.lock: " << std::strerror(errno)
              << "\n";
    return 1;
  }
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  LocalCommandRunner local;
  auto id = SshIdentity::LoadOrCreate(local, dir, std::string("georep-worker@") + host);
  if (!id.ok()) {
    std::cerr << "georep worker-keys: " << id.status().message() << "\n";
    return 1;
  }
  const std::string path = dir + "/known_hosts-" + name;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << line << "\n";
    if (!out.flush()) {
      std::cerr << "georep worker-keys: cannot write " << tmp << "\n";
      return 1;
    }
  }
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::cerr << "georep worker-keys: cannot write " << path << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  std::cout << id->public_key << "\n";
  return 0;
}

void AddWorkerCommand(CLI::App& app, int* exit_code) {
  static WorkerFlags w;
  auto* worker = app.add_subcommand(
      "worker", "Replicate a directory to a destination continuously (started by the engine)");
  AddWorkerFlags(*worker, w);
  worker->callback([exit_code] { *exit_code = RunWorker(w); });
}

void AddWorkerKeysCommand(CLI::App& app, int* exit_code) {
  static std::string keys_root, keys_known_hosts;
  auto* keys = app.add_subcommand(
      "worker-keys",
      "Prepare this host to run workers to a destination (run by the engine on an ssh source "
      "host): make the worker key unless it exists, pin the destination's host key (a "
      "known_hosts line on stdin) and print the public key");
  keys->add_option("--state-root", keys_root, "The workers' state root (ssh/ is made in it)")
      ->required();
  keys->add_option("--known-hosts", keys_known_hosts,
                   "Name of the destination's known_hosts file in ssh/ (known_hosts-NAME)")
      ->required()
      ->check([](const std::string& name) -> std::string {
        if (name.empty() ||
            name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
                                   "RSTUVWXYZ0123456789._-[]:") != std::string::npos)
          return "letters, digits and ._-[]: only";
        return "";
      });
  keys->callback([exit_code] { *exit_code = RunWorkerKeys(keys_root, keys_known_hosts); });
}

void AddWorkerLinkCommand(CLI::App& app, int* exit_code) {
  static replication::WorkerLinkOptions link;
  auto* link_cmd = app.add_subcommand(
      "worker-link",
      "Run a worker on another host through ssh and relay its status here (started by the "
      "engine for a directory volume on an ssh host)");
  link_cmd->add_option("--state-dir", link.state_dir, "Where status.json and worker.log go")
      ->required();
  link_cmd->add_option("--where", link.where, "USER@HOST of the worker, for messages")->required();
  link_cmd
      ->add_option("command", link.argv,
                   "After --: the ssh command line that runs `georep worker --status-stdout "
                   "--stop-on-stdin-eof` on the host (its remote words quoted for the shell)")
      ->required();
  link_cmd->callback([exit_code] {
    std::error_code ec;
    std::filesystem::create_directories(link.state_dir, ec);
    OnStopSignals();
    Status st = replication::RunWorkerLink(link, g_link_stop);
    if (!st.ok()) {
      std::cerr << "georep worker-link: " << st.message() << "\n";
      *exit_code = 1;
    }
  });
}

void AddAgentCommand(CLI::App& app, int* exit_code) {
  static replication::AgentOptions ag;
  static std::string durability = "batch";
  auto* agent = app.add_subcommand(
      "agent", "Apply a worker's stream to a directory (stdin/stdout; started by a worker)");
  // What `destination test` asks an ssh destination (its remote-command, with --version).
  agent->set_version_flag("--version", std::string("georep agent ") + GEOREP_VERSION);
  agent->add_option("--root", ag.root, "Destination directory")->required();
  agent->add_option("--source-root", ag.applier.source_root,
                    "The source directory, when it is on this host: the agent copies large "
                    "files from it itself (a worker with a local destination sets this)");
  agent
      ->add_option("--durability", durability,
                   "none (no sync), batch (files renamed in after one sync per batch), file (a "
                   "sync per file) or dir (and per directory change)")
      ->capture_default_str()
      ->check(CLI::IsMember(
          std::vector<std::string>(kWorkerDurabilities.begin(), kWorkerDurabilities.end())));
  static int file_threads = -1;
  agent
      ->add_option("--file-threads", file_threads,
                   "Threads that write small files (up to 1 MiB) beside the one reading the "
                   "stream; -1: one per CPU, at most 4, none on a single CPU")
      ->capture_default_str()
      ->check(CLI::Range(-1, 64));
  static bool describe = false;
  static replication::DescribeOptions describe_options;
  agent->add_flag("--describe", describe,
                  "Write a description of --root (entries, metadata, content hashes) to stdout "
                  "for `georep verify`, then exit");
  agent
      ->add_option("--sample", describe_options.sample_percent,
                   "With --describe: percent of files whose content is hashed")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  agent->add_option("--exclude", describe_options.excludes,
                    "With --describe: fnmatch pattern of paths or names to leave out");
  agent->callback([exit_code] {
    if (describe) {
      *exit_code = RunDescribe(ag.root, describe_options);
      return;
    }
    ag.applier.durability = durability == "none"    ? replication::Durability::kNone
                            : durability == "batch" ? replication::Durability::kBatch
                            : durability == "dir"   ? replication::Durability::kFileAndDirectory
                                                    : replication::Durability::kFile;
    if (file_threads >= 0) {
      ag.applier.file_threads = static_cast<size_t>(file_threads);
    } else {
      const unsigned cpus = std::thread::hardware_concurrency();
      ag.applier.file_threads = cpus > 1 ? std::min(cpus, 4U) : 0;
    }
    std::error_code ec;
    std::filesystem::create_directories(ag.root, ec);
    Status st = replication::ServeAgent(0, 1, ag);
    if (!st.ok()) {
      std::cerr << "georep agent: " << st.message() << "\n";
      *exit_code = 1;
    }
  });
}

}  // namespace

void AddReplicationCommands(CLI::App& app, int* exit_code) {
  AddWorkerCommand(app, exit_code);
  AddWorkerKeysCommand(app, exit_code);
  AddWorkerLinkCommand(app, exit_code);
  AddAgentCommand(app, exit_code);
}

}  // namespace georep
