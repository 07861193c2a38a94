// The cluster commands: clusters (created or imported), their hosts and volumes, and the
// engine's own SSH key.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/client_commands.h"
#include "cli/table.h"

namespace georep {

// `georep cluster ...`.
void AddClusterCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  {
    auto* grp = app.add_subcommand("cluster", "Clusters");
    grp->require_subcommand(1);
    grp->add_subcommand("list", "List clusters")->callback(Run(g, exit_code, [g](ApiClient& c) {
      return PrintList(*g, c.Get("/clusters"), {"ID", "NAME", "DESCRIPTION", "CREATED"},
                       {"id", "name", "description", "created_at"});
    }));
    auto* create = grp->add_subcommand("create", "Create a cluster");
    auto name = std::make_shared<std::string>();
    auto desc = std::make_shared<std::string>();
    create->add_option("name", *name, "Cluster name")->required();
    create->add_option("--description", *desc, "Description");
    create->callback(Run(g, exit_code, [=](ApiClient& c) {
      return PrintObject(*g, c.Post("/clusters", {{"name", *name}, {"description", *desc}}));
    }));
    auto* import = grp->add_subcommand(
        "import", "Import a Gluster cluster (peers, volumes) through one of its hosts");
    struct ImportOpts {
      std::string name, address, user = "root", fingerprint;
      int port = 22;
      bool accept_new = false;
    };
    auto io = std::make_shared<ImportOpts>();
    import->add_option("name", io->name, "Name for the cluster in georep")->required();
    import->add_option("address", io->address, "A host of the cluster")->required();
    import->add_option("--port", io->port, "SSH port")->capture_default_str();
    import->add_option("--user", io->user, "SSH user")->capture_default_str();
    import->add_option("--fingerprint", io->fingerprint, "The host's key (SHA256:...)");
    import->add_flag("--accept-new", io->accept_new, "Pin the key the host presents now");
    auto import_password = std::make_shared<OneTimePassword>();
    AddOneTimePasswordFlags(import, import_password.get(), "the user's");
    import->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      if (io->fingerprint.empty()) {
        GEOREP_RETURN_IF_ERROR(
            ConfirmHostKey(c, io->address, io->port, io->accept_new, &io->fingerprint));
  }
  Json body = {{"name", io->name},
               {"address", io->address},
               {"ssh_port", io->port},
               {"ssh_user", io->user},
               {"ssh_fingerprint", io->fingerprint}};
  GEOREP_RETURN_IF_ERROR(AddOneTimePassword(*import_password, io->user + "@" + io->address, body));
  auto r = c.Post("/clusters/import", body);
  if (!r.ok() || g->json) return PrintObject(*g, r);
  std::cout << fmt::format("Imported cluster {} ({}):\n", io->name, Str((*r)["cluster"], "id"));
  Table hosts({"HOST", "ADDRESS", "STATUS", "FINGERPRINT"});
  for (const auto& h : (*r)["hosts"]) {
    std::string fp = Str(h, "ssh_fingerprint");
    hosts.Add({Str(h, "name"), Str(h, "address"), Str(h, "status"),
               fp.empty() ? "(unconfirmed: georep host repin)" : fp});
  }
  std::cout << hosts.Render() << "\n";
  Table vols({"VOLUME", "STATUS", "REPLICA", "DISPERSE", "BRICKS", "SIZE"});
  for (const auto& v : (*r)["volumes"]) {
    vols.Add({Str(v, "name"), Str(v, "status"), Str(v, "replica_count"), Str(v, "disperse_count"),
              std::to_string(v["bricks"].size()), Display(v, "size_bytes")});
  }
  std::cout << vols.Render();
  return Status::Ok();
}));
auto* show = grp->add_subcommand("show", "Show a cluster");
auto id = std::make_shared<std::string>();
show->add_option("cluster", *id, "Cluster id or name")->required();
show->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
  GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, *id));
  return PrintObject(*g, c.Get("/clusters/" + UrlEncode(cid)));
}));
auto* del = grp->add_subcommand("delete", "Delete a cluster");
auto did = std::make_shared<std::string>();
del->add_option("cluster", *did, "Cluster id or name")->required();
del->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
  GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, *did));
  return PrintDone(*g, c.Delete("/clusters/" + UrlEncode(cid)), "Cluster deleted.");
}));
}  // namespace georep
}

