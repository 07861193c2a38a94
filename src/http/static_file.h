// Static files for the web console: a file under a root directory, by a request's decoded
// path, never outside the root (no "..", no symbolic link leading out), with its media type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace georep {

// The file's bytes and media type, or nullopt when `path` names no regular file under `root`.
std::optional<std::pair<std::string, std::string>> ReadStaticFile(const std::string& root,
                                                                  std::string_view path);

// The media type for a file name's extension ("application/octet-stream" when unknown).
std::string MediaTypeFor(std::string_view name);

// Whether `host` is an IPv4 or IPv6 address written out (not a name).
bool IsIpLiteral(const std::string& host);

}  // namespace georep
