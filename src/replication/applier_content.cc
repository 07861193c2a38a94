// File contents on the applier's own thread: FileBegin's temporary file, FileData written and
// hashed, BlockCopy and SourceCopy copied in the kernel where it can, and FileEnd's checks of
// size and hash before the file is synced and renamed into place (or staged, kBatch).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "replication/applier.h"
#include "replication/applier_internal.h"

namespace georep::replication {
namespace applier_internal {

// FileData of at least this size starts its writeback at once (unless durability is none).
constexpr size_t kWritebackBytes = 256u << 10;

int WriteAt(FileSystemCalls* calls, int fd, std::string_view bytes, uint64_t offset,
            Durability durability) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = calls->Pwrite(fd, bytes.data() + done, bytes.size() - done,
                                    static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<size_t>(n);
  }
  if (durability != Durability::kNone && bytes.size() >= kWritebackBytes) {
    (void)::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(bytes.size()),
                            SYNC_FILE_RANGE_WRITE);
  }
  return 0;
}

}  // namespace applier_internal

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

namespace {

// Feeds the `n` bytes at `offset` of `fd` to `hasher`: through a read-only mapping (no copy;
// `fd` is the applier's own temporary file, which nothing else truncates while it is mapped),
// or with reads into `buffer` where mapping fails.
Status HashFileBytes(int fd, uint64_t offset, size_t n, ContentHasher* hasher,
                     std::string* buffer) {
  static const auto kPage = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset - offset % kPage;
  const size_t span = static_cast<size_t>(offset - start) + n;
  void* mapped =
      ::mmap(nullptr, span, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(start));
  if (mapped != MAP_FAILED) {
    hasher->Update(std::string_view(static_cast<const char*>(mapped) + (offset - start), n));
    ::munmap(mapped, span);
    return Status::Ok();
  }
  for (size_t done = 0; done < n;) {
    const size_t want = std::min(buffer->size(), n - done);
    ssize_t got = ::pread(fd, buffer->data(), want, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return ErrnoStatus(got < 0 ? errno : EIO, "cannot read back", "a copied file");
    hasher->Update(std::string_view(buffer->data(), static_cast<size_t>(got)));
    done += static_cast<size_t>(got);
  }
  return Status::Ok();
}

}  // namespace

Status Applier::DoFileBegin(const FileBegin& m) {
  // Until FileEnd/FileAbort, the data of a file that cannot be written is skipped; its
  // failure is reported once, here.
  skipping_file_ = true;
  transfer_path_ = m.path;
  GEOREP_VALIDATE_PATH(m.path, false);
  unwritten_.erase(m.path);
  GEOREP_ASSIGN_OR_RETURN(Parent p, OpenParent(m.path));
  std::string temp = NewTempName(p.leaf);
  // Readable too: bytes copied in the kernel are hashed from it (CopyIntoFile).
  int fd = ::openat(p.fd, temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return FailErrno(errno, "cannot create temporary file for", m.path);
  file_ = std::make_unique<OpenFile>();
  file_->begin_seq = m.seq;
  file_->path = m.path;
  file_->parent = std::move(p);
  file_->temp_name = std::move(temp);
  file_->fd = UniqueFd(fd);
  file_->mode = m.mode & 07777;
  skipping_file_ = false;
  return Status::Ok();
}

Status Applier::WriteFileBytes(std::string_view bytes, uint64_t offset) {
  if (const int err = WriteAt(calls_, file_->fd.get(), bytes, offset, options_.durability);
      err != 0) {
    return FailErrno(err, "cannot write", file_->path);
  }
  return Status::Ok();
}

Status Applier::CopyIntoFile(int from, uint64_t from_offset, uint64_t offset, uint64_t length,
                             std::string_view what, ErrorCode short_code,
                             std::string_view short_read) {
  OpenFile& f = *file_;
  std::string& buffer = copy_buffer_;
  buffer.resize(static_cast<size_t>(std::min<uint64_t>(length, 1u << 20)));
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = 0;
    if (copy_in_kernel_) {
      auto in_off = static_cast<off_t>(from_offset + done);
      auto out_off = static_cast<off_t>(offset + done);
      n = calls_->CopyFileRange(from, &in_off, f.fd.get(), &out_off,
                                static_cast<size_t>(std::min<uint64_t>(length - done, 8u << 20)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS ||
                    errno == EBADF)) {
        copy_in_kernel_ = false;  // not between these files here: read and write instead
        continue;
      }
      if (n > 0) {
        // Hashed where it landed: what the file now holds is what FileEnd verifies.
        if (Status h = HashFileBytes(f.fd.get(), offset + done, static_cast<size_t>(n), &f.hasher,
                                     &buffer);
            !h.ok()) {
          AbandonFile();
          skipping_file_ = true;
          return Fail(ErrorCode::kIO, std::move(h));
        }
        if (options_.durability != Durability::kNone) {
          (void)::sync_file_range(f.fd.get(), static_cast<off_t>(offset + done), n,
                                  SYNC_FILE_RANGE_WRITE);
        }
        done += static_cast<uint64_t>(n);
        continue;
      }
    } else {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
      n = ::pread(from, buffer.data(), want, static_cast<off_t>(from_offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        const std::string_view bytes(buffer.data(), static_cast<size_t>(n));
        f.hasher.Update(bytes);
        if (Status w = WriteFileBytes(bytes, offset + done); !w.ok()) {
          AbandonFile();
          skipping_file_ = true;
          return w;
        }
        done += static_cast<uint64_t>(n);
        continue;
      }
    }
    // Nothing copied: a failure, or `from` ended before the range did.
    const int err = errno;
    const std::string path = f.path;
    AbandonFile();
    skipping_file_ = true;
    if (n < 0) {
      return FailErrno(err,
                       copy_in_kernel_ ? fmt::format("cannot copy {} into", what)
                                       : fmt::format("cannot read {}", what),
                       path);
    }
    return Fail(short_code, Status::Corruption(std::string(short_read)));
  }
  f.next_offset = offset + length;
  return Status::Ok();
}

Status Applier::DoFileData(const FileData& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("FileData without FileBegin");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("FileData for '{}' at offset {} overlaps data up to {}", f.path,
                                   m.offset, f.next_offset));
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  f.hasher.Update(m.data);
  if (Status w = WriteFileBytes(m.data, m.offset); !w.ok()) {
    AbandonFile();
    skipping_file_ = true;
    return w;
  }
  f.next_offset = m.offset + m.data.size();
  return Status::Ok();
}

Status Applier::DoBlockCopy(const BlockCopy& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("BlockCopy without FileBegin");
  if ((options_.capabilities & kCapBlockDelta) == 0)
    return BreakStream("BlockCopy without the block-delta capability");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("BlockCopy for '{}' at offset {} overlaps data up to {}", f.path,
                                   m.offset, f.next_offset));
  }
  if (!f.basis.valid()) {
    int fd = ::openat(f.parent.fd, f.parent.leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(fd);
      fd = -1;
      errno = ENOENT;
    }
    if (fd < 0) {
      const int err = errno;
      const std::string path = f.path;
      AbandonFile();
      skipping_file_ = true;
      return Fail(ErrorCode::kNotFound,
                  ErrnoStatus(err, "no earlier version to copy blocks from at", path));
    }
    f.basis = UniqueFd(fd);
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  return CopyIntoFile(
      f.basis.get(), m.base_offset, m.offset, m.length, "the earlier version of",
      ErrorCode::kHashMismatch,
      fmt::format("the earlier version of '{}' at the destination is shorter than the worker "
                  "knew it; the file was left unchanged",
                  f.path));
}

