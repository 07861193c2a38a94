// The destination commands: attach, test, re-key and detach destinations, and list the
// volumes a new session may use there.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/client_commands.h"
#include "cli/table.h"

namespace georep {

// `georep destination ...`.
void AddDestinationCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("destination", "Geo-replication destinations");
  grp->require_subcommand(1);
  auto* list = grp->add_subcommand("list", "List a cluster's destinations");
  auto cluster = std::make_shared<std::string>();
  list->add_option("cluster", *cluster, "Source cluster id or name")->required();
  list->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, *cluster));
    return PrintList(
        *g, c.Get("/clusters/" + UrlEncode(cid) + "/destinations"),
        {"ID", "HOST", "USER", "CONNECTION", "REASON", "LAST CHECKED"},
        {"id", "host", "remote_user", "connection", "connection_reason", "last_checked"});
  }));
  auto* create = grp->add_subcommand("create", "Attach a destination host");
  struct Opts {
    std::string cluster, source_host, host, user = "root", fingerprint;
    int port = 22;
  };
  auto o = std::make_shared<Opts>();
  create->add_option("cluster", o->cluster, "Source cluster id or name")->required();
  create->add_option("host", o->host, "Destination host")->required();
  create->add_option("--source-host", o->source_host, "Source host id used for set-up")->required();
  create->add_option("--user", o->user, "Remote user")->capture_default_str();
  create->add_option("--port", o->port, "SSH port")->capture_default_str();
  create->add_option("--fingerprint", o->fingerprint, "Destination host key (SHA256:...)");
  auto dest_accept = std::make_shared<bool>(false);
  create->add_flag("--accept-new", *dest_accept, "Pin the key the host presents now");
  auto dest_local = std::make_shared<bool>(false);
  create->add_flag("--local", *dest_local,
                   "The destination is this machine (directory volumes): no SSH, no host key");
  auto copy_keys = std::make_shared<bool>(false);
  create->add_flag("--copy-keys", *copy_keys,
                   "Copy the source cluster hosts' public keys to the destination cluster");
  auto create_password = std::make_shared<OneTimePassword>();
  AddOneTimePasswordFlags(create, create_password.get(), "root's");
  create->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, o->cluster));
    if (o->fingerprint.empty() && !*dest_local) {
      GEOREP_RETURN_IF_ERROR(ConfirmHostKey(c, o->host, o->port, *dest_accept, &o->fingerprint));
    }
    Json body = {{"source_host_id", o->source_host},
                 {"host", o->host},
                 {"remote_user", o->user},
                 {"ssh_port", o->port},
                 {"ssh_fingerprint", o->fingerprint},
                 {"copy_keys", *copy_keys}};
    // The engine's key goes to root on the destination, whatever the remote user.
    GEOREP_RETURN_IF_ERROR(AddOneTimePassword(*create_password, "root@" + o->host, body));
    return PrintObject(*g, c.Post("/clusters/" + UrlEncode(cid) + "/destinations", body));
  }));
  auto* re = grp->add_subcommand("reestablish", "Redo the key exchange with a destination");
  auto re_id = std::make_shared<std::string>();
  auto re_fp = std::make_shared<std::string>();
  re->add_option("destination", *re_id, "Destination id")->required();
  re->add_option("--fingerprint", *re_fp, "Re-pin a changed destination host key (SHA256:...)");
  auto re_password = std::make_shared<OneTimePassword>();
  AddOneTimePasswordFlags(re, re_password.get(), "root's");
  re->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    Json body = Json::object();
    if (!re_fp->empty()) body["ssh_fingerprint"] = *re_fp;
    if (re_password->prompt || re_password->from_stdin) {
      auto d = c.Get("/destinations/" + UrlEncode(*re_id));
      if (!d.ok()) return d.status();
      GEOREP_RETURN_IF_ERROR(AddOneTimePassword(*re_password, "root@" + Str(*d, "host"), body));
    }
    return PrintObject(*g, c.Post("/destinations/" + UrlEncode(*re_id) + "/reestablish", body));
  }));
  auto* test = grp->add_subcommand("test", "Test a destination now");
  auto test_id = std::make_shared<std::string>();
  test->add_option("destination", *test_id, "Destination id")->required();
  test->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    auto r = c.Post("/destinations/" + UrlEncode(*test_id) + "/test", Json::object());
    if (!r.ok() || g->json) return PrintObject(*g, r);
    std::cout << fmt::format("{}: {}\n", Text(*r, "host"), Text(*r, "connection"));
    for (const auto& p : (*r)["problems"])
      std::cout << "  problem: " << TerminalSafe(p.get<std::string>()) << "\n";
    for (const auto& w : (*r)["warnings"])
      std::cout << "  warning: " << TerminalSafe(w.get<std::string>()) << "\n";
    return Str(*r, "connection") == "Connected"
               ? Status::Ok()
               : Status::Unavailable("the destination is not usable");
  }));
  auto* vols = grp->add_subcommand(
      "volumes", "The destination cluster's volumes, eligible first, with the reasons of the rest");
  auto vols_dest = std::make_shared<std::string>();
  auto vols_source = std::make_shared<std::string>();
  vols->add_option("destination", *vols_dest, "Destination id")->required();
  vols->add_option("--volume", *vols_source, "Source volume id")->required();
  vols->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    auto r = c.Get("/destinations/" + UrlEncode(*vols_dest) +
                   "/volumes?source_volume_id=" + UrlEncode(*vols_source));
    if (!r.ok() || g->json) return PrintList(*g, r, {}, {});
    Table t({"VOLUME", "STATUS", "SIZE", "ELIGIBLE", "WHY NOT"});
    for (const auto& v : (*r)["items"]) {
      std::string why;
      for (const auto& reason : v["reasons"])
        why += (why.empty() ? "" : "; ") + reason.get<std::string>();
      t.Add({Str(v, "name"), Str(v, "status"), Display(v, "size_bytes"),
             v["eligible"].get<bool>() ? "yes" : "no", why});
    }
    std::cout << t.Render();
    return Status::Ok();
  }));
  auto* rm = grp->add_subcommand("remove", "Detach a destination");
  auto rid = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  rm->add_option("destination", *rid, "Destination id")->required();
  rm->add_flag("--force", *force, "Also remove the sessions that use it");
  rm->callback(Run(g, exit_code, [=](ApiClient& c) {
    auto r = c.Delete("/destinations/" + UrlEncode(*rid) + (*force ? "?force=true" : ""));
    const std::string said = r.ok() ? Str(*r, "message") : "";
    return PrintDone(*g, r, said.empty() ? "Destination detached." : said);
  }));
}

}  // namespace georep