// `georep host ...`, `georep engine ssh-key`.
void AddHostCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  {
    auto* grp = app.add_subcommand("host", "Hosts of a cluster");
    grp->require_subcommand(1);
    auto* list = grp->add_subcommand("list", "List a cluster's hosts");
    auto cluster = std::make_shared<std::string>();
    list->add_option("cluster", *cluster, "Cluster id or name")->required();
    list->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, *cluster));
      return PrintList(*g, c.Get("/clusters/" + UrlEncode(cid) + "/hosts"),
                       {"ID", "NAME", "ADDRESS", "TRANSPORT", "STATUS", "FINGERPRINT"},
                       {"id", "name", "address", "transport", "status", "ssh_fingerprint"});
    }));
    auto* add = grp->add_subcommand("add", "Add a host to a cluster");
    struct Opts {
      std::string cluster, name, address, user = "root", transport = "ssh", fingerprint;
      int port = 22;
    };
    auto o = std::make_shared<Opts>();
    add->add_option("cluster", o->cluster, "Cluster id or name")->required();
    add->add_option("name", o->name, "Host name as the cluster knows it")->required();
    add->add_option("--address", o->address, "Address to connect to (default: the name)");
    add->add_option("--port", o->port, "SSH port")->capture_default_str();
    add->add_option("--user", o->user, "SSH user")->capture_default_str();
    add->add_option("--transport", o->transport, "local or ssh")->capture_default_str();
    add->add_option("--fingerprint", o->fingerprint,
                    "Host key to pin (SHA256:...); without it the key is fetched and shown");
    auto accept_new = std::make_shared<bool>(false);
    add->add_flag(
        "--accept-new", *accept_new,
        "Pin the key the host presents now without asking (scripts on a trusted network)");
    auto add_password = std::make_shared<OneTimePassword>();
    AddOneTimePasswordFlags(add, add_password.get(), "the user's");
    add->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, o->cluster));
      if (o->transport == "ssh" && o->fingerprint.empty()) {
        // Fetch and show the host's key; the admin confirms it before it is pinned.
        GEOREP_RETURN_IF_ERROR(ConfirmHostKey(c, o->address.empty() ? o->name : o->address, o->port,
                                              *accept_new, &o->fingerprint));
      }
      Json body = {{"name", o->name},
                   {"ssh_port", o->port},
                   {"ssh_user", o->user},
                   {"transport", o->transport},
                   {"ssh_fingerprint", o->fingerprint}};
      if (!o->address.empty()) body["address"] = o->address;
      GEOREP_RETURN_IF_ERROR(AddOneTimePassword(
          *add_password, o->user + "@" + (o->address.empty() ? o->name : o->address), body));
      return PrintObject(*g, c.Post("/clusters/" + UrlEncode(cid) + "/hosts", body));
    }));
    auto* scan = grp->add_subcommand("scan", "Show the SSH host keys an address presents");
    auto scan_addr = std::make_shared<std::string>();
    auto scan_port = std::make_shared<int>(22);
    scan->add_option("address", *scan_addr, "Host name or address")->required();
    scan->add_option("--port", *scan_port, "SSH port")->capture_default_str();
    scan->callback(Run(g, exit_code, [=](ApiClient& c) {
      return PrintList(*g,
                       c.Post("/host-keys/scan", {{"address", *scan_addr}, {"port", *scan_port}}),
                       {"TYPE", "FINGERPRINT"}, {"type", "fingerprint"});
    }));
    auto* check = grp->add_subcommand("check", "Reach a host now; shows Up or Down and why");
    auto check_id = std::make_shared<std::string>();
    check->add_option("host", *check_id, "Host id")->required();
    check->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      auto r = c.Post("/hosts/" + UrlEncode(*check_id) + "/check", Json::object());
      if (!r.ok() || g->json) return PrintObject(*g, r);
      std::cout << fmt::format("{}: {}{}\n", Text(*r, "name"), Text(*r, "status"),
                               Str(*r, "reason").empty() ? "" : " (" + Text(*r, "reason") + ")");
      return (*r)["reachable"].get<bool>() ? Status::Ok()
                                           : Status::Unavailable("the host is not reachable");
    }));
    auto* repin = grp->add_subcommand("repin", "Pin a new host key after a real key change");
    auto repin_id = std::make_shared<std::string>();
    auto repin_fp = std::make_shared<std::string>();
    repin->add_option("host", *repin_id, "Host id")->required();
    repin
        ->add_option("fingerprint,--fingerprint", *repin_fp,
                     "The new fingerprint (SHA256:...), one the host presents now")
        ->required();
    repin->callback(Run(g, exit_code, [=](ApiClient& c) {
      return PrintObject(*g, c.Put("/hosts/" + UrlEncode(*repin_id) + "/fingerprint",
                                   {{"fingerprint", *repin_fp}}));
    }));
    auto* rm = grp->add_subcommand("remove", "Remove a host");
    auto hid = std::make_shared<std::string>();
    rm->add_option("host", *hid, "Host id")->required();
    rm->callback(Run(g, exit_code, [=](ApiClient& c) {
      return PrintDone(*g, c.Delete("/hosts/" + UrlEncode(*hid)), "Host removed.");
    }));
  }
  {
    auto* grp = app.add_subcommand("engine", "The engine itself");
    grp->require_subcommand(1);
    grp->add_subcommand("ssh-key", "The engine's SSH public key (for hosts' authorized_keys)")
        ->callback(Run(g, exit_code, [g](ApiClient& c) -> Status {
          auto r = c.Get("/engine/ssh-key");
          if (!r.ok() || g->json) return PrintObject(*g, r);
          std::cout << Str(*r, "public_key") << "\n";
          return Status::Ok();
        }));
  }
}

