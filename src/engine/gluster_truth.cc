// What georep knows about a gluster session beyond gsyncd's own status, which can say Active
// with no failures over a copy of empty files or a crawl that stopped picking up changes:
//   - the platform preflight (rsync and gluster versions on every node; gsyncd's rsync
//     sync-method writes files without their content where rsync >= 3.4 runs);
//   - the end-to-end heartbeat (model/heartbeat.h): lag, a content check and stall detection,
//     measured by writing into the source volume and reading back from the destination;
//   - the session's standing alerts, and the events when they come and go.
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "engine/gluster_driver.h"
#include "gluster/cli_xml.h"

namespace georep {
namespace {

// Reports the versions the preflight needs, one per line ("rsync: none" when absent).
constexpr const char* kVersionsScript =
    "if command -v rsync >/dev/null 2>&1; then rsync --version | head -n 1; "
    "else echo 'rsync: none'; fi; "
    "if command -v gluster >/dev/null 2>&1; then gluster --version | head -n 1; "
    "else echo 'gluster: none'; fi";

// Mounts volume $3 from server $2 at $1 on this node (once; a mount whose client died is
// dropped and made again) with options $4. Data only ever comes in as positional arguments.
constexpr const char* kMountPart =
    "set -eu; mnt=$1; server=$2; vol=$3; opts=$4; "
    "if mountpoint -q \"$mnt\" && ! stat \"$mnt/\" >/dev/null 2>&1; then umount -l \"$mnt\"; fi; "
    "if ! mountpoint -q \"$mnt\"; then mkdir -p \"$mnt\"; "
    "mount -t glusterfs -o \"$opts\" \"$server:/$vol\" \"$mnt\"; fi; ";

// Writes standard input as heartbeat $7 of session $6 (a file of its own: gsyncd replicates a
// new file as a create and its data, what it does most; a rename over an existing file it
// does not carry reliably), and removes the session's heartbeats older than $7 - 2.
const std::string kWriteScript =
    std::string(kMountPart) +
    "dir=\"$mnt/$5/$6\"; mkdir -p \"$dir\"; cat > \"$dir/$7\"; "
    "for f in \"$dir\"/*; do b=${f##*/}; case $b in ''|*[!0-9]*) continue;; esac; "
    "if [ \"$b\" -lt $(($7 - 2)) ]; then rm -f \"$f\"; fi; done";

// Prints the node's clock ("georep-now NANOSECONDS"), the volume's usage ("georep-usage
// BLOCKS FREE BLOCK_SIZE"), then the session's two newest heartbeats, newest first, each as
// "georep-file SEQ SIZE CTIME" (when its data last changed there, the node's clock) and its
// SIZE bytes, or "georep-absent" when there is none.
const std::string kReadScript =
    std::string(kMountPart) +
    "echo \"georep-now $(date +%s%N)\"; "
    "stat -f -c 'georep-usage %b %f %S' \"$mnt\"; d=\"$mnt/$5/$6\"; "
    "names=$(ls \"$d\" 2>/dev/null | grep -E '^[0-9]+$' | sort -rn | head -n 2); "
    "if [ -z \"$names\" ]; then echo georep-absent; exit 0; fi; "
    "for n in $names; do sz=$(wc -c < \"$d/$n\"); "
    "echo \"georep-file $n $sz $(stat -c %.9Z \"$d/$n\")\"; "
    "head -c \"$sz\" \"$d/$n\"; done";

// Fresh metadata on every read: a heartbeat replaced on another client is seen at once.
constexpr const char* kMountOptions = "attribute-timeout=0,entry-timeout=0,negative-timeout=0";

std::string MountPoint(const std::string& volume) {
  return "/run/georep/heartbeat/" + volume;
}

// "rsync  version 3.2.7  protocol version 31" -> "3.2.7"; "glusterfs 10.3" -> "10.3".
std::string VersionAfter(std::string_view line, std::string_view word) {
  auto pos = line.find(word);
  if (pos == std::string_view::npos) return "";
  line.remove_prefix(pos + word.size());
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  size_t end = 0;
  while (end < line.size() && (std::isdigit(static_cast<unsigned char>(line[end])) ||
                               line[end] == '.' || line[end] == '-' || line[end] == '_'))
    ++end;
  return std::string(line.substr(0, end));
}

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
  return text.substr(0, 300);
}

void AskVersions(CommandRunner& runner, PreflightNode& node) {
  CommandSpec spec{{"sh", "-c", kVersionsScript}};
  spec.timeout = std::chrono::seconds(30);
  spec.max_output_bytes = 4096;
  auto r = runner.Run(spec);
  if (!r.ok()) {
    node.problem = r.status().message();
    return;
  }
  if (r->timed_out || r->exit_code != 0) {
    node.problem = r->timed_out ? "timed out" : LastLine(r->err.empty() ? r->out : r->err);
    return;
  }
  const std::string& out = r->out;
  const size_t nl = out.find('\n');
  const std::string rsync_line = out.substr(0, nl);
  const std::string gluster_line = nl == std::string::npos ? "" : out.substr(nl + 1);
  if (rsync_line != "rsync: none") {
    node.rsync = VersionAfter(rsync_line, "version ");
    node.rsync_writes_empty_files = ParseRsyncVersion(rsync_line) >= std::make_pair(3, 4);
  }
  node.gluster = VersionAfter(gluster_line, "glusterfs ");
}

int64_t IntConfig(const std::vector<ConfigItem>& config, std::string_view key, int64_t fallback) {
  for (const auto& c : config)
    if (c.option->key == key) return std::strtoll(c.value.c_str(), nullptr, 10);
  return fallback;
}

std::string StringConfig(const std::vector<ConfigItem>& config, std::string_view key) {
  for (const auto& c : config)
    if (c.option->key == key) return c.value;
  return "";
}

HeartbeatSettings SettingsFrom(const std::vector<ConfigItem>& config) {
  HeartbeatSettings s;
  s.interval_ms = IntConfig(config, "heartbeat-interval", 30) * 1000;
  s.stall_threshold_ms = IntConfig(config, "stall-threshold", 0) * 1000;
  return s;
}

bool WorkersRun(SessionStatus s) {
  return s == SessionStatus::kActive || s == SessionStatus::kInitializing ||
         s == SessionStatus::kPartialFaulty || s == SessionStatus::kFaulty ||
         s == SessionStatus::kPaused;
}

std::string Seconds(int64_t ms) {
  return fmt::format("{}", (ms + 500) / 1000);
}

// The destination volume's growth, read longer ago than this, says nothing about now.
constexpr int64_t kStaleGrowthMs = 60'000;

// The heartbeat's lag (HeartbeatLagMs) while it is measured: a heartbeat on its way counts on
// whatever the session does; with none on its way, only while heartbeats are written and read
// (a stopped session's last arrival says nothing of what changed since; a heartbeat that
// cannot be written or read measures nothing).
int64_t GlusterLagMs(const SessionDetail& d, int64_t now) {
  const SessionHeartbeat& h = *d.heartbeat;
  if (h.pending_seq == 0 && (!WorkersRun(d.session.status) || !h.problem.empty())) return -1;
  return HeartbeatLagMs(h, now);
}

// The destination volume's growth over the heartbeat's reads (10 s at least) while it is
// measured: growth is bytes applied; no growth is 0 only where nothing can be waiting -- a
// paused or stopped session (gsyncd applies nothing), or every Active node with nothing
// pending and no heartbeat on its way. Otherwise (a rewrite in place does not grow the volume,
// deletes shrink it) unknown.
int64_t GlusterThroughput(const SessionDetail& d, int64_t now) {
  const SessionStatus st = d.session.status;
  if (st == SessionStatus::kPaused || st == SessionStatus::kStopped) return 0;
  if (!d.heartbeat) return -1;
  const SessionHeartbeat& h = *d.heartbeat;
  if (h.growth_bps < 0 || now - h.used_at > kStaleGrowthMs) return -1;
  if (h.growth_bps > 0) return h.growth_bps;
  const bool idle = st == SessionStatus::kActive && h.pending_seq == 0 &&
                    std::all_of(d.nodes.begin(), d.nodes.end(), [](const SessionNodeStatus& n) {
                      return n.status != NodeStatus::kActive ||
                             (n.entry_pending == 0 && n.data_pending == 0 && n.meta_pending == 0);
                    });
  return idle ? 0 : -1;
}

// How long a heartbeat may be seen damaged before it is data loss, when gluster does not say
// it synced past it.
constexpr int64_t kDamageGraceMs = 60'000;

}  // namespace

