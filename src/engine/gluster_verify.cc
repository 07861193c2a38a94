#include "engine/gluster_verify.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <memory>

#include "base/log.h"
#include "engine/gluster_driver.h"
#include "replication/verify.h"

namespace georep::gluster_verify {
namespace {

// The mount and the unmount, as fixed scripts: their data come only as positional arguments
// ($1 the mount point, $2 the source).
constexpr const char* kMountScript = R"(dir=$1 src=$2
if findmnt -rn --mountpoint "$dir" >/dev/null; then echo "$dir is in use" >&2; exit 1; fi
mkdir -p "$dir" || exit 1
exec mount -t glusterfs -o ro "$src" "$dir")";
constexpr const char* kUnmountScript = R"(umount "$1" 2>/dev/null || umount -l "$1" || exit 1
exec rmdir "$1")";

Status Bad(std::string_view why) {
  return Status::Corruption(fmt::format("not a listing of find -printf: {}", why));
}

template <typename T>
bool ParseNumber(std::string_view s, T* out, int base = 10) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// find's %T@: seconds, a '.', and (GNU find) ten digits of fraction; possibly negative.
bool ParseTime(std::string_view s, int64_t* ns) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  const size_t dot = s.find('.');
  int64_t seconds = 0;
  if (!ParseNumber(s.substr(0, dot), &seconds) || seconds > INT64_MAX / 1'000'000'000 - 1)
    return false;
  int64_t fraction = 0;
  if (dot != std::string_view::npos) {
    std::string digits(s.substr(dot + 1, 9));
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    digits.resize(9, '0');
    if (!ParseNumber(std::string_view(digits), &fraction)) return false;
  }
  *ns = seconds * 1'000'000'000 + fraction;
  if (negative) *ns = -*ns;
  return true;
}

replication::EntryType TypeOf(char y, uint32_t* type_bits) {
  switch (y) {
    case 'f':
      *type_bits = S_IFREG;
      return replication::EntryType::kRegular;
    case 'd':
      *type_bits = S_IFDIR;
      return replication::EntryType::kDirectory;
    case 'l':
      *type_bits = S_IFLNK;
      return replication::EntryType::kSymlink;
    default:
      *type_bits = 0;
      return replication::EntryType::kOther;
  }
}

