#include "gluster/gsyncd_status.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "model/names.h"

namespace georep {
namespace {

// Prints what gsyncd's files say, for the (session directory name, pid file) pairs given as
// arguments; every path is an argument, never part of the script. Whether glusterd runs is
// looked up among the processes of this network namespace (a node of the test lab shares its
// process table with others), and a monitor runs when it holds the POSIX lock gsyncd takes on
// its pid file (what gsyncd's own status checks, with lockf).
constexpr const char* kReader = R"sh(w=/var/lib/glusterd/geo-replication
echo georep-reader 1
me=$(readlink /proc/$$/ns/net)
up=no
for c in /proc/[0-9]*/comm; do
  IFS= read -r n 2>/dev/null <"$c" || continue
  if [ "$n" = glusterd ] && [ "$(readlink "${c%/comm}/ns/net" 2>/dev/null)" = "$me" ]; then
    up=yes
    break
  fi
done
echo "georep-glusterd $up"
for s in "$w"/*/gsyncd.conf; do
  [ -f "$s" ] || continue
  d=${s%/gsyncd.conf}
  echo "georep-dir ${d##*/}"
done
while [ $# -ge 2 ]; do
  d=$w/$1
  p=$2
  echo "georep-session $1"
  shift 2
  if [ ! -f "$d/monitor.status" ]; then
    echo georep-no-session
    continue
  fi
  printf 'georep-monitor-status %s\n' "$(head -n 1 "$d/monitor.status")"
  run=no
  pid=$(cat "$p" 2>/dev/null)
  ino=$(stat -c %i "$p" 2>/dev/null)
  if [ -n "$pid" ] && [ -n "$ino" ] && awk -v p="$pid" -v i="$ino" \
      '$2 == "POSIX" && $5 == p && $6 ~ (":" i "$") { f = 1 } END { exit !f }' /proc/locks; then
    run=yes
  fi
  echo "georep-monitor-running $run"
  printf 'georep-checkpoint %s\n' \
    "$(sed -n '/^\[vars\]/,/^\[/s/^checkpoint *= *//p' "$d/gsyncd.conf" 2>/dev/null | tail -n 1)"
  for f in "$d"/brick_*.status; do
    [ -f "$f" ] || continue
    printf 'georep-brick %s %s\n' "${f##*/}" "$(head -c 65536 "$f" | tr '\n' ' ')"
  done
done
echo georep-end
)sh";

std::string_view Word(std::string_view& line) {
  auto sp = line.find(' ');
  std::string_view w = line.substr(0, sp);
  line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return w;
}

// gsyncd writes numbers; "N/A" (or anything else) is not one.
std::optional<double> Number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || v > 1e15) return std::nullopt;
  return v;
}

