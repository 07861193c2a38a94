// ApiClient: the CLI's connection to a georep engine's REST API, and the saved login
// (~/.config/georep/credentials.json, mode 0600) it uses.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace httplib {
class Client;
}

namespace georep {

struct SavedLogin {
  std::string server;  // "http://127.0.0.1:8470"
  std::string token;
  std::string token_id;
  std::string username;
};

// $GEOREP_CONFIG_DIR, else $XDG_CONFIG_HOME/georep, else ~/.config/georep.
std::string ConfigDir();
Result<SavedLogin> LoadLogin();
Status SaveLogin(const SavedLogin& login);
Status ForgetLogin();

class ApiClient {
 public:
  // `server` is a base URL ("http://127.0.0.1:8470"); `token` may be empty (login, health).
  ApiClient(std::string server, std::string token);
  ~ApiClient();

  Result<nlohmann::json> Get(const std::string& path);
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> Put(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> Delete(const std::string& path);
  // How long a reply may take (120 s unless set): verify and repair read whole trees.
  void SetReadTimeout(std::chrono::seconds timeout);

 private:
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json* body);

  std::string server_;
  std::string token_;
  std::unique_ptr<httplib::Client> http_;
};

// Percent-encodes a path segment or query value: every byte but RFC 3986's unreserved
// characters (A-Z a-z 0-9 - . _ ~) becomes %XX, and so do the dots of a "." or ".." segment.
// Every id or name the CLI puts in a request's path or query goes through it.
std::string UrlEncode(const std::string& s);

}  // namespace georep