std::string Preflight::Summary() const {
  std::vector<std::string> risky, unknown, fine;
  for (const auto& n : nodes) {
    std::string who = fmt::format("{} ({})", n.host, n.role);
    if (!n.problem.empty()) {
      unknown.push_back(fmt::format("{}: {}", who, n.problem));
    } else if (n.rsync_writes_empty_files) {
      risky.push_back(fmt::format("rsync {} on {}", n.rsync, who));
    } else {
      fine.push_back(fmt::format("rsync {} on {}", n.rsync.empty() ? "none" : n.rsync, who));
    }
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  std::string out;
  if (!risky.empty()) {
    out = fmt::format(
        "{}: gsyncd's sync-method rsync writes every file on the destination as 0 bytes "
        "there while reporting success (rsync 3.4 and later refuse gluster's .gfid paths); "
        "tarssh copies file contents",
        join(risky));
  } else if (complete) {
    out = fmt::format("{}: sync-method rsync copies file contents", join(fine));
  }
  if (!unknown.empty()) {
    out += fmt::format("{}not asked: {}", out.empty() ? "" : "; ", join(unknown));
  }
  return out;
}

Preflight GlusterDriver::PlatformPreflight(const std::string& cluster_id, const Destination* d) {
  Preflight out;
  // Every node is asked at once: the preflight costs one round trip, not one per node.
  std::vector<std::future<PreflightNode>> asked;
  auto hosts = ctx_.ListHosts(cluster_id);
  if (hosts.ok()) {
    for (const Host& h : *hosts) {
      asked.push_back(std::async(std::launch::async, [this, h] {
        PreflightNode node{h.name, "source", "", "", false, ""};
        if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) {
          node.problem = "no host key is confirmed for it";
        } else if (ctx_.hosts) {
          AskVersions(*ctx_.hosts->RunnerFor(h), node);
        } else {
          node.problem = "this engine cannot reach hosts";
        }
        return node;
      }));
    }
  }
  if (d) {
    asked.push_back(std::async(std::launch::async, [this, d] {
      PreflightNode node{d->host, "destination", "", "", false, ""};
      auto runner = ctx_.hosts ? ctx_.DestinationRunner(*d)
                               : Result<std::unique_ptr<RelayingRunner>>(
                                     Status::FailedPrecondition("this engine cannot reach hosts"));
      if (runner.ok()) {
        AskVersions(**runner, node);
      } else {
        node.problem = runner.status().message();
      }
      return node;
    }));
  }
  for (auto& a : asked) out.nodes.push_back(a.get());
  for (const auto& n : out.nodes) {
    out.rsync_unsafe = out.rsync_unsafe || n.rsync_writes_empty_files;
    out.complete = out.complete && n.problem.empty();
  }
  return out;
}

