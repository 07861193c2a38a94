#include "http/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "base/ascii.h"

namespace georep {

namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110's tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
std::optional<int> ParseQValue(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return std::nullopt;
  const bool one = q[0] == '1';
  int thousandths = one ? 1000 : 0;
  if (q.size() == 1) return thousandths;
  if (q[1] != '.' || q.size() > 5) return std::nullopt;
  int scale = 100;
  for (char c : q.substr(2)) {
    if (c < '0' || c > '9' || (one && c != '0')) return std::nullopt;
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  return thousandths;
}

// One element of the list: "gzip", "br;q=0.5", "*;q=0"; nullopt when it does not parse.
std::optional<std::pair<std::string, int>> ParseElement(std::string_view element) {
  size_t semi = element.find(';');
  std::string_view name = TrimOws(element.substr(0, semi));
  if (!IsToken(name)) return std::nullopt;
  int weight = 1000;
  while (semi != std::string_view::npos) {
    element.remove_prefix(semi + 1);
    semi = element.find(';');
    std::string_view param = TrimOws(element.substr(0, semi));
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=')
      return std::nullopt;
    auto q = ParseQValue(param.substr(2));
    if (!q) return std::nullopt;
    weight = *q;
  }
  std::string lower = AsciiLower(name);
  if (lower == "x-gzip") lower = "gzip";  // RFC 9110 8.4.1.3: the same coding
  return std::make_pair(std::move(lower), weight);
}

}  // namespace

std::string_view CodingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kBrotli:
      return "br";
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kIdentity:
      break;
  }
  return "";
}

AcceptEncoding AcceptEncoding::Parse(std::string_view value) {
  AcceptEncoding out;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = TrimOws(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    if (element.empty()) continue;
    auto parsed = ParseElement(element);
    if (!parsed) continue;
    if (parsed->first == "*") {
      if (!out.star_) out.star_ = parsed->second;
      continue;
    }
    const bool seen = std::any_of(out.listed_.begin(), out.listed_.end(),
                                  [&](const auto& l) { return l.first == parsed->first; });
    if (!seen) out.listed_.push_back(std::move(*parsed));
  }
  return out;
}

AcceptEncoding AcceptEncoding::Of(const HttpRequest& req) {
  std::string joined;
  for (const auto& [name, value] : req.headers) {
    if (AsciiLower(name) != "accept-encoding") continue;
    if (!joined.empty()) joined += ", ";
    joined += value;
  }
  return Parse(joined);
}

int AcceptEncoding::Weight(std::string_view coding) const {
  const std::string lower = AsciiLower(coding);
  for (const auto& [name, weight] : listed_)
    if (name == lower) return weight;
  return star_.value_or(0);
}

ContentCoding ChooseCoding(const AcceptEncoding& accepted, std::span<const ContentCoding> offered) {
  ContentCoding best = ContentCoding::kIdentity;
  int best_weight = 0;
  for (ContentCoding c : offered) {
    if (c == ContentCoding::kIdentity) continue;
    const int w = accepted.Weight(CodingName(c));
    if (w > best_weight) {
      best = c;
      best_weight = w;
    }
  }
  return best;
}

void AddVary(HttpResponse& res, std::string_view field) {
  for (auto& [name, value] : res.headers) {
    if (AsciiLower(name) != "vary") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      if (AsciiLower(TrimOws(rest.substr(0, comma))) == AsciiLower(field)) return;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    value += ", ";
    value += field;
    return;
  }
  res.set_header("Vary", std::string(field));
}

std::optional<std::string> GzipCompress(std::string_view data, int level) {
  z_stream zs{};
  // windowBits 15 + 16: the gzip wrapper, not zlib's; memLevel 8 is zlib's default.
  if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return std::nullopt;
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound's room takes the whole input in one call.
  const int rc = data.size() <= UINT_MAX ? deflate(&zs, Z_FINISH) : Z_BUF_ERROR;
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

void CompressApiResponse(const HttpRequest& req, HttpResponse& res, const ApiCompression& policy) {
  if (res.stream || res.status < 200 || res.status == 204 || res.status == 304) return;
  if (req.has_header("Range")) return;  // positions in a range mean the body's own bytes
  if (res.body.size() <= policy.min_bytes || res.has_header("Content-Encoding")) return;
  std::string type;
  for (const auto& [name, value] : res.headers)
    if (AsciiLower(name) == "content-type") type = AsciiLower(value);
  type = std::string(TrimOws(type.substr(0, type.find(';'))));
  // JSON, and the metrics' text exposition (Prometheus asks with `Accept-Encoding: gzip`).
  if (type != "application/json" && type != "text/plain") return;
  AddVary(res, "Accept-Encoding");
  static constexpr ContentCoding kOffered[] = {ContentCoding::kGzip};
  if (ChooseCoding(AcceptEncoding::Of(req), kOffered) != ContentCoding::kGzip) return;
  auto gz = GzipCompress(res.body, policy.gzip_level);
  if (!gz || gz->size() >= res.body.size()) return;
  res.body = std::move(*gz);
  res.set_header("Content-Encoding", "gzip");
}

}  // namespace georep
