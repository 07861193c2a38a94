// What the tests against real GlusterFS (gluster_*_test.cc) share: GlusterTest, a fixture that
// brings up the lab's clusters (tests/gluster/cluster.sh: a 2-node source cluster and a
// destination node in network namespaces, each with its own sshd and host key) and an engine
// that imports them; and looks into the lab's nodes (commands in their namespaces, their
// processes, their routes).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "host/ssh_transport.h"
#include "integration/engine_process.h"

namespace georep::testing {

using Json = nlohmann::json;

// A lab node: its name (src1, src2, dst1), address and host key fingerprint.
struct Node {
  std::string name, ip, fingerprint;
};

// Polls `check` every `every_ms` until it is true or `seconds` pass.
bool WaitFor(int seconds, const std::function<bool()>& check, int every_ms = 500);

// The file's contents ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// On a test node: runs argv in its network and mount namespaces.
CommandResult OnNode(const std::string& node, std::vector<std::string> argv);

// The SHA-256 of a file on a test node ("" when it cannot be read).
std::string Sha256OnNode(const std::string& node, const std::string& path);

// What gluster's config of the session `volume` -> `destination` ("ip::volume") says `key` is,
// asked on `node` (the value's line). A glusterd transaction of the engine's (a full monitor
// pass right after a session appears) can make the CLI fail for a moment: asked again for up to
// 60 s; after that, "gluster failed: " and what it said.
std::string GlusterConfigOnNode(const std::string& node, const std::string& volume,
                                const std::string& destination, const std::string& key);

// The ssh clients on `node` (its network namespace's processes) connected to `ip`: gsyncd's
// connections to the destination.
std::vector<pid_t> SshClientsTo(const std::string& node, const std::string& ip);

// The pids of gsyncd's workers on `node` (its network namespace's processes).
std::vector<pid_t> GsyncdWorkers(const std::string& node);

// The `georep worker` processes running in a lab node's network namespace.
std::vector<pid_t> WorkersOnNode(const std::string& node);

// Wall-clock milliseconds since the epoch.
int64_t NowMs();

// Sets the config `key` of the session at `path` to `value` through `engine`'s API as `token`'s
// user; a fatal failure unless it answers 200 (call it under ASSERT_NO_FATAL_FAILURE).
void SetSessionConfig(EngineProcess& engine, const std::string& token, const std::string& path,
                      const std::string& key, const std::string& value);

// `ip` unreachable from the source nodes (a route in each node's namespace; the engine still
// reaches every node) until Restore() or the end of the scope, whichever comes first.
class UnreachableFromSources {
 public:
  explicit UnreachableFromSources(std::string ip) : ip_(std::move(ip)) {}
  ~UnreachableFromSources() { Restore(); }
  UnreachableFromSources(const UnreachableFromSources&) = delete;
  UnreachableFromSources& operator=(const UnreachableFromSources&) = delete;
  bool Cut(const std::string& node);
  void Restore();

 private:
  std::string ip_;
  std::vector<std::string> nodes_;
};

// The lab's clusters up (their state under GEOREP_GLUSTER_STATE) and an engine, logged in as
// admin, whose key the nodes trust. GEOREP_SKIP_GLUSTER skips (quick local runs only);
// GEOREP_KEEP_CLUSTERS leaves the clusters up after a test, to look at by hand.
class GlusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // POST /clusters/import through src1 with `fingerprint` for its key; the HTTP status in
  // `*status`.
  Json Import(const std::string& fingerprint, int* status);

  // The source cluster imported through src1, with src2's key confirmed too (both Up).
  struct Source {
    std::string cluster, src1, src2, volume;
  };
  void ImportSource(Source* out);

  // Root's password on every lab node (sshd accepts it: the one-time-password key install).
  static std::string RootPassword();
  // A one-time password is nowhere the engine writes: its output, its database, the events
  // (those of `events_query`).
  void ExpectNeitherStoredNorLogged(const std::string& password, const std::string& events_query);

  // POST `body` to `path`: the status and the parsed answer (0 and null without one).
  std::pair<int, Json> PostJson(const std::string& path, const Json& body);
  // A destination for gluster sessions from `source`'s src1 to dst1 (dst1's key pinned, the
  // source nodes' keys copied there); `*id` is its id.
  void CreateDestinationOnDst1(const Source& source, std::string* id);
  // The source's gv0 mounted on src1 at `src_mnt` and the destination's `dst_volume` on dst1 at
  // `dst_mnt`, each mount point made first.
  void MountVolumes(const std::string& src_mnt, const std::string& dst_volume,
                    const std::string& dst_mnt);
  // A directory volume `name` on src1 at `src_dir` (holding a.txt and sub/b.bin), a
  // destination at `dest_host` (dst1's key pinned) and a session from the one to `dst_dir`
  // there; `*path` is the session's API path.
  void CreateDirectorySession(const Source& source, const std::string& name,
                              const std::string& src_dir, const std::string& dest_host,
                              const std::string& dst_dir, std::string* path);
  // Starts the session at `path` and waits until it is Active in the Changelog Crawl with
  // what CreateDirectorySession wrote at `dst_dir`.
  void StartDirectorySession(const std::string& path, const std::string& dst_dir);
  // A file written while the session at `path` runs arrives at `dst_dir`; then verify finds
  // the two sides identical, contents included.
  void WriteLiveAndVerify(const std::string& path, const std::string& src_dir,
                          const std::string& dst_dir);

  TempDir data_;
  std::vector<Node> nodes_;
  std::unique_ptr<EngineProcess> engine_;
  std::string token_;
};

}  // namespace georep::testing
