// The alert commands: alerts (list, show, ack), notifiers (an admin's: add a webhook or an
// e-mail address, list, test, enable, disable, remove, their deliveries) and the engine
// settings the alert rules read.
#include <fmt/format.h>

#include <cctype>
#include <iostream>
#include <memory>
#include <string>

#include "cli/client_commands.h"

namespace georep {
namespace {

// A notifier's default name: its URL's host and port ("hooks.example.org-8443").
std::string NameFromUrl(const std::string& url) {
  std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (const size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  std::string out;
  for (char ch : host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
    if (ok)
      out += ch;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  return out.empty() ? "notifier" : out.substr(0, 64);
}

void AddAlertGroup(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("alert", "Alerts: what is wrong, since when, who is on it");
  grp->require_subcommand(1);
  auto* list = grp->add_subcommand("list", "List alerts, newest first (firing ones by default)");
  struct Opts {
    std::string state = "firing";
    std::string object;
    int limit = 100;
  };
  auto o = std::make_shared<Opts>();
  list->add_option("--state", o->state, "firing, resolved or all")
      ->check(CLI::IsMember({"firing", "resolved", "all"}))
      ->capture_default_str();
  list->add_option("--object-id", o->object, "Only alerts of this session or destination");
  list->add_option("--limit", o->limit, "At most this many")->capture_default_str();
  list->callback(Run(g, exit_code, [=](ApiClient& c) {
    const std::string state = o->state == "all" ? "" : o->state;
    return PrintList(*g,
                     c.Get(fmt::format("/alerts?state={}&object_id={}&limit={}", state,
                                       UrlEncode(o->object), o->limit)),
                     {"ID", "SEVERITY", "STATE", "RULE", "OBJECT", "SINCE", "ACK BY", "SUMMARY"},
                     {"id", "severity", "state", "rule", "object_name", "started_at",
                      "acknowledged_by", "summary"});
  }));
  auto* show = grp->add_subcommand("show", "Show an alert and the messages sent about it");
  auto sid = std::make_shared<std::string>();
  show->add_option("id", *sid, "Alert id")->required();
  show->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
    GEOREP_RETURN_IF_ERROR(PrintObject(*g, c.Get("/alerts/" + UrlEncode(*sid))));
    if (g->json) return Status::Ok();
    std::cout << "\nDeliveries:\n";
    return PrintList(
        *g, c.Get("/alerts/" + UrlEncode(*sid) + "/deliveries"),
        {"ID", "NOTIFIER", "EVENT", "STATE", "ATTEMPTS", "LAST TRY", "ANSWER", "ERROR"},
        {"id", "notifier_id", "event", "state", "attempts", "last_attempt_at", "response_status",
         "last_error"});
  }));
  auto* ack = grp->add_subcommand("ack", "Acknowledge a firing alert: you are on it");
  ack->alias("acknowledge");
  auto aid = std::make_shared<std::string>();
  ack->add_option("id", *aid, "Alert id")->required();
  ack->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintObject(*g, c.Post("/alerts/" + UrlEncode(*aid) + "/acknowledge", Json::object()));
  }));
}

