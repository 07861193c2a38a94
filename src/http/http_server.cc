#include "http/http_server.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "base/ascii.h"
#include "base/log.h"
#include "http/beast_request.h"
#include "http/router.h"

namespace georep {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

std::string AddressString(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// Errors that end a connection without anything worth telling the peer or the log.
bool IsQuietEnd(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::operation_aborted ||
         ec == net::error::broken_pipe || ec == net::error::bad_descriptor ||
         ec == net::ssl::error::stream_truncated;
}

// Why a PEM file could not be loaded, in words: the system's for a file that cannot be
// opened, OpenSSL's for one that does not parse.
std::string TlsFileError(const std::string& path, const error_code& ec) {
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  return reason != nullptr ? std::string(reason) : "not a PEM file OpenSSL can read";
}

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the socket from the connection's own strand: pending reads and writes end.
  virtual void Close() = 0;
  virtual void Start() = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : o(std::move(options)),
        io(std::max(1, o.io_threads)),
        acceptor(net::make_strand(io)),
        accept_retry(acceptor.get_executor()) {}

  HttpServerOptions o;
  Router router;
  HttpHandler unmatched;
  std::function<bool(const HttpRequest&, HttpResponse&)> on_header;
  std::function<void(const HttpRequest&, HttpResponse&)> on_response;
  std::function<void(int, std::string_view, HttpResponse&)> on_error;
  std::function<void(const HttpRequest&, const HttpResponse&, double)> on_log;

  net::io_context io;
  std::optional<net::ssl::context> ssl;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  std::unique_ptr<net::thread_pool> pool;
  int max_conns = 0;

  mutable std::mutex mu;
  bool stopping = false;                                                          // GUARDED_BY(mu)
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;  // GUARDED_BY(mu)
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> conns;       // GUARDED_BY(mu)
  std::unordered_map<std::string, int> per_address;                               // GUARDED_BY(mu)
  std::chrono::steady_clock::time_point last_refusal_log;                         // GUARDED_BY(mu)
  int64_t refusals_unlogged = 0;                                                  // GUARDED_BY(mu)

  std::atomic<int64_t> open{0}, refused{0}, timed_out{0}, oversized{0};
  std::condition_variable stats_changed;  // with mu

  bool Stopping() const {
    std::lock_guard lock(mu);
    return stopping;
  }

  void Forget(ConnectionBase* c, const std::string& addr) {
    std::lock_guard lock(mu);
    conns.erase(c);
    auto it = per_address.find(addr);
    if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
    --open;
    stats_changed.notify_all();
  }

  // Counts one event and wakes WaitForStats.
  void Count(std::atomic<int64_t>& counter) {
    std::lock_guard lock(mu);
    ++counter;
    stats_changed.notify_all();
  }

  HttpServerStats Stats() const {
    return {open.load(), refused.load(), timed_out.load(), oversized.load()};
  }

  void Error(int status, std::string_view message, HttpResponse& res) const {
    res = HttpResponse{};
    res.status = status;
    if (on_error) {
      on_error(status, message, res);
    } else {
      res.set_content(std::string(message) + "\n", "text/plain; charset=utf-8");
    }
  }

  // Routing and the handler, on a worker thread. Never throws.
  void Handle(HttpRequest& req, HttpResponse& res) const {
    try {
      Router::Found found = router.Find(req.method, req.target);
      if (found.handler != nullptr) {
        req.matches.clear();
        req.matches.push_back(req.path);
        for (auto& c : found.captures) req.matches.push_back(std::move(c));
        (*found.handler)(req, res);
      } else if (!found.allow.empty()) {
        Error(405, fmt::format("{} is not allowed here: {}", req.method, found.allow), res);
        res.set_header("Allow", found.allow);
      } else if (unmatched) {
        unmatched(req, res);
      } else {
        Error(404, "not found", res);
      }
    } catch (const std::exception& e) {
      spdlog::error("msg=\"handler threw\" path={} error={}", LogValue(req.path),
                    LogValue(e.what()));
      Error(500, "internal error; see the engine's log", res);
    } catch (...) {
      spdlog::error("msg=\"handler threw\" path={}", LogValue(req.path));
      Error(500, "internal error; see the engine's log", res);
    }
    Decorate(req, res);
  }

  void Decorate(const HttpRequest& req, HttpResponse& res) const {
    if (!on_response) return;
    try {
      on_response(req, res);
    } catch (const std::exception& e) {
      spdlog::error("msg=\"response decorator threw\" error={}", LogValue(e.what()));
    }
  }

  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  void Refuse(tcp::socket& socket, const std::string& addr);
};

namespace {

template <bool kTls>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<kTls>> {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Connection(HttpServer::Impl& server, tcp::socket socket, std::string remote)
      : s_(server), stream_(MakeStream(server, std::move(socket))), remote_(std::move(remote)) {}

  ~Connection() override {
    if (res_.on_stream_end) res_.on_stream_end();
    s_.Forget(this, remote_);
  }

  void Start() override {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(self->s_.o.tls_handshake_timeout);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](const error_code& ec) {
          if (ec) {
            if (ec == beast::error::timeout) self->s_.Count(self->s_.timed_out);
            return self->CloseNow();
          }
          self->ReadHeader();
        });
      } else {
        self->ReadHeader();
      }
    });
  }

  void Close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
  }

 private:
  static Stream MakeStream(HttpServer::Impl& server, tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.ssl);
    } else {
      (void)server;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void CloseNow() {
    closed_ = true;
    error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  void ReadHeader() {
    if (closed_ || s_.Stopping()) return CloseNow();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(s_.o.max_header_bytes));
    // The body's limit is checked on the header below, after the checks that come first.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    req_ = HttpRequest{};
    res_ = HttpResponse{};
    close_after_ = false;
    Lowest().expires_after(s_.o.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const error_code& ec) {
    started_ = std::chrono::steady_clock::now();
    if (ec) return OnReadError(ec);
    const auto& h = parser_->get();
    req_.remote_addr = remote_;
    req_.tls = kTls;
    if (!FillRequest(h, &req_)) return Answer(400, "malformed request target");
    if (s_.on_header && s_.on_header(req_, res_)) {
      close_after_ = !parser_->is_done();
      s_.Decorate(req_, res_);
      return Write();
    }
    if (parser_->is_done()) return Dispatch();
    if (auto length = parser_->content_length(); length && *length > s_.o.max_body_bytes) {
      s_.Count(s_.oversized);
      return Answer(413, "request body too large");
    }
    parser_->body_limit(s_.o.max_body_bytes);
    if (AsciiLower(h[bhttp::field::expect]) == "100-continue") {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       h.version());
      Lowest().expires_after(s_.o.write_timeout);
      return bhttp::async_write(
          stream_, *cont, [self = this->shared_from_this(), cont](const error_code& wec, size_t) {
            if (wec) return self->CloseNow();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(s_.o.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](const error_code& ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->req_.body = std::move(self->parser_->get().body());
                        self->Dispatch();
                      });
  }

  void OnReadError(const error_code& ec) {
    if (ec == beast::error::timeout) {
      // The stream closed the socket already: nothing can be answered.
      if (parser_ && parser_->got_some()) s_.Count(s_.timed_out);
      return CloseNow();
    }
    if (closed_ || IsQuietEnd(ec)) return CloseNow();
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      s_.Count(s_.oversized);
      return Answer(431, "request header too large");
    }
    if (ec == bhttp::error::body_limit) {
      s_.Count(s_.oversized);
      return Answer(413, "request body too large");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() ||
        ec == bhttp::error::partial_message) {
      return Answer(400, "malformed request");
    }
    CloseNow();
  }

  // An answer of the server's own; the connection closes after it (its body, if any, unread).
  void Answer(int status, std::string_view message) {
    s_.Error(status, message, res_);
    close_after_ = true;
    s_.Decorate(req_, res_);
    Write();
  }

  void Dispatch() {
    Lowest().expires_never();
    auto work = net::make_work_guard(s_.io);
    net::post(*s_.pool, [self = this->shared_from_this(), work] {
      self->s_.Handle(self->req_, self->res_);
      net::post(self->stream_.get_executor(), [self] { self->Write(); });
    });
  }

  void Log() {
    if (!s_.on_log) return;
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    s_.on_log(req_, res_, ms);
  }

  void Write() {
    if (closed_) return;
    ++served_;
    Log();
    const bool head = req_.method == "HEAD";
    if (res_.stream && !head) return WriteStreamHeader();
    const unsigned version = parser_ ? parser_->get().version() : 11;
    const bool keep = parser_ && parser_->get().keep_alive() && !close_after_ &&
                      served_ < s_.o.max_requests_per_connection && !s_.Stopping();
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->version(version);
    msg->result(static_cast<unsigned>(res_.status));
    for (const auto& [n, v] : res_.headers) msg->set(n, v);
    msg->body() = std::move(res_.body);
    msg->prepare_payload();
    if (head) msg->body().clear();
    msg->keep_alive(keep);
    Lowest().expires_after(s_.o.write_timeout);
    bhttp::async_write(stream_, *msg,
                       [self = this->shared_from_this(), msg, keep](const error_code& ec, size_t) {
                         if (ec) {
                           if (ec == beast::error::timeout) self->s_.Count(self->s_.timed_out);
                           return self->CloseNow();
                         }
                         if (keep) return self->ReadHeader();
                         self->Finish();
                       });
  }

  // Ends the connection politely: a peer still sending its body gets to read our answer
  // instead of a reset, for a second and a megabyte at most.
  void Finish() {
    if constexpr (kTls) {
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown(
          [self = this->shared_from_this()](const error_code&) { self->CloseNow(); });
    } else {
      error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return CloseNow();
      Lowest().expires_after(std::chrono::seconds(1));
      Drain();
    }
  }

  void Drain() {
    if constexpr (!kTls) {
      drain_.resize(16 << 10);
      stream_.async_read_some(net::buffer(drain_),
                              [self = this->shared_from_this()](const error_code& ec, size_t n) {
                                self->drained_ += n;
                                if (ec || self->drained_ > (1 << 20)) return self->CloseNow();
                                self->Drain();
                              });
    }
  }

  // --- a streamed body (server-sent events): header, then chunks pulled on a worker thread.
  void WriteStreamHeader() {
    auto head = std::make_shared<bhttp::response<bhttp::empty_body>>();
    head->version(11);
    head->result(static_cast<unsigned>(res_.status));
    for (const auto& [n, v] : res_.headers) head->set(n, v);
    head->chunked(true);
    head->keep_alive(false);
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*head);
    Lowest().expires_after(s_.o.write_timeout);
    bhttp::async_write_header(
        stream_, *sr, [self = this->shared_from_this(), head, sr](const error_code& ec, size_t) {
          if (ec) return self->EndStream();
          self->WatchForClose();
          self->PullStream();
        });
  }

  // A stream's client sends nothing; a read that ends means it went away (a closed tab): the
  // stream ends now -- its source told, its slot freed -- not at the next write.
  void WatchForClose() {
    watch_.resize(512);
    stream_.async_read_some(net::buffer(watch_),
                            [self = this->shared_from_this()](const error_code& ec, size_t) {
                              if (!ec) return self->WatchForClose();
                              if (self->res_.on_stream_end) {
                                auto end = std::move(self->res_.on_stream_end);
                                self->res_.on_stream_end = nullptr;
                                end();
                              }
                              self->CloseNow();
                            });
  }

  void PullStream() {
    Lowest().expires_never();
    auto work = net::make_work_guard(s_.io);
    net::post(*s_.pool, [self = this->shared_from_this(), work] {
      std::string piece;
      bool more = false;
      try {
        more = self->res_.stream(&piece);
      } catch (const std::exception& e) {
        spdlog::error("msg=\"stream source threw\" error={}", LogValue(e.what()));
      }
      net::post(self->stream_.get_executor(), [self, piece = std::move(piece), more]() mutable {
        self->WriteStreamPiece(std::move(piece), more);
      });
    });
  }

  void WriteStreamPiece(std::string piece, bool more) {
    if (closed_) return EndStream();
    if (piece.empty()) return more ? PullStream() : WriteLastChunk();
    auto buf = std::make_shared<std::string>(std::move(piece));
    Lowest().expires_after(s_.o.write_timeout);
    net::async_write(stream_, bhttp::make_chunk(net::buffer(*buf)),
                     [self = this->shared_from_this(), buf, more](const error_code& ec, size_t) {
                       if (ec) return self->EndStream();
                       if (more) return self->PullStream();
                       self->WriteLastChunk();
                     });
  }

  void WriteLastChunk() {
    Lowest().expires_after(s_.o.write_timeout);
    net::async_write(
        stream_, bhttp::make_chunk_last(),
        [self = this->shared_from_this()](const error_code&, size_t) { self->EndStream(); });
  }

  void EndStream() {
    if (res_.on_stream_end) {
      auto end = std::move(res_.on_stream_end);
      res_.on_stream_end = nullptr;
      end();
    }
    // The watch's read is pending: no second read (a drain, a TLS close_notify exchange). The
    // last chunk went out before the close; the client sent nothing that could reset it.
    CloseNow();
  }

  HttpServer::Impl& s_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  HttpRequest req_;
  HttpResponse res_;
  std::chrono::steady_clock::time_point started_;
  int served_ = 0;
  bool close_after_ = false;
  bool closed_ = false;
  std::string drain_;
  size_t drained_ = 0;
  std::string watch_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(io), [this](const error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors or memory: wait a moment rather than spin on the error.
    spdlog::warn("msg=\"accept failed\" error={}", LogValue(ec.message()));
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([this](const error_code& wec) {
      if (!wec) Accept();
    });
    return;
  }
  error_code pec;
  auto peer = socket.remote_endpoint(pec);
  if (pec) return Accept();
  std::string addr = AddressString(peer.address());
  bool refuse = false;
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    int& mine = per_address[addr];
    if (open.load() >= max_conns || mine >= o.max_connections_per_address) {
      refuse = true;
      if (mine == 0) per_address.erase(addr);
    } else {
      ++mine;
      ++open;
    }
  }
  if (refuse) {
    Refuse(socket, addr);
    return Accept();
  }
  std::shared_ptr<ConnectionBase> c;
  if (ssl) {
    c = std::make_shared<Connection<true>>(*this, std::move(socket), addr);
  } else {
    c = std::make_shared<Connection<false>>(*this, std::move(socket), addr);
  }
  {
    std::lock_guard lock(mu);
    conns[c.get()] = c;
  }
  c->Start();
  Accept();
}

