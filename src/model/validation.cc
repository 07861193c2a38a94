#include "model/validation.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <array>
#include <string>

#include "base/visible_text.h"

namespace georep {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status Invalid(std::string_view what, std::string_view value, std::string_view rule) {
  // Values are shown quoted, cut short and with their control characters escaped, so that a
  // hostile value can neither flood a log or a page nor reorder what is shown around it.
  std::string shown = VisibleText(value.substr(0, 80));
  if (value.size() > 80) shown += "...";
  return Status::InvalidArgument(fmt::format("invalid {} '{}': {}", what, shown, rule));
}

constexpr std::array<std::string_view, 13> kReservedVolumeNames = {"volume",
                                                                   "type",
                                                                   "subvolumes",
                                                                   "option",
                                                                   "end-volume",
                                                                   "all",
                                                                   "volume_not_in_ring",
                                                                   "description",
                                                                   "force",
                                                                   "snap-max-hard-limit",
                                                                   "snap-max-soft-limit",
                                                                   "auto-delete",
                                                                   "activate-on-create"};

}  // namespace

Status ValidateVolumeName(std::string_view what, std::string_view name) {
  if (name.empty()) return Invalid(what, name, "must not be empty");
  if (name.size() > 64) return Invalid(what, name, "must be at most 64 characters");
  if (name.front() == '-') return Invalid(what, name, "must not start with '-'");
  for (char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-')
      return Invalid(what, name, "may contain only letters, digits, '-' and '_'");
  }
  for (auto reserved : kReservedVolumeNames) {
    if (name == reserved) return Invalid(what, name, "is a word reserved by gluster");
  }
  return Status::Ok();
}

Status ValidateHostName(std::string_view what, std::string_view host) {
  if (host.empty()) return Invalid(what, host, "must not be empty");
  if (host.size() > 253) return Invalid(what, host, "must be at most 253 characters");
  std::string s(host);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return Status::Ok();
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return Status::Ok();
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty())
      return Invalid(what, host, "has an empty label (two dots, or a dot at an end)");
    if (label.size() > 63) return Invalid(what, host, "has a label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-')
      return Invalid(what, host, "has a label that starts or ends with '-'");
    for (char c : label) {
      if (!IsAlnum(c) && c != '-')
        return Invalid(what, host, "may contain only letters, digits, '-' and '.' (RFC 1123)");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return Status::Ok();
}

Status ValidateAbsolutePath(std::string_view what, std::string_view path) {
  if (path.empty()) return Invalid(what, path, "must not be empty");
  if (path.size() > 4095) return Invalid(what, path, "must be at most 4095 bytes");
  if (path.front() != '/') return Invalid(what, path, "must be an absolute path (start with '/')");
  if (path == "/") return Invalid(what, path, "must not be the root directory");
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return Invalid(what, path, "must not contain control characters");
  }
  if (path.back() == '/') return Invalid(what, path, "must not end with '/'");
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view comp = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (comp.empty()) return Invalid(what, path, "must not contain '//'");
    if (comp == "." || comp == "..")
      return Invalid(what, path, "must be normalised (no '.' or '..' components)");
    if (comp.size() > 255) return Invalid(what, path, "has a component longer than 255 bytes");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Status ValidateObjectName(std::string_view what, std::string_view name) {
  if (name.empty()) return Invalid(what, name, "must not be empty");
  if (name.size() > 64) return Invalid(what, name, "must be at most 64 characters");
  if (!IsAlnum(name.front())) return Invalid(what, name, "must start with a letter or digit");
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-')
      return Invalid(what, name, "may contain only letters, digits, '.', '-' and '_'");
  }
  return Status::Ok();
}

Status ValidateUnixUser(std::string_view what, std::string_view user) {
  if (user.empty()) return Invalid(what, user, "must not be empty");
  if (user.size() > 32) return Invalid(what, user, "must be at most 32 characters");
  char f = user.front();
  if (!((f >= 'a' && f <= 'z') || f == '_'))
    return Invalid(what, user, "must start with a lower-case letter or '_'");
  for (char c : user) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return Invalid(what, user, "may contain only lower-case letters, digits, '-' and '_'");
  }
  return Status::Ok();
}

Status ValidatePort(std::string_view what, int port) {
  if (port < 1 || port > 65535)
    return Status::InvalidArgument(fmt::format("invalid {} {}: must be 1-65535", what, port));
  return Status::Ok();
}

Status ValidateFingerprint(std::string_view what, std::string_view fp) {
  constexpr std::string_view kPrefix = "SHA256:";
  if (fp.substr(0, kPrefix.size()) != kPrefix || fp.size() != kPrefix.size() + 43)
    return Invalid(what, fp, "must be an OpenSSH SHA256 fingerprint (\"SHA256:\" + 43 characters)");
  for (char c : fp.substr(kPrefix.size())) {
    if (!IsAlnum(c) && c != '+' && c != '/')
      return Invalid(what, fp, "has a character that is not base64");
  }
  return Status::Ok();
}

}  // namespace georep
