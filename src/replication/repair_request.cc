#include "replication/repair_request.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "replication/tree_description.h"

namespace georep::replication {
namespace {

constexpr std::string_view kHeader = "GRREPAIR 1\n";

std::string PathOf(const std::string& state_dir) {
  return state_dir + "/" + std::string(kRepairRequestFile);
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
}

}  // namespace

RepairRequest RepairRequestFromVerify(const VerifyReport& report, std::string id) {
  RepairRequest r;
  r.id = std::move(id);
  for (const VerifyDifference& d : report.differences) {
    switch (d.kind) {
      case DifferenceKind::kDiffers:
        // One path may differ in several ways: listed once.
        if (r.stale.empty() || r.stale.back() != d.path) r.stale.push_back(d.path);
        break;
      case DifferenceKind::kMissing:
        r.missing.push_back(d.path);
        break;
      case DifferenceKind::kOnlyAtDestination:
        r.extra.emplace_back(d.path, d.destination_type);
        break;
      case DifferenceKind::kUnreadable:
        break;
    }
  }
  return r;
}

std::string EncodeRepairRequest(const RepairRequest& request) {
  std::string out(kHeader);
  out.append(request.id).push_back('\n');
  auto put = [&](char kind, const std::string& path) {
    out.push_back(kind);
    out.append(path).push_back('\0');
  };
  for (const auto& p : request.stale) put('S', p);
  for (const auto& p : request.missing) put('M', p);
  for (const auto& [p, type] : request.extra) {
    out.push_back('D');
    put(static_cast<char>('0' + static_cast<int>(type)), p);
  }
  return out;
}

Result<RepairRequest> DecodeRepairRequest(std::string_view bytes) {
  auto corrupt = [](std::string_view why) {
    return Status::Corruption(fmt::format("not a valid repair request: {}", why));
  };
  if (!bytes.starts_with(kHeader)) return corrupt("it does not start with GRREPAIR 1");
  bytes.remove_prefix(kHeader.size());
  const size_t eol = bytes.find('\n');
  if (eol == std::string_view::npos) return corrupt("no id");
  RepairRequest r;
  r.id = std::string(bytes.substr(0, eol));
  bytes.remove_prefix(eol + 1);
  while (!bytes.empty()) {
    const char kind = bytes.front();
    bytes.remove_prefix(1);
    EntryType type = EntryType::kOther;
    if (kind == 'D') {
      if (bytes.empty() || bytes.front() < '0' ||
          bytes.front() > '0' + static_cast<int>(EntryType::kOther))
        return corrupt("a destination-only path without its type");
      type = static_cast<EntryType>(bytes.front() - '0');
      bytes.remove_prefix(1);
    } else if (kind != 'S' && kind != 'M') {
      return corrupt(fmt::format("unknown record kind {}", static_cast<int>(kind)));
    }
    const size_t end = bytes.find('\0');
    if (end == std::string_view::npos) return corrupt("a record without its end");
    std::string path(bytes.substr(0, end));
    bytes.remove_prefix(end + 1);
    if (!IsDescribablePath(path))
      return corrupt(fmt::format("'{}' is not a relative path", path.substr(0, 200)));
    if (kind == 'S') {
      r.stale.push_back(std::move(path));
    } else if (kind == 'M') {
      r.missing.push_back(std::move(path));
    } else {
      r.extra.emplace_back(std::move(path), type);
    }
  }
  return r;
}

Status WriteRepairRequest(const std::string& state_dir, const RepairRequest& request) {
  const std::string path = PathOf(state_dir);
  const std::string tmp = path + ".tmp";
  const std::string data = EncodeRepairRequest(request);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("write", tmp);
  for (size_t off = 0; off < data.size();) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = Errno("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return failed;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status failed = Errno("sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return failed;
  }
  if (::close(fd) != 0) return Errno("write", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return Status::Ok();
}

Result<RepairRequest> ReadRepairRequest(const std::string& state_dir) {
  std::ifstream in(PathOf(state_dir), std::ios::binary);
  if (!in) return Status::NotFound("no repair request in " + state_dir);
  std::stringstream ss;
  ss << in.rdbuf();
  return DecodeRepairRequest(ss.str());
}

Status RemoveRepairRequest(const std::string& state_dir) {
  const std::string path = PathOf(state_dir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  return Status::Ok();
}

std::vector<IndexDelta> ApplyRepairRequest(const RepairRequest& request, SyncedIndex* index) {
  std::vector<IndexDelta> deltas;
  for (const std::string& path : request.stale) {
    auto it = index->find(path);
    if (it == index->end()) continue;  // not in the index: the pass sends it anyway
    it->second.mtime_ns = -1;
    deltas.push_back({path, it->second});
  }
  for (const std::string& path : request.missing) {
    if (index->erase(path) != 0) deltas.push_back({path, std::nullopt});
  }
  for (const auto& [path, type] : request.extra) {
    if (path == ".") continue;
    IndexEntry e;
    e.type = type;
    e.mtime_ns = -1;
    auto [it, inserted] = index->emplace(path, e);
    if (!inserted) it->second.mtime_ns = -1;
    deltas.push_back({path, it->second});
  }
  return deltas;
}

}  // namespace georep::replication
