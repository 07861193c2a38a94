// What the integration tests of the replication engine (replication_*_test.cc) share: a worker
// run once, an engine running one directory session through its API, a source tree rich in
// entries and metadata, the worker's state as its status.json says it, and a look at a worker's
// processes (its agent, what they read) in /proc.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "integration/engine_process.h"
#include "integration/replication_support.h"
#include "replication/applier.h"
#include "replication/block_delta.h"
#include "replication/replicator.h"
#include "replication/test_util.h"

namespace georep::testing {

// The worker's state and reason ("Faulty: ..."), or why its status cannot be read.
std::string ReplicationReason(const std::string& state);

// Whether the worker's status.json says `state` ("Faulty", "Active"...).
bool WorkerStateIs(const std::string& state_dir, const std::string& state);

// Writes `data` to `path`, replacing what was there.
void Write(const std::string& path, const std::string& data);

// `n` random bytes.
std::string Random(std::mt19937_64& rng, size_t n);

// A source tree with every kind of entry and metadata the engine must carry.
void MakeRichTree(const std::string& root);

// `georep worker --once` from `source` to `destination`, with `extra` flags.
struct WorkerRun {
  std::string source, destination, state;
  std::vector<std::string> extra = {};
  CommandResult Once();
};

// An engine (`georep serve`) logged in as admin, running one directory session from `src` to
// `dst` on this machine, created through its API (a cluster, its host, a volume, a destination,
// the session), and that session as the API shows it.
struct EngineSession {
  TempDir data, src, dst;
  std::unique_ptr<EngineProcess> engine;
  std::string token, id, path;  // path: the session's, /api/v1/sessions/ID

  // The engine started (its monitor polling every `interval` s) and the session created, with
  // each of `config`'s keys set; not started. Fatal failures: ASSERT_NO_FATAL_FAILURE.
  void Create(const std::string& interval, const nlohmann::json& config = nlohmann::json::object());
  // Create, then the session started.
  void Start(const std::string& interval, const nlohmann::json& config = nlohmann::json::object());

  // POSTs `body` to `api_path`: the status and the parsed answer (0 and null without one).
  std::pair<int, nlohmann::json> Post(const std::string& api_path, const nlohmann::json& body);
  // The session as GET shows it.
  nlohmann::json Detail();
  // The events of `action` ("session.faulty", ...).
  nlohmann::json Events(const std::string& action);
  // Whether the session is Active with its node in the Changelog Crawl.
  bool ActiveInChangelogCrawl();
  // `georep login` to the engine as admin, the CLI's config in `config_dir`; `*env` names it
  // for the CLI's next calls.
  void LoginCli(const std::string& config_dir, std::vector<std::string>* env);
  std::string StateDir() const { return data.path() + "/sessions/" + id; }
  // The worker's pid, 0 if none runs.
  pid_t Worker() const;
  // Whether the worker has reported Active since `since_ms` (its status.json).
  bool ActiveSince(int64_t since_ms) const;
};

// Bytes a process has read (/proc/PID/io's rchar): what an agent took in, from its stream or
// from the source files it copies itself.
uint64_t BytesRead(pid_t pid);

// /proc/PID/cmdline with its words joined by spaces.
std::string CommandLine(pid_t pid);

// The worker's agent (a descendant whose command line says `agent`); 0 when there is none.
pid_t AgentOf(pid_t worker);

// Bytes of the regular files beneath `root`.
uint64_t TreeBytes(const std::string& root);

// Whether the worker in `state` is Active, in step with no failure, and the trees are the same.
bool ConvergedAndActive(const std::string& src, const std::string& dst, const std::string& state);

}  // namespace georep::testing
