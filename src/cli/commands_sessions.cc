// The session commands: sessions and their actions, status, preflight, verify and repair, their
// config options, and the audit trail.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/client_commands.h"
#include "cli/table.h"

namespace georep {
namespace {

// list, create, start/stop/pause/resume, refresh.
void AddSessionLifecycleCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("session", "Geo-replication sessions");
  grp->require_subcommand(1);
  auto* list = grp->add_subcommand("list", "List sessions");
  auto vol = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  list->add_option("--volume", *vol, "Only sessions of this source volume id");
  list->add_option("--destination", *dest, "Only sessions to this destination id");
  list->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintList(
        *g, c.Get("/sessions?volume_id=" + UrlEncode(*vol) + "&destination_id=" + UrlEncode(*dest)),
        {"ID", "SESSION", "USER", "STATUS", "UPDATED"},
        {"id", "session_key", "remote_user", "status", "updated_at"});
  }));
  auto* create = grp->add_subcommand("create", "Create a session");
  struct Opts {
    std::string destination, volume, remote_volume, user;
  };
  auto o = std::make_shared<Opts>();
  create->add_option("--destination", o->destination, "Destination id")->required();
  create->add_option("--volume", o->volume, "Source volume id")->required();
  create
      ->add_option("--remote-volume", o->remote_volume,
                   "Destination volume name (gluster) or path (directory)")
      ->required();
  create->add_option("--user", o->user, "Remote user (default: the destination's)");
  auto create_force = std::make_shared<bool>(false);
  auto sync_method = std::make_shared<std::string>();
  create->add_flag("--force", *create_force, "Create even if the destination is not eligible");
  create->add_option("--sync-method", *sync_method,
                     "rsync or tarssh (tarssh where rsync >= 3.4 would write 0-byte files)");
  create->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    Json body = {{"destination_id", o->destination},
                 {"source_volume_id", o->volume},
                 {"destination_volume", o->remote_volume},
                 {"force", *create_force}};
    if (!o->user.empty()) body["remote_user"] = o->user;
    if (!sync_method->empty()) body["sync_method"] = *sync_method;
    auto r = c.Post("/sessions", body);
    if (r.ok() && !g->json) {
      for (const auto& w : (*r)["warnings"])
        std::cerr << "warning: " << TerminalSafe(w.get<std::string>()) << "\n";
    }
    return PrintObject(*g, r);
  }));
  for (const char* action : {"start", "stop", "pause", "resume"}) {
    auto* cmd = grp->add_subcommand(action, std::string(action) + " a session");
    auto id = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    cmd->add_option("session", *id, kSessionHelp)->required();
    cmd->add_flag("--force", *force, "gluster's force");
    std::string verb = action;
    cmd->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *id));
      auto r =
          c.Post("/sessions/" + UrlEncode(session) + "/" + verb + (*force ? "?force=true" : ""),
                 Json::object());
      if (!r.ok() || g->json) return PrintObject(*g, r);
      for (const auto& w : (*r)["warnings"])
        std::cerr << "warning: " << TerminalSafe(w.get<std::string>()) << "\n";
      std::cout << fmt::format("Session {}: {}\n", Text(*r, "session_key"), Text(*r, "status"));
      return Status::Ok();
    }));
  }
}

