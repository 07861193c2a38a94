#include "worker/worker_flags.h"

#include <fmt/format.h>

#include <sstream>

namespace georep {
namespace {

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

template <size_t N>
std::vector<std::string> Strings(const std::array<std::string_view, N>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

Result<WorkerConfig> WorkerFlags::Config() const {
  WorkerConfig c = settings;
  c.source = source;
  c.state_dir = state_dir;
  c.remote_worker = status_stdout && stop_on_stdin_eof;
  const auto sep = destination.find("::");
  if (sep == std::string::npos) {
    c.destination_path = destination;
    return c;
  }
  // [USER@]HOST::PATH: the agent runs on the host behind the ssh command.
  WorkerSsh ssh;
  ssh.user_host = destination.substr(0, sep);
  c.destination_path = destination.substr(sep + 2);
  if (ssh.user_host.empty() || c.destination_path.empty()) {
    return Status::InvalidArgument(
        fmt::format("--destination '{}' is neither /path nor [USER@]HOST::/path", destination));
  }
  ssh.command = SplitWords(ssh_command);
  if (ssh.command.empty()) ssh.command = {"ssh"};
  ssh.port = ssh_port;
  ssh.remote_command = SplitWords(remote_command);
  if (ssh.remote_command.empty())
    return Status::InvalidArgument(
        "--remote-command is empty: it runs the agent on the destination");
  c.ssh = std::move(ssh);
  return c;
}

void AddWorkerFlags(CLI::App& cmd, WorkerFlags& f) {
  WorkerConfig& s = f.settings;
  cmd.add_option("--source", f.source, "Source directory")->required();
  cmd.add_option("--destination", f.destination, "Destination: /path or [USER@]HOST::/path")
      ->required();
  cmd.add_option("--state-dir", f.state_dir, "This session's index, status and logs")->required();
  cmd.add_option("--ssh-command", f.ssh_command, "How to reach a remote destination")
      ->capture_default_str();
  cmd.add_option("--ssh-port", f.ssh_port, "SSH port (0: the ssh command's default)")
      ->check(CLI::Range(0, 65535));
  cmd.add_option("--remote-command", f.remote_command,
                 "The command that runs the agent on the destination")
      ->capture_default_str();
  cmd.add_flag("--compress", s.compress, "zstd-compress file data");
  cmd.add_flag("--ignore-deletes", s.ignore_deletes, "Do not replicate deletes");
  cmd.add_flag("--no-xattrs{false}", s.sync_xattrs, "Do not replicate extended attributes");
  cmd.add_flag("--no-acls{false}", s.sync_acls, "Do not replicate POSIX ACLs");
  cmd.add_flag("--stream-only", f.stream_only,
               "Send all file contents through the agent's stream, as to a remote "
               "destination, even when the destination is on this host");
  cmd.add_option("--log-level", s.log_level,
                 "What worker.log in the state directory gets: trace (each entry a pass looks "
                 "at, and what it does with it), debug (each pass), info, warning or error")
      ->capture_default_str()
      ->transform(CLI::IsMember(Strings(kWorkerLogLevels), CLI::ignore_case));
  cmd.add_option("--exclude", s.excludes, "fnmatch pattern of paths or names to skip");
  cmd.add_option("--rescan-interval", s.rescan_interval_s,
                 "Seconds between safety rescans (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, kMaxRescanIntervalSeconds));
  cmd.add_option("--bandwidth-limit", s.bandwidth_limit, "Bytes per second (0: unlimited)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--durability", s.durability,
                 "none (no sync), batch (files renamed in after one sync per batch), file (a "
                 "sync per file) or dir (and per directory change)")
      ->capture_default_str()
      ->check(CLI::IsMember(Strings(kWorkerDurabilities)));
  cmd.add_option("--change-capture", s.change_capture,
                 "How live changes are seen: fanotify (one filesystem mark; root, Linux 5.9+), "
                 "inotify (a watch per directory), or auto (fanotify where it can watch the "
                 "source, else inotify)")
      ->capture_default_str()
      ->check(CLI::IsMember(Strings(kWorkerChangeCaptures)));
  cmd.add_option("--sync-jobs", s.sync_jobs,
                 "Agent connections (for a remote destination, ssh sessions): one carries "
                 "everything in order, the others file contents that cannot race with it")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxWorkerSyncJobs));
  cmd.add_flag("--once", f.once, "One full pass, then exit");
  cmd.add_flag("--status-stdout", f.status_stdout,
               "Also print each status update on stdout, one line of JSON (a worker on "
               "another host reports to `georep worker-link` so)");
  cmd.add_flag("--stop-on-stdin-eof", f.stop_on_stdin_eof,
               "Stop cleanly when stdin ends (a worker started over ssh)");
}

Result<WorkerConfig> ParseWorkerFlags(const std::vector<std::string>& flags) {
  CLI::App app("georep worker");
  WorkerFlags f;
  AddWorkerFlags(app, f);
  std::vector<std::string> reversed(flags.rbegin(), flags.rend());  // CLI11 parses from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(fmt::format("georep worker: {}", e.what()));
  }
  return f.Config();
}

}  // namespace georep
