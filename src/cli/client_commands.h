// What the client commands (cli/commands_*.cc) share: the global flags, the connection to the
// engine, printing (tables, objects, JSON), secrets read from the terminal, host-key
// confirmation, and turning the names people type into ids.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cli/client.h"

namespace georep {

using Json = nlohmann::json;

struct Globals {
  bool json = false;
  std::string server;  // overrides the saved login's server
};

// What every command's registration needs: the global flags, and where its exit status goes.
struct CommandContext {
  std::shared_ptr<Globals> globals;
  int* exit_code;
};

// The commands of each resource.
void AddLoginCommands(CLI::App& app, const CommandContext& ctx);        // login, logout
void AddUserCommands(CLI::App& app, const CommandContext& ctx);         // user, token
void AddClusterCommands(CLI::App& app, const CommandContext& ctx);      // cluster
void AddHostCommands(CLI::App& app, const CommandContext& ctx);         // host, engine
void AddVolumeCommands(CLI::App& app, const CommandContext& ctx);       // volume
void AddDestinationCommands(CLI::App& app, const CommandContext& ctx);  // destination
void AddSessionCommands(CLI::App& app, const CommandContext& ctx);      // session, verify, config
void AddEventCommands(CLI::App& app, const CommandContext& ctx);        // event
void AddAlertCommands(CLI::App& app, const CommandContext& ctx);        // alert, notifier, setting

// A field as text: strings as they are, other values as JSON, absent or null as "".
std::string Str(const Json& j, const char* key);
// Str for people: what the engine sent, safe for a terminal line (never for a request).
std::string Text(const Json& j, const char* key);
// A value as people read it: sizes and rates in binary units ("1.5 GiB", "72.5 KiB/s").
std::string Display(const Json& j, const std::string& key);
// A pending count or failures: "N/A" where gluster does not know it (null), as gluster shows.
std::string CountCell(const Json& j, const char* key);

void PrintError(const Status& st);

// Runs `fn` with a connected client; maps its Status to the exit code.
using Body = std::function<Status(ApiClient&)>;
std::function<void()> Run(const std::shared_ptr<Globals>& g, int* exit_code, Body fn);

// Prints a list response as a table, or as JSON.
Status PrintList(const Globals& g, const Result<Json>& r, std::vector<std::string> headers,
                 const std::vector<std::string>& keys);
// Prints one object as "key: value" lines, or as JSON.
Status PrintObject(const Globals& g, const Result<Json>& r);
Status PrintDone(const Globals& g, const Result<Json>& r, const std::string& what);

// Reads a secret from the terminal without echo, or a line from stdin when it is not a tty.
std::string ReadSecret(const std::string& prompt);

// --password (asked without echo) or --password-stdin: a password used once by the engine to
// install its key on a host, sent as the request's "password" field (never saved).
struct OneTimePassword {
  bool prompt = false;
  bool from_stdin = false;
};
void AddOneTimePasswordFlags(CLI::App* cmd, OneTimePassword* p, const std::string& whose);
// Adds the password to `body` when one of the flags was given; `who` is USER@HOST.
Status AddOneTimePassword(const OneTimePassword& p, const std::string& who, Json& body);

// Fetches the SSH host key `address` presents and has the admin confirm it (or accepts it with
// --accept-new). On success `*fingerprint` holds the key to pin.
Status ConfirmHostKey(ApiClient& c, const std::string& address, int port, bool accept_new,
                      std::string* fingerprint);

// Accepts a cluster id or name.
Result<std::string> ResolveCluster(ApiClient& c, const std::string& id_or_name);

// Verify and repair read both trees whole (and repair waits for a full pass between its two
// verifies): on a large volume that takes hours, which the engine allows; so does the CLI.
constexpr std::chrono::seconds kTreeReadTimeout = std::chrono::hours(12);

constexpr const char* kSessionHelp =
    "Session: its id, its key (gv0_dst1_gv1, as gluster names it) or \"SRCVOL [USER@]HOST::DVOL\"";

// Accepts a session's id, or a name that only it has: its session key, or
// "SRCVOL [USER@]HOST::DVOL" (gluster's words for it, in one argument).
Result<std::string> ResolveSession(ApiClient& c, const std::string& name);

}  // namespace georep