std::string Text(const nlohmann::json& j, const char* key, std::string fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

// One line about the session named last; false for a word the reader never prints.
bool ApplySessionLine(GsyncdSessionFiles& session, std::string_view word, std::string_view rest) {
  if (word == "georep-no-session") {
    session.present = false;
  } else if (word == "georep-monitor-status") {
    session.present = true;
    session.monitor_status = std::string(rest);
    while (!session.monitor_status.empty() &&
           (session.monitor_status.back() == ' ' || session.monitor_status.back() == '\r'))
      session.monitor_status.pop_back();
  } else if (word == "georep-monitor-running") {
    session.monitor_running = rest == "yes";
  } else if (word == "georep-checkpoint") {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    session.checkpoint = ec == std::errc() && v > 0 ? v : 0;
  } else if (word == "georep-brick") {
    const std::string_view file = Word(rest);
    session.bricks[std::string(file)] = std::string(rest);
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string GsyncdSessionDir(const std::string& source_volume, const std::string& destination_host,
                             const std::string& destination_volume) {
  return fmt::format("{}_{}_{}", source_volume, destination_host, destination_volume);
}

std::string GsyncdPidFile(const std::string& source_volume, const std::string& destination_host,
                          const std::string& destination_volume) {
  return fmt::format("/var/run/gluster/gsyncd-{}-{}-{}.pid", source_volume, destination_host,
                     destination_volume);
}

std::string GsyncdBrickStatusFile(const std::string& brick_path) {
  std::string out = "brick_";
  for (unsigned char c : brick_path) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out + ".status";
}

std::vector<std::string> GsyncdStatusReader(
    const std::vector<std::pair<std::string, std::string>>& sessions) {
  std::vector<std::string> argv = {"sh", "-c", kReader, "georep-gsyncd-status"};
  for (const auto& [dir, pid_file] : sessions) {
    argv.push_back(dir);
    argv.push_back(pid_file);
  }
  return argv;
}

Result<GsyncdNodeReport> ParseGsyncdNodeReport(std::string_view out) {
  GsyncdNodeReport report;
  GsyncdSessionFiles* current = nullptr;
  bool started = false, ended = false;
  while (!out.empty()) {
    auto nl = out.find('\n');
    std::string_view line = out.substr(0, nl);
    out = nl == std::string_view::npos ? std::string_view() : out.substr(nl + 1);
    std::string_view rest = line;
    const std::string_view word = Word(rest);
    if (word == "georep-reader") {
      started = true;
    } else if (!started) {
      continue;  // a login banner or the like
    } else if (word == "georep-glusterd") {
      report.glusterd_running = rest == "yes";
    } else if (word == "georep-dir") {
      report.session_dirs.emplace_back(rest);
    } else if (word == "georep-session") {
      current = &report.sessions[std::string(rest)];
    } else if (word == "georep-end") {
      ended = true;
      break;
    } else if (current == nullptr || !ApplySessionLine(*current, word, rest)) {
      return Status::Corruption(fmt::format("gsyncd status reader: unexpected line '{}'", line));
    }
  }
  if (!started || !ended)
    return Status::Corruption("gsyncd status reader: its output is not complete");
  return report;
}

SessionNodeStatus GsyncdBrickRow(const GsyncdSessionFiles& files, const std::string& brick,
                                 const std::string& source_host) {
  // gsyncd's defaults, updated with what the brick's file holds (get_default_values).
  nlohmann::json data = nlohmann::json::object();
  if (auto it = files.bricks.find(GsyncdBrickStatusFile(brick)); it != files.bricks.end()) {
    auto parsed = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) data = std::move(parsed);
  }
  std::string worker = Text(data, "worker_status", "N/A");
  std::string crawl = Text(data, "crawl_status", "N/A");
  std::string secondary_node = Text(data, "secondary_node", "N/A");
  const double last_synced = Number(data, "last_synced").value_or(0);
  std::string cp_completed = Text(data, "checkpoint_completed", "N/A");
  double cp_time = Number(data, "checkpoint_time").value_or(0);  // 0: none
  double cp_done = Number(data, "checkpoint_completion_time").value_or(0);

  // The monitor's state overrides the worker's (GeorepStatus.get_status).
  std::string monitor = files.monitor_status;
  if ((monitor == "Started" || monitor == "Paused") && !files.monitor_running) monitor = "Stopped";
  if (monitor == "Created" || monitor == "Paused" || monitor == "Stopped") worker = monitor;
  if (monitor.empty()) worker = "Stopped";

  // The session's checkpoint against what the brick has synced.
  const auto checkpoint = static_cast<double>(files.checkpoint);
  if (files.checkpoint == 0) {
    cp_completed = "N/A";
    cp_time = 0;
    cp_done = 0;
  } else if (cp_time != checkpoint) {
    cp_time = checkpoint;
    if (checkpoint <= last_synced) {
      cp_completed = "Yes";
      cp_done = last_synced;
    } else {
      cp_completed = "No";
      cp_done = 0;
    }
  }

  SessionNodeStatus n;
  n.source_host = source_host;
  n.source_brick = brick;
  n.status = ParseNodeStatus(worker).value_or(NodeStatus::kUnknown);
  if (worker == "Active") {
    n.crawl = ParseCrawlStatus(crawl).value_or(CrawlStatus::kNotApplicable);
    n.last_synced = static_cast<int64_t>(last_synced) * 1000;
    auto count = [&](const char* key) {
      return static_cast<int64_t>(Number(data, key).value_or(0));
    };
    n.entry_pending = count("entry");
    n.data_pending = count("data");
    n.meta_pending = count("meta");
    n.failures = count("failures");
    n.checkpoint_completed = cp_completed == "Yes";
    n.checkpoint_time = cp_time > 0 ? static_cast<int64_t>(cp_time) * 1000 : 0;
    n.checkpoint_completion_time = cp_done > 0 ? static_cast<int64_t>(cp_done) * 1000 : 0;
  }
  n.destination_host = worker == "Active" || worker == "Passive" ? secondary_node : "N/A";
  return n;
}

}  // namespace georep
