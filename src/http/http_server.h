// HttpServer: the engine's HTTP/1.1 front, event-driven on Boost.Beast/Asio.
//
// What it owns: sockets, TLS, HTTP parsing and every limit a client on the network could
// otherwise push past: header and body deadlines, header and body sizes (whatever the transfer
// encoding: a chunked body is counted as it arrives and refused at the limit), connections in
// all and per client address. Connections wait on a couple of I/O threads, so a thousand slow
// clients cost a thousand sockets, not a thousand threads; handlers run on a bounded pool of
// worker threads, because they may block (the store, SSH).
//
// What it does not own: routes' meaning. Handlers get an HttpRequest whose body has been read
// whole (at most max_body_bytes) and fill an HttpResponse; a response may instead stream its
// body (server-sent events) from a source the server pulls on a worker thread.
//
// Thread-safety: Route/On* before Bind(); Bind, Serve once each; Stop() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/http_message.h"

namespace georep {

struct HttpServerOptions {
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;   // 0: any free port
  std::string tls_cert;  // PEM files; both empty: plain HTTP
  std::string tls_key;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  // A request's header must arrive whole within this time of the connection being ready for
  // it (an idle keep-alive connection included); its body within body_timeout after that.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // 0: as many as the process's open-file limit allows, with room to spare.
  int max_connections = 0;
  int max_connections_per_address = 256;
  int max_requests_per_connection = 1000;
  int io_threads = 2;
  int worker_threads = 32;
};

struct HttpServerStats {
  int64_t open_connections = 0;
  int64_t refused_connections = 0;  // over a connection limit
  int64_t timed_out = 0;            // header, body or write deadline passed
  int64_t oversized = 0;            // header or body over its limit
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern`: a path whose segments may be {placeholders}, each matching one non-empty
  // segment, e.g. "/api/v1/sessions/{id}/config/{key}". A HEAD request is served by GET's.
  void Route(std::string_view method, std::string_view pattern, HttpHandler handler);
  // Every route as registered: (method, pattern), e.g. for checking a published API document.
  std::vector<std::pair<std::string, std::string>> Routes() const;
  // Requests no route's pattern matches (any method). Default: 404.
  void OnUnmatched(HttpHandler handler);
  // Runs on an I/O thread when a request's header has arrived and before its body is read;
  // returns true when it answered (the body is not read and the connection is closed). Keep
  // it quick: it must not block.
  void OnHeader(std::function<bool(const HttpRequest&, HttpResponse&)> check);
  // Runs after every handler (and for the server's own error answers): headers for all.
  void OnResponse(std::function<void(const HttpRequest&, HttpResponse&)> decorate);
  // Fills the body of an answer the server gives itself (400, 404, 405, 408, 413, 431, 500,
  // 503), from its status and a sentence. Default: the sentence as text/plain.
  void OnError(std::function<void(int status, std::string_view message, HttpResponse&)> fill);
  // Called once per request answered: for the access log.
  void OnLog(std::function<void(const HttpRequest&, const HttpResponse&, double ms)> log);

  // Loads the certificate (TLS), binds and listens; returns the bound port.
  Result<int> Bind();
  // Serves until Stop(): returns once every connection is closed and every handler returned.
  Status Serve();
  void Stop();

  HttpServerStats stats() const;
  // Waits until `done` holds for the counters (checked at each change), at most `timeout`;
  // whether it held. For tests and shutdown checks: no polling.
  bool WaitForStats(const std::function<bool(const HttpServerStats&)>& done,
                    std::chrono::milliseconds timeout) const;
  // The connection limit in force (after Bind: resolved from the open-file limit).
  int max_connections() const;

  class Impl;  // defined, and only used, in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace georep
