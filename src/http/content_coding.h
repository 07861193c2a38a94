// Content codings (RFC 9110 sections 8.4 and 12.5.3): which codings a request's
// Accept-Encoding allows and which of those the server has to offer is chosen; gzip (zlib) for
// bodies compressed on the fly; and the policy for JSON answers: compressed only where it pays.
//
// Thread-safety: values and free functions.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_message.h"

namespace georep {

enum class ContentCoding { kIdentity, kBrotli, kGzip };

// The coding's name in Content-Encoding: "br", "gzip"; "" for identity.
std::string_view CodingName(ContentCoding coding);

// A request's Accept-Encoding, parsed. Each listed coding has a weight, its qvalue in
// thousandths (0..1000; 0: "not acceptable"). Names are case-insensitive; "x-gzip" is gzip. An
// element that does not parse (a bad name or qvalue) is ignored, as if not sent; of a coding
// listed twice, the first counts.
class AcceptEncoding {
 public:
  AcceptEncoding() = default;
  // From the field's value (several fields joined with ", ").
  static AcceptEncoding Parse(std::string_view value);
  // From a request: every Accept-Encoding field it has. No field: identity only (what a client
  // that says nothing about codings is sent in practice, though RFC 9110 would allow any).
  static AcceptEncoding Of(const HttpRequest& req);

  // The weight given to `coding` ("br", "gzip"): its own if listed, else that of "*", else 0.
  int Weight(std::string_view coding) const;
  bool Accepts(std::string_view coding) const { return Weight(coding) > 0; }

 private:
  std::vector<std::pair<std::string, int>> listed_;  // lower-case name, weight
  std::optional<int> star_;
};

// Of `offered` (the server's order of preference), the coding the client weighs highest, a tie
// going to the one offered first; kIdentity when the client accepts none of them. Identity
// itself is never refused: it is the answer when nothing else is acceptable.
ContentCoding ChooseCoding(const AcceptEncoding& accepted, std::span<const ContentCoding> offered);

// Adds `field` to the response's Vary header, once.
void AddVary(HttpResponse& res, std::string_view field);

// `data` in the gzip format (RFC 1952) at zlib level `level` (1..9); nullopt if zlib fails
// (out of memory).
std::optional<std::string> GzipCompress(std::string_view data, int level);

// When an API answer is compressed: over `min_bytes` (about one TCP segment: below that,
// compression saves no packet and costs a little CPU), with zlib level `gzip_level`.
struct ApiCompression {
  size_t min_bytes = 1400;
  int gzip_level = 5;
};

// Compresses `res`'s body with gzip when it is JSON (application/json) or plain text (the
// metrics' exposition format), longer than
// `policy.min_bytes`, not yet encoded, and the request accepts gzip; such an answer says
// `Vary: Accept-Encoding` whether compressed or not. Streamed bodies (server-sent events: each
// event must reach the client as it is written), bodiless statuses and answers to a Range
// request are left alone.
void CompressApiResponse(const HttpRequest& req, HttpResponse& res,
                         const ApiCompression& policy = {});

}  // namespace georep
