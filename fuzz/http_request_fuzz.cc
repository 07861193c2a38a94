// Fuzz target for what a client sends the API: the HTTP request parser with the server's
// limits (Beast's parser and georep's target, query and header handling; Accept-Encoding and
// If-None-Match), and the JSON request bodies read by the API's strict spec readers. Any
// bytes: no crash, no sanitizer report. The input is tried as a whole request, and as a bare
// JSON body.
//   libFuzzer:  scripts/fuzz.sh SECONDS http
//   replay:     georep_http_request_replay FILES...  (CTest replays the seed corpus)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/json_model.h"
#include "http/content_coding.h"
#include "http/http_server.h"
#include "http/static_file.h"

namespace {

void ReadBody(const std::string& body) {
  auto j = georep::ParseBody(body);
  if (!j.ok()) return;
  (void)georep::ClusterSpecFrom(*j);
  (void)georep::HostSpecFrom(*j, "c1");
  (void)georep::VolumeSpecFrom(*j, "c1");
  (void)georep::DestinationSpecFrom(*j, "c1");
  (void)georep::SessionSpecFrom(*j);
  georep::JsonFields f(*j);
  (void)f.OnlyKnown({"username", "password", "ttl_seconds"});
  (void)f.Str("username", true);
  (void)f.Int("ttl_seconds", 0);
  (void)f.Bool("force", false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto req = georep::ParseHttpRequest(bytes, 16 << 10, 1 << 20);
  if (req.ok()) {
    (void)req->get_header_value("Authorization");
    (void)req->has_header("Transfer-Encoding");
    (void)req->get_param_value("sample_percent");
    // What a static file's and a JSON answer's coding are chosen by.
    constexpr georep::ContentCoding kOffered[] = {georep::ContentCoding::kBrotli,
                                                  georep::ContentCoding::kGzip};
    (void)georep::ChooseCoding(georep::AcceptEncoding::Of(*req), kOffered);
    (void)georep::EtagMatches(req->get_header_value("If-None-Match"), "\"1f-2e-br\"");
    georep::HttpResponse res;
    res.set_content(req->body, "application/json");
    georep::CompressApiResponse(*req, res, {.min_bytes = 0, .gzip_level = 1});
    ReadBody(req->body);
  }
  ReadBody(std::string(bytes));
  return 0;
}