Preflight GlusterDriver::CachedPreflight(const std::string& cluster_id, const Destination& d) {
  constexpr int64_t kFresh = int64_t{10} * 60 * 1000;
  const std::string key = cluster_id + "/" + d.id;
  const int64_t now = ctx_.clock.NowMillis();
  {
    std::lock_guard<std::mutex> lock(truth_mu_);
    auto it = preflights_.find(key);
    if (it != preflights_.end() && now - it->second.first < kFresh && it->second.second.complete)
      return it->second.second;
  }
  Preflight p = PlatformPreflight(cluster_id, &d);
  std::lock_guard<std::mutex> lock(truth_mu_);
  preflights_[key] = {now, p};
  return p;
}

Result<Preflight> GlusterDriver::SessionPreflight(const std::string& session_id) {
  GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(session_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
  if (v.kind != VolumeKind::kGluster) {
    return Status::FailedPrecondition(
        "the preflight checks gluster sessions' nodes; directory sessions run georep's own "
        "engine");
  }
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  return PlatformPreflight(v.cluster_id, &d);
}

Status GlusterDriver::WriteHeartbeat(const Volume& v, const Destination& d, const std::string& file,
                                     int64_t seq, const std::string& text) {
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ctx_.ListHosts(v.cluster_id));
  // The destination's source host first (the one its keys were set up from), then the others.
  std::stable_sort(hosts.begin(), hosts.end(), [&](const Host& x, const Host& y) {
    return (x.id == d.source_host_id) > (y.id == d.source_host_id);
  });
  std::string tried;
  for (const Host& h : hosts) {
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) continue;
    CommandSpec spec{{"sh", "-c", kWriteScript, "sh", MountPoint(v.name), h.name, v.name,
                      kMountOptions, std::string(kHeartbeatDirectory), file, std::to_string(seq)},
                     text};
    spec.timeout = std::chrono::seconds(30);
    spec.max_output_bytes = size_t{16} * 1024;
    auto r = ctx_.hosts->RunnerFor(h)->Run(spec);
    if (r.ok() && !r->timed_out && r->exit_code == 0) return Status::Ok();
    const std::string why = !r.ok()        ? r.status().message()
                            : r->timed_out ? std::string("timed out")
                                           : LastLine(r->err.empty() ? r->out : r->err);
    tried += fmt::format("{}{}: {}", tried.empty() ? "" : "; ", h.name, why);
  }
  return Status::Unavailable(tried.empty()
                                 ? "no source host has a confirmed key"
                                 : fmt::format("no source host could write it ({})", tried));
}

