#include "serve.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/http_api.h"
#include "api/status_feed.h"
#include "auth/authenticator.h"
#include "base/ascii.h"
#include "base/clock.h"
#include "base/histogram.h"
#include "base/log.h"
#include "base/private_file.h"
#include "base/random.h"
#include "base/unique_fd.h"
#include "engine/alert_monitor.h"
#include "engine/engine_lease.h"
#include "engine/host_connector.h"
#include "engine/object_locks.h"
#include "engine/operations.h"
#include "engine/session_monitor.h"
#include "engine/worker_supervisor.h"
#include "host/message_sender.h"
#include "model/validation.h"
#include "store/store.h"
#include "store/timed_store.h"

#ifndef GEOREP_VERSION
#define GEOREP_VERSION "0.0.0"
#endif

namespace georep {
namespace {

Status MakePrivateDir(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::IOError(fmt::format("cannot create {}: {}", partial, std::strerror(errno)));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::IOError(fmt::format("{} is not a directory", dir));
  // The data directory holds the database and, later, keys: nobody else may read it.
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return Status::IOError(fmt::format("cannot make {} private: {}", dir, std::strerror(errno)));
  return Status::Ok();
}

// One engine per data directory: an exclusive lock on DATA/engine.lock, held for the engine's
// life (the kernel drops it when the process ends, a kill -9 included; the descriptor is
// close-on-exec, so workers the engine started and that outlive it do not keep it). A second
// engine would run the same sessions' workers, and the two would take the workers' state
// directories from each other forever. The file says which process holds it.
Result<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/engine.lock";
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  const int fd = lock.get();
  if (fd < 0) return Status::IOError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char held[32] = {};
    ssize_t n = ::pread(fd, held, sizeof held - 1, 0);
    lock.Reset();
    std::string pid = n > 0 ? std::string(held, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition(fmt::format(
          "another georep engine{} uses the data directory {}: one engine per data directory "
          "(stop it first, or give this one another --data)",
          pid.empty() ? "" : " (pid " + pid + ")", dir));
    }
    return Status::IOError(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0)
    spdlog::warn("msg=\"cannot write the engine's pid\" path={}", LogValue(path));
  return lock.Release();
}

Result<std::pair<std::string, int>> SplitListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--listen must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return Status::InvalidArgument("--listen port must be a number");
  }
  if (port < 0 || port > 65535) return Status::InvalidArgument("--listen port must be 0-65535");
  return std::make_pair(host, port);
}

// The console's built assets when --web-root is not given: installed beside the binary
// (PREFIX/share/georep/web for PREFIX/bin/georep), else the source tree's web/dist that this
// binary was built from.
std::string InstalledWebRoot() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) candidates.push_back(self.parent_path().parent_path() / "share/georep/web");
#ifdef GEOREP_SOURCE_WEB_DIST
  candidates.emplace_back(GEOREP_SOURCE_WEB_DIST);
#endif
  for (const auto& c : candidates)
    if (std::filesystem::exists(c / "index.html", ec)) return c.string();
  return "";
}

// The host names the engine answers to (DNS rebinding defence): the listen name, the
// --public-url's, each --allowed-host, and this machine's own name.
Result<std::vector<std::string>> AllowedHosts(const ServeOptions& o, const std::string& listen) {
  std::vector<std::string> out;
  auto add = [&](std::string name) {
    name = AsciiLower(name);
    while (!name.empty() && name.back() == '.') name.pop_back();
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(std::move(name));
  };
  add(listen);
  if (!o.public_url.empty()) {
    std::string_view u = o.public_url;
    size_t scheme = u.find("://");
    if (scheme == std::string_view::npos ||
        (u.substr(0, scheme) != "http" && u.substr(0, scheme) != "https")) {
      return Status::InvalidArgument("--public-url must be an http:// or https:// URL");
    }
    u.remove_prefix(scheme + 3);
    u = u.substr(0, u.find_first_of("/?#"));
    if (u.starts_with('[')) {
      u = u.substr(1, u.find(']') == std::string_view::npos ? 0 : u.find(']') - 1);
    } else {
      u = u.substr(0, u.rfind(':'));
    }
    if (u.empty()) return Status::InvalidArgument("--public-url has no host name");
    add(std::string(u));
  }
  for (const auto& h : o.allowed_hosts) {
    if (h.empty() || h.find_first_of(":/ ") != std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("--allowed-host '{}' is not a host name", LogValue(h)));
    }
    add(h);
  }
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0) add(name);
  return out;
}

