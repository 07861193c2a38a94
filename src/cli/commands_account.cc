// The account commands: login and logout, users (an administrator's) and API tokens.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include "cli/client_commands.h"
#include "cli/table.h"

namespace georep {

// `georep login`, `georep logout`.
void AddLoginCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
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
}

// `georep user ...`, `georep token ...`.
void AddUserCommands(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
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
