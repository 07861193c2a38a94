// What the integration tests of the replication engine (replication_*_test.cc) share: a worker
// run once, a source tree rich in entries and metadata, the worker's state as its status.json
// says it, and a look at a worker's processes (its agent, what they read) in /proc.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
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