// The database URL from --db, --db-file or $GEOREP_DB_URL (see ServeOptions); empty: SQLite.
// A password never comes from the command line: every user of the machine can read it there.
Result<std::string> StoreUrl(const ServeOptions& o) {
  if (!o.db_url.empty() && !o.db_file.empty())
    return Status::InvalidArgument("give --db or --db-file, not both");
  if (!o.db_url.empty()) {
    if (RedactStoreUrl(o.db_url) != o.db_url) {
      return Status::InvalidArgument(
          "--db holds a password, which every user of this machine can read (ps): put the URL in "
          "a file only root can read and give --db-file FILE, or set GEOREP_DB_URL, or keep the "
          "password in ~/.pgpass");
    }
    return o.db_url;
  }
  if (!o.db_file.empty()) {
    GEOREP_RETURN_IF_ERROR(CheckPrivateFile("--db-file", o.db_file));
    std::ifstream in(o.db_file);
    std::string url;
    std::getline(in, url);
    while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.pop_back();
    if (url.empty())
      return Status::InvalidArgument(fmt::format("--db-file {} holds no URL", o.db_file));
    return url;
  }
  if (const char* env = std::getenv("GEOREP_DB_URL"); env != nullptr && *env != '\0')
    return std::string(env);
  return std::string();
}

// --volume-root, checked and normalised, given to the operations (and logged).
Status SetVolumeRoots(const ServeOptions& o, Operations& ops) {
  std::vector<std::string> volume_roots;
  for (const auto& root : o.volume_roots) {
    GEOREP_RETURN_IF_ERROR(ValidateAbsolutePath("--volume-root", root));
    std::string r = std::filesystem::path(root).lexically_normal().string();
    while (r.size() > 1 && r.ends_with('/')) r.pop_back();
    volume_roots.push_back(r);
  }
  ops.SetVolumeRoots(volume_roots);
  if (volume_roots.empty()) {
    spdlog::info("msg=\"no directory volumes allowed (see --volume-root)\"");
  } else {
    spdlog::info("msg=\"directory volumes allowed\" under={}",
                 LogValue(fmt::format("{}", fmt::join(volume_roots, ","))));
  }
  return Status::Ok();
}

// What the operator reads on standard output (and the log) once the engine listens: the URL,
// the first administrator's password (only ever shown here), a warning for plain HTTP beyond
// this machine. The "listening on" line comes last: scripts may read up to it.
void Announce(const ServeOptions& o, const std::string& listen_host, int port,
              const std::optional<std::string>& admin_password, bool serves_console) {
  const std::string scheme = o.tls_cert.empty() ? "http" : "https";
  const std::string host =
      listen_host.find(':') != std::string::npos ? "[" + listen_host + "]" : listen_host;
  const std::string bound = fmt::format("{}://{}:{}", scheme, host, port);
  // What users type: the public URL (a proxy's, say) when given.
  std::string url = o.public_url.empty() ? bound : o.public_url;
  while (url.ends_with('/')) url.pop_back();
  // Standard output is for the operator; the password appears there once and never in a log.
  // The "listening on" line comes last: scripts may read up to it.
  if (admin_password.has_value()) {
    std::cout << "First start: an administrator was created. This password is shown only once.\n"
              << "  user:     admin\n"
              << "  password: " << *admin_password << "\n"
              << "Log in with:  georep login --server " << url << " --user admin\n\n";
  }
  // Plain HTTP beyond this machine: passwords and tokens cross the network readable.
  const bool loopback =
      listen_host == "localhost" || listen_host == "::1" || listen_host.starts_with("127.");
  if (o.tls_cert.empty() && !loopback) {
    std::cerr << "WARNING: serving plain HTTP on " << listen_host
              << ": passwords and tokens cross the network unencrypted. Give --tls-cert and "
                 "--tls-key, or listen on 127.0.0.1 behind a TLS proxy.\n";
    spdlog::warn(
        "msg=\"plain HTTP beyond loopback: passwords and tokens are not encrypted\" "
        "listen={}",
        LogValue(listen_host));
  }
  if (serves_console) std::cout << "Web console: " << url << "/\n";
  std::cout << "georep " << GEOREP_VERSION << " engine listening on " << bound << "\n";
  std::cout << std::flush;
  spdlog::info("msg=listening url={} public_url={} data={}", bound, LogValue(url),
               LogValue(o.data_dir));
}