void GlusterDriver::ForgetHeartbeat(const Volume& v, const Session& removed) {
  auto sessions = ctx_.ListSessions({});
  if (!sessions.ok()) return;
  auto destination = ctx_.GetDestination(removed.destination_id);
  bool source_used = false, destination_used = false;
  for (const Session& other : *sessions) {
    if (other.id == removed.id) continue;
    source_used = source_used || other.source_volume_id == v.id;
    if (auto od = ctx_.GetDestination(other.destination_id); od.ok() && destination.ok())
      destination_used =
          destination_used ||
          (od->host == destination->host && other.destination_volume == removed.destination_volume);
  }
  // Only where georep's mount is (a session that never had a heartbeat left nothing); the
  // mount goes with the volume's last session.
  const char* kForget =
      "mountpoint -q \"$1\" || exit 0; rm -rf \"$1/$2/$3\" || exit 1; [ \"$4\" = last ] || exit 0; "
      "umount \"$1\" && rmdir \"$1\"";
  auto hosts = ctx_.ListHosts(v.cluster_id);
  if (hosts.ok()) {
    for (const Host& h : *hosts) {
      if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) continue;
      CommandSpec spec{{"sh", "-c", kForget, "sh", MountPoint(v.name),
                        std::string(kHeartbeatDirectory), removed.id,
                        source_used ? "kept" : "last"}};
      spec.timeout = std::chrono::seconds(30);
      auto r = ctx_.hosts->RunnerFor(h)->Run(spec);
      if (r.ok() && r->exit_code == 0) continue;
      spdlog::warn(
          "msg=\"heartbeat file or mount left on a source host\" volume={} host={} file={}/{} "
          "mount={}",
          v.name, h.name, kHeartbeatDirectory, removed.id, MountPoint(v.name));
    }
  }
  if (destination_used || !destination.ok()) return;
  auto dest = ctx_.DestinationRunner(*destination);
  if (!dest.ok()) return;
  CommandSpec spec{{"sh", "-c", "mountpoint -q \"$1\" || exit 0; umount \"$1\" && rmdir \"$1\"",
                    "sh", MountPoint(removed.destination_volume)}};
  spec.timeout = std::chrono::seconds(30);
  auto r = (*dest)->Run(spec);
  if (!r.ok() || r->exit_code != 0)
    spdlog::warn("msg=\"heartbeat mount left on the destination\" host={} mount={}",
                 destination->host, MountPoint(removed.destination_volume));
}