void HttpServer::Impl::Refuse(tcp::socket& socket, const std::string& addr) {
  Count(refused);
  error_code ec;
  if (!ssl) {
    // A new connection's send buffer is empty: this short answer never blocks.
    static constexpr std::string_view k503 =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
        "Retry-After: 5\r\nConnection: close\r\n\r\ntoo many connections; retry\r\n\r\n";
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(k503.data(), k503.size()), ec);
  }
  socket.close(ec);
  // A flood is logged once a minute, not once a connection.
  std::lock_guard lock(mu);
  ++refusals_unlogged;
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log >= std::chrono::minutes(1)) {
    spdlog::warn(
        "msg=\"connections refused\" count={} last_from={} limit_total={} limit_per_address={}",
        refusals_unlogged, addr, max_conns, o.max_connections_per_address);
    refusals_unlogged = 0;
    last_refusal_log = now;
  }
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() = default;

void HttpServer::Route(std::string_view method, std::string_view pattern, HttpHandler handler) {
  impl_->router.Add(method, pattern, std::move(handler));
}

std::vector<std::pair<std::string, std::string>> HttpServer::Routes() const {
  return impl_->router.Routes();
}

void HttpServer::OnUnmatched(HttpHandler handler) {
  impl_->unmatched = std::move(handler);
}
void HttpServer::OnHeader(std::function<bool(const HttpRequest&, HttpResponse&)> check) {
  impl_->on_header = std::move(check);
}
void HttpServer::OnResponse(std::function<void(const HttpRequest&, HttpResponse&)> decorate) {
  impl_->on_response = std::move(decorate);
}
void HttpServer::OnError(std::function<void(int, std::string_view, HttpResponse&)> fill) {
  impl_->on_error = std::move(fill);
}
void HttpServer::OnLog(std::function<void(const HttpRequest&, const HttpResponse&, double)> log) {
  impl_->on_log = std::move(log);
}

