// Test support for the engine's gluster code: a cluster of hosts that answer through scripts
// the test sets (by host address), recording every command with the host that ran it, and the
// recorded gluster output under gluster/testdata (Fixture, gluster/test_support/testdata.h). For
// unit tests only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/host_connector.h"
#include "engine/test_support/volume_check.h"
#include "gluster/test_support/testdata.h"
#include "model/path_guard.h"

namespace georep::testing_support {

inline CommandResult Answer(std::string out, int exit_code = 0) {
  CommandResult r;
  r.exit_code = exit_code;
  r.out = std::move(out);
  return r;
}

// Each host answers through a script the test sets; every command is recorded with the host
// that ran it.
class ScriptedCluster final : public HostConnector {
 public:
  using Script = std::function<Result<CommandResult>(const std::vector<std::string>&)>;

  class Runner final : public CommandRunner {
   public:
    Runner(ScriptedCluster* owner, std::string address)
        : owner_(owner), address_(std::move(address)) {}
    Result<CommandResult> Run(const CommandSpec& spec) override {
      // Commands may come from several threads (the preflight asks every node at once): one
      // at a time here, so scripts and the log need no locks of their own.
      // The path guards' probe (model/path_guard.h) is not part of any script: unanswered, the
      // paths compare as written.
      if (spec.argv.size() > 3 && spec.argv[3] == kPathProbeName)
        return Status::Unavailable(address_ + ": no path probe here");
      if (auto checked = AnswerVolumeCheck(spec)) return *checked;
      std::lock_guard<std::mutex> lock(owner_->mu);
      owner_->log.emplace_back(address_, spec.argv);
      owner_->inputs.push_back(spec.stdin_data);
      auto it = owner_->scripts.find(address_);
      if (it == owner_->scripts.end()) return Status::Unavailable(address_ + ": no route to host");
      return it->second(spec.argv);
    }

   private:
    ScriptedCluster* owner_;
    std::string address_;
  };

  std::unique_ptr<CommandRunner> RunnerFor(const Host& h) override {
    return std::make_unique<Runner>(this, h.address);
  }
  Result<std::vector<HostKey>> ScanHostKeys(const std::string&, int) override {
    return Status::Unavailable("no network in unit tests");
  }
  // Records the attempt; accepts `accepted_password` only (none when it is empty).
  Status InstallEngineKey(const Host& h, const std::string& password) override {
    installs.push_back(h);
    if (accepted_password.empty()) return Status::Unavailable("no network in unit tests");
    if (password != accepted_password)
      return Status::PermissionDenied(h.ssh_user + "@" + h.address + " refused the password");
    return Status::Ok();
  }
  std::string EnginePublicKey() override { return ""; }
  std::string EngineKeyFingerprint() override { return ""; }

  std::mutex mu;                          // one command at a time
  std::map<std::string, Script> scripts;  // by host address
  std::vector<std::pair<std::string, std::vector<std::string>>> log;
  std::vector<std::string> inputs;  // each command's standard input, as `log`
  std::string accepted_password;
  std::vector<Host> installs;  // every InstallEngineKey, accepted or not
};

inline bool Has(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

}  // namespace georep::testing_support