// Takes the next NUL-terminated field off `rest`.
bool NextField(std::string_view* rest, std::string_view* field) {
  const size_t nul = rest->find('\0');
  if (nul == std::string_view::npos) return false;
  *field = rest->substr(0, nul);
  rest->remove_prefix(nul + 1);
  return true;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

bool IsPlainVolumeName(std::string_view volume) {
  return !volume.empty() && volume.size() <= 200 &&
         std::all_of(volume.begin(), volume.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

std::string MountPoint(const std::string& volume, const std::string& id) {
  return fmt::format("{}/{}-{}", kMountRoot, volume, id);
}

CommandSpec MountCommand(const std::string& volume, const std::string& mount_point) {
  CommandSpec spec{{"sh", "-c", kMountScript, "sh", mount_point, "localhost:/" + volume}};
  spec.timeout = std::chrono::minutes(2);
  spec.max_output_bytes = 64 << 10;
  return spec;
}

CommandSpec UnmountCommand(const std::string& mount_point) {
  CommandSpec spec{{"sh", "-c", kUnmountScript, "sh", mount_point}};
  spec.timeout = std::chrono::minutes(2);
  spec.max_output_bytes = 64 << 10;
  return spec;
}

CommandSpec ListCommand(const std::string& mount_point) {
  const std::string& root = mount_point;
  // The mount point is plain (a plain volume name and an id), so the -path patterns hold no
  // wildcard but ours.
  std::vector<std::string> argv = {"find", root, "-mindepth", "1", "("};
  for (std::string_view name : kNotUserData) {
    if (argv.back() != "(") argv.push_back("-o");
    argv.insert(argv.end(), {"-path", fmt::format("{}/{}", root, name)});
  }
  argv.insert(argv.end(), {")", "-prune", "-o", "-printf", "%y %m %U %G %s %T@ %P\\0%l\\0"});
  return CommandSpec{argv};
}

CommandSpec HashCommand(const std::string& mount_point, const std::vector<std::string>& paths) {
  CommandSpec spec{{"xargs", "-0", "-r", "sha256sum", "--"}};
  for (const auto& p : paths) {
    spec.stdin_data.append(mount_point).append("/").append(p);
    spec.stdin_data.push_back('\0');
  }
  return spec;
}

Result<replication::TreeDescription> ParseListing(std::string_view out, int sample_percent) {
  replication::TreeDescription d;
  d.sample_percent = sample_percent;
  std::string_view rest = out;
  while (!rest.empty()) {
    std::string_view record, target;
    if (!NextField(&rest, &record) || !NextField(&rest, &target))
      return Bad(fmt::format("a record after {} entries is cut short", d.entries.size()));
    // Six fields, then the path, which may hold anything but NUL (spaces, newlines too).
    std::string_view f[6];
    for (auto& field : f) {
      const size_t space = record.find(' ');
      if (space == std::string_view::npos)
        return Bad(fmt::format("a record after {} entries has too few fields", d.entries.size()));
      field = record.substr(0, space);
      record.remove_prefix(space + 1);
    }
    replication::DescribedEntry e;
    e.path = std::string(record);
    uint32_t type_bits = 0;
    if (f[0].size() != 1) return Bad(fmt::format("type '{}' of '{}'", f[0], e.path));
    e.type = TypeOf(f[0][0], &type_bits);
    uint32_t permissions = 0;
    if (!ParseNumber(f[1], &permissions, 8) || permissions > 07777)
      return Bad(fmt::format("mode '{}' of '{}'", f[1], e.path));
    e.mode = type_bits | permissions;
    if (!ParseNumber(f[2], &e.uid) || !ParseNumber(f[3], &e.gid))
      return Bad(fmt::format("owner '{}:{}' of '{}'", f[2], f[3], e.path));
    if (!ParseNumber(f[4], &e.size)) return Bad(fmt::format("size '{}' of '{}'", f[4], e.path));
    if (!ParseTime(f[5], &e.mtime_ns)) return Bad(fmt::format("time '{}' of '{}'", f[5], e.path));
    // What gsyncd keeps (GlusterFS 10, tarssh): a regular file's mtime to the second (tar's
    // format has no fraction); a directory's only to about a microsecond, and changed by every
    // entry made in it on either side; a symlink's not at all. So a file's whole seconds are
    // compared, no other entry's time.
    if (e.type == replication::EntryType::kRegular) {
      e.mtime_ns -= ((e.mtime_ns % 1'000'000'000) + 1'000'000'000) % 1'000'000'000;
    } else {
      e.mtime_ns = 0;
    }
    if (e.type == replication::EntryType::kSymlink) e.symlink_target = std::string(target);
    if (!replication::IsDescribablePath(e.path) || e.path == "." ||
        e.symlink_target.size() > replication::kMaxPathBytes) {
      d.errors.push_back({e.path.substr(0, replication::kMaxPathBytes),
                          "beyond what verify describes (path length)"});
      continue;
    }
    d.entries.push_back(std::move(e));
  }
  std::sort(d.entries.begin(), d.entries.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  for (size_t i = 1; i < d.entries.size(); ++i)
    if (d.entries[i - 1].path == d.entries[i].path)
      return Bad(fmt::format("'{}' is listed twice", d.entries[i].path));
  return d;
}

Result<std::map<std::string, replication::Hash128>> ParseDigests(std::string_view out,
                                                                 const std::string& mount_point) {
  auto bad = [](std::string_view why) {
    return Status::Corruption(fmt::format("not an output of sha256sum: {}", why));
  };
  const std::string prefix = mount_point + "/";
  std::map<std::string, replication::Hash128> digests;
  while (!out.empty()) {
    const size_t nl = out.find('\n');
    if (nl == std::string_view::npos) return bad("the last line is cut short");
    std::string_view line = out.substr(0, nl);
    out.remove_prefix(nl + 1);
    // A name holding '\\', '\n' or '\r' is escaped, and its line starts with '\\'.
    const bool escaped = !line.empty() && line.front() == '\\';
    if (escaped) line.remove_prefix(1);
    if (line.size() < 66 || !IsHex(line.substr(0, 64)) || line[64] != ' ' ||
        (line[65] != ' ' && line[65] != '*'))
      return bad(fmt::format("line '{}'", line.substr(0, 100)));
    replication::Hash128 h;
    if (!ParseNumber(line.substr(0, 16), &h.low, 16) ||
        !ParseNumber(line.substr(16, 16), &h.high, 16))
      return bad(fmt::format("digest '{}'", line.substr(0, 64)));
    std::string_view name = line.substr(66);
    std::string path;
    if (escaped) {
      for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] != '\\') {
          path.push_back(name[i]);
          continue;
        }
        if (++i == name.size()) return bad("a name ends in an escape");
        switch (name[i]) {
          case '\\':
            path.push_back('\\');
            break;
          case 'n':
            path.push_back('\n');
            break;
          case 'r':
            path.push_back('\r');
            break;
          default:
            return bad(fmt::format("escape '\\{}' in a name", name[i]));
        }
      }
    } else {
      path = std::string(name);
    }
    if (path.compare(0, prefix.size(), prefix) != 0)
      return bad(fmt::format("'{}' is not below {}", path.substr(0, 200), prefix));
    digests[path.substr(prefix.size())] = h;
  }
  return digests;
}

std::vector<std::string> FilesToHash(const replication::TreeDescription& source,
                                     const replication::TreeDescription& destination,
                                     int sample_percent) {
  std::map<std::string_view, const replication::DescribedEntry*> there;
  for (const auto& e : destination.entries) there.emplace(e.path, &e);
  std::vector<std::string> paths;
  for (const auto& s : source.entries) {
    if (s.type != replication::EntryType::kRegular ||
        !replication::SampledForVerify(s.path, sample_percent))
      continue;
    auto it = there.find(s.path);
    if (it == there.end() || it->second->type != replication::EntryType::kRegular ||
        it->second->size != s.size)
      continue;
    paths.push_back(s.path);
  }
  return paths;  // in the source's order: sorted
}

void ApplyDigests(const std::vector<std::string>& asked,
                  const std::map<std::string, replication::Hash128>& digests,
                  const std::string& why, replication::TreeDescription* description) {
  auto& entries = description->entries;
  for (const std::string& path : asked) {
    auto digest = digests.find(path);
    if (digest == digests.end()) {
      description->errors.push_back({path, why.empty() ? "its content could not be read"
                                                       : "its content could not be read: " + why});
      continue;
    }
    auto e = std::lower_bound(entries.begin(), entries.end(), path,
                              [](const auto& x, const std::string& p) { return x.path < p; });
    if (e == entries.end() || e->path != path) continue;
    e->hashed = true;
    e->hash = digest->second;
    description->bytes_hashed += e->size;
  }
}

}  // namespace georep::gluster_verify

namespace georep {
namespace {

constexpr auto kListTimeout = std::chrono::hours(2);
// Hashing may take 10 minutes plus a second per 10 MB (every byte is read through the mount).
constexpr auto kHashBaseTimeout = std::chrono::minutes(10);
constexpr uint64_t kHashBytesPerSecond = 10'000'000;

// A volume mounted on one node for this verify, and the way to run commands there.
struct MountedVolume {
  std::unique_ptr<CommandRunner> runner;
  std::string volume;
  std::string mount_point;
  std::string where;  // the node, in the operator's words
  bool mounted = false;
  replication::TreeDescription description;
  const std::atomic<bool>* cancel = nullptr;  // ends the listing and the hashing

  MountedVolume() = default;
  MountedVolume(const MountedVolume&) = delete;
  MountedVolume& operator=(const MountedVolume&) = delete;
  // Unmounted whatever happened (best effort: the node may be gone; then the log says so).
  ~MountedVolume() {
    try {
      Unmount();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; logged if it can
    }
  }
  void Unmount() {
    if (!mounted) return;
    mounted = false;
    auto r = runner->Run(gluster_verify::UnmountCommand(mount_point));
    if (!r.ok() || r->exit_code != 0) {
      spdlog::warn("msg=\"a verify mount stays; umount it there\" where={} mount={} error={}",
                   LogValue(where), LogValue(mount_point),
                   LogValue(r.ok() ? FirstLine(r->err) : r.status().message()));
    }
  }
};

Status Mount(MountedVolume& m) {
  GEOREP_ASSIGN_OR_RETURN(CommandResult r,
                          m.runner->Run(gluster_verify::MountCommand(m.volume, m.mount_point)));
  const std::string said = FirstLine(r.err.empty() ? r.out : r.err);
  if (r.timed_out)
    return Status::Unavailable(
        fmt::format("mounting {} on {} took over 2 minutes", m.volume, m.where));
  if (r.exit_code != 0) {
    return Status::FailedPrecondition(
        fmt::format("cannot mount {} read-only at {} on {} (exit {}): {}", m.volume, m.mount_point,
                    m.where, r.exit_code, said.empty() ? "no message" : said));
  }
  m.mounted = true;
  return Status::Ok();
}

Status List(MountedVolume& m, int sample_percent) {
  CommandSpec spec = gluster_verify::ListCommand(m.mount_point);
  spec.timeout = kListTimeout;
  spec.cancel = m.cancel;
  spec.max_output_bytes = replication::kMaxTreeDescriptionBytes;
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, m.runner->Run(spec));
  if (r.timed_out) {
    return Status::Unavailable(fmt::format("listing {} on {} took over {} minutes", m.volume,
                                           m.where, kListTimeout.count() * 60));
  }
  if (r.truncated) {
    return Status::FailedPrecondition(
        fmt::format("the listing of {} on {} exceeds {} MiB (millions of entries): more than "
                    "verify compares at once",
                    m.volume, m.where, replication::kMaxTreeDescriptionBytes >> 20));
  }
  // find exits 1 when it could not read some entries, and lists the rest: those are errors of
  // this side. Anything else is a failure of the listing itself.
  if (r.exit_code != 0 && (r.exit_code != 1 || r.err.empty() || r.out.empty())) {
    return Status::FailedPrecondition(fmt::format("listing {} on {} failed (exit {}): {}", m.volume,
                                                  m.where, r.exit_code, FirstLine(r.err)));
  }
  auto listed = gluster_verify::ParseListing(r.out, sample_percent);
  if (!listed.ok()) {
    return Status::Corruption(
        fmt::format("listing {} on {}: {}", m.volume, m.where, listed.status().message()));
  }
  m.description = std::move(*listed);
  if (r.exit_code != 0) {
    size_t start = 0;
    for (int i = 0; i < 20 && start < r.err.size(); ++i) {
      size_t nl = r.err.find('\n', start);
      m.description.errors.push_back({".", r.err.substr(start, nl - start)});
      start = nl == std::string::npos ? nl : nl + 1;
    }
  }
  return Status::Ok();
}

Status Hash(MountedVolume& m, const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::Ok();
  uint64_t bytes = 0, path_bytes = 0;
  for (const auto& e : m.description.entries) bytes += e.size;  // an upper bound
  for (const auto& p : paths) path_bytes += p.size();
  CommandSpec spec = gluster_verify::HashCommand(m.mount_point, paths);
  spec.cancel = m.cancel;
  spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kHashBaseTimeout) +
                 std::chrono::seconds(bytes / kHashBytesPerSecond);
  // A line per file: the digest, the mount point, the path (each byte at most escaped twice).
  spec.max_output_bytes = 4096 + paths.size() * (80 + m.mount_point.size()) + 2 * path_bytes;
  GEOREP_ASSIGN_OR_RETURN(CommandResult r, m.runner->Run(spec));
  if (r.timed_out) {
    return Status::Unavailable(fmt::format(
        "hashing {} files of {} on {} took over {} minutes", paths.size(), m.volume, m.where,
        std::chrono::duration_cast<std::chrono::minutes>(spec.timeout).count()));
  }
  if (r.truncated) {
    return Status::Corruption(fmt::format("sha256sum on {} printed more than {} bytes for {} files",
                                          m.where, spec.max_output_bytes, paths.size()));
  }
  // xargs exits 123 when sha256sum could not read some of the files: the others are hashed.
  if (r.exit_code != 0 && r.exit_code != 123) {
    return Status::FailedPrecondition(fmt::format("hashing files of {} on {} failed (exit {}): {}",
                                                  m.volume, m.where, r.exit_code,
                                                  FirstLine(r.err)));
  }
  auto digests = gluster_verify::ParseDigests(r.out, m.mount_point);
  if (!digests.ok()) {
    return Status::Corruption(fmt::format("hashing files of {} on {}: {}", m.volume, m.where,
                                          digests.status().message()));
  }
  gluster_verify::ApplyDigests(paths, *digests, FirstLine(r.err), &m.description);
  return Status::Ok();
}

}  // namespace