Result<GlusterDriver::DestinationRead> GlusterDriver::ReadHeartbeat(const Session& s,
                                                                    const Destination& d,
                                                                    const std::string& file) {
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, ctx_.DestinationRunner(d));
  CommandSpec spec{{"sh", "-c", kReadScript, "sh", MountPoint(s.destination_volume), d.host,
                    s.destination_volume, std::string("ro,") + kMountOptions,
                    std::string(kHeartbeatDirectory), file}};
  spec.timeout = std::chrono::seconds(30);
  spec.max_output_bytes = size_t{64} * 1024;
  const int64_t sent = ctx_.clock.NowMillis();
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, dest->Run(spec));
  const int64_t received = ctx_.clock.NowMillis();
  if (r.timed_out) return Status::Unavailable(fmt::format("reading on {} timed out", d.host));
  if (r.exit_code != 0) {
    return Status::Unavailable(
        fmt::format("{}: {}", d.host, LastLine(r.err.empty() ? r.out : r.err)));
  }
  DestinationRead out;
  std::string_view o(r.out);
  // The node's clock against the engine's, NTP's way: its reading is taken to be half way
  // through the round trip (off by at most half of it).
  long long node_now_ns = 0;
  const size_t clock_end = o.find('\n');
  if (clock_end == std::string_view::npos ||
      std::sscanf(std::string(o.substr(0, clock_end)).c_str(), "georep-now %lld", &node_now_ns) !=
          1) {
    return Status::Unavailable(fmt::format("{} gave no clock reading", d.host));
  }
  out.node_ahead_ms = node_now_ns / 1'000'000 - (sent + received) / 2;
  o.remove_prefix(clock_end + 1);
  const size_t first = o.find('\n');
  if (first == std::string_view::npos || o.rfind("georep-usage ", 0) != 0) {
    return Status::Unavailable(fmt::format("{} gave no usage line", d.host));
  }
  int64_t blocks = 0, free = 0, size = 0;
  if (std::sscanf(std::string(o.substr(0, first)).c_str(), "georep-usage %ld %ld %ld", &blocks,
                  &free, &size) == 3 &&
      size > 0 && blocks >= free) {
    out.used_bytes = (blocks - free) * size;
    out.size_bytes = blocks * size;
  }
  std::string_view rest = o.substr(first + 1);
  if (rest.rfind("georep-absent", 0) == 0) return out;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    long long seq = 0, size = 0;
    double ctime = 0;
    if (nl == std::string_view::npos ||
        std::sscanf(std::string(rest.substr(0, nl)).c_str(), "georep-file %lld %lld %lf", &seq,
                    &size, &ctime) != 3 ||
        size < 0 || rest.size() - nl - 1 < static_cast<size_t>(size)) {
      // A file that changed while it was read: the next read looks again.
      return Status::Unavailable(fmt::format("{} gave an unexpected answer", d.host));
    }
    out.files.push_back({seq, std::string(rest.substr(nl + 1, static_cast<size_t>(size))),
                         static_cast<int64_t>(ctime * 1000.0) - out.node_ahead_ms});
    rest.remove_prefix(nl + 1 + static_cast<size_t>(size));
  }
  return out;
}