// preflight, verify (top-level, as admins type it), repair.
void AddSessionCheckCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  CLI::App* grp = app.get_subcommand("session");
  auto* refresh = grp->add_subcommand("refresh", "Read a session's status from the cluster now");
  auto refresh_id = std::make_shared<std::string>();
  refresh->add_option("session", *refresh_id, kSessionHelp)->required();
  refresh->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *refresh_id));
    auto r = c.Post("/sessions/" + UrlEncode(session) + "/refresh", Json::object());
    if (!r.ok() || g->json) return PrintObject(*g, r);
    std::cout << fmt::format("Session {}: {}\n", Text(*r, "session_key"), Text(*r, "status"));
    return Status::Ok();
  }));
  auto* preflight = grp->add_subcommand(
      "preflight",
      "Check a gluster session's nodes: rsync and gluster versions, and whether "
      "gsyncd's rsync sync-method copies file contents there");
  auto preflight_id = std::make_shared<std::string>();
  preflight->add_option("session", *preflight_id, kSessionHelp)->required();
  preflight->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *preflight_id));
    auto r = c.Get("/sessions/" + UrlEncode(session) + "/preflight");
    if (!r.ok() || g->json) return PrintObject(*g, r);
    Table t({"NODE", "ROLE", "RSYNC", "GLUSTER", "RSYNC WRITES 0-BYTE FILES", "PROBLEM"});
    for (const auto& n : (*r)["nodes"]) {
      t.Add({Str(n, "host"), Str(n, "role"), Str(n, "rsync"), Str(n, "gluster"),
             n.value("rsync_writes_empty_files", false) ? "yes" : "no", Str(n, "problem")});
    }
    std::cout << t.Render() << Text(*r, "summary") << "\n";
    return Status::Ok();
  }));
  // `georep verify SESSION`: top-level, as admins type it; exit 1 when anything differs.
  auto* verify = app.add_subcommand("verify", "Compare a session's destination with its source");
  auto verify_id = std::make_shared<std::string>();
  auto verify_sample = std::make_shared<int>(100);
  verify->add_option("session", *verify_id, kSessionHelp)->required();
  verify->add_option("--sample", *verify_sample, "Percent of files whose content is compared")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  verify->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *verify_id));
    c.SetReadTimeout(kTreeReadTimeout);
    auto r = c.Post("/sessions/" + UrlEncode(session) +
                        "/verify?sample_percent=" + std::to_string(*verify_sample),
                    Json::object());
    if (!r.ok()) return r.status();
    if (g->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      for (const auto& d : (*r)["differences"])
        std::cout << Text(d, "path") << ": " << Text(d, "difference") << "\n";
      for (const auto& n : r->value("not_compared", Json::array()))
        std::cout << "not compared: " << n.get<std::string>() << "\n";
      std::cout << fmt::format("{} entries compared, content of {} files ({}): {}\n",
                               (*r)["entries"].get<uint64_t>(),
                               (*r)["content_checked"].get<uint64_t>(), Display(*r, "bytes_hashed"),
                               (*r)["differences"].empty()
                                   ? std::string("identical")
                                   : std::to_string((*r)["differences"].size()) + " differences");
    }
    if (!(*r)["differences"].empty()) *exit_code = 1;
    return Status::Ok();
  }));
  // `georep session repair SESSION`: what a verify finds different sent again (and what only
  // the destination has deleted), then verified again; exit 1 when differences remain.
  auto* repair = grp->add_subcommand(
      "repair", "Send again what differs at the destination, delete what only it has, verify");
  auto repair_id = std::make_shared<std::string>();
  repair->add_option("session", *repair_id, kSessionHelp)->required();
  repair->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *repair_id));
    c.SetReadTimeout(kTreeReadTimeout);
    auto r = c.Post("/sessions/" + UrlEncode(session) + "/repair", Json::object());
    if (!r.ok()) return r.status();
    if (g->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      const Json& before = (*r)["before"];
      const Json& after = (*r)["after"];
      for (const auto& d : before["differences"])
        std::cout << "differed: " << Text(d, "path") << ": " << Text(d, "difference") << "\n";
      std::cout << fmt::format("{} differences: {} paths sent again, {} deleted\n",
                               before["differences"].size(), (*r)["resent"].get<uint64_t>(),
                               (*r)["deleted"].get<uint64_t>());
      for (const auto& d : after["differences"])
        std::cout << "still differs: " << Text(d, "path") << ": " << Text(d, "difference") << "\n";
      for (const auto& n : after.value("not_compared", Json::array()))
        std::cout << "not compared: " << n.get<std::string>() << "\n";
      std::cout << fmt::format("verified again: {} entries compared: {}\n",
                               after["entries"].get<uint64_t>(),
                               after["differences"].empty()
                                   ? std::string("identical")
                                   : std::to_string(after["differences"].size()) + " differences");
    }
    if (!(*r)["identical"].get<bool>()) *exit_code = 1;
    return Status::Ok();
  }));
}