// `georep volume ...`.
void AddVolumeCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("volume", "Volumes");
  grp->require_subcommand(1);
  auto* list = grp->add_subcommand("list", "List volumes (of one cluster, or all)");
  auto cluster = std::make_shared<std::string>();
  list->add_option("cluster", *cluster, "Cluster id or name");
  list->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    std::string path = "/volumes";
    if (!cluster->empty()) {
      GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, *cluster));
      path = "/clusters/" + UrlEncode(cid) + "/volumes";
    }
    return PrintList(*g, c.Get(path), {"ID", "NAME", "KIND", "STATUS", "REPLICA", "SIZE"},
                     {"id", "name", "kind", "status", "replica_count", "size_bytes"});
  }));
  auto* add = grp->add_subcommand("add", "Add a volume");
  struct Opts {
    std::string cluster, name, kind = "directory", host, path;
    std::vector<std::string> bricks;
    int replica = 1, disperse = 0;
  };
  auto o = std::make_shared<Opts>();
  add->add_option("cluster", o->cluster, "Cluster id or name")->required();
  add->add_option("name", o->name, "Volume name")->required();
  add->add_option("--kind", o->kind, "directory or gluster")->capture_default_str();
  add->add_option("--host", o->host, "Host id (directory volumes)");
  add->add_option("--path", o->path, "Directory path (directory volumes)");
  add->add_option("--brick", o->bricks, "HOST_ID:PATH, repeatable (gluster volumes)");
  add->add_option("--replica", o->replica, "Replica count")->capture_default_str();
  add->add_option("--disperse", o->disperse, "Disperse count")->capture_default_str();
  add->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_ASSIGN_OR_RETURN(std::string cid, ResolveCluster(c, o->cluster));
    Json body = {{"name", o->name},
                 {"kind", o->kind},
                 {"replica_count", o->replica},
                 {"disperse_count", o->disperse}};
    if (!o->host.empty() || !o->path.empty()) {
      body["host_id"] = o->host;
      body["path"] = o->path;
    }
    Json bricks = Json::array();
    for (const auto& b : o->bricks) {
      auto colon = b.find(':');
      if (colon == std::string::npos)
        return Status::InvalidArgument(fmt::format("brick '{}' is not HOST_ID:PATH", b));
      bricks.push_back({{"host_id", b.substr(0, colon)}, {"path", b.substr(colon + 1)}});
    }
    if (!bricks.empty()) body["bricks"] = bricks;
    return PrintObject(*g, c.Post("/clusters/" + UrlEncode(cid) + "/volumes", body));
  }));
  auto* show = grp->add_subcommand("show", "Show a volume");
  auto vid = std::make_shared<std::string>();
  show->add_option("volume", *vid, "Volume id")->required();
  show->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintObject(*g, c.Get("/volumes/" + UrlEncode(*vid)));
  }));
  auto* rm = grp->add_subcommand("remove", "Remove a volume from georep (not from disk)");
  auto rid = std::make_shared<std::string>();
  rm->add_option("volume", *rid, "Volume id")->required();
  rm->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintDone(*g, c.Delete("/volumes/" + UrlEncode(*rid)), "Volume removed.");
  }));
}

}  // namespace georep