Result<SessionHeartbeat> GlusterDriver::HeartbeatSession(const Actor& a, const std::string& id) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
  if (v.kind != VolumeKind::kGluster)
    return Status::FailedPrecondition("heartbeats are for gluster sessions");
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(id));
  const HeartbeatSettings settings = SettingsFrom(config);
  SessionHeartbeat hb;
  hb.session_id = id;
  GEOREP_RETURN_IF_ERROR(ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    auto stored = tx.GetHeartbeat(id);
    if (stored.ok()) hb = *stored;
    return stored.ok() || stored.status().code() == StatusCode::kNotFound ? Status::Ok()
                                                                          : stored.status();
  }));
  if (settings.interval_ms <= 0) {
    // Off: nothing is measured, so nothing is claimed.
    GEOREP_RETURN_IF_ERROR(ctx_.SetAlert(a, id, "stalled", false, "", "session.stalled"));
    GEOREP_RETURN_IF_ERROR(
        ctx_.SetAlert(a, id, "heartbeat-failing", false, "", "session.heartbeat_failing"));
    return hb;
  }

  std::string problem;
  int64_t now = ctx_.clock.NowMillis();
  if (WorkersRun(s.status) && HeartbeatDue(hb, settings, now)) {
    unsigned char nonce[32];
    ctx_.random.Fill(nonce, sizeof nonce);
    std::string hex(sizeof nonce * 2, '\0');
    sodium_bin2hex(hex.data(), hex.size() + 1, nonce, sizeof nonce);
    const int64_t seq = hb.written_seq + 1;
    Status w = WriteHeartbeat(v, d, id, seq, FormatHeartbeat(id, seq, now, hex));
    if (w.ok()) {
      RecordHeartbeatWritten(hb, seq, now);
    } else {
      problem = "cannot write the heartbeat into the source volume: " + w.message();
    }
  }
  std::optional<std::string> mismatch;  // set when the destination was read
  if (WorkersRun(s.status) && hb.written_seq != 0 &&
      (hb.pending_seq != 0 || now - hb.checked_at >= 10'000)) {
    auto r = ReadHeartbeat(s, d, id);
    const int64_t seen_at = ctx_.clock.NowMillis();
    if (!r.ok()) {
      problem += fmt::format("{}cannot read the heartbeat on the destination volume: {}",
                             problem.empty() ? "" : "; ", r.status().message());
    } else {
      hb.checked_at = seen_at;
      mismatch = "";
      if (r->size_bytes > 0) hb.size_bytes = r->size_bytes;
      // Throughput: the destination volume's growth, over 10 s at least.
      if (r->used_bytes >= 0 && (hb.used_bytes < 0 || seen_at - hb.used_at >= 10'000)) {
        if (hb.used_bytes >= 0 && seen_at > hb.used_at) {
          const int64_t grown = r->used_bytes - hb.used_bytes;
          // Shrinking: deletes outweigh writes, and the rate of writes is not known.
          hb.growth_bps = grown >= 0 ? grown * 1000 / (seen_at - hb.used_at) : -1;
        }
        hb.used_bytes = r->used_bytes;
        hb.used_at = seen_at;
      }
      // The newest heartbeat there decides: intact, it has arrived; damaged, it is on its
      // way (gsyncd makes an entry before it copies its data) or lost. The one before it,
      // intact, still measures the lag.
      bool newest = true;
      for (const auto& [seq, text, changed_at] : r->files) {
        auto parsed = ParseHeartbeat(text, id);
        if (parsed.ok()) {
          // When it arrived: its last change there, on the engine's clock; never before it
          // was written, nor after it was seen.
          RecordHeartbeatSeen(hb, *parsed, std::clamp(changed_at, parsed->written_at, seen_at));
          if (newest) {
            mismatch = "";
            std::lock_guard<std::mutex> lock(truth_mu_);
            damaged_since_.erase(id);
          }
          break;
        }
        if (parsed.status().code() != StatusCode::kCorruption) {
          problem += (problem.empty() ? "" : "; ") + parsed.status().message();
          break;
        }
        if (!newest) continue;
        newest = false;
        // Data loss once gsyncd says it synced past the newest heartbeat written (an Active
        // node's last synced), or when the destination's newest has been damaged for a minute.
        int64_t since = 0;
        {
          std::lock_guard<std::mutex> lock(truth_mu_);
          int64_t& first = damaged_since_[id];
          if (first == 0) first = seen_at;
          since = first;
        }
        int64_t synced = 0;
        if (auto detail = ctx_.GetSession(id); detail.ok()) {
          for (const auto& n : detail->nodes)
            if (n.status == NodeStatus::kActive) synced = std::max(synced, n.last_synced);
        }
        // gluster's last synced has whole seconds.
        const bool claimed = synced >= hb.written_at + 1000;
        if (claimed || seen_at - since > kDamageGraceMs) {
          mismatch = fmt::format("heartbeat {}: {}{}", seq, parsed.status().message(),
                                 claimed ? std::string(" (gluster says it synced past it)")
                                         : fmt::format(" (for {} s)", Seconds(seen_at - since)));
        } else {
          mismatch.reset();  // on its way, perhaps: neither raised nor cleared
        }
      }
    }
  }
  hb.problem = problem;
  GEOREP_RETURN_IF_ERROR(ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    GEOREP_RETURN_IF_ERROR(tx.GetSession(id).status());  // removed meanwhile
    return tx.PutHeartbeat(hb);
  }));

  if (mismatch) {
    GEOREP_RETURN_IF_ERROR(ctx_.SetAlert(a, id, "heartbeat-mismatch", !mismatch->empty(),
                                         "data loss: " + *mismatch, "session.data_loss"));
  }
  GEOREP_RETURN_IF_ERROR(ctx_.SetAlert(a, id, "heartbeat-failing", !problem.empty(), problem,
                                       "session.heartbeat_failing"));
  now = ctx_.clock.NowMillis();
  // Stalled: only a session that says Active can be stalled (Paused or Faulty already say
  // that nothing moves).
  auto current = ctx_.ReadSession(id);
  const bool stalled = current.ok() && current->status == SessionStatus::kActive &&
                       HeartbeatStalled(hb, settings, now);
  GEOREP_RETURN_IF_ERROR(ctx_.SetAlert(
      a, id, "stalled", stalled,
      fmt::format("stalled: the heartbeat written {} s ago has not arrived on the destination "
                  "(stall threshold {} s) while gluster says Active: new changes are not being "
                  "replicated",
                  Seconds(now - hb.pending_at), Seconds(settings.StallThresholdMs())),
      "session.stalled"));
  if (stalled && StringConfig(config, "stall-action") == "restart")
    GEOREP_RETURN_IF_ERROR(RestartStalled(a, s, settings, hb, now));
  return hb;
}

