// CurlSender: MessageSender on libcurl (one easy handle per call).
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "host/message_sender.h"

namespace georep {
namespace {

// curl_global_init once, before the first handle (it is not thread-safe itself).
void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  curl_slist* recipients = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Easy() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (recipients != nullptr) curl_slist_free_all(recipients);
    if (h != nullptr) curl_easy_cleanup(h);
  }
  Easy() = default;
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
};

// The answer's body is not kept: a receiver's page is not the engine's business (its first
// bytes would be, for the delivery history, but they may hold anything).
size_t Discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

struct Reader {
  const std::string* text;
  size_t at = 0;
};
size_t ReadBody(char* out, size_t size, size_t n, void* user) {
  auto* r = static_cast<Reader*>(user);
  const size_t take = std::min(size * n, r->text->size() - r->at);
  r->text->copy(out, take, r->at);
  r->at += take;
  return take;
}

// Whether a failed transfer may work later: the network and the server's own troubles.
bool Transient(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

std::string Failure(CURLcode c, const char* detail) {
  const std::string what = curl_easy_strerror(c);
  return detail[0] != '\0' && what != detail ? fmt::format("{}: {}", what, detail) : what;
}

// A loopback SMTP server (a local relay) may speak without TLS; any other must offer STARTTLS.
bool LoopbackHost(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return false;
  const std::string rest = url.substr(start + 3);
  return rest.rfind("127.", 0) == 0 || rest.rfind("localhost", 0) == 0 ||
         rest.rfind("[::1]", 0) == 0;
}

class CurlSender final : public MessageSender {
 public:
  CurlSender() { GlobalInit(); }

  SendOutcome PostJson(const std::string& url,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body, std::chrono::milliseconds timeout) override {
    Easy e;
    if (e.h == nullptr) return {0, "cannot make a libcurl handle", true};
    for (const auto& [name, value] : headers) {
      std::string line = name;
      line += ": ";
      line += value;
      e.headers = curl_slist_append(e.headers, line.c_str());
    }
    e.headers = curl_slist_append(e.headers, "Content-Type: application/json");
    e.headers = curl_slist_append(e.headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(timeout.count(), 10'000)));
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.error);
    curl_easy_setopt(e.h, CURLOPT_USERAGENT, "georep-webhook/1");
    const CURLcode c = curl_easy_perform(e.h);
    if (c != CURLE_OK) return {0, Failure(c, e.error), Transient(c)};
    long code = 0;
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
    SendOutcome out{static_cast<int>(code), "", false};
    if (code >= 200 && code < 300) return out;
    out.error = code >= 300 && code < 400
                    ? fmt::format(
                          "the receiver answered HTTP {} (a redirect is not followed: "
                          "give the notifier the final URL)",
                          code)
                    : fmt::format("the receiver answered HTTP {}", code);
    out.retry = code == 408 || code == 425 || code == 429 || code >= 500;
    return out;
  }

  SendOutcome SendMail(const MailMessage& m, std::chrono::milliseconds timeout) override {
    Easy e;
    if (e.h == nullptr) return {0, "cannot make a libcurl handle", true};
    std::string text = fmt::format(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        m.from, fmt::join(m.to, ", "), m.subject);
    // Lines end in CRLF, and a line that starts with a dot is doubled (RFC 5321 4.5.2): libcurl
    // escapes the dots; the line ends are ours.
    for (char ch : m.text) {
      if (ch == '\n') text += '\r';
      text += ch;
    }
    Reader reader{&text};
    for (const auto& to : m.to) e.recipients = curl_slist_append(e.recipients, to.c_str());
    curl_easy_setopt(e.h, CURLOPT_URL, m.server_url.c_str());
    curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e.h, CURLOPT_USE_SSL,
                     LoopbackHost(m.server_url) ? CURLUSESSL_TRY : CURLUSESSL_ALL);
    curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
    if (!m.user.empty()) {
      curl_easy_setopt(e.h, CURLOPT_USERNAME, m.user.c_str());
      curl_easy_setopt(e.h, CURLOPT_PASSWORD, m.password.c_str());
    }
    curl_easy_setopt(e.h, CURLOPT_MAIL_FROM, m.from.c_str());
    curl_easy_setopt(e.h, CURLOPT_MAIL_RCPT, e.recipients);
    curl_easy_setopt(e.h, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(e.h, CURLOPT_READDATA, &reader);
    curl_easy_setopt(e.h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(e.h, CURLOPT_ERRORBUFFER, e.error);
    const CURLcode c = curl_easy_perform(e.h);
    long code = 0;
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
    if (c == CURLE_OK) return {static_cast<int>(code), "", false};
    // SMTP's 4xx replies are "try again later", 5xx are final.
    const bool retry = Transient(c) || (code >= 400 && code < 500);
    return {static_cast<int>(code), Failure(c, e.error), retry};
  }
};

}  // namespace

std::unique_ptr<MessageSender> MakeCurlSender() {
  return std::make_unique<CurlSender>();
}

}  // namespace georep