Result<replication::VerifyReport> GlusterDriver::VerifyGlusterSession(
    const Session& s, const Volume& v, const Destination& d, const replication::VerifyOptions& o) {
  if (!ctx_.hosts) return Status::FailedPrecondition("this engine cannot reach hosts");
  for (const std::string* name : {&v.name, &s.destination_volume}) {
    if (!gluster_verify::IsPlainVolumeName(*name)) {
      return Status::InvalidArgument(fmt::format(
          "verify mounts volumes by name, and '{}' is not a plain gluster volume name", *name));
    }
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> hosts, ctx_.ListHosts(v.cluster_id));
  // The destination's source host first, as for gluster commands.
  std::stable_sort(hosts.begin(), hosts.end(), [&](const Host& x, const Host& y) {
    return (x.id == d.source_host_id) > (y.id == d.source_host_id);
  });

  // Each side mounted and listed on its node, the two at once.
  const std::string id = ctx_.random.NewUuid();
  MountedVolume source, destination;
  source.volume = v.name;
  source.mount_point = gluster_verify::MountPoint(v.name, id);
  destination.volume = s.destination_volume;
  destination.mount_point = gluster_verify::MountPoint(s.destination_volume, id);
  source.cancel = destination.cancel = o.cancel;
  auto there = std::async(std::launch::async, [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> runner, ctx_.DestinationRunner(d));
    RelayingRunner* relaying = runner.get();
    destination.runner = std::move(runner);
    destination.where = fmt::format("the destination {}", d.host);
    Status mounted = Mount(destination);
    if (relaying->relayed())
      destination.where += fmt::format(" (through {})", relaying->relay_name());
    GEOREP_RETURN_IF_ERROR(mounted);
    return List(destination, o.sample_percent);
  });
  Status here = Status::Unavailable("no host of the source cluster has a confirmed key");
  std::string tried;
  for (const Host& h : hosts) {
    if (h.transport == HostTransport::kSsh && h.ssh_fingerprint.empty()) continue;
    source.runner = ctx_.hosts->RunnerFor(h);
    source.where = fmt::format("source host {}", h.name);
    here = Mount(source);
    if (here.ok()) break;
    // Another node of the cluster may do: unreachable, or without the gluster client.
    tried += fmt::format("{}{}", tried.empty() ? "" : "; ", here.message());
  }
  if (!here.ok() && !tried.empty()) {
    here = Status::Unavailable(
        fmt::format("no host of the source cluster could mount {}: {}", v.name, tried));
  }
  if (here.ok()) here = List(source, o.sample_percent);
  Status listed_there = there.get();
  GEOREP_RETURN_IF_ERROR(here);
  GEOREP_RETURN_IF_ERROR(listed_there);

  // The same files hashed on both nodes, at once.
  const std::vector<std::string> paths =
      gluster_verify::FilesToHash(source.description, destination.description, o.sample_percent);
  auto hashed_there =
      std::async(std::launch::async, [&]() -> Status { return Hash(destination, paths); });
  Status hashed_here = Hash(source, paths);
  Status hashed = hashed_there.get();
  auto unmounted_there = std::async(std::launch::async, [&] { destination.Unmount(); });
  source.Unmount();
  unmounted_there.get();
  GEOREP_RETURN_IF_ERROR(hashed_here);
  GEOREP_RETURN_IF_ERROR(hashed);
  auto report =
      replication::CompareTreeDescriptions(source.description, destination.description, o);
  if (report.ok()) {
    report->not_compared.insert(report->not_compared.begin(),
                                "directory and symlink times, a file's mtime below the second "
                                "(gsyncd does not keep them)");
  }
  return report;
}

}  // namespace georep