void AddNotifierGroup(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("notifier", "Where alerts are sent: webhooks and e-mail");
  grp->require_subcommand(1);
  grp->add_subcommand("list", "List notifiers")->callback(Run(g, exit_code, [g](ApiClient& c) {
    return PrintList(*g, c.Get("/notifiers"),
                     {"ID", "NAME", "KIND", "TO", "MIN SEVERITY", "RESOLVED", "ENABLED"},
                     {"id", "name", "kind", "url", "min_severity", "send_resolved", "enabled"});
  }));

  auto* add = grp->add_subcommand("add", "Add a notifier");
  add->require_subcommand(1);
  struct Common {
    std::string name, severity = "warning";
    bool no_resolved = false;
  };
  auto common_flags = [](CLI::App* cmd, Common* c) {
    cmd->add_option("--name", c->name, "Its name (default: from the URL's host)");
    cmd->add_option("--min-severity", c->severity, "warning or critical")
        ->check(CLI::IsMember({"warning", "critical"}))
        ->capture_default_str();
    cmd->add_flag("--no-resolved", c->no_resolved, "Do not say when an alert ends");
  };
  {
    auto* hook = add->add_subcommand(
        "webhook",
        "A JSON POST to URL for every alert that fires or resolves, signed with HMAC-SHA256 "
        "(X-Georep-Signature); the engine makes the secret unless --secret-stdin");
    auto url = std::make_shared<std::string>();
    auto common = std::make_shared<Common>();
    auto secret_stdin = std::make_shared<bool>(false);
    hook->add_option("url", *url, "http:// or https:// URL")->required();
    common_flags(hook, common.get());
    hook->add_flag("--secret-stdin", *secret_stdin, "Read the signing secret from stdin");
    hook->callback(Run(g, exit_code, [=](ApiClient& c) -> Status {
      Json body = {{"kind", "webhook"},
                   {"url", *url},
                   {"name", common->name.empty() ? NameFromUrl(*url) : common->name},
                   {"min_severity", common->severity},
                   {"send_resolved", !common->no_resolved}};
      if (*secret_stdin) body["secret"] = ReadSecret("");
      auto r = c.Post("/notifiers", body);
      GEOREP_RETURN_IF_ERROR(PrintObject(*g, r));
      if (!g->json && r.ok() && r->contains("secret")) {
        std::cout << "\nKeep the secret: the receiver checks each request's signature with it, "
                     "and it is not shown again.\n";
      }
      return Status::Ok();
    }));
  }
  {
    auto* mail = add->add_subcommand(
        "email", "An e-mail for every alert that fires or resolves, through an SMTP server");
    auto server = std::make_shared<std::string>();
    auto from = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto user = std::make_shared<std::string>();
    auto common = std::make_shared<Common>();
    auto password_stdin = std::make_shared<bool>(false);
    mail->add_option("server", *server,
                     "smtp://HOST[:PORT] (STARTTLS; plain only on loopback) or smtps://HOST[:PORT]")
        ->required();
    mail->add_option("--from", *from, "Sender address")->required();
    mail->add_option("--to", *to, "Recipients, comma-separated")->required();
    mail->add_option("--user", *user, "SMTP user (the password is read from stdin)");
    mail->add_flag("--password-stdin", *password_stdin, "Read the SMTP password from stdin");
    common_flags(mail, common.get());
    mail->callback(Run(g, exit_code, [=](ApiClient& c) {
      Json body = {{"kind", "email"},
                   {"url", *server},
                   {"name", common->name.empty() ? NameFromUrl(*server) : common->name},
                   {"mail_from", *from},
                   {"mail_to", *to},
                   {"smtp_user", *user},
                   {"min_severity", common->severity},
                   {"send_resolved", !common->no_resolved}};
      if (*password_stdin) body["secret"] = ReadSecret("");
      return PrintObject(*g, c.Post("/notifiers", body));
    }));
  }
  auto one = [&](const char* word, const char* help) {
    auto* cmd = grp->add_subcommand(word, help);
    auto id = std::make_shared<std::string>();
    cmd->add_option("notifier", *id, "Notifier id or name")->required();
    return std::make_pair(cmd, id);
  };
  {
    auto [cmd, id] = one("test", "Send a test message now and show how it went");
    cmd->callback(Run(g, exit_code, [=, id = id](ApiClient& c) {
      return PrintObject(*g, c.Post("/notifiers/" + UrlEncode(*id) + "/test", Json::object()));
    }));
  }
  for (const char* word : {"enable", "disable"}) {
    auto [cmd, id] = one(word, word[0] == 'e' ? "Send alerts through it again"
                                              : "Stop sending alerts through it (kept)");
    const bool on = word[0] == 'e';
    cmd->callback(Run(g, exit_code, [=, id = id](ApiClient& c) {
      return PrintObject(*g, c.Put("/notifiers/" + UrlEncode(*id), {{"enabled", on}}));
    }));
  }
  {
    auto [cmd, id] = one("remove", "Remove a notifier and its delivery history");
    cmd->alias("delete");
    cmd->callback(Run(g, exit_code, [=, id = id](ApiClient& c) {
      return PrintDone(*g, c.Delete("/notifiers/" + UrlEncode(*id)), "Notifier removed.");
    }));
  }
  {
    auto [cmd, id] = one("deliveries", "A notifier's messages, newest first");
    cmd->callback(Run(g, exit_code, [=, id = id](ApiClient& c) {
      return PrintList(
          *g, c.Get("/notifiers/" + UrlEncode(*id) + "/deliveries"),
          {"ID", "ALERT", "EVENT", "STATE", "ATTEMPTS", "LAST TRY", "NEXT TRY", "ANSWER", "ERROR"},
          {"id", "alert_id", "event", "state", "attempts", "last_attempt_at", "next_attempt_at",
           "response_status", "last_error"});
    }));
  }
}

void AddSettingGroup(CLI::App& app, const CommandContext& ctx) {
  const std::shared_ptr<Globals>& g = ctx.globals;
  int* exit_code = ctx.exit_code;
  auto* grp = app.add_subcommand("setting", "Engine-wide settings (the alerts' thresholds)");
  grp->require_subcommand(1);
  grp->add_subcommand("list", "List the settings and their defaults")
      ->callback(Run(g, exit_code, [g](ApiClient& c) {
        return PrintList(*g, c.Get("/settings"), {"KEY", "VALUE", "DEFAULT", "DESCRIPTION"},
                         {"key", "value", "default", "description"});
      }));
  auto* set = grp->add_subcommand("set", "Set a setting");
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  set->add_option("key", *key, "Setting")->required();
  set->add_option("value", *value, "Value")->required();
  set->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintObject(*g, c.Put("/settings/" + UrlEncode(*key), {{"value", *value}}));
  }));
  auto* reset = grp->add_subcommand("reset", "Put a setting back to its default");
  auto rkey = std::make_shared<std::string>();
  reset->add_option("key", *rkey, "Setting")->required();
  reset->callback(Run(g, exit_code, [=](ApiClient& c) {
    return PrintDone(*g, c.Delete("/settings/" + UrlEncode(*rkey)), "Setting reset.");
  }));
}

}  // namespace

void AddAlertCommands(CLI::App& app, const CommandContext& ctx) {
  AddAlertGroup(app, ctx);
  AddNotifierGroup(app, ctx);
  AddSettingGroup(app, ctx);
}

}  // namespace georep