Status Applier::DoSourceCopy(const SourceCopy& m) {
  if (skipping_file_) return Status::Ok();
  if (!file_) return BreakStream("SourceCopy without FileBegin");
  if ((options_.capabilities & kCapSourceCopy) == 0 || !source_root_.valid())
    return BreakStream("SourceCopy without the source-copy capability");
  OpenFile& f = *file_;
  if (m.offset < f.next_offset) {
    return BreakStream(fmt::format("SourceCopy for '{}' at offset {} overlaps data up to {}",
                                   f.path, m.offset, f.next_offset));
  }
  f.source_copied = true;
  if (!f.source.valid()) {
    Result<UniqueFd> opened = OpenBeneath(source_root_.get(), f.path, O_RDONLY);
    struct stat st {};
    int err = opened.ok() ? 0 : ENOENT;
    if (opened.ok() && (::fstat(opened->get(), &st) != 0 || !S_ISREG(st.st_mode))) err = ENOENT;
    if (err != 0) {
      const std::string path = f.path;
      AbandonFile();
      skipping_file_ = true;
      return Fail(
          ErrorCode::kSourceChanged,
          Status::NotFound(fmt::format(
              "'{}' is no longer a file at the source; the file was left unchanged", path)));
    }
    f.source = std::move(*opened);
  }
  f.hasher.UpdateZeros(m.offset - f.next_offset);  // a hole
  return CopyIntoFile(f.source.get(), m.offset, m.offset, m.length, "the source file",
                      ErrorCode::kSourceChanged,
                      fmt::format("'{}' shrank at the source while being copied; the file was "
                                  "left unchanged",
                                  f.path));
}

