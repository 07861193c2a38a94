#include "model/session_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "base/ascii.h"
#include "model/command_options.h"
#include "model/worker_config.h"

namespace georep {
namespace {

template <size_t N>
std::vector<std::string_view> Values(const std::array<std::string_view, N>& values) {
  return {values.begin(), values.end()};
}

// Defaults and descriptions follow gsyncd's own configuration (gsyncd.conf) of GlusterFS 10.
// The periodic verify: the engine's own options, for both kinds of session.
const ConfigOption kVerifyInterval{
    "verify-interval",
    ConfigType::kInt,
    "0",
    "Seconds between periodic sampled verifies of an Active session (content of verify-sample "
    "percent of the files compared with the destination's); differences the re-check confirms "
    "raise a standing verify-differs alert. 0 turns it off; otherwise at least 10.",
    {},
    0,
    604800};
const ConfigOption kVerifySample{
    "verify-sample",
    ConfigType::kInt,
    "10",
    "Percent of the files whose content the periodic verify compares (picked by a hash of the "
    "path, the same files every time); every entry's metadata is always compared.",
    {},
    1,
    100};

// The alerts' thresholds for one session (model/alerts.h); 0 takes the engine's setting.
const ConfigOption kAlertLagThreshold{
    "alert-lag-threshold",
    ConfigType::kInt,
    "0",
    "Seconds of lag over which the session's lag-high alert fires; 0 takes the engine's "
    "alert-lag-threshold setting.",
    {},
    0,
    int64_t{30} * 86400};
const ConfigOption kAlertCheckpointTimeout{
    "alert-checkpoint-timeout",
    ConfigType::kInt,
    "0",
    "Seconds a checkpoint may take, from when it was set, before the session's "
    "checkpoint-overdue alert fires; 0 takes the engine's alert-checkpoint-timeout setting.",
    {},
    0,
    int64_t{30} * 86400};

// gsyncd's sync-acls, which directory sessions have too.
const ConfigOption kSyncAcls{
    "sync-acls",
    ConfigType::kBool,
    "true",
    "Replicate POSIX ACLs (the access ACL, and a directory's default ACL).",
    {},
    0,
    0};

const std::vector<ConfigOption> kGlusterOptions = {
    {"checkpoint",
     ConfigType::kInt,
     "0",
     "Set to a time (Unix seconds) to know when every change made before it has been synced; "
     "\"now\" sets the current time, 0 clears it.",
     {},
     0,
     INT64_MAX},
    {"sync-method",
     ConfigType::kEnum,
     "rsync",
     "How data is copied: rsync, or tar over ssh (tarssh).",
     {"rsync", "tarssh"},
     0,
     0},
    {"sync-jobs", ConfigType::kInt, "3", "Number of parallel sync jobs per worker.", {}, 1, 64},
    {"timeout",
     ConfigType::kInt,
     "120",
     "Seconds after which an idle connection is dropped.",
     {},
     1,
     86400},
    {"connection-timeout",
     ConfigType::kInt,
     "60",
     "SSH connection time-out in seconds.",
     {},
     1,
     3600},
    {"ignore-deletes",
     ConfigType::kBool,
     "false",
     "Do not replicate deletes: files removed on the source stay on the destination.",
     {},
     0,
     0},
    {"sync-xattrs", ConfigType::kBool, "true", "Replicate extended attributes.", {}, 0, 0},
    kSyncAcls,
    {"use-meta-volume",
     ConfigType::kBool,
     "false",
     "Use the shared meta volume to elect the Active worker of each replica set.",
     {},
     0,
     0},
    {"meta-volume-mnt",
     ConfigType::kString,
     "/run/gluster/shared_storage",
     "Mount point of the shared meta volume.",
     {},
     0,
     0},
    {"change-detector",
     ConfigType::kEnum,
     "changelog",
     "How changes are found: the changelog, or a crawl (xsync).",
     {"changelog", "xsync"},
     0,
     0},
    {"change-interval",
     ConfigType::kInt,
     "5",
     "Seconds between change-detection rounds.",
     {},
     1,
     3600},
    {"changelog-batch-size",
     ConfigType::kInt,
     "727040",
     "Maximum bytes of changelogs processed in one batch.",
     {},
     1,
     INT64_MAX},
    {"max-rsync-retries",
     ConfigType::kInt,
     "10",
     "Retries of a failed rsync before the entries are logged as failures.",
     {},
     1,
     1000},
    {"rsync-options", ConfigType::kString, "", "Extra options passed to rsync.", {}, 0, 0},
    {"rsync-ssh-options", ConfigType::kString, "", "Extra ssh options rsync uses.", {}, 0, 0},
    {"ssh-port", ConfigType::kInt, "22", "SSH port of the destination hosts.", {}, 1, 65535},
    {"ssh-command", ConfigType::kString, "ssh", "The ssh command workers use.", {}, 0, 0},
    {"gluster-command-dir",
     ConfigType::kString,
     "/usr/sbin",
     "Directory of the gluster binary on the source hosts.",
     {},
     0,
     0},
    {"slave-gluster-command-dir",
     ConfigType::kString,
     "/usr/sbin",
     "Directory of the gluster binary on the destination hosts.",
     {},
     0,
     0},
    {"log-level",
     ConfigType::kEnum,
     "INFO",
     "gsyncd log level.",
     {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
     0,
     0},
    {"gluster-log-level",
     ConfigType::kEnum,
     "INFO",
     "Log level of the auxiliary mounts.",
     {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE", "NONE"},
     0,
     0},
    {"changelog-log-level",
     ConfigType::kEnum,
     "INFO",
     "Log level of the changelog agent.",
     {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
     0,
     0},
    {"log-rsync-performance",
     ConfigType::kBool,
     "false",
     "Log rsync statistics per batch.",
     {},
     0,
     0},
    {"replica-failover-interval",
     ConfigType::kInt,
     "1",
     "Seconds between checks for a replica failover.",
     {},
     1,
     3600},
    // georep's own (kEngineOptions): never sent to gluster.
    {"heartbeat-interval",
     ConfigType::kInt,
     "30",
     "Seconds between end-to-end heartbeats: georep writes a small file into .georep/heartbeat "
     "on the source volume and reads it back from the destination volume, for the session's "
     "lag, a check that file contents arrive intact, and stall detection. 0 turns it off (the "
     "lag is then unknown).",
     {},
     0,
     86400},
    {"stall-threshold",
     ConfigType::kInt,
     "0",
     "Seconds a heartbeat may travel before an Active session is shown stalled; 0 means three "
     "heartbeat intervals plus 60 s.",
     {},
     0,
     604800},
    {"stall-action",
     ConfigType::kEnum,
     "none",
     "What georep does when the session stalls: none (show it, raise an event), or restart "
     "(stop and start the session's workers, which makes gsyncd catch up with a History "
     "Crawl; at most once per stall threshold).",
     {"none", "restart"},
     0,
     0},
    kVerifyInterval,
    kVerifySample,
    kAlertLagThreshold,
    kAlertCheckpointTimeout,
};

// The options of gluster sessions that are georep's own, not gsyncd's.
constexpr std::string_view kEngineOptions[] = {
    "heartbeat-interval",      "stall-threshold", "stall-action",
    "verify-interval",         "verify-sample",   "alert-lag-threshold",
    "alert-checkpoint-timeout"};

// Options of georep's own engine for directory volumes.
const std::vector<ConfigOption> kDirectoryOptions = {
    {"checkpoint",
     ConfigType::kInt,
     "0",
     "Set to a time (Unix seconds) to know when every change made before it has been applied; "
     "\"now\" sets the current time, 0 clears it.",
     {},
     0,
     INT64_MAX},
    {"sync-jobs",
     ConfigType::kInt,
     "1",
     "Parallel transfer streams: agent connections per worker (for a remote destination, ssh "
     "sessions, each encrypting on its own core). One carries everything in order; the others "
     "carry file contents that cannot race with it. 1 by default (gluster's is 3): one "
     "pipelined stream keeps a local disk or a LAN busy, and more only pay where ssh's "
     "encryption is the limit -- while every session would open that many ssh connections.",
     {},
     1,
     kMaxWorkerSyncJobs},
    {"ignore-deletes",
     ConfigType::kBool,
     "false",
     "Do not replicate deletes: files removed on the source stay on the destination.",
     {},
     0,
     0},
    {"sync-xattrs", ConfigType::kBool, "true", "Replicate extended attributes.", {}, 0, 0},
    kSyncAcls,
    {"ssh-port", ConfigType::kInt, "22", "SSH port of the destination host.", {}, 1, 65535},
    {"ssh-command",
     ConfigType::kString,
     "ssh",
     "The ssh command used to reach the destination.",
     {},
     0,
     0},
    {"remote-command",
     ConfigType::kString,
     "georep agent",
     "The command that runs the receiving agent on the destination.",
     {},
     0,
     0},
    {"source-command",
     ConfigType::kString,
     "georep",
     "The georep command on the source host, when the source volume is on an ssh host: the "
     "worker runs there.",
     {},
     0,
     0},
    {"compression", ConfigType::kEnum, "none", "Compress data on the wire.",
     Values(kWorkerCompressions), 0, 0},
    {"bandwidth-limit",
     ConfigType::kInt,
     "0",
     "Bytes per second; 0 is unlimited.",
     {},
     0,
     INT64_MAX},
    {"durability", ConfigType::kEnum, "batch",
     "When the destination syncs what it writes: batch (a batch's files are renamed into place "
     "after one sync of their data, so no partial file is ever visible), file (a sync per "
     "file), dir (a sync per file and per directory change: a created or removed entry "
     "survives a power cut once applied), or none (fastest; after a power cut a file may be "
     "empty or partial).",
     Values(kWorkerDurabilities), 0, 0},
    {"rescan-interval",
     ConfigType::kInt,
     "3600",
     "Seconds between safety rescans of the whole source; 0 disables them.",
     {},
     0,
     kMaxRescanIntervalSeconds},
    {"change-capture", ConfigType::kEnum, "auto",
     "How the worker sees live changes: fanotify (one filesystem mark for the whole tree; needs "
     "root, Linux 5.9 or later and a source on one file system), inotify (a watch on every "
     "directory), or auto (fanotify where it can be used, else inotify).",
     Values(kWorkerChangeCaptures), 0, 0},
    {"exclude",
     ConfigType::kString,
     "",
     "Comma-separated glob patterns not to replicate.",
     {},
     0,
     0},
    {"log-level", ConfigType::kEnum, "INFO",
     "Worker log level (TRACE: each entry a pass looks at, and what it does with it).",
     Values(kWorkerLogLevels), 0, 0},
    // The engine's own, not the worker's: the periodic verify.
    kVerifyInterval,
    kVerifySample,
    kAlertLagThreshold,
    kAlertCheckpointTimeout,
};

}  // namespace

std::string_view Name(ConfigType t) {
  switch (t) {
    case ConfigType::kBool:
      return "bool";
    case ConfigType::kInt:
      return "int";
    case ConfigType::kString:
      return "string";
    case ConfigType::kEnum:
      return "enum";
  }
  return "string";
}

const std::vector<ConfigOption>& ConfigCatalog(VolumeKind kind) {
  return kind == VolumeKind::kGluster ? kGlusterOptions : kDirectoryOptions;
}

bool IsEngineOption(VolumeKind kind, std::string_view key) {
  if (kind != VolumeKind::kGluster) return true;
  for (auto k : kEngineOptions)
    if (k == key) return true;
  return false;
}

std::string NormaliseConfigKey(std::string_view key) {
  std::string out(key);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

const ConfigOption* FindConfigOption(VolumeKind kind, std::string_view key) {
  std::string k = NormaliseConfigKey(key);
  for (const auto& o : ConfigCatalog(kind))
    if (o.key == k) return &o;
  return nullptr;
}

Status CheckCommandValue(std::string_view key, std::string_view value) {
  if (key == "ssh-command") return ParseSshCommand(key, value).status();
  if (key == "rsync-ssh-options") return CheckSshOptions(key, CommandWords(value));
  if (key == "rsync-options") return CheckRsyncOptions(key, value);
  if (key == "remote-command" || key == "source-command") return CheckProgramWords(key, value);
  if (key == "gluster-command-dir" || key == "slave-gluster-command-dir") {
    GEOREP_RETURN_IF_ERROR(CheckProgramWords(key, value));
    if (!value.empty() && (value.front() != '/' || CommandWords(value).size() != 1))
      return Status::InvalidArgument(fmt::format("{} must be an absolute directory path", key));
  }
  return Status::Ok();
}

Result<std::string> ValidateConfigValue(const ConfigOption& o, std::string_view value) {
  if (value.size() > 1024) {
    return Status::InvalidArgument(fmt::format("value for {} is longer than 1024 bytes", o.key));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument(
          fmt::format("value for {} must not contain control characters", o.key));
    }
  }
  switch (o.type) {
    case ConfigType::kBool: {
      std::string v = AsciiLower(value);
      if (v == "true" || v == "on" || v == "yes" || v == "1") return std::string("true");
      if (v == "false" || v == "off" || v == "no" || v == "0") return std::string("false");
      return Status::InvalidArgument(fmt::format("{} takes true or false, not '{}'", o.key, value));
    }
    case ConfigType::kInt: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return Status::InvalidArgument(
            fmt::format("{} takes a whole number, not '{}'", o.key, value.substr(0, 40)));
      }
      if (n < o.min || n > o.max) {
        return Status::InvalidArgument(
            fmt::format("{} must be between {} and {}, not {}", o.key, o.min, o.max, n));
      }
      if (o.key == "verify-interval" && n != 0 && n < kMinVerifyIntervalSeconds) {
        return Status::InvalidArgument(
            fmt::format("verify-interval is 0 (off) or at least {} seconds, not {}",
                        kMinVerifyIntervalSeconds, n));
      }
      return std::to_string(n);
    }
    case ConfigType::kEnum: {
      for (auto a : o.allowed)
        if (a == value) return std::string(a);
      std::string list;
      for (auto a : o.allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::InvalidArgument(
          fmt::format("{} must be one of: {} (not '{}')", o.key, list, value.substr(0, 40)));
    }
    case ConfigType::kString:
      GEOREP_RETURN_IF_ERROR(CheckCommandValue(o.key, value));
      return std::string(value);
  }
  return Status::Internal("unknown config type");
}

}  // namespace georep