// Renews the engine lease every third of its life; a standby claims as often. An active engine
// whose term runs out (the database unreachable, or another engine took over) stops at once
// (SIGTERM to itself, `fenced` set): its workers must not run beside the new active engine's.
// A standby that wins the lease becomes active (`become_active`).
class LeaseWatch {
 public:
  LeaseWatch(EngineLeaseKeeper& lease, Clock& clock, std::atomic<bool>& active,
             std::atomic<bool>& fenced, std::function<void()> become_active)
      : lease_(lease),
        clock_(clock),
        active_(active),
        fenced_(fenced),
        become_active_(std::move(become_active)),
        thread_([this] { Run(); }) {}
  ~LeaseWatch() { Stop(); }
  LeaseWatch(const LeaseWatch&) = delete;
  LeaseWatch& operator=(const LeaseWatch&) = delete;

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "georep-lease");
    const int64_t period = lease_.ttl_millis() / 3;
    int64_t next_claim = clock_.MonotonicMillis() + period;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      int64_t wait = next_claim - clock_.MonotonicMillis();
      if (active_) wait = std::min(wait, lease_.TermLeftMillis());
      wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait, 1)));
      if (stopping_) break;
      if (clock_.MonotonicMillis() >= next_claim) {
        lock.unlock();
        auto claimed = lease_.Claim();
        lock.lock();
        next_claim = clock_.MonotonicMillis() + period;
        if (!claimed.ok()) {
          spdlog::warn("msg=\"cannot renew the engine lease\" error={} term_left_ms={}",
                       LogValue(claimed.status().message()), lease_.TermLeftMillis());
        }
      }
      if (active_ && !lease_.Held()) {
        spdlog::critical(
            "msg=\"lost the engine lease: stopping so that only one engine runs workers\" "
            "holder={}",
            LogValue(lease_.Last().holder));
        fenced_ = true;
        ::kill(::getpid(), SIGTERM);
        break;
      }
      if (!active_ && lease_.Held()) {
        lock.unlock();
        become_active_();
        lock.lock();
      }
    }
  }

  EngineLeaseKeeper& lease_;
  Clock& clock_;
  std::atomic<bool>& active_;
  std::atomic<bool>& fenced_;
  std::function<void()> become_active_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;     // last: starts once the members above exist
};

int Fail(const Status& st) {
  spdlog::error("msg=\"cannot start\" error={}", LogValue(st.message()));
  std::cerr << "georep serve: " << st.message() << "\n";
  return 1;
}

}  // namespace