Result<int> HttpServer::Bind() {
  Impl& s = *impl_;
  if (!s.o.tls_cert.empty()) {
    s.ssl.emplace(net::ssl::context::tls_server);
    SSL_CTX* ctx = s.ssl->native_handle();
    // Mozilla's "intermediate" profile: TLS 1.2 and 1.3, forward-secret AEAD suites only.
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
      return Status::Internal("cannot set the TLS cipher suites");
    }
    error_code ec;
    s.ssl->use_certificate_chain_file(s.o.tls_cert, ec);
    if (ec) {
      return Status::InvalidArgument(fmt::format("cannot load the TLS certificate {}: {}",
                                                 s.o.tls_cert, TlsFileError(s.o.tls_cert, ec)));
    }
    s.ssl->use_private_key_file(s.o.tls_key, net::ssl::context::pem, ec);
    if (ec) {
      return Status::InvalidArgument(fmt::format("cannot load the TLS key {}: {}", s.o.tls_key,
                                                 TlsFileError(s.o.tls_key, ec)));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return Status::InvalidArgument(fmt::format("the TLS key {} does not match the certificate {}",
                                                 s.o.tls_key, s.o.tls_cert));
    }
  }

  // Every connection is a descriptor: use all the process may have, and keep room for the
  // store, SSH and workers.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < lim.rlim_max) {
      rlimit raised = lim;
      raised.rlim_cur = lim.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
  }
  const int64_t fds = lim.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<int64_t>(lim.rlim_cur);
  s.max_conns = s.o.max_connections > 0
                    ? s.o.max_connections
                    : static_cast<int>(std::clamp<int64_t>(fds - 512, 64, 100'000));

  error_code ec;
  net::ip::address address;
  if (s.o.listen_host == "localhost") {
    address = net::ip::make_address("127.0.0.1");
  } else {
    address = net::ip::make_address(s.o.listen_host, ec);
    if (ec) {
      tcp::resolver resolver(s.io);
      auto found = resolver.resolve(s.o.listen_host, "", ec);
      if (ec || found.empty()) {
        return Status::InvalidArgument(fmt::format(
            "cannot listen on {}: not an address or a known host name", s.o.listen_host));
      }
      address = found.begin()->endpoint().address();
    }
  }
  tcp::endpoint ep(address, static_cast<unsigned short>(s.o.listen_port));
  auto fail = [&](const error_code& e) -> Status {
    return Status::Unavailable(
        fmt::format("cannot listen on {}:{}: {}", s.o.listen_host, s.o.listen_port, e.message()));
  };
  s.acceptor.open(ep.protocol(), ec);
  if (ec) return fail(ec);
  // SO_REUSEADDR, never SO_REUSEPORT: a second process must not share the port.
  s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  s.acceptor.bind(ep, ec);
  if (ec) return fail(ec);
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  return static_cast<int>(s.acceptor.local_endpoint().port());
}

Status HttpServer::Serve() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping) return Status::Ok();
    s.guard.emplace(s.io.get_executor());
  }
  s.pool = std::make_unique<net::thread_pool>(std::max(1, s.o.worker_threads));
  net::post(s.acceptor.get_executor(), [&s] { s.Accept(); });
  auto run = [&s] {
    for (;;) {
      try {
        s.io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("msg=\"http i/o thread caught\" error={}", LogValue(e.what()));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < s.o.io_threads; ++i) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
  s.pool->join();
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  // The closing is queued on the I/O loop before the loop's guard is let go, and the
  // connections are closed from there: every Close is queued while the loop still has work.
  // Closed from this thread, a connection that ended on its own in between would leave the
  // loop with nothing to do; it returns, and the Close queued after it never runs (the
  // connection, held by it, stays open until the server is destroyed).
  net::post(s.acceptor.get_executor(), [&s] {
    error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
    std::vector<std::shared_ptr<ConnectionBase>> open;
    {
      std::lock_guard lock(s.mu);
      for (auto& [ptr, weak] : s.conns)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    for (auto& c : open) c->Close();
  });
  std::lock_guard lock(s.mu);
  s.guard.reset();
}

HttpServerStats HttpServer::stats() const {
  return impl_->Stats();
}

bool HttpServer::WaitForStats(const std::function<bool(const HttpServerStats&)>& done,
                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->stats_changed.wait_for(lock, timeout, [&] { return done(impl_->Stats()); });
}

int HttpServer::max_connections() const {
  return impl_->max_conns;
}

}  // namespace georep
