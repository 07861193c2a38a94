// The worker's settings are defined once (model/worker_config.h): every value the session
// config catalogue offers a directory session reaches `georep worker` as the engine meant it,
// and the worker refuses what the catalogue does not offer.
#include "worker/worker_flags.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "model/session_config.h"
#include "model/worker_config.h"

namespace georep {
namespace {

// Catalogue options of directory sessions that are not the worker's settings: the engine
// acts on them itself (how it reaches the hosts, checkpoints, the periodic verify).
const std::set<std::string_view> kNotTheWorkers = {"checkpoint",
                                                   "ssh-port",
                                                   "ssh-command",
                                                   "remote-command",
                                                   "source-command",
                                                   "verify-interval",
                                                   "verify-sample",
                                                   "alert-lag-threshold",
                                                   "alert-checkpoint-timeout"};

WorkerConfig Base(bool over_ssh) {
  WorkerConfig c;
  c.source = "/srv/src dir";
  c.state_dir = "/var/lib/georep/workers/s1";
  c.destination_path = "/srv/dst";
  if (over_ssh) {
    WorkerSsh ssh;
    ssh.command = {"ssh", "-i", "/var/lib/georep/ssh/id_ed25519", "-o",
                   "UserKnownHostsFile=/var/lib/georep/ssh/known_hosts-b-22"};
    ssh.user_host = "root@backup";
    ssh.port = 2222;
    ssh.remote_command = {"/opt/georep/bin/georep", "agent"};
    c.ssh = ssh;
    c.remote_worker = true;
  }
  return c;
}

// Every value the catalogue offers for `o`: each of an enum's, a bool's two, an integer's
// bounds and one between, and a string option's sample.
std::vector<std::string> OfferedValues(const ConfigOption& o) {
  switch (o.type) {
    case ConfigType::kEnum:
      return {o.allowed.begin(), o.allowed.end()};
    case ConfigType::kBool:
      return {"true", "false"};
    case ConfigType::kInt:
      return {std::to_string(o.min), std::to_string(o.max), std::to_string(o.min + 1)};
    case ConfigType::kString:
      return {std::string(o.default_value), "*.tmp,,cache/*,a b"};
  }
  return {};
}

TEST(WorkerFlags, TheCatalogueDefaultsAreTheWorkersDefaults) {
  WorkerConfig from_catalogue;
  for (const auto& o : ConfigCatalog(VolumeKind::kDirectory)) {
    auto applied = ApplyWorkerSetting(from_catalogue, o.key, o.default_value);
    ASSERT_TRUE(applied.ok()) << o.key << ": " << applied.status().ToString();
    // A new option is the worker's or named above: never silently dropped on the way.
    EXPECT_EQ(*applied, !kNotTheWorkers.contains(o.key)) << o.key;
  }
  EXPECT_EQ(from_catalogue, WorkerConfig{});
}

TEST(WorkerFlags, EveryValueTheCatalogueOffersReachesTheWorkerUnchanged) {
  int checked = 0;
  for (bool over_ssh : {false, true}) {
    for (const auto& o : ConfigCatalog(VolumeKind::kDirectory)) {
      if (kNotTheWorkers.contains(o.key)) continue;
      for (const std::string& value : OfferedValues(o)) {
        ASSERT_TRUE(ValidateConfigValue(o, value).ok()) << o.key << "=" << value;
        WorkerConfig want = Base(over_ssh);
        auto applied = ApplyWorkerSetting(want, o.key, value);
        ASSERT_TRUE(applied.ok() && *applied) << o.key << "=" << value;
        auto got = ParseWorkerFlags(want.Flags());
        ASSERT_TRUE(got.ok()) << o.key << "=" << value << ": " << got.status().ToString();
        EXPECT_EQ(*got, want) << o.key << "=" << value;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 2 * 25);  // every option above, not a loop that skipped them all
}

TEST(WorkerFlags, TheWorkerRefusesWhatTheCatalogueDoesNotOffer) {
  const std::vector<std::vector<std::string>> refused = {
      {"--durability", "fast"},     {"--durability", "BATCH"},
      {"--sync-jobs", "0"},         {"--sync-jobs", std::to_string(kMaxWorkerSyncJobs + 1)},
      {"--rescan-interval", "-1"},  {"--rescan-interval", "604801"},
      {"--change-capture", "poll"}, {"--log-level", "verbose"},
      {"--bandwidth-limit", "-5"},  {"--ssh-port", "70000"},
      {"--destination", "host::"},  {"--remote-command", ""}};
  for (const auto& extra : refused) {
    std::vector<std::string> flags = {"--source",      "/a",        "--state-dir", "/s",
                                      "--destination", "backup::/b"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    EXPECT_FALSE(ParseWorkerFlags(flags).ok()) << extra[0] << " " << extra[1];
  }
  // ... and the catalogue refuses the same values, so a stored config never starts a worker
  // that exits at once.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"durability", "fast"},
                                                        {"sync-jobs", "17"},
                                                        {"rescan-interval", "604801"},
                                                        {"change-capture", "poll"},
                                                        {"log-level", "verbose"}}) {
    const ConfigOption* o = FindConfigOption(VolumeKind::kDirectory, key);
    ASSERT_NE(o, nullptr) << key;
    EXPECT_FALSE(ValidateConfigValue(*o, value).ok()) << key << "=" << value;
  }
}

TEST(WorkerFlags, ALocalDestinationHasNoSsh) {
  auto c = ParseWorkerFlags({"--source", "/a", "--state-dir", "/s", "--destination", "/b"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->ssh.has_value());
  EXPECT_EQ(c->destination_path, "/b");
  auto remote = ParseWorkerFlags({"--source", "/a", "--state-dir", "/s", "--destination",
                                  "geo@backup::/b", "--ssh-command", "ssh -o A=b"});
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  ASSERT_TRUE(remote->ssh.has_value());
  EXPECT_EQ(remote->ssh->user_host, "geo@backup");
  EXPECT_EQ(remote->ssh->command, (std::vector<std::string>{"ssh", "-o", "A=b"}));
  EXPECT_EQ(remote->ssh->remote_command, (std::vector<std::string>{"georep", "agent"}));
  EXPECT_EQ(remote->destination_path, "/b");
}

}  // namespace
}  // namespace georep