int Serve(const ServeOptions& o) {
  InitLogging(o.log_level);
  // Block termination signals in every thread; one thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (Status st = MakePrivateDir(o.data_dir); !st.ok()) return Fail(st);
  auto data_lock = LockDataDir(o.data_dir);  // held until the process ends
  if (!data_lock.ok()) return Fail(data_lock.status());
  ::umask(077);
  auto listen = SplitListen(o.listen);
  if (!listen.ok()) return Fail(listen.status());
  if ((o.tls_cert.empty()) != (o.tls_key.empty()))
    return Fail(Status::InvalidArgument("--tls-cert and --tls-key go together"));

  auto given_url = StoreUrl(o);
  if (!given_url.ok()) return Fail(given_url.status());
  const std::string db_url =
      given_url->empty() ? "sqlite://" + o.data_dir + "/georep.db" : *given_url;
  auto store = OpenStore(db_url);
  if (!store.ok()) return Fail(store.status());
  spdlog::info("msg=\"store open\" backend={} url={} schema={}", (*store)->Backend(),
               LogValue(RedactStoreUrl(db_url)), (*store)->SchemaVersion());

  SystemClock clock;
  const int64_t started_at = clock.NowMillis();
  // Every transaction timed, for the metrics (georep_store_transaction_duration_seconds).
  Histogram store_transactions(TimedStore::Bounds());
  TimedStore timed_store(**store, store_transactions);
  // Engines sharing one database take turns: the lease's holder is active (workers, monitor,
  // API), the others stand by. Declared before everything that acts under it, so that it is
  // released only after they have stopped.
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  EngineLeaseKeeper lease(timed_store, clock,
                          fmt::format("{}:{}:{}", hostname, ::getpid(), clock.NowMillis()),
                          int64_t{o.lease_ttl_seconds} * 1000,
                          [](int pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; });
  if (auto first = lease.Claim(); !first.ok()) return Fail(first.status());
  SystemRandom random;
  ObjectLocks locks;
  if (o.token_ttl_seconds > o.max_token_ttl_seconds)
    return Fail(Status::InvalidArgument("--token-ttl is longer than --max-token-ttl"));
  Authenticator auth(timed_store, clock, random,
                     TokenPolicy{o.token_ttl_seconds, o.max_token_ttl_seconds});
  LocalCommandRunner local;
  auto identity = SshIdentity::LoadOrCreate(local, o.data_dir + "/ssh");
  if (!identity.ok()) return Fail(identity.status());
  spdlog::info("msg=\"engine ssh key\" fingerprint={}", identity->fingerprint);
  SystemHostConnector hosts(*identity, o.data_dir + "/ssh/known_hosts.d");
  // Directory sessions' workers: children of the engine, stopped with it, restarted by the
  // monitor when the engine starts again.
  SystemProcessLauncher launcher;
  WorkerSupervisor workers(launcher, clock, o.data_dir + "/sessions");
  Operations ops(timed_store, clock, random, locks, &hosts);
  {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    ops.SetWorkerSupervisor(&workers, ec ? "georep" : self.string());
    ops.SetEngineDataDir(o.data_dir);
  }
  if (Status st = SetVolumeRoots(o, ops); !st.ok()) return Fail(st);

  SessionMonitor monitor(ops, std::chrono::seconds(o.monitor_interval_seconds));
  auto sender = MakeCurlSender();
  ops.SetMessageSender(sender.get());
  AlertMonitor alert_monitor(ops, std::chrono::seconds(o.alert_interval_seconds));
  auto admin_password = auth.EnsureInitialAdmin();
  if (!admin_password.ok()) return Fail(admin_password.status());

  HttpApiOptions api_options;
  api_options.server.listen_host = listen->first;
  api_options.server.listen_port = listen->second;
  api_options.server.tls_cert = o.tls_cert;
  api_options.server.tls_key = o.tls_key;
  api_options.version = GEOREP_VERSION;
  api_options.web_root = o.web_root.empty() ? InstalledWebRoot() : o.web_root;
  api_options.server.max_connections_per_address = o.max_connections_per_address;
  api_options.standby_reason = [&lease]() -> std::string {
    if (lease.Held()) return "";
    EngineLease l = lease.Last();
    return fmt::format(
        "this engine is standing by: the engine {} is active on this database (since {}); use "
        "it, or wait for this one to take over if it stops",
        l.holder, FormatIsoMillis(l.acquired_at));
  };
  api_options.telemetry = {started_at, &store_transactions, &monitor, &workers};
  auto allowed = AllowedHosts(o, listen->first);
  if (!allowed.ok()) return Fail(allowed.status());
  api_options.allowed_hosts = *allowed;
  StatusFeed feed(ops, clock, std::chrono::seconds(1));
  HttpApi api(ops, auth, clock, api_options, &feed);
  auto port = api.Bind();
  if (!port.ok()) return Fail(port.status());

  Announce(o, listen->first, *port, *admin_password, api.serves_console());

  if (api_options.web_root.empty())
    spdlog::warn("msg=\"no web console: its built assets were not found (see --web-root)\"");
  feed.Start();
  std::atomic<bool> active{false}, fenced{false};
  auto become_active = [&] {
    spdlog::info("msg=\"active: this engine holds the engine lease\" engine={}",
                 LogValue(lease.holder()));
    workers.Start();
    monitor.Start();
    if (o.alert_interval_seconds > 0) alert_monitor.Start();
    active = true;
  };
  if (lease.Held()) {
    become_active();
  } else {
    std::cout << "Standing by: the engine " << lease.Last().holder
              << " is active on this database; this one takes over if it stops.\n"
              << std::flush;
    spdlog::warn("msg=\"standing by\" active_engine={}", LogValue(lease.Last().holder));
  }
  LeaseWatch watch(lease, clock, active, fenced, become_active);
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("msg=\"stopping\" signal={}", sig);
    api.Stop();
  });
  Status served = api.Serve();
  // Serve() can return on its own only on error; wake the waiter so it can be joined.
  if (!served.ok()) ::kill(::getpid(), SIGTERM);
  signal_waiter.join();
  watch.Stop();
  feed.Stop();
  alert_monitor.Stop();
  monitor.Stop();
  workers.StopRestarting();
  spdlog::info("msg=stopped");
  if (!served.ok()) return Fail(served);
  // A distinct code: a service manager restarts the engine, which comes back standing by.
  if (fenced) return 3;
  return 0;
}

int ResetPassword(const ServeOptions& o, const std::string& user) {
  auto given_url = StoreUrl(o);
  if (!given_url.ok()) {
    std::cerr << "georep admin: " << given_url.status().message() << "\n";
    return 1;
  }
  const std::string db_url =
      given_url->empty() ? "sqlite://" + o.data_dir + "/georep.db" : *given_url;
  if (given_url->empty() && ::access((o.data_dir + "/georep.db").c_str(), F_OK) != 0) {
    std::cerr << "georep admin: no engine database in " << o.data_dir << "\n";
    return 1;
  }
  auto store = OpenStore(db_url);
  if (!store.ok()) {
    std::cerr << "georep admin: " << store.status().message() << "\n";
    return 1;
  }
  SystemClock clock;
  SystemRandom random;
  if (o.token_ttl_seconds > o.max_token_ttl_seconds)
    return Fail(Status::InvalidArgument("--token-ttl is longer than --max-token-ttl"));
  Authenticator auth(**store, clock, random,
                     TokenPolicy{o.token_ttl_seconds, o.max_token_ttl_seconds});
  auto pw = auth.ResetPassword(user);
  if (!pw.ok()) {
    std::cerr << "georep admin: " << pw.status().message() << "\n";
    return 1;
  }
  std::cout << "New password for " << user << ": " << *pw << "\n";
  return 0;
}

}  // namespace georep
