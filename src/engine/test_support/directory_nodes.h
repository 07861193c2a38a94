// Test support for verify on gluster nodes faked at the process seam: each node's "mounted
// volume" is a directory here, on which the real find and sha256sum run. For unit tests only.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/host_connector.h"
#include "engine/test_support/scripted_cluster.h"
#include "engine/test_support/volume_check.h"
#include "host/command_runner.h"

namespace georep::testing_support {

// Nodes whose volumes are directories here: the mount succeeds without doing anything, every
// other command runs for real with /run/georep/verify/ rewritten to the node's directory (and
// back in its output). Each node is known by its address; an address without a node cannot
// be reached.
class DirectoryNodes final : public HostConnector {
 public:
  class Runner final : public CommandRunner {
   public:
    Runner(DirectoryNodes* owner, std::string address)
        : owner_(owner), address_(std::move(address)) {}
    Result<CommandResult> Run(const CommandSpec& spec) override {
      return owner_->RunOn(address_, spec);
    }

   private:
    DirectoryNodes* owner_;
    std::string address_;
  };

  std::unique_ptr<CommandRunner> RunnerFor(const Host& h) override {
    return std::make_unique<Runner>(this, h.address);
  }
  Result<std::vector<HostKey>> ScanHostKeys(const std::string&, int) override {
    return Status::Unavailable("no network in unit tests");
  }
  Status InstallEngineKey(const Host&, const std::string&) override {
    return Status::Unavailable("no network in unit tests");
  }
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }

  Result<CommandResult> RunOn(const std::string& address, const CommandSpec& spec) {
    {
      std::lock_guard lock(mu_);
      runs.push_back({address, spec});
    }
    auto node = nodes.find(address);
    if (node == nodes.end()) return Status::Unavailable(address + ": no route to host");
    if (auto checked = AnswerVolumeCheck(spec)) return *checked;
    if (spec.argv[0] == "gluster" && gluster) return gluster(spec.argv);
    if (spec.argv[0] == "gluster") {  // the session's own commands (create, config)
      if (testing_support::Has(spec.argv, "--xml"))
        return testing_support::Answer(testing_support::Fixture("georep-config.xml"));
      return testing_support::Answer("ok\n");
    }
    if (spec.argv[0] == "rsync") return testing_support::Answer("rsync  version 3.2.7\n");
    if (spec.argv[0] == "sh") return testing_support::Answer("");  // (un)mounted
    if (auto fault = faults.find(address + " " + spec.argv[0]); fault != faults.end())
      return fault->second;
    // The mount point, /run/georep/verify/VOLUME-UUID, is the node's directory VOLUME.
    std::smatch at;
    const std::string& named = spec.argv[0] == "find" ? spec.argv[1] : spec.stdin_data;
    if (!std::regex_search(named, at, std::regex("/run/georep/verify/([a-z0-9]+)-[-0-9a-f]{36}")))
      return Status::InvalidArgument("no mount point in the command");
    const std::string from = at[0], to = node->second + "/" + at[1].str();
    auto rewrite = [](std::string s, const std::string& a, const std::string& b) {
      for (size_t at = s.find(a); at != std::string::npos; at = s.find(a, at + b.size()))
        s.replace(at, a.size(), b);
      return s;
    };
    CommandSpec local = spec;
    for (auto& arg : local.argv) arg = rewrite(arg, from, to);
    local.stdin_data = rewrite(local.stdin_data, from, to);
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, LocalCommandRunner().Run(local));
    r.out = rewrite(r.out, to, from);
    return r;
  }

  std::vector<std::pair<std::string, CommandSpec>> Runs(std::string_view program) {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, CommandSpec>> out;
    for (const auto& r : runs)
      if (r.second.argv[0] == program) out.push_back(r);
    return out;
  }

  std::map<std::string, std::string> nodes;  // address -> the directory holding its volumes
  // Answers gluster's own commands, if set (otherwise: the recorded config, "ok").
  std::function<Result<CommandResult>(const std::vector<std::string>&)> gluster;
  std::map<std::string, CommandResult> faults;  // "address program" -> what it answers

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, CommandSpec>> runs;
};

}  // namespace georep::testing_support
