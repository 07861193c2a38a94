// Static files for the web console: a file under a root directory, by a request's decoded
// path, never outside the root (no "..", no symbolic link leading out), with its media type;
// sent as is or as the precompressed copy beside it (NAME.br, NAME.gz, written at build time by
// web/precompress.mjs) that the request's Accept-Encoding allows, with an ETag for revalidation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/content_coding.h"
#include "http/http_message.h"

namespace georep {

// A regular file found under the root.
struct StaticFile {
  std::string root;  // the root, canonical
  std::string path;  // the file, canonical (beneath the root)
  std::string media_type;
};

// The file `path` names under `root`, or nullopt when it names no regular file there.
std::optional<StaticFile> FindStaticFile(const std::string& root, std::string_view path);

// What is sent for a request of a static file.
struct StaticVariant {
  std::string path;  // the file whose bytes are sent
  ContentCoding coding = ContentCoding::kIdentity;
  // A precompressed copy of the file exists: the answer depends on Accept-Encoding.
  bool varies = false;
};

// The precompressed copy beside `file` the request accepts (brotli before gzip when weighted
// alike; see ChooseCoding) -- a regular file beneath the root, no older than `file` (a copy
// older than its file is left over from an earlier build, and not sent) -- or the file itself:
// always for a Range request, whose byte positions mean the file's.
StaticVariant ChooseStaticVariant(const StaticFile& file, const HttpRequest& req);

// Answers a GET or HEAD of `file`: the variant chosen above with the file's Content-Type, its
// Content-Encoding, `Vary: Accept-Encoding` when a copy exists, and an ETag (of the bytes sent:
// their size and modification time, and the coding); 304 without a body when If-None-Match
// names that ETag. False when the file can no longer be read (removed since it was found).
bool ServeStaticFile(const StaticFile& file, const HttpRequest& req, HttpResponse& res);

// Whether an If-None-Match value ("*", or a list of entity tags, weak or strong) names `etag`
// (weak comparison, as RFC 9110 13.1.2 says for If-None-Match).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

// The media type for a file name's extension ("application/octet-stream" when unknown).
std::string MediaTypeFor(std::string_view name);

// Whether `host` is an IPv4 or IPv6 address written out (not a name).
bool IsIpLiteral(const std::string& host);

}  // namespace georep
