// Test support for the engine's tests of directory sessions: a process launcher that records the
// command lines it is asked to start and starts nothing, its workers ending when told to. For
// unit tests only.
#pragma once

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/worker_supervisor.h"

namespace georep::testing_support {

// A worker that ends when told to (SIGTERM or SIGKILL), or when a test sets `ended`.
struct RecordedWorker final : ChildProcess {
  int pid() const override { return 1; }
  bool Ended(std::string* how) override {
    if (ended) *how = "was killed by signal 15";
    return ended;
  }
  void Signal(int signal) override { ended = ended || signal == SIGTERM || signal == SIGKILL; }
  bool ended = false;
};

// Records the command lines it is asked to start; starts nothing.
struct RecordingLauncher final : ProcessLauncher {
  Result<std::unique_ptr<ChildProcess>> Launch(const std::vector<std::string>& argv,
                                               const std::string&) override {
    launches.push_back(argv);
    auto w = std::make_unique<RecordedWorker>();
    last = w.get();
    return std::unique_ptr<ChildProcess>(std::move(w));
  }
  std::vector<std::vector<std::string>> launches;
  RecordedWorker* last = nullptr;  // the last one started (gone once the supervisor reaps it)
};

}  // namespace georep::testing_support
