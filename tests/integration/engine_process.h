// EngineProcess: a real `georep serve` child process for integration tests, on a free
// loopback port, with its own data directory. Started by fork/exec of an argv vector;
// stopped by PID (SIGTERM, or SIGKILL to simulate a crash).
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace georep::testing {

// Path of the georep binary under test: $GEOREP_BINARY, else the one built with the tests.
std::string GeorepBinary();

// A fresh private temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv with `input` on stdin and extra environment; waits at most `timeout_s`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::vector<std::string>& env = {}, int timeout_s = 60);

class EngineProcess {
 public:
  // `extra` args are appended to `georep serve --data DIR --listen 127.0.0.1:0`, and
  // `--volume-root /tmp` unless `extra` names a --volume-root.
  EngineProcess(std::string data_dir, std::vector<std::string> extra = {});
  ~EngineProcess();

  // Starts and waits for the "listening on" line; returns false (and fills error()) if the
  // process exits or says nothing in time.
  bool Start();
  void Kill();      // SIGKILL, then reap
  int Terminate();  // SIGTERM; returns the exit status
  // Waits for the engine to exit on its own; its exit status, or -1 after `timeout_s`.
  int WaitExit(int timeout_s);
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The first-start admin password, if this start printed one.
  const std::string& admin_password() const { return admin_password_; }
  // What the engine printed (stdout, then its log on stderr), for failure messages.
  std::string output() const;

  // HTTP helpers against this engine. `token` empty: no Authorization header.
  httplib::Result Get(const std::string& path, const std::string& token = "");
  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& token = "");
  httplib::Result Put(const std::string& path, const std::string& body,
                      const std::string& token = "");
  httplib::Result Delete(const std::string& path, const std::string& token = "");
  // Logs in as admin with `password`; returns the token (empty on failure).
  std::string Login(const std::string& password);

 private:
  httplib::Headers Auth(const std::string& token) const;

  std::string data_dir_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string url_;
  int port_ = 0;
  std::string admin_password_;
  std::string output_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace georep::testing
