#include "model/worker_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace georep {
namespace {

template <size_t N>
bool OneOf(const std::array<std::string_view, N>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Result<int64_t> Integer(std::string_view key, std::string_view value, int64_t min, int64_t max) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < min || n > max) {
    return Status::InvalidArgument(
        fmt::format("{} must be an integer from {} to {}, not '{}'", key, min, max, value));
  }
  return n;
}

}  // namespace

std::vector<std::string> WorkerConfig::Flags() const {
  std::vector<std::string> f = {
      "--source",         source,        "--state-dir",       state_dir,
      "--durability",     durability,    "--rescan-interval", std::to_string(rescan_interval_s),
      "--change-capture", change_capture};
  if (!ssh) {
    f.insert(f.end(), {"--destination", destination_path});
  } else {
    f.insert(f.end(), {"--destination", fmt::format("{}::{}", ssh->user_host, destination_path),
                       "--ssh-command", Join(ssh->command)});
    if (ssh->port != 0) f.insert(f.end(), {"--ssh-port", std::to_string(ssh->port)});
    f.insert(f.end(), {"--remote-command", Join(ssh->remote_command)});
  }
  if (compress) f.push_back("--compress");
  if (ignore_deletes) f.push_back("--ignore-deletes");
  if (!sync_xattrs) f.push_back("--no-xattrs");
  if (!sync_acls) f.push_back("--no-acls");
  f.insert(f.end(), {"--log-level", Lower(log_level)});
  if (sync_jobs != 1) f.insert(f.end(), {"--sync-jobs", std::to_string(sync_jobs)});
  if (bandwidth_limit != 0)
    f.insert(f.end(), {"--bandwidth-limit", std::to_string(bandwidth_limit)});
  for (const auto& pattern : excludes) f.insert(f.end(), {"--exclude", pattern});
  if (remote_worker) f.insert(f.end(), {"--status-stdout", "--stop-on-stdin-eof"});
  return f;
}

Result<bool> ApplyWorkerSetting(WorkerConfig& c, std::string_view key, std::string_view value) {
  auto one_of = [&](const auto& values, std::string* out) -> Result<bool> {
    if (!OneOf(values, value)) {
      return Status::InvalidArgument(
          fmt::format("{} cannot be '{}' (one of: {})", key, value, fmt::join(values, ", ")));
    }
    *out = std::string(value);
    return true;
  };
  auto flag = [&](bool* out) -> Result<bool> {
    if (value != "true" && value != "false")
      return Status::InvalidArgument(fmt::format("{} is true or false, not '{}'", key, value));
    *out = value == "true";
    return true;
  };
  if (key == "durability") return one_of(kWorkerDurabilities, &c.durability);
  if (key == "change-capture") return one_of(kWorkerChangeCaptures, &c.change_capture);
  if (key == "log-level") return one_of(kWorkerLogLevels, &c.log_level);
  if (key == "compression") {
    std::string compression;
    GEOREP_ASSIGN_OR_RETURN(bool ok, one_of(kWorkerCompressions, &compression));
    c.compress = compression == "zstd";
    return ok;
  }
  if (key == "ignore-deletes") return flag(&c.ignore_deletes);
  if (key == "sync-xattrs") return flag(&c.sync_xattrs);
  if (key == "sync-acls") return flag(&c.sync_acls);
  if (key == "rescan-interval") {
    GEOREP_ASSIGN_OR_RETURN(c.rescan_interval_s, Integer(key, value, 0, kMaxRescanIntervalSeconds));
    return true;
  }
  if (key == "sync-jobs") {
    GEOREP_ASSIGN_OR_RETURN(int64_t jobs, Integer(key, value, 1, kMaxWorkerSyncJobs));
    c.sync_jobs = static_cast<int>(jobs);
    return true;
  }
  if (key == "bandwidth-limit") {
    GEOREP_ASSIGN_OR_RETURN(c.bandwidth_limit, Integer(key, value, 0, INT64_MAX));
    return true;
  }
  if (key == "exclude") {
    c.excludes.clear();
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = value.find(',', start);
      std::string_view pattern = value.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (!pattern.empty()) c.excludes.emplace_back(pattern);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return true;
  }
  return false;
}

}  // namespace georep