Status Applier::CloseNewFile(UniqueFd* fd, ContentHasher* hasher, uint64_t received,
                             bool source_copied, uint32_t mode, const std::string& path,
                             const FileEnd& m, const SetMeta* meta, Status* meta_status,
                             ErrorCode* meta_code, ErrorCode* code) const {
  auto fail = [&](ErrorCode c, Status st) {
    *code = c;
    return st;
  };
  auto fail_errno = [&](int err, std::string_view what) {
    return fail(CodeForErrno(err), ErrnoStatus(err, what, path));
  };
  if (m.size < received) {
    return fail(ErrorCode::kHashMismatch,
                Status::Corruption(fmt::format(
                    "FileEnd for '{}' gives size {} but {} bytes were received; the file was "
                    "left unchanged",
                    path, m.size, received)));
  }
  hasher->UpdateZeros(m.size - received);
  const Hash128 got = hasher->Finish();
  if (!(got == m.hash) && source_copied) {
    // The agent read the source at another moment than the worker did.
    return fail(
        ErrorCode::kSourceChanged,
        Status::Corruption(fmt::format(
            "'{}' changed at the source while being copied; the file was left unchanged", path)));
  }
  if (!(got == m.hash)) {
    return fail(ErrorCode::kHashMismatch,
                Status::Corruption(fmt::format(
                    "content hash mismatch for '{}' (sent {}, received {}); the file was left "
                    "unchanged",
                    path, m.hash.ToHex(), got.ToHex())));
  }
  // The temporary file is new: it already has the size of the data written, unless the file
  // ends in a hole.
  if (m.size != received && calls_->Ftruncate(fd->get(), static_cast<off_t>(m.size)) != 0) {
    return fail_errno(errno, "cannot set the size of");
  }
  if (meta != nullptr) {
    // A metadata failure is the SetMeta's own; the content still goes into place.
    *meta_status = SetMetaOnNewFile(fd->get(), mode, *meta, meta_code);
  } else if (::fchmod(fd->get(), mode) != 0) {
    return fail_errno(errno, "cannot change mode of");
  }
  if ((options_.durability == Durability::kFile ||
       options_.durability == Durability::kFileAndDirectory) &&
      calls_->Fsync(fd->get()) != 0) {
    return fail_errno(errno, "cannot fsync");
  }
  // close() can report a deferred write error (NFS and the like).
  if (::close(fd->Release()) != 0) return fail_errno(errno, "cannot close");
  return Status::Ok();
}

Status Applier::DoFileEnd(const FileEnd& m, const SetMeta* meta, Status* meta_status) {
  if (skipping_file_) {
    skipping_file_ = false;
    return Status::Ok();
  }
  if (!file_) return BreakStream("FileEnd without FileBegin");
  OpenFile& f = *file_;
  std::string path = f.path;
  ErrorCode code = ErrorCode::kOther;
  if (Status st = CloseNewFile(&f.fd, &f.hasher, f.next_offset, f.source_copied, f.mode, path, m,
                               meta, meta_status, &meta_error_code_, &code);
      !st.ok()) {
    AbandonFile();
    return Fail(code, std::move(st));
  }
  if (options_.durability == Durability::kBatch) {
    Stage(f.parent, f.temp_name, path, meta != nullptr ? meta->seq : m.seq);
    file_.reset();
    return Status::Ok();
  }
  Status st = RenameReplacing(f.parent.fd, f.temp_name, f.parent.fd, f.parent.leaf, path);
  if (!st.ok()) {
    AbandonFile();
    return st;
  }
  st = SyncDirectory(f.parent.fd, path);
  file_.reset();
  return st;
}

}  // namespace georep::replication
