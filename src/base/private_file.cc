#include "base/private_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace georep {

Status CheckPrivateFile(std::string_view what, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::InvalidArgument(
        fmt::format("cannot read {} {}: {}", what, path, std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        fmt::format("{} {} can be read by others (mode {:04o}): chmod 600 it, then start again",
                    what, path, st.st_mode & 07777));
  }
  return Status::Ok();
}

}  // namespace georep