// status, remove.
void AddSessionStatusCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  CLI::App* grp = app.get_subcommand("session");
  auto* status = grp->add_subcommand("status", "A session's status, node by node");
  auto sid = std::make_shared<std::string>();
  status->add_option("session", *sid, kSessionHelp)->required();
  status->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *sid));
    auto r = c.Get("/sessions/" + UrlEncode(session));
    if (!r.ok() || g->json) return PrintObject(*g, r);
    std::cout << fmt::format("Session {}: {}{}\n", Text(*r, "session_key"), Text(*r, "status"),
                             (*r)["alerts"].empty() ? "" : " -- NOT HEALTHY, see below");
    if (!Str(*r, "status_reason").empty())
      std::cout << fmt::format("  why: {}\n", Text(*r, "status_reason"));
    // The end-to-end figures: unknown is shown as such, never as 0.
    const Json& lag = (*r)["lag_seconds"];
    std::cout << fmt::format("  lag: {}", lag.is_number()
                                              ? fmt::format("{:.1f} s", lag.get<double>())
                                              : std::string("unknown"));
    if (const Json& hb = (*r)["heartbeat"]; hb.is_object()) {
      std::cout << fmt::format(" (heartbeat every {} s; last arrived: {})",
                               hb.value("interval_seconds", 0),
                               hb.contains("last_arrived") && hb["last_arrived"].is_string()
                                   ? hb["last_arrived"].get<std::string>()
                                   : std::string("never"));
    }
    std::cout << "\n";
    const Json& rate = (*r)["throughput_bytes_per_second"];
    std::cout << fmt::format("  throughput: {}\n", rate.is_number()
                                                       ? Display(*r, "throughput_bytes_per_second")
                                                       : std::string("unknown"));
    std::cout << fmt::format("  last synced: {}\n", (*r)["last_synced"].is_string()
                                                        ? Text(*r, "last_synced")
                                                        : std::string("unknown"));
    for (const auto& a : (*r)["alerts"])
      std::cout << fmt::format("  ALERT {}: {} (since {})\n", Text(a, "kind"), Text(a, "message"),
                               Text(a, "since"));
    std::cout << "\n";
    Table t({"SOURCE NODE", "BRICK", "DESTINATION", "STATUS", "CRAWL STATUS", "LAST SYNCED",
             "ENTRY", "DATA", "META", "FAILURES", "CHECKPOINT COMPLETED", "LAG", "THROUGHPUT"});
    for (const auto& n : (*r)["nodes"]) {
      // Lag and throughput: georep's own engine measures them; gluster does not report them.
      const std::string lag = n.contains("lag_seconds") && n["lag_seconds"].is_number()
                                  ? fmt::format("{:.1f} s", n["lag_seconds"].get<double>())
                                  : "N/A";
      const std::string rate =
          n.contains("throughput_bytes_per_second") && n["throughput_bytes_per_second"].is_number()
              ? Display(n, "throughput_bytes_per_second")
              : "N/A";
      t.Add({Str(n, "source_host"), Str(n, "source_brick"), Str(n, "destination_host"),
             Str(n, "status"), Str(n, "crawl_status"), Str(n, "last_synced"),
             CountCell(n, "entry_pending"), CountCell(n, "data_pending"),
             CountCell(n, "meta_pending"), CountCell(n, "failures"), Str(n, "checkpoint_completed"),
             lag, rate});
    }
    std::cout << t.Render();
    // Why a node shows what it shows, when gluster itself did not say it.
    for (const auto& n : (*r)["nodes"]) {
      if (!Str(n, "status_reason").empty())
        std::cout << fmt::format("{} {}: {}\n", Text(n, "source_host"), Text(n, "source_brick"),
                                 Text(n, "status_reason"));
    }
    return Status::Ok();
  }));
  auto* rm = grp->add_subcommand("remove", "Remove a session");
  auto rid = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  rm->add_option("session", *rid, kSessionHelp)->required();
  rm->add_flag("--force", *force, "Remove even if it is not stopped");
  auto reset_sync = std::make_shared<bool>(false);
  rm->add_flag("--reset-sync-time", *reset_sync,
               "Forget the sync time: a new session to the same volume starts over");
  rm->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *rid));
    std::string q = std::string("?force=") + (*force ? "true" : "false") +
                    "&reset_sync_time=" + (*reset_sync ? "true" : "false");
    return PrintDone(*g, c.Delete("/sessions/" + UrlEncode(session) + q), "Session removed.");
  }));
}

