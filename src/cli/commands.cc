#include "cli/commands.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "cli/client.h"
#include "cli/table.h"

namespace georep {
namespace {

using Json = nlohmann::json;

struct Globals {
  bool json = false;
  std::string server;  // overrides the saved login's server
};

std::string Str(const Json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

// Str for people: what the engine sent, safe for a terminal line (never for a request).
std::string Text(const Json& j, const char* key) {
  return TerminalSafe(Str(j, key));
}

// A value as people read it: sizes and rates in binary units ("1.5 GiB", "72.5 KiB/s"). The
// engine sends a size it does not know as 0 (sizes are best effort), a rate it does not know
// as null.
std::string Display(const Json& j, const std::string& key) {
  auto ends_with = [&](std::string_view suffix) {
    return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(),
                                                      suffix.data(), suffix.size()) == 0;
  };
  if (j.contains(key) && j[key].is_number()) {
    const auto n = j[key].get<int64_t>();
    if (ends_with("_bytes_per_second")) return HumanRate(n);
    if (key == "size_bytes" && n == 0) return "unknown";
    if (ends_with("_bytes")) return HumanBytes(n);
  }
  return Str(j, key.c_str());
}

// A pending count or failures: "N/A" where gluster does not know it (null), as gluster shows.
std::string CountCell(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return "N/A";
  return Str(j, key);
}

void PrintError(const Status& st) {
  std::cerr << "georep: error: " << TerminalSafe(st.message()) << "\n";
}

Result<std::unique_ptr<ApiClient>> Connect(const Globals& g) {
  std::string server = g.server;
  std::string token;
  if (const char* t = std::getenv("GEOREP_TOKEN"); t && *t) token = t;
  if (const char* s = std::getenv("GEOREP_SERVER"); server.empty() && s && *s) server = s;
  if (token.empty() || server.empty()) {
    auto saved = LoadLogin();
    if (!saved.ok()) return saved.status();
    if (server.empty()) server = saved->server;
    if (token.empty()) token = saved->token;
  }
  return std::make_unique<ApiClient>(server, token);
}

// Runs `fn` with a connected client; maps its Status to the exit code.
using Body = std::function<Status(ApiClient&)>;
std::function<void()> Run(const std::shared_ptr<Globals>& g, int* exit_code, Body fn) {
  return [g, exit_code, fn = std::move(fn)] {
    auto c = Connect(*g);
    Status st = c.ok() ? fn(**c) : c.status();
    if (!st.ok()) {
      PrintError(st);
      *exit_code = st.code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
  };
}

// Prints a list response as a table, or as JSON.
Status PrintList(const Globals& g, const Result<Json>& r, std::vector<std::string> headers,
                 const std::vector<std::string>& keys) {
  if (!r.ok()) return r.status();
  if (g.json) {
    std::cout << (*r)["items"].dump(2) << "\n";
    return Status::Ok();
  }
  Table t(std::move(headers));
  for (const auto& item : (*r)["items"]) {
    std::vector<std::string> row;
    row.reserve(keys.size());
    for (const auto& k : keys) row.push_back(Display(item, k));
    t.Add(std::move(row));
  }
  std::cout << t.Render();
  return Status::Ok();
}

// Prints one object as "key: value" lines, or as JSON.
Status PrintObject(const Globals& g, const Result<Json>& r) {
  if (!r.ok()) return r.status();
  if (g.json) {
    std::cout << r->dump(2) << "\n";
    return Status::Ok();
  }
  for (auto it = r->begin(); it != r->end(); ++it) {
    if (it->is_array() || it->is_object()) continue;
    std::cout << fmt::format("{:<20} {}\n", TerminalSafe(it.key()) + ":",
                             TerminalSafe(Display(*r, it.key())));
  }
  return Status::Ok();
}

Status PrintDone(const Globals& g, const Result<Json>& r, const std::string& what) {
  if (!r.ok()) return r.status();
  if (g.json) {
    std::cout << Json{{"ok", true}, {"message", what}}.dump(2) << "\n";
  } else {
    std::cout << what << "\n";
  }
  return Status::Ok();
}

// Reads a secret from the terminal without echo, or a line from stdin when it is not a tty.
std::string ReadSecret(const std::string& prompt) {
  std::string line;
  if (isatty(STDIN_FILENO)) {
    std::cerr << prompt << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, line);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  } else {
    std::getline(std::cin, line);
  }
  return line;
}

// --password (asked without echo) or --password-stdin: a password used once by the engine to
// install its key on a host, sent as the request's "password" field (never saved).
struct OneTimePassword {
  bool prompt = false;
  bool from_stdin = false;
};

void AddOneTimePasswordFlags(CLI::App* cmd, OneTimePassword* p, const std::string& whose) {
  auto* prompt = cmd->add_flag(
      "--password", p->prompt,
      "Ask for " + whose + " password once, to install the engine's key (never stored)");
  auto* from_stdin = cmd->add_flag("--password-stdin", p->from_stdin,
                                   "The same, reading the password from standard input");
  prompt->excludes(from_stdin);
}

// Adds the password to `body` when one of the flags was given; `who` is USER@HOST.
Status AddOneTimePassword(const OneTimePassword& p, const std::string& who, Json& body) {
  if (!p.prompt && !p.from_stdin) return Status::Ok();
  std::string pw = p.from_stdin
                       ? ReadSecret("")
                       : ReadSecret(fmt::format(
                             "Password of {} (used once to install the engine's key): ", who));
  if (pw.empty()) return Status::InvalidArgument("the one-time password is empty");
  body["password"] = pw;
  return Status::Ok();
}

// Fetches the SSH host key `address` presents and has the admin confirm it (or accepts it with
// --accept-new). On success `*fingerprint` holds the key to pin.
Status ConfirmHostKey(ApiClient& c, const std::string& address, int port, bool accept_new,
                      std::string* fingerprint) {
  auto keys = c.Post("/host-keys/scan", {{"address", address}, {"port", port}});
  if (!keys.ok()) return keys.status();
  if ((*keys)["items"].empty()) return Status::Unavailable("the host presented no key");
  const Json& best = (*keys)["items"][0];
  std::string fp = Str(best, "fingerprint");
  std::cerr << fmt::format("Host {} port {} presents a {} key with fingerprint\n  {}\n", address,
                           port, Text(best, "type"), TerminalSafe(fp));
  if (!accept_new) {
    if (!isatty(STDIN_FILENO)) {
      return Status::InvalidArgument("confirm the host key: run again with --fingerprint " + fp +
                                     " (or --accept-new)");
    }
    std::cerr << "Pin this key? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes")
      return Status::InvalidArgument("host key not confirmed; nothing was changed");
  }
  *fingerprint = fp;
  return Status::Ok();
}

// Accepts a cluster id or name.
Result<std::string> ResolveCluster(ApiClient& c, const std::string& id_or_name) {
  auto list = c.Get("/clusters");
  if (!list.ok()) return list.status();
  for (const auto& item : (*list)["items"]) {
    if (Str(item, "id") == id_or_name || Str(item, "name") == id_or_name) return Str(item, "id");
  }
  return Status::NotFound(fmt::format("no cluster '{}'", id_or_name));
}

// "0f8c2a3e-5b1d-4c7e-9a60-2d4f1e7b8c90": the shape of georep's ids.
bool LooksLikeId(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// Verify and repair read both trees whole (and repair waits for a full pass between its two
// verifies): on a large volume that takes hours, which the engine allows; so does the CLI.
constexpr std::chrono::seconds kTreeReadTimeout = std::chrono::hours(12);

constexpr const char* kSessionHelp =
    "Session: its id, its key (gv0_dst1_gv1, as gluster names it) or \"SRCVOL [USER@]HOST::DVOL\"";

// Accepts a session's id, or a name that only it has: its session key, or
// "SRCVOL [USER@]HOST::DVOL" (gluster's words for it, in one argument).
Result<std::string> ResolveSession(ApiClient& c, const std::string& name) {
  if (LooksLikeId(name)) return name;  // no listing: the engine says if there is none
  auto list = c.Get("/sessions");
  if (!list.ok()) return list.status();
  const Json& sessions = (*list)["items"];
  std::vector<const Json*> found;
  for (const auto& s : sessions) {
    if (Str(s, "id") == name) return name;
    if (Str(s, "session_key") == name) found.push_back(&s);
  }
  const size_t space = name.find(' ');
  const size_t colons = name.find("::");
  if (found.empty() && space != std::string::npos && colons != std::string::npos &&
      space < colons) {
    const std::string volume = name.substr(0, space);
    std::string host = name.substr(space + 1, colons - space - 1);
    const std::string remote_volume = name.substr(colons + 2);
    while (!host.empty() && host.front() == ' ') host.erase(0, 1);
    std::string user;
    if (auto at = host.find('@'); at != std::string::npos) {
      user = host.substr(0, at);
      host = host.substr(at + 1);
    }
    auto volumes = c.Get("/volumes");
    if (!volumes.ok()) return volumes.status();
    std::map<std::string, std::string> volume_names, destination_hosts;
    for (const auto& v : (*volumes)["items"]) volume_names[Str(v, "id")] = Str(v, "name");
    for (const auto& s : sessions) {
      if (volume_names[Str(s, "source_volume_id")] != volume ||
          Str(s, "destination_volume") != remote_volume ||
          (!user.empty() && Str(s, "remote_user") != user))
        continue;
      const std::string did = Str(s, "destination_id");
      if (!destination_hosts.count(did)) {
        auto d = c.Get("/destinations/" + UrlEncode(did));
        if (!d.ok()) return d.status();
        destination_hosts[did] = Str(*d, "host");
      }
      if (destination_hosts[did] == host) found.push_back(&s);
    }
  }
  if (found.size() == 1) return Str(*found[0], "id");
  auto describe = [](const std::vector<const Json*>& which) {
    std::string out;
    for (size_t i = 0; i < which.size(); ++i) {
      if (i == 20) {
        out += fmt::format(", and {} more", which.size() - i);
        break;
      }
      out += fmt::format("{}{} ({})", i == 0 ? "" : ", ", Str(*which[i], "id"),
                         Str(*which[i], "session_key"));
    }
    return out;
  };
  if (found.size() > 1) {
    return Status::InvalidArgument(fmt::format("'{}' names {} sessions: {}; give the session's id",
                                               name, found.size(), describe(found)));
  }
  std::vector<const Json*> all;
  for (const auto& s : sessions) all.push_back(&s);
  return Status::NotFound(fmt::format(
      "no session '{}'; {}", name,
      all.empty() ? std::string("there are no sessions") : "the sessions are: " + describe(all)));
}

}  // namespace

void AddClientCommands(CLI::App& app, int* exit_code) {
  auto g = std::make_shared<Globals>();
  app.add_flag("--json", g->json, "Print the API's JSON instead of tables");
  app.add_option("--server", g->server, "Engine URL (default: the one saved by 'georep login')");

  // ------------------------------------------------------------------ login / logout
  {
    auto* cmd = app.add_subcommand("login", "Log in to an engine and save the token (0600)");
    auto server = std::make_shared<std::string>("http://127.0.0.1:8470");
    auto user = std::make_shared<std::string>("admin");
    auto stdin_pw = std::make_shared<bool>(false);
    cmd->add_option("--server", *server, "Engine URL")->capture_default_str();
    cmd->add_option("--user,-u", *user, "User name")->capture_default_str();
    cmd->add_flag("--password-stdin", *stdin_pw, "Read the password from standard input");
    cmd->callback([=] {
      std::string base = g->server.empty() ? *server : g->server;
      std::string pw = *stdin_pw ? ReadSecret("") : ReadSecret("Password for " + *user + ": ");
      ApiClient c(base, "");
      char host[256] = "cli";
      gethostname(host, sizeof host - 1);
      std::string token_name = "cli";
      auto r = c.Post("/auth/login",
                      {{"username", *user}, {"password", pw}, {"token_name", token_name}});
      if (!r.ok()) {
        PrintError(r.status());
        *exit_code = 1;
        return;
      }
      Status st = SaveLogin({base, Str(*r, "token"), Str(*r, "token_id"), *user});
      if (!st.ok()) {
        PrintError(st);
        *exit_code = 1;
        return;
      }
      std::cout << fmt::format("Logged in to {} as {}.\n", base, *user);
    });
  }
  {
    auto* cmd = app.add_subcommand("logout", "Revoke the saved token and forget it");
    cmd->callback([=] {
      auto saved = LoadLogin();
      if (saved.ok()) {
        ApiClient c(g->server.empty() ? saved->server : g->server, saved->token);
        if (!saved->token_id.empty()) (void)c.Delete("/tokens/" + UrlEncode(saved->token_id));
      }
      Status st = ForgetLogin();
      if (!st.ok()) {
        PrintError(st);
        *exit_code = 1;
        return;
      }
      std::cout << "Logged out.\n";
    });
  }

  // ------------------------------------------------------------------ clusters
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

// ------------------------------------------------------------------ hosts
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
  add->add_flag("--accept-new", *accept_new,
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
    return PrintList(*g, c.Post("/host-keys/scan", {{"address", *scan_addr}, {"port", *scan_port}}),
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
    return PrintObject(
        *g, c.Put("/hosts/" + UrlEncode(*repin_id) + "/fingerprint", {{"fingerprint", *repin_fp}}));
  }));
  auto* rm = grp->add_subcommand("remove", "Remove a host");
  auto hid = std::make_shared<std::string>();
  rm->add_option("host", *hid, "Host id")->required();
  rm->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintDone(*g, c.Delete("/hosts/" + UrlEncode(*hid)), "Host removed.");
  }));
}

