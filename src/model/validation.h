// Input validation for everything a user can name. Each check returns InvalidArgument with a
// message that says which rule was broken, in the operator's words; nothing here touches state.
#pragma once

#include <string_view>

#include "base/status.h"

namespace georep {

// Gluster volume names: 1-64 characters of [A-Za-z0-9_-], not starting with '-', and not one of
// the words the gluster CLI reserves ("all", "volume", "force" ...).
Status ValidateVolumeName(std::string_view what, std::string_view name);

// RFC 1123 host name (labels of 1-63 letters, digits and '-', not starting or ending with '-',
// at most 253 characters), or an IPv4 / IPv6 literal.
Status ValidateHostName(std::string_view what, std::string_view host);

// Absolute, normalised path: starts with '/', no empty, "." or ".." components, no trailing '/'
// (except "/" itself, which is refused as a volume path), no control characters, at most 4095
// bytes.
Status ValidateAbsolutePath(std::string_view what, std::string_view path);

// Object names chosen in georep (clusters, users, tokens): 1-64 characters of [A-Za-z0-9._-],
// starting with a letter or digit.
Status ValidateObjectName(std::string_view what, std::string_view name);

// POSIX user names for SSH: 1-32 characters of [a-z0-9_-], starting with a letter or '_'.
Status ValidateUnixUser(std::string_view what, std::string_view user);

Status ValidatePort(std::string_view what, int port);

// OpenSSH host-key fingerprint: "SHA256:" followed by 43 unpadded base64 characters.
Status ValidateFingerprint(std::string_view what, std::string_view fingerprint);

}  // namespace georep