// stall-action restart: a stalled session is stopped and started again, at most once per
// stall threshold.
Status GlusterDriver::RestartStalled(const Actor& a, const Session& s,
                                     const HeartbeatSettings& settings, const SessionHeartbeat& hb,
                                     int64_t now) {
  const std::string& id = s.id;
  bool restart = false;
  {
    std::lock_guard<std::mutex> lock(truth_mu_);
    int64_t& last = stall_restarts_[id];
    if (last == 0 || now - last >= settings.StallThresholdMs()) {
      last = now;
      restart = true;
    }
  }
  if (restart) {
    const Actor system{"stall-action", Role::kAdmin};
    auto stopped = run_action_(system, id, SessionAction::kStop, true);
    auto started = stopped.ok() ? run_action_(system, id, SessionAction::kStart, true)
                                : Result<SessionDetail>(stopped.status());
    const std::string outcome =
        started.ok() ? "stopped and started" : "could not restart: " + started.status().message();
    spdlog::warn("msg=\"stalled session restarted\" session={} outcome=\"{}\"", s.session_key,
                 outcome);
    GEOREP_RETURN_IF_ERROR(ctx_.store.Transaction([&](StoreTx& tx) -> Status {
      return tx
          .AppendEvent(Event{0, ctx_.clock.NowMillis(), a.name, "session.stall_restart", "session",
                             id, started.ok() ? "ok" : "failed",
                             fmt::format("session {} stalled (heartbeat {} s on its way); "
                                         "stall-action restart: {}",
                                         s.session_key, Seconds(now - hb.pending_at), outcome)})
          .status();
    }));
  }
  return Status::Ok();
}

int GlusterDriver::HeartbeatGlusterSessions(const Actor& a) {
  auto sessions = ctx_.ListSessions({});
  if (!sessions.ok()) return 0;
  std::vector<std::string> gluster;
  for (const auto& s : *sessions) {
    auto v = ctx_.GetVolume(s.source_volume_id);
    if (v.ok() && v->kind == VolumeKind::kGluster) gluster.push_back(s.id);
  }
  // In parallel, at most kParallel at a time: one unreachable node must not hold the others'
  // heartbeats back.
  constexpr size_t kParallel = 8;
  std::vector<std::future<void>> jobs;
  for (const auto& id : gluster) {
    jobs.push_back(std::async(std::launch::async, [this, &a, id] {
      auto r = HeartbeatSession(a, id);
      if (!r.ok() && r.status().code() != StatusCode::kNotFound)
        spdlog::warn("msg=\"heartbeat\" session={} error=\"{}\"", id, r.status().message());
    }));
    if (jobs.size() >= kParallel) {
      for (auto& j : jobs) j.wait();
      jobs.clear();
    }
  }
  for (auto& j : jobs) j.wait();
  return static_cast<int>(gluster.size());
}

Status GlusterDriver::FillHealth(StoreTx& tx, const Volume&, SessionDetail& d) {
  const std::string& id = d.session.id;
  GEOREP_ASSIGN_OR_RETURN(std::vector<SessionConfigEntry> entries, tx.ListConfig(id));
  HeartbeatSettings settings;
  for (const auto& e : entries) {
    if (e.key == "heartbeat-interval")
      settings.interval_ms = std::strtoll(e.value.c_str(), nullptr, 10) * 1000;
    if (e.key == "stall-threshold")
      settings.stall_threshold_ms = std::strtoll(e.value.c_str(), nullptr, 10) * 1000;
  }
  d.heartbeat_interval_ms = settings.interval_ms;
  d.stall_threshold_ms = settings.interval_ms > 0 ? settings.StallThresholdMs() : 0;
  auto hb = tx.GetHeartbeat(id);
  if (hb.ok()) {
    d.heartbeat = *hb;
  } else if (hb.status().code() != StatusCode::kNotFound) {
    return hb.status();
  }
  const int64_t now = ctx_.clock.NowMillis();
  if (d.heartbeat && settings.interval_ms > 0) d.lag_ms = GlusterLagMs(d, now);
  d.throughput_bps = GlusterThroughput(d, now);
  // gsyncd reports no lag: every node that replicates has the session's (Passive standbys
  // none), as of now -- the header and the node rows say the same.
  for (auto& n : d.nodes) n.lag_ms = n.status == NodeStatus::kPassive ? -1 : d.lag_ms;
  return Status::Ok();
}

}  // namespace georep
