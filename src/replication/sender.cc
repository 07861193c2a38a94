#include "replication/sender.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include "replication/content_hash.h"

namespace georep::replication {

TreeSender::TreeSender(UniqueFd root, FrameSink* sink, SenderOptions options)
    : root_(std::move(root)),
      sink_(sink),
      options_(options),
      encoder_(EncoderOptions{.compress = options.compress}) {
  options_.chunk_bytes = std::clamp<size_t>(options_.chunk_bytes, 4096, kMaxFileDataChunk);
}

Result<std::unique_ptr<TreeSender>> TreeSender::Open(const std::string& source_root,
                                                     FrameSink* sink, SenderOptions options) {
  int fd = ::open(source_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open source root", source_root);
  return std::unique_ptr<TreeSender>(new TreeSender(UniqueFd(fd), sink, options));
}

Status TreeSender::Emit(const Message& message) {
  GEOREP_RETURN_IF_ERROR(encoder_.Append(message, &buffer_));
  if (buffer_.size() >= options_.flush_bytes) return Flush();
  return Status::Ok();
}

Status TreeSender::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = sink_->Write(buffer_);
  buffer_.clear();
  return st;
}

Status TreeSender::SendHello(uint64_t capabilities, std::string_view software) {
  Hello h;
  h.capabilities = capabilities;
  h.software = std::string(software);
  GEOREP_RETURN_IF_ERROR(Emit(h));
  return Flush();
}

Status TreeSender::SendBarrier(bool durable) {
  GEOREP_RETURN_IF_ERROR(Emit(Barrier{NextSeq(), durable}));
  return Flush();
}

XattrNamespaces TreeSender::Namespaces() const {
  return {.privileged = options_.read_privileged_xattrs, .acls = (peer_ & kCapAcls) != 0};
}

void TreeSender::DropPrivileged(const std::string& path, std::vector<Xattr>* xattrs) {
  if ((peer_ & kCapPrivilegedXattrs) != 0) {
    dropped_.erase(path);
    return;
  }
  std::string names;
  std::erase_if(*xattrs, [&](const Xattr& x) {
    if (!IsPrivilegedXattr(x.name)) return false;
    names += names.empty() ? x.name : ", " + x.name;
    return true;
  });
  if (names.empty()) {
    dropped_.erase(path);
  } else {
    dropped_[path] = fmt::format("{} not replicated: the agent is not root", names);
  }
}

SetMeta TreeSender::MetaFor(const ScanEntry& e, bool with_mode, const std::vector<Xattr>* xattrs) {
  SetMeta m;
  m.path = e.path;
  m.fields = kMetaAtime | kMetaMtime;
  if (with_mode) {
    m.fields |= kMetaMode;
    m.mode = e.mode & 07777;
  }
  if (options_.send_owner) {
    m.fields |= kMetaOwner;
    m.uid = e.uid;
    m.gid = e.gid;
  }
  if (options_.send_xattrs) {
    m.fields |= kMetaXattrs;
    if (xattrs != nullptr) {
      m.xattrs = *xattrs;
    } else if (e.xattrs_read) {
      m.xattrs = e.xattrs;
    } else if (Status st = ReadXattrsBeneath(root_.get(), e.path, Namespaces(), &m.xattrs);
               !st.ok()) {
      // Sent without them (the destination's stay as they are), and reported -- a path gone
      // since the scan too: renamed away, it is the same file at its new path, whose entry
      // would otherwise carry these xattrs as sent (the pass looks at it again).
      m.fields &= ~kMetaXattrs;
      m.xattrs.clear();
      meta_errors_.push_back({e.path, std::move(st)});
    }
    if (m.fields & kMetaXattrs) DropPrivileged(e.path, &m.xattrs);
  }
  m.atime_ns = e.atime_ns;
  m.mtime_ns = e.mtime_ns;
  return m;
}

Status TreeSender::SendEntry(const ScanEntry& e, SendReport* report, const BlockSignature* basis,
                             BlockSignature* signature) {
  switch (e.type) {
    case EntryType::kDirectory:
      if (e.path == ".") return Status::Ok();  // the destination root exists
      ++report->directories;
      return Emit(Mkdir{NextSeq(), e.path, e.mode & 07777});
    case EntryType::kSymlink: {
      ++report->symlinks;
      GEOREP_RETURN_IF_ERROR(Emit(Symlink{NextSeq(), e.path, e.symlink_target}));
      SetMeta m = MetaFor(e, false);
      // Linux refuses user.* xattrs on symlinks, so a symlink never has any to send.
      if (m.xattrs.empty()) m.fields &= ~kMetaXattrs;
      m.seq = NextSeq();
      return Emit(m);
    }
    case EntryType::kRegular: {
      if (e.nlink > 1) {
        auto it = links_.find({e.dev, e.ino});
        if (it != links_.end()) {
          ++report->hardlinks;
          return Emit(Hardlink{NextSeq(), it->second, e.path});
        }
      }
      bool sent = false;
      std::optional<std::vector<Xattr>> xattrs;
      GEOREP_RETURN_IF_ERROR(SendFile(e, report, &sent, basis, signature, &xattrs));
      if (!sent) return Status::Ok();
      if (e.nlink > 1) links_.emplace(std::make_pair(e.dev, e.ino), e.path);
      SetMeta m = MetaFor(e, true, xattrs ? &*xattrs : nullptr);
      m.seq = NextSeq();
      return Emit(m);
    }
    case EntryType::kOther: {
      const bool device = S_ISCHR(e.mode) || S_ISBLK(e.mode);
      std::string why;
      if (S_ISSOCK(e.mode)) {
        why = "a Unix socket: meaningless without the process serving it";
      } else if (device && (peer_ & kCapDevices) == 0) {
        why = "a device node: the agent is not root";
      } else if (!device && (!S_ISFIFO(e.mode) || (peer_ & kCapSpecialFiles) == 0)) {
        why = fmt::format("mode {:o}: the agent's georep does not make such files", e.mode);
      }
      if (!why.empty()) {
        report->not_replicated.push_back(
            {e.path, Status::InvalidArgument(fmt::format("'{}' is {}", e.path, why))});
        return Status::Ok();
      }
      ++report->special_files;
      GEOREP_RETURN_IF_ERROR(
          Emit(MakeNode{NextSeq(), e.path, e.mode & (S_IFMT | 07777), device ? e.rdev : 0}));
      SetMeta m = MetaFor(e, true);
      m.seq = NextSeq();
      return Emit(m);
    }
  }
  return Status::Ok();
}

Status TreeSender::SendDirectoryMeta(const ScanEntry& directory) {
  SetMeta m = MetaFor(directory, true);
  m.seq = NextSeq();
  return Emit(m);
}

namespace {

// The keys of `m` at `path` or beneath it.
template <typename Map>
std::vector<typename Map::key_type> KeysAt(const Map& m, const std::string& path) {
  std::vector<typename Map::key_type> keys;
  for (auto it = m.lower_bound(path); it != m.end(); ++it) {
    if (it->first != path && !it->first.starts_with(path + "/")) {
      if (it->first > path + "/\xff") break;
      continue;
    }
    keys.push_back(it->first);
  }
  return keys;
}

}  // namespace

Status TreeSender::SendRename(const std::string& from, const std::string& to) {
  for (const std::string& k : KeysAt(dropped_, from)) {
    auto node = dropped_.extract(k);
    node.key() = to + k.substr(from.size());
    dropped_.insert(std::move(node));
  }
  return Emit(Rename{NextSeq(), from, to});
}

Status TreeSender::SendUnlink(const std::string& path) {
  dropped_.erase(path);
  return Emit(Unlink{NextSeq(), path});
}

Status TreeSender::SendRmdir(const std::string& path) {
  for (const std::string& k : KeysAt(dropped_, path)) dropped_.erase(k);
  return Emit(Rmdir{NextSeq(), path});
}

Status TreeSender::SendMeta(const ScanEntry& entry) {
  SetMeta m = MetaFor(entry, entry.type != EntryType::kSymlink);
  if (entry.type == EntryType::kSymlink && m.xattrs.empty()) m.fields &= ~kMetaXattrs;
  m.seq = NextSeq();
  return Emit(m);
}

Status TreeSender::SendTree(const std::vector<ScanEntry>& entries, SendReport* report) {
  for (const ScanEntry& e : entries) {
    GEOREP_RETURN_IF_ERROR(SendEntry(e, report));
  }
  for (const ScanEntry& e : entries) {
    if (e.type == EntryType::kDirectory) GEOREP_RETURN_IF_ERROR(SendDirectoryMeta(e));
  }
  return Flush();
}

Status TreeSender::SendFile(const ScanEntry& e, SendReport* report, bool* sent,
                            const BlockSignature* basis, BlockSignature* signature,
                            std::optional<std::vector<Xattr>>* xattrs) {
  *sent = false;
  if (signature != nullptr) *signature = BlockSignature{};
  auto skip = [&](Status why) {
    report->skipped.push_back({e.path, std::move(why)});
    return Status::Ok();
  };
  // O_NOATIME keeps the crawl from changing the source's atimes; it needs ownership (or root).
  Result<UniqueFd> opened = OpenBeneath(root_.get(), e.path, O_RDONLY | O_NOATIME);
  if (!opened.ok() && opened.status().code() == StatusCode::kPermissionDenied) {
    opened = OpenBeneath(root_.get(), e.path, O_RDONLY);
  }
  if (!opened.ok()) return skip(opened.status());
  UniqueFd fd = std::move(opened).value();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return skip(ErrnoStatus(errno, "cannot stat", e.path));
  if (!S_ISREG(st.st_mode) || st.st_ino != e.ino) {
    return skip(Status::NotFound(fmt::format("'{}' was replaced while being sent", e.path)));
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (options_.send_xattrs && !e.xattrs_read) {
    // Through the open file: cheaper than by path, and of the very inode being sent.
    std::vector<Xattr> read;
    if (Status x = ReadXattrsOfFd(fd.get(), e.path, Namespaces(), &read); x.ok()) {
      *xattrs = std::move(read);
    }  // else MetaFor tries by path, and reports
  }
  GEOREP_RETURN_IF_ERROR(Emit(FileBegin{NextSeq(), e.path, size, e.mode & 07777}));

  // A read failure after FileBegin: the applier drops the temporary file.
  auto abort = [&](Status why) -> Status {
    GEOREP_RETURN_IF_ERROR(Emit(FileAbort{NextSeq(), why.message()}));
    return skip(std::move(why));
  };
  ContentHasher hasher;
  const bool large = size >= kDeltaMinFileSize;
  std::optional<SignatureBuilder> builder;
  if (large && signature != nullptr) builder.emplace(size);
  if (large && basis != nullptr && block_delta_ && basis->block_size != 0) {
    // Block delta: copies of the destination's old version and literal data, in order.
    auto read = [&](uint64_t offset, char* buf, size_t max) -> ssize_t {
      for (;;) {
        ssize_t n = ::pread(fd.get(), buf, max, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        return n;
      }
    };
    SignatureBuilder next(size);
    uint64_t copied = 0;
    Status sink = Status::Ok();
    auto emit = [&](const DeltaOp& op) -> Status {
      if (op.copy) {
        copied += op.length;
        sink = Emit(BlockCopy{NextSeq(), op.offset, op.base_offset, op.length});
      } else {
        sink = Emit(FileData{NextSeq(), op.offset, std::string(op.literal)});
      }
      return sink;
    };
    Status st = ComputeDelta(read, size, *basis, options_.chunk_bytes, emit, &hasher, &next);
    if (!sink.ok()) return sink;  // the stream is gone
    if (!st.ok()) return abort(st.WithContext(fmt::format("'{}'", e.path)));
    ++report->files;
    ++report->delta_files;
    report->delta_copied_bytes += copied;
    report->file_bytes += size;
    if (signature != nullptr) *signature = next.Finish(e.mtime_ns);
    *sent = true;
    return Emit(FileEnd{NextSeq(), size, hasher.Finish()});
  }
  const bool source_copy = source_copy_ && size >= kSourceCopyMinBytes;
  bool holes = false;
  uint64_t pos = 0;  // everything before pos is hashed
  // As many blocks as bytes: no hole to look for (most files; saves two lseeks each).
  const bool dense = static_cast<uint64_t>(st.st_blocks) * 512 >= size;
  while (pos < size) {
    // Find the next data region; holes are not sent, the applier leaves them as holes.
    uint64_t data_start = pos;
    uint64_t data_end = size;
    if (!dense) {
      off_t data = ::lseek(fd.get(), static_cast<off_t>(pos), SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) {
          data_start = size;  // only a hole remains
        } else if (errno != EINVAL) {
          return abort(ErrnoStatus(errno, "cannot seek in", e.path));
        }  // EINVAL: the file system cannot tell; treat everything as data
      } else {
        data_start = std::min<uint64_t>(static_cast<uint64_t>(data), size);
        off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
        if (hole >= 0) data_end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
      }
    }
    if (data_start > pos) holes = true;
    hasher.UpdateZeros(data_start - pos);
    pos = data_start;
    if (source_copy && data_end > pos) {
      // The agent starts copying now, while this side reads the same bytes for the hash.
      GEOREP_RETURN_IF_ERROR(Emit(SourceCopy{NextSeq(), pos, data_end - pos}));
      GEOREP_RETURN_IF_ERROR(Flush());
    }
    while (pos < data_end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(options_.chunk_bytes, data_end - pos));
      chunk_.resize(want);
      ssize_t n = ::pread(fd.get(), chunk_.data(), want, static_cast<off_t>(pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        return abort(ErrnoStatus(errno, "cannot read", e.path));
      }
      if (n == 0) {  // the file shrank while being read: send what it has
        size = pos;
        break;
      }
      chunk_.resize(static_cast<size_t>(n));
      hasher.Update(chunk_);
      if (builder) builder->Update(chunk_);
      if (!source_copy) GEOREP_RETURN_IF_ERROR(Emit(FileData{NextSeq(), pos, chunk_}));
      pos += static_cast<uint64_t>(n);
    }
  }
  ++report->files;
  report->file_bytes += size;
  *sent = true;
  // A sparse file's holes are not hashed block by block: no signature (sent whole next time).
  if (builder && !holes && pos == size && signature != nullptr)
    *signature = builder->Finish(e.mtime_ns);
  return Emit(FileEnd{NextSeq(), size, hasher.Finish()});
}

}  // namespace georep::replication
