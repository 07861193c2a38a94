// MessageSender: how the engine's notifications leave the machine -- a webhook's HTTP(S) POST
// and an e-mail over SMTP -- behind one small interface, so tests of what is sent and when
// (retries, back-off, signatures) use a fake, and the integration tests a real receiver.
//
// CurlSender (curl_sender.cc) is the implementation, on libcurl: TLS certificates verified,
// redirects never followed (a webhook's URL is where the payload goes, nowhere else), every
// call bounded by its time-out. Thread-safe: each call has its own handle.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace georep {

struct SendOutcome {
  // The receiver's answer: an HTTP status, or an SMTP reply code; 0 when none came.
  int status = 0;
  // Why it was not delivered (a connection refused, a time-out, a status that is not success);
  // empty when it was.
  std::string error;
  // Whether trying again later may work (a network failure, 408, 429, 5xx); a receiver that
  // refuses the request itself (another 4xx, a bad URL) is not retried.
  bool retry = false;

  bool ok() const { return error.empty(); }
};

struct MailMessage {
  std::string server_url;  // smtp://host:port (STARTTLS required) or smtps://host:port
  std::string user;        // empty: no authentication
  std::string password;
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string text;  // the body, plain text
};

class MessageSender {
 public:
  virtual ~MessageSender() = default;
  // POSTs `body` (JSON) to `url` with `headers` (name, value).
  virtual SendOutcome PostJson(const std::string& url,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, std::chrono::milliseconds timeout) = 0;
  virtual SendOutcome SendMail(const MailMessage& mail, std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<MessageSender> MakeCurlSender();

}  // namespace georep