// `georep config SESSION [KEY [VALUE]]`.
void AddConfigCommand(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* cmd =
      app.add_subcommand("config", "Show a session's config, or show / set / --reset one option");
  auto sid = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  auto reset = std::make_shared<bool>(false);
  cmd->add_option("session", *sid, kSessionHelp)->required();
  cmd->add_option("key", *key, "Option");
  cmd->add_option("value", *value, "New value");
  cmd->add_flag("--reset", *reset, "Reset the option to its default");
  auto config_force = std::make_shared<bool>(false);
  cmd->add_flag("--force", *config_force,
                "Set sync-method rsync even where the preflight finds it writes 0-byte files");
  cmd->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string session, ResolveSession(c, *sid));
    const std::string base = "/sessions/" + UrlEncode(session) + "/config";
    if (*reset) {
      if (key->empty()) return Status::InvalidArgument("--reset needs an option name");
      return PrintDone(*g, c.Delete(base + "/" + UrlEncode(*key)),
                       fmt::format("{} reset to its default.", *key));
    }
    if (!value->empty()) {
      Json body = {{"value", *value}};
      if (*config_force) body["force"] = true;
      return PrintObject(*g, c.Put(base + "/" + UrlEncode(*key), body));
    }
    auto r = c.Get(base);
    if (!r.ok()) return r.status();
    if (!key->empty()) {
      for (const auto& item : (*r)["items"]) {
        if (Str(item, "key") == *key) return PrintObject(*g, Result<Json>(item));
      }
      return Status::NotFound(fmt::format("no option '{}'", *key));
    }
    return PrintList(*g, r, {"OPTION", "VALUE", "DEFAULT", "CHANGED BY", "DESCRIPTION"},
                     {"key", "value", "default", "changed_by", "description"});
  }));
}

}  // namespace

void AddSessionCommands(CLI::App& app, const CommandContext& ctx) {
  AddSessionLifecycleCommands(app, ctx);
  AddSessionCheckCommands(app, ctx);
  AddSessionStatusCommands(app, ctx);
  AddConfigCommand(app, ctx);
}

// `georep event list`.
void AddEventCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("event", "The audit trail");
  grp->require_subcommand(1);
  auto* list = grp->add_subcommand("list", "List events, newest first");
  struct Opts {
    int limit = 50;
    std::string object_id, object_type, action;
  };
  auto o = std::make_shared<Opts>();
  list->add_option("--limit", o->limit, "At most this many")->capture_default_str();
  list->add_option("--object-id", o->object_id, "Only events about this object");
  list->add_option("--object-type", o->object_type, "cluster, host, volume, destination, ...");
  list->add_option("--action", o->action, "Action prefix, e.g. session.");
  list->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintList(*g,
                     c.Get(fmt::format("/events?limit={}&object_id={}&object_type={}&action={}",
                                       o->limit, UrlEncode(o->object_id), UrlEncode(o->object_type),
                                       UrlEncode(o->action))),
                     {"ID", "AT", "ACTOR", "ACTION", "RESULT", "MESSAGE"},
                     {"id", "at", "actor", "action", "result", "message"});
  }));
}

}  // namespace georep
