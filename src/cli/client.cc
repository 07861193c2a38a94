#include "cli/client.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/unique_fd.h"

namespace georep {

using Json = nlohmann::json;

std::string ConfigDir() {
  if (const char* d = std::getenv("GEOREP_CONFIG_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/georep";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.config/georep";
}

Result<SavedLogin> LoadLogin() {
  const std::string path = ConfigDir() + "/credentials.json";
  std::ifstream in(path);
  if (!in) return Status::Unauthenticated("not logged in: run 'georep login' first");
  std::stringstream ss;
  ss << in.rdbuf();
  Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(fmt::format("{} is not valid JSON; run 'georep login' again", path));
  SavedLogin l;
  l.server = j.value("server", "");
  l.token = j.value("token", "");
  l.token_id = j.value("token_id", "");
  l.username = j.value("username", "");
  return l;
}

Status SaveLogin(const SavedLogin& l) {
  const std::string dir = ConfigDir();
  // mkdir -p with 0700 for every level we create.
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::IOError(fmt::format("cannot create {}: {}", part, std::strerror(errno)));
  }
  const std::string path = dir + "/credentials.json";
  const std::string tmp = path + ".tmp";
  Json j = {
      {"server", l.server}, {"token", l.token}, {"token_id", l.token_id}, {"username", l.username}};
  std::string data = j.dump(2) + "\n";
  UniqueFd file(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const int fd = file.get();
  if (fd < 0) return Status::IOError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
            ::fsync(fd) == 0;
  file.Reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return Status::Ok();
}

Status ForgetLogin() {
  const std::string path = ConfigDir() + "/credentials.json";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::IOError(fmt::format("cannot remove {}: {}", path, std::strerror(errno)));
  return Status::Ok();
}

std::string UrlEncode(const std::string& s) {
  // A segment "." or ".." would be read as a relative step by whatever normalises the path
  // (RFC 3986 5.2.4), so there even the dots are encoded.
  const bool dot_segment = s == "." || s == "..";
  std::string out;
  for (unsigned char c : s) {
    // RFC 3986's unreserved characters, spelled out: std::isalnum depends on the locale.
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' ||
                            (c == '.' && !dot_segment);
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

ApiClient::ApiClient(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
  http_ = std::make_unique<httplib::Client>(server_);
  http_->set_connection_timeout(10, 0);
  http_->set_read_timeout(120, 0);
  if (const char* ca = std::getenv("GEOREP_CA_FILE"); ca && *ca) http_->set_ca_cert_path(ca);
}

ApiClient::~ApiClient() = default;

void ApiClient::SetReadTimeout(std::chrono::seconds timeout) {
  http_->set_read_timeout(static_cast<time_t>(timeout.count()), 0);
}

Result<Json> ApiClient::Get(const std::string& path) {
  return Call("GET", path, nullptr);
}
Result<Json> ApiClient::Post(const std::string& path, const Json& body) {
  return Call("POST", path, &body);
}
Result<Json> ApiClient::Put(const std::string& path, const Json& body) {
  return Call("PUT", path, &body);
}
Result<Json> ApiClient::Delete(const std::string& path) {
  return Call("DELETE", path, nullptr);
}

Result<Json> ApiClient::Call(const std::string& method, const std::string& path, const Json* body) {
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  const std::string full = "/api/v1" + path;
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    r = http_->Get(full, headers);
  } else if (method == "DELETE") {
    r = http_->Delete(full, headers);
  } else {
    std::string data = body ? body->dump() : "{}";
    r = method == "POST" ? http_->Post(full, headers, data, "application/json")
                         : http_->Put(full, headers, data, "application/json");
  }
  if (!r) {
    return Status::Unavailable(fmt::format("cannot reach the georep engine at {}: {}", server_,
                                           httplib::to_string(r.error())));
  }
  Json j = r->body.empty() ? Json::object() : Json::parse(r->body, nullptr, false);
  if (r->status >= 200 && r->status < 300) {
    if (j.is_discarded()) return Status::Internal("the engine sent a reply that is not JSON");
    return j;
  }
  std::string msg = fmt::format("HTTP {}", r->status);
  StatusCode code = StatusCode::kInternal;
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    msg = j["error"].value("message", msg);
  }
  switch (r->status) {
    case 400:
      code = StatusCode::kInvalidArgument;
      break;
    case 401:
      code = StatusCode::kUnauthenticated;
      break;
    case 403:
      code = StatusCode::kPermissionDenied;
      break;
    case 404:
      code = StatusCode::kNotFound;
      break;
    case 409:
      code = StatusCode::kFailedPrecondition;
      break;
    case 503:
      code = StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  return Status(code, msg);
}

}  // namespace georep
