#include "replication/worker_link.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>

#include "base/clock.h"
#include "replication/agent_link.h"
#include "replication/replicator.h"

namespace georep::replication {
namespace {

// Whether a line is ssh's own complaint about the connection (not the remote command's).
bool IsSshDiagnostic(const std::string& line) {
  for (const char* mark : {"ssh: ", "Permission denied", "Host key verification failed",
                           "Connection closed by", "Connection reset by", "Connection timed out",
                           "Timeout, server", "kex_exchange_identification"})
    if (line.find(mark) != std::string::npos) return true;
  return false;
}

// What Close() said of the ssh process ("the agent exited with 255: TAIL"), said of the
// worker. ssh exits 255 for its own failures, and also when the remote command was killed by
// a signal: only ssh's own words make it "cannot reach".
Status WorkerEnded(const std::string& where, const Status& closed) {
  std::string how = closed.message();
  if (how.rfind("the agent ", 0) == 0) how = how.substr(10);
  const auto colon = how.find(": ");
  const std::string tail = colon == std::string::npos ? "" : how.substr(colon + 2);
  if (how.rfind("exited with 255", 0) == 0) {
    if (IsSshDiagnostic(tail))
      return Status::Unavailable(
          fmt::format("cannot reach the source host {} over ssh: {}", where, tail));
    return Status::Unavailable(
        fmt::format("the worker on {} ended abnormally (ssh exited with 255){}", where,
                    tail.empty() ? "" : ": " + tail));
  }
  return Status::Unavailable(fmt::format("the worker on {} {}", where, how));
}

void AppendToLog(const std::string& state_dir, const std::string& line) {
  std::ofstream(state_dir + "/worker.log", std::ios::app) << line << "\n";
}

}  // namespace

Status RunWorkerLink(const WorkerLinkOptions& options, const std::atomic<bool>& stop) {
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<AgentLink> link,
                          SpawnAgent(options.argv, options.state_dir + "/worker.log"));
  SystemClock clock;
  std::string pending;
  char buf[16384];
  while (true) {
    if (stop.load()) {
      // Close() ends the worker's stdin: on that EOF it stops cleanly, within the grace time.
      Status closed = link->Close(options.stop_grace_s);
      return closed.ok() ? Status::Ok() : WorkerEnded(options.where, closed);
    }
    pollfd p{link->read_fd(), POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = ::read(link->read_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the worker (or ssh) ended
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string line = pending.substr(start, nl - start);
      auto status = StatusFromJson(line);
      if (!status.ok()) {
        // Not a status: the remote side printing something else (a login banner, a shell's
        // complaint). Kept in the log, where a failure's reason is looked for.
        AppendToLog(options.state_dir, line);
        continue;
      }
      status->updated_ms = clock.NowMillis();
      if (Status st = WriteWorkerStatus(options.state_dir, *status); !st.ok())
        AppendToLog(options.state_dir, "georep worker-link: " + st.message());
    }
    pending.erase(0, start);
    if (pending.size() > (1 << 20)) pending.clear();  // no line is that long
  }
  // The worker ended on its own, or its connection did.
  Status closed = link->Close(5);
  if (closed.ok())
    return Status::Unavailable(fmt::format("the worker on {} stopped", options.where));
  return WorkerEnded(options.where, closed);
}

}  // namespace georep::replication
