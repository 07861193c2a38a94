// The catalogue of session config options: key, default, description and allowed values,
// per volume kind, and the validation of a value before it is set.
//
// Keys use dashes ("sync-jobs"); gluster's underscore spelling ("sync_jobs") is accepted and
// normalised, since `gluster volume geo-replication ... config` prints either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/entities.h"

namespace georep {

enum class ConfigType { kBool, kInt, kString, kEnum };

struct ConfigOption {
  std::string_view key;
  ConfigType type;
  std::string_view default_value;
  std::string_view description;
  std::vector<std::string_view> allowed;  // kEnum only
  int64_t min;                            // kInt only
  int64_t max;                            // kInt only
};

std::string_view Name(ConfigType t);

// Options that apply to sessions whose source volume is of `kind`.
const std::vector<ConfigOption>& ConfigCatalog(VolumeKind kind);

// Finds an option by key ("sync_jobs" and "sync-jobs" alike).
const ConfigOption* FindConfigOption(VolumeKind kind, std::string_view key);

// The shortest verify-interval (seconds) other than 0 (off): a sampled verify lists the whole
// tree on both sides each time.
inline constexpr int64_t kMinVerifyIntervalSeconds = 10;

// Whether georep itself acts on the option (every option of directory sessions; for gluster
// sessions the heartbeat's, the stall's and the periodic verify's), rather than gluster: such
// options are never sent to the cluster.
bool IsEngineOption(VolumeKind kind, std::string_view key);

// "sync_jobs" -> "sync-jobs".
std::string NormaliseConfigKey(std::string_view key);

// For options that name programs run as root (ssh-command, rsync-options, remote-command...):
// what model/command_options.h allows. Ok for every other key.
Status CheckCommandValue(std::string_view key, std::string_view value);

// Checks `value` against the option; returns the canonical spelling (e.g. "true" for "on").
Result<std::string> ValidateConfigValue(const ConfigOption& option, std::string_view value);

}  // namespace georep