// ------------------------------------------------------------------ engine
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

// ------------------------------------------------------------------ volumes
{
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

// ------------------------------------------------------------------ destinations
{
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

// ------------------------------------------------------------------ sessions
{
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

// ------------------------------------------------------------------ config
{
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

// ------------------------------------------------------------------ events
{
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

// ------------------------------------------------------------------ users and tokens
{
  auto* grp = app.add_subcommand("user", "Users of the engine");
  grp->require_subcommand(1);
  grp->add_subcommand("list", "List users")->callback(Run(g, exit_code, [g](ApiClient& c) {
    return PrintList(*g, c.Get("/users"), {"ID", "NAME", "ROLE", "CREATED"},
                     {"id", "name", "role", "created_at"});
  }));
  const std::vector<std::string> roles = {"viewer", "operator", "admin"};
  auto* create = grp->add_subcommand(
      "add",
      "Add a user (password read from stdin). Roles: viewer (reads everything but secrets), "
      "operator (also starts, stops, pauses, resumes, verifies, repairs and checkpoints "
      "sessions), admin (everything: its options name programs run as root on the hosts)");
  create->alias("create");
  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("viewer");
  auto admin = std::make_shared<bool>(false);
  create->add_option("name", *name, "User name")->required();
  auto* role_opt = create->add_option("--role", *role, "viewer, operator or admin")
                       ->check(CLI::IsMember(roles))
                       ->capture_default_str();
  create->add_flag("--admin", *admin, "Same as --role admin")->excludes(role_opt);
  create->callback(Run(g, exit_code, [=](ApiClient& c) {
    std::string pw = ReadSecret("Password for " + *name + ": ");
    return PrintObject(*g, c.Post("/users", {{"name", *name},
                                             {"password", pw},
                                             {"role", *admin ? std::string("admin") : *role}}));
  }));
  auto* set_role = grp->add_subcommand("role", "Change a user's role");
  auto rid = std::make_shared<std::string>();
  auto new_role = std::make_shared<std::string>();
  set_role->add_option("user", *rid, "User id")->required();
  set_role->add_option("role", *new_role, "viewer, operator or admin")
      ->required()
      ->check(CLI::IsMember(roles));
  set_role->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintObject(*g, c.Put("/users/" + UrlEncode(*rid) + "/role", {{"role", *new_role}}));
  }));
  auto* del = grp->add_subcommand("delete", "Delete a user");
  auto uid = std::make_shared<std::string>();
  del->add_option("user", *uid, "User id")->required();
  del->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintDone(*g, c.Delete("/users/" + UrlEncode(*uid)), "User deleted.");
  }));
  auto* pass = grp->add_subcommand("passwd", "Change a password (yours by default)");
  auto pid = std::make_shared<std::string>();
  pass->add_option("user", *pid, "User id (default: you)");
  pass->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    std::string target = *pid;
    if (target.empty()) {
      auto me = c.Get("/me");
      if (!me.ok()) return me.status();
      target = Str(*me, "id");
    }
    std::string pw = ReadSecret("New password: ");
    return PrintDone(*g, c.Put("/users/" + UrlEncode(target) + "/password", {{"password", pw}}),
                     "Password changed; the user's tokens are revoked (log in again).");
  }));
}
{
  auto* grp = app.add_subcommand("token", "Your API tokens (for scripts)");
  grp->require_subcommand(1);
  grp->add_subcommand("list", "List your tokens")->callback(Run(g, exit_code, [g](ApiClient& c) {
    return PrintList(*g, c.Get("/tokens"), {"ID", "NAME", "CREATED", "EXPIRES", "LAST USED"},
                     {"id", "name", "created_at", "expires_at", "last_used"});
  }));
  auto* create = grp->add_subcommand("create", "Issue a token; it is shown once");
  auto name = std::make_shared<std::string>();
  auto ttl = std::make_shared<int64_t>(int64_t{30} * 24 * 3600);
  create->add_option("name", *name, "Token name")->required();
  create
      ->add_option(
          "--ttl", *ttl,
          "Lifetime in seconds (every token expires; the engine's --max-token-ttl bounds it)")
      ->capture_default_str();
  create->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintObject(*g, c.Post("/tokens", {{"name", *name}, {"ttl_seconds", *ttl}}));
  }));
  auto* revoke = grp->add_subcommand("revoke", "Revoke a token");
  auto tid = std::make_shared<std::string>();
  revoke->add_option("token", *tid, "Token id")->required();
  revoke->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintDone(*g, c.Delete("/tokens/" + UrlEncode(*tid)), "Token revoked.");
  }));
}
}

}  // namespace georep
