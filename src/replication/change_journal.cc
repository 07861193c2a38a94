#include "replication/change_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "replication/le_bytes.h"

namespace georep::replication {
namespace {

using le::GetU64;
using le::PutU64;

}  // namespace

ChangeJournal::ChangeJournal(std::string state_dir) : path_(std::move(state_dir) + "/journal") {}

Result<JournaledChanges> ChangeJournal::Load() const {
  JournaledChanges out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::string_view v = data;
  // Records: payload length, payload (kind byte 'D', 'E' or 'W', length, path; repeated),
  // XXH3-64.
  while (!v.empty()) {
    uint64_t length = 0, sum = 0;
    if (!GetU64(&v, &length) || length > v.size()) break;
    std::string_view payload = v.substr(0, length);
    v.remove_prefix(length);
    if (!GetU64(&v, &sum) || sum != XXH3_64bits(payload.data(), payload.size())) break;
    while (!payload.empty()) {
      const char kind = payload[0];
      payload.remove_prefix(1);
      uint64_t n = 0;
      std::set<std::string>* into = kind == 'D'   ? &out.directories
                                    : kind == 'E' ? &out.entries
                                    : kind == 'W' ? &out.written
                                                  : nullptr;
      if (into == nullptr || !GetU64(&payload, &n) || n > payload.size()) {
        return Status::Corruption(path_ + " has a record that checks out but cannot be read");
      }
      into->emplace(payload.substr(0, n));
      payload.remove_prefix(n);
    }
  }
  return out;
}

Status ChangeJournal::Append(const JournaledChanges& changes) {
  if (changes.empty()) return Status::Ok();
  std::string payload;
  for (const auto& [kind, paths] :
       {std::pair{'D', &changes.directories}, {'E', &changes.entries}, {'W', &changes.written}}) {
    for (const auto& p : *paths) {
      payload.push_back(kind);
      PutU64(&payload, p.size());
      payload += p;
    }
  }
  std::string record;
  PutU64(&record, payload.size());
  record += payload;
  PutU64(&record, XXH3_64bits(payload.data(), payload.size()));
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + path_ + ": " + strerror(errno));
  std::string_view rest = record;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::IOError("cannot write " + path_ + ": " + strerror(err));
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  const bool synced = ::fdatasync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) return Status::IOError("cannot sync " + path_ + ": " + strerror(err));
  return Status::Ok();
}

Status ChangeJournal::Clear() {
  if (::truncate(path_.c_str(), 0) != 0 && errno != ENOENT)
    return Status::IOError("cannot truncate " + path_ + ": " + strerror(errno));
  return Status::Ok();
}

}  // namespace georep::replication
