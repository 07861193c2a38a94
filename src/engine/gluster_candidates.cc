// GlusterDriver's look at a destination cluster's volumes (gluster_driver.h): which may be a
// new session's destination, and why the others may not.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <tuple>

#include "engine/gluster_driver.h"
#include "gluster/cli_xml.h"
#include "gluster/gsyncd_log.h"
#include "gluster/gsyncd_status.h"
#include "model/aggregate_status.h"
#include "model/names.h"
#include "model/validation.h"

namespace georep {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::vector<CandidateVolume>> GlusterDriver::GlusterCandidates(const Destination& d,
                                                                      const Volume& source,
                                                                      const std::string& only) {
  GEOREP_ASSIGN_OR_RETURN(std::unique_ptr<RelayingRunner> dest, ctx_.DestinationRunner(d));
  auto gluster = [&](std::vector<std::string> args) -> Result<std::string> {
    std::vector<std::string> argv = {"gluster", "--mode=script"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--xml");
    CommandSpec spec{argv};
    spec.timeout = std::chrono::seconds(60);
    GEOREP_ASSIGN_OR_RETURN(CommandResult r, dest->Run(spec));
    return r.out.empty() ? r.err : r.out;
  };
  std::vector<std::string> info_args = {"volume", "info"};
  if (!only.empty()) info_args.push_back(only);
  auto info_xml = gluster(info_args);
  if (!info_xml.ok()) {
    return Status::Unavailable(fmt::format("destination-down: {} cannot be asked: {}", d.host,
                                           info_xml.status().message()));
  }
  auto info = ParseVolumeInfo(*info_xml);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) {
      CandidateVolume missing;
      missing.name = only;
      missing.reasons.push_back(
          fmt::format("missing: volume {} does not exist on {}", only, d.host));
      return std::vector<CandidateVolume>{missing};
    }
    return Status::Unavailable(fmt::format("destination-down: {}", info.status().message()));
  }
  // Sizes of every brick there, in one query.
  std::vector<GlusterBrickUsage> usage;
  std::vector<std::string> status_args = {"volume", "status", only.empty() ? "all" : only,
                                          "detail"};
  if (auto status_xml = gluster(status_args); status_xml.ok()) {
    if (auto parsed = ParseVolumeStatusDetail(*status_xml); parsed.ok()) usage = std::move(*parsed);
  }
  GEOREP_ASSIGN_OR_RETURN(std::vector<Host> source_hosts, ctx_.ListHosts(source.cluster_id));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Session> sessions, ctx_.ListSessions({}));
  GEOREP_ASSIGN_OR_RETURN(std::vector<Destination> dests,
                          ctx_.ListDestinations(d.source_cluster_id));

  std::vector<CandidateVolume> out;
  for (const GlusterVolume& g : *info) {
    CandidateVolume c;
    c.name = g.name;
    c.status = g.status;
    auto& reasons = c.reasons;
    // not the source itself
    for (const Host& h : source_hosts) {
      if ((h.address == d.host || h.name == d.host) && g.name == source.name) {
        reasons.push_back("source-volume: the destination volume is the source volume itself");
        break;
      }
    }
    // not another session's destination (any session to this host, from any source)
    for (const Session& s : sessions) {
      for (const Destination& x : dests) {
        if (x.id == s.destination_id && x.host == d.host && s.destination_volume == g.name) {
          reasons.push_back(fmt::format("in-use: {}::{} is already the destination of session {}",
                                        d.host, g.name, s.session_key));
        }
      }
    }
    if (g.status != "Started")
      reasons.push_back(fmt::format("not-started: volume {} is {}", g.name, g.status));
    // empty: the bricks this destination host holds have nothing but gluster's own entries
    for (const auto& b : g.bricks) {
      if (b.host != d.host) continue;
      CommandSpec spec{{"find", b.path, "-mindepth", "1", "-maxdepth", "1", "!", "-name",
                        ".glusterfs", "!", "-name", ".glusterfs-anonymous-inode-*", "!", "-name",
                        ".trashcan", "-print", "-quit"}};
      auto found = dest->Run(spec);
      if (found.ok() && found->exit_code == 0 && !Trim(found->out).empty()) {
        reasons.push_back(
            fmt::format("not-empty: volume {} is not empty ({} exists)", g.name, Trim(found->out)));
        break;
      }
    }
    // size: at least the source's (usable size: the smallest brick of each replica set, the
    // data bricks of each disperse set)
    const size_t width =
        static_cast<size_t>(g.disperse_count > 0 ? g.disperse_count : std::max(1, g.replica_count));
    for (size_t set = 0; set * width < g.bricks.size(); ++set) {
      int64_t smallest = INT64_MAX;
      for (size_t i = set * width; i < std::min(g.bricks.size(), (set + 1) * width); ++i)
        for (const auto& u : usage)
          if (u.path == g.bricks[i].path && u.host == g.bricks[i].host)
            smallest = std::min(smallest, u.size_total);
      if (smallest != INT64_MAX)
        c.size_bytes +=
            smallest * (g.disperse_count > 0 ? g.disperse_count - g.redundancy_count : 1);
    }
    if (source.size_bytes > 0 && c.size_bytes > 0 && c.size_bytes < source.size_bytes) {
      reasons.push_back(fmt::format("too-small: volume {} has {} bytes, the source {}", g.name,
                                    c.size_bytes, source.size_bytes));
    }
    c.eligible = reasons.empty();
    out.push_back(std::move(c));
  }
  return out;
}

Status GlusterDriver::CheckGlusterEligibility(const Destination& d, const Volume& source,
                                              const std::string& dvol) {
  auto candidates = GlusterCandidates(d, source, dvol);
  std::vector<std::string> reasons;
  if (!candidates.ok()) {
    reasons.push_back(candidates.status().message());
  } else {
    for (const auto& c : *candidates)
      if (c.name == dvol) reasons = c.reasons;
  }
  if (reasons.empty()) return Status::Ok();
  std::string all;
  for (const auto& r : reasons) all += (all.empty() ? "" : "; ") + r;
  return Status::FailedPrecondition(
      fmt::format("destination volume {}::{} is not eligible: {} (use force to create anyway)",
                  d.host, dvol, all));
}

Result<std::vector<CandidateVolume>> GlusterDriver::ListCandidateVolumes(
    const std::string& destination_id, const std::string& source_volume_id) {
  GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(destination_id));
  GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(source_volume_id));
  if (v.kind != VolumeKind::kGluster) {
    return Status::InvalidArgument(
        "candidate volumes are listed for gluster source volumes; a directory session names a "
        "path");
  }
  if (v.cluster_id != d.source_cluster_id) {
    return Status::InvalidArgument(
        fmt::format("volume '{}' is not in the destination's source cluster", v.name));
  }
  if (d.ssh_fingerprint.empty()) {
    return Status::FailedPrecondition(
        fmt::format("no host key is pinned for destination {}; confirm it first", d.host));
  }
  GEOREP_ASSIGN_OR_RETURN(auto all, GlusterCandidates(d, v, ""));
  // Eligible first, then by name.
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return std::tie(y.eligible, x.name) < std::tie(x.eligible, y.name);
  });
  return all;
}

}  // namespace georep
