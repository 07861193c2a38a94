#include "engine/session_verifier.h"

#include <fmt/format.h>

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "model/names.h"
#include "replication/repair_request.h"

namespace georep {
namespace {

// How many differences an alert names; the rest are counted.
constexpr size_t kNamedDifferences = 5;

}  // namespace

Result<replication::VerifyReport> SessionVerifier::VerifySession(const Actor& a,
                                                                 const std::string& id,
                                                                 int sample_percent) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  auto report = RunVerify(a, id, sample_percent, nullptr);
  if (!report.ok()) return report;  // what cannot run says nothing about the destination
  GEOREP_RETURN_IF_ERROR(RecordVerifyDiffers(
      a, id, report->differences,
      fmt::format("a verify by {} of {}% of the files", a.name, sample_percent)));
  return report;
}

Result<RepairReport> SessionVerifier::RepairSession(const Actor& a, const std::string& id,
                                                    std::chrono::milliseconds timeout) {
  GEOREP_RETURN_IF_ERROR(Require(a, Role::kOperator));
  RepairReport out;
  auto repaired = [&]() -> Status {
    GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
    SessionDriver& driver = driver_for_(v.kind);
    GEOREP_RETURN_IF_ERROR(driver.CheckRepairable(s, v));
    if (s.status == SessionStatus::kCreated || s.status == SessionStatus::kStopped ||
        s.status == SessionStatus::kPaused) {
      return Status::FailedPrecondition(
          fmt::format("the session is {}: start it first, its worker carries the repair out",
                      ::georep::Name(s.status)));
    }
    GEOREP_ASSIGN_OR_RETURN(out.before, RunVerify(a, id, 100, nullptr));
    if (out.before.differences.empty()) {
      out.after = out.before;
      return Status::Ok();
    }
    const replication::RepairRequest request =
        replication::RepairRequestFromVerify(out.before, ctx_.random.NewUuid());
    out.resent = request.stale.size() + request.missing.size();
    out.deleted = request.extra.size();
    if (!request.empty()) GEOREP_RETURN_IF_ERROR(driver.CarryOutRepair(s, request, timeout));
    GEOREP_ASSIGN_OR_RETURN(out.after, RunVerify(a, id, 100, nullptr));
    return Status::Ok();
  }();
  if (!repaired.ok()) {
    (void)ctx_.RecordFailure(a, "session.repair", "session", id, repaired);
    return repaired;
  }
  GEOREP_RETURN_IF_ERROR(RecordVerifyDiffers(
      a, id, out.after.differences, fmt::format("the verify after a repair by {}", a.name)));
  const std::string msg =
      out.before.differences.empty()
          ? std::string("nothing differed: nothing to repair")
          : fmt::format(
                "{} differences: {} paths sent again, {} deleted; after: {}",
                out.before.differences.size(), out.resent, out.deleted,
                out.after.differences.empty()
                    ? std::string("identical")
                    : fmt::format("{} differences remain, first: {} {}",
                                  out.after.differences.size(), out.after.differences[0].path,
                                  out.after.differences[0].what));
  GEOREP_RETURN_IF_ERROR(ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    return tx
        .AppendEvent(Event{0, ctx_.clock.NowMillis(), a.name, "session.repair", "session", id,
                           out.after.differences.empty() ? "ok" : "failed", msg})
        .status();
  }));
  return out;
}

Result<replication::VerifyReport> SessionVerifier::RunVerify(const Actor& a, const std::string& id,
                                                             int sample_percent,
                                                             const std::atomic<bool>* cancel) {
  auto run = [&]() -> Result<replication::VerifyReport> {
    if (sample_percent < 1 || sample_percent > 100)
      return Status::InvalidArgument("sample must be 1-100 percent");
    GEOREP_ASSIGN_OR_RETURN(Session s, ctx_.ReadSession(id));
    GEOREP_ASSIGN_OR_RETURN(Volume v, ctx_.GetVolume(s.source_volume_id));
    GEOREP_ASSIGN_OR_RETURN(Destination d, ctx_.GetDestination(s.destination_id));
    GEOREP_ASSIGN_OR_RETURN(std::vector<ConfigItem> config, ctx_.GetConfig(id));
    replication::VerifyOptions o;
    o.sample_percent = sample_percent;
    o.cancel = cancel;
    for (const auto& c : config) {
      if (c.option->key == "ignore-deletes") o.ignore_deletes = c.value == "true";
      // What the session replicates of xattrs is what verify compares.
      if (c.option->key == "sync-xattrs" && c.value == "false")
        o.xattrs.user = o.xattrs.acls = o.xattrs.privileged = false;
      if (c.option->key == "sync-acls" && c.value == "false") o.xattrs.acls = false;
      if (c.option->key != "exclude") continue;
      size_t start = 0;
      while (start <= c.value.size()) {
        size_t comma = c.value.find(',', start);
        std::string p = c.value.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!p.empty()) o.excludes.push_back(p);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    return driver_for_(v.kind).Verify(s, v, d, config, o);
  };
  auto report = run();
  if (cancel && cancel->load())
    return Status::Unavailable("verify cancelled: the engine is stopping");
  if (!report.ok()) {
    (void)ctx_.RecordFailure(a, "session.verify", "session", id, report.status());
    return report;
  }
  std::string msg =
      fmt::format("{} entries compared, content of {} files ({} bytes): {}", report->entries,
                  report->content_checked, report->bytes_hashed,
                  report->differences.empty()
                      ? std::string("no differences")
                      : fmt::format("{} differences, first: {} {}", report->differences.size(),
                                    report->differences[0].path, report->differences[0].what));
  // Differences are a failed verification, in the audit trail as such.
  GEOREP_RETURN_IF_ERROR(ctx_.store.Transaction([&](StoreTx& tx) -> Status {
    return tx
        .AppendEvent(Event{0, ctx_.clock.NowMillis(), a.name, "session.verify", "session", id,
                           report->differences.empty() ? "ok" : "failed", msg})
        .status();
  }));
  return report;
}

Status SessionVerifier::RecordVerifyDiffers(
    const Actor& a, const std::string& id,
    const std::vector<replication::VerifyDifference>& differences, const std::string& how) {
  if (differences.empty())
    return ctx_.SetAlert(a, id, "verify-differs", false, "", "session.verify_differs");
  std::set<std::string> paths;
  for (const auto& d : differences) paths.insert(d.path);
  std::string named;
  size_t shown = 0;
  for (const auto& d : differences) {
    if (shown == kNamedDifferences) break;
    named += fmt::format("{}{}: {}", shown ? "; " : "", d.path.empty() ? "." : d.path, d.what);
    ++shown;
  }
  if (differences.size() > shown) named += fmt::format("; and {} more", differences.size() - shown);
  return ctx_.SetAlert(
      a, id, "verify-differs", true,
      fmt::format("{} difference{} in {} path{} found by {} at {}: {}", differences.size(),
                  differences.size() == 1 ? "" : "s", paths.size(), paths.size() == 1 ? "" : "s",
                  how, FormatIsoMillis(ctx_.clock.NowMillis()), named),
      "session.verify_differs");
}

}  // namespace georep
