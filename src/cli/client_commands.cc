#include "cli/client_commands.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/table.h"

namespace georep {
namespace {

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

// "0f8c2a3e-5b1d-4c7e-9a60-2d4f1e7b8c90": the shape of georep's ids.
bool LooksLikeId(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

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

}  // namespace georep
