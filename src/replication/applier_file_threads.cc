// Whole small files written on ApplierOptions::file_threads (HandleAll): which files are
// taken, how they are grouped onto threads, what a thread does with one, and how their
// outcomes come back in stream order.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <type_traits>

#include "replication/applier.h"
#include "replication/applier_internal.h"

namespace georep::replication {
namespace applier_internal {

PathsOf::PathsOf(const Message& message) {
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hardlink>) {
          first = &m.existing_path;
          second = &m.new_path;
        } else if constexpr (std::is_same_v<T, Rename>) {
          first = &m.from;
          second = &m.to;
        } else if constexpr (std::is_same_v<T, Mkdir> || std::is_same_v<T, Symlink> ||
                             std::is_same_v<T, MakeNode> || std::is_same_v<T, Unlink> ||
                             std::is_same_v<T, Rmdir> || std::is_same_v<T, SetMeta> ||
                             std::is_same_v<T, FileBegin>) {
          first = &m.path;
        } else if constexpr (!std::is_same_v<T, FileData> && !std::is_same_v<T, FileEnd> &&
                             !std::is_same_v<T, FileAbort> && !std::is_same_v<T, BlockCopy> &&
                             !std::is_same_v<T, SourceCopy>) {
          other = true;
        }
      },
      message);
}

}  // namespace applier_internal

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

namespace {

// Files in flight on the file threads at most, and their bytes: what the applier holds
// beyond the read-ahead.
constexpr size_t kMaxFileJobs = 256;
constexpr uint64_t kMaxFileJobBytes = 16u << 20;
// Files go to a thread in groups: one hand-over costs about what writing a small file does.
constexpr size_t kFileGroupFiles = 16;
constexpr uint64_t kFileGroupBytes = 256u << 10;

}  // namespace

size_t Applier::StartFileJob(const std::vector<Message>& messages, size_t i) {
  const auto& begin = std::get<FileBegin>(messages[i]);
  if (!collecting_ || !handshake_done_ || stream_broken_ || file_ || skipping_file_ ||
      begin.seq <= applied_seq_ || !ValidateRelativePath(begin.path, false).ok()) {
    return 0;
  }
  // The whole file, in order, here: its data (no BlockCopy or SourceCopy), its FileEnd.
  uint64_t seq = begin.seq;
  uint64_t next = 0;
  uint64_t bytes = 0;
  size_t j = i + 1;
  for (; j < messages.size(); ++j) {
    const auto* data = std::get_if<FileData>(&messages[j]);
    if (data == nullptr) break;
    if (data->seq <= seq || data->offset < next || data->offset > kFileJobBytes) return 0;
    bytes += data->data.size();
    if (bytes > kFileJobBytes) return 0;
    seq = data->seq;
    next = data->offset + data->data.size();
  }
  const auto* end = j < messages.size() ? std::get_if<FileEnd>(&messages[j]) : nullptr;
  if (end == nullptr || end->seq <= seq || end->size > kFileJobBytes) return 0;
  const SetMeta* meta = j + 1 < messages.size() ? std::get_if<SetMeta>(&messages[j + 1]) : nullptr;
  if (meta != nullptr && (meta->path != begin.path || meta->seq <= end->seq)) meta = nullptr;

  // A file in flight at the same path (or above or below it) goes in first; so do the oldest,
  // past the bounds.
  if (TouchesFileJobs(begin.path)) FinishFileJobs();
  while (!jobs_.empty() &&
         (jobs_.size() >= kMaxFileJobs || job_bytes_ + bytes > kMaxFileJobBytes)) {
    FinishFileJobs(std::min(jobs_.size() - 1, kMaxFileJobs / 2));
  }
  // As HandleOne does before a FileBegin, the files in flight counted as staged.
  if (!staged_.empty() && staged_.size() + jobs_.size() >= kMaxStagedFiles) FinishFileJobs();
  PrepareFor(messages[i]);
  unwritten_.erase(begin.path);
  Result<Parent> parent = OpenParent(begin.path);
  if (!parent.ok()) return 0;  // HandleOne replies the failure

  auto job = std::make_unique<FileJob>();
  job->parent = std::move(parent).value();
  job->temp = NewTempName(job->parent.leaf);
  job->path = begin.path;
  job->mode = begin.mode & 07777;
  job->begin_seq = begin.seq;
  job->data.reserve(j - i - 1);
  for (size_t k = i + 1; k < j; ++k) job->data.push_back(std::get<FileData>(messages[k]));
  job->end = *end;
  if (meta != nullptr) job->meta = *meta;
  job->bytes = bytes;
  applied_seq_ = meta != nullptr ? meta->seq : end->seq;
  job_paths_.insert(job->path);
  job_bytes_ += bytes;
  // A group stays in one directory, and a directory on one thread while its files come in a
  // row: two threads creating files in one directory mostly wait for each other.
  const std::string_view dir = SplitParent(job->path).first;
  if (dir != lane_dir_) {
    StartFileGroup();
    lane_dir_ = std::string(dir);
    ++lane_;
  }
  forming_.push_back(job.get());
  forming_bytes_ += bytes;
  jobs_.push_back(std::move(job));
  if (forming_.size() >= kFileGroupFiles || forming_bytes_ >= kFileGroupBytes) StartFileGroup();
  return meta != nullptr ? j + 1 : j;
}

bool Applier::TouchesFileJobs(const std::string& path) const {
  if (job_paths_.empty()) return false;
  return path == "." || MeetsOneOf(job_paths_, path);  // all is beneath the root
}

bool Applier::NeedsFileJobs(const Message& message) const {
  // A Barrier: its Ack follows every reply of the batch. A file's data: of the file HandleOne
  // is writing, whose FileBegin was looked at. A directory's times: set after the files in it
  // are written (or renamed in).
  const PathsOf of(message);
  return of.other || of.Any([&](const std::string& path) { return TouchesFileJobs(path); });
}

void Applier::StartFileGroup() {
  if (forming_.empty()) return;
  file_queue_->Run(lane_, [this, group = std::exchange(forming_, {})] {
    for (FileJob* job : group) RunFileJob(*job);
    std::lock_guard<std::mutex> lock(jobs_mutex_);
    for (FileJob* job : group) job->done = true;
    job_done_.notify_all();  // under the lock: the applier may go once it is released
  });
  forming_bytes_ = 0;
}

void Applier::RunFileJob(FileJob& job) const {
  const int dir = job.parent.fd;
  auto fail = [&](uint64_t seq, ErrorCode code, Status st) {
    job.failed_seq = seq;
    job.code = code;
    job.status = std::move(st);
  };
  auto fail_errno = [&](uint64_t seq, int err, std::string_view what) {
    fail(seq, CodeForErrno(err), ErrnoStatus(err, what, job.path));
  };
  // Readable too, as DoFileBegin makes it.
  const int raw =
      ::openat(dir, job.temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) return fail_errno(job.begin_seq, errno, "cannot create temporary file for");
  UniqueFd fd(raw);
  // Removed on the way out, unless kept (in place, staged, or for the applier's thread).
  class TempFile {
   public:
    TempFile(int dir, const std::string& name, UniqueFd* fd) : dir_(dir), name_(name), fd_(fd) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
      if (kept_) return;
      fd_->Reset();
      ::unlinkat(dir_, name_.c_str(), 0);
    }
    void Keep() { kept_ = true; }

   private:
    int dir_;
    const std::string& name_;
    UniqueFd* fd_;
    bool kept_ = false;
  } temp(dir, job.temp, &fd);

  ContentHasher hasher;
  uint64_t next = 0;
  for (const FileData& d : job.data) {
    hasher.UpdateZeros(d.offset - next);  // a hole
    hasher.Update(d.data);
    if (const int err = WriteAt(calls_, fd.get(), d.data, d.offset, options_.durability);
        err != 0) {
      return fail_errno(d.seq, err, "cannot write");
    }
    next = d.offset + d.data.size();
  }
  const FileEnd& m = job.end;
  if (Status st = CloseNewFile(&fd, &hasher, next, false, job.mode, job.path, m,
                               job.meta ? &*job.meta : nullptr, &job.meta_status, &job.meta_code,
                               &job.code);
      !st.ok()) {
    job.failed_seq = m.seq;
    job.status = std::move(st);
    return;
  }
  if (options_.durability == Durability::kBatch) {
    job.staged = true;
    temp.Keep();
    return;
  }
  if (calls_->Renameat(dir, job.temp.c_str(), dir, job.parent.leaf.c_str()) != 0) {
    const int err = errno;
    if (err == ENOTEMPTY || err == EEXIST || err == EISDIR || err == ENOTDIR) {
      job.in_the_way = true;
      temp.Keep();
      return;
    }
    return fail_errno(m.seq, err, "cannot rename into place");
  }
  temp.Keep();  // it is in place
  if (options_.durability == Durability::kFileAndDirectory && calls_->Fsync(dir) != 0) {
    return fail_errno(m.seq, errno, "cannot fsync directory of");
  }
}

void Applier::FinishFileJobs(size_t keep) {
  if (jobs_.size() > keep) StartFileGroup();
  while (jobs_.size() > keep) {
    {
      std::unique_lock<std::mutex> lock(jobs_mutex_);
      job_done_.wait(lock, [&] { return jobs_.front()->done; });
    }
    const std::unique_ptr<FileJob> job = std::move(jobs_.front());
    jobs_.pop_front();
    job_paths_.erase(job->path);
    job_bytes_ -= job->bytes;
    Status st = job->status;
    ErrorCode code = job->code;
    uint64_t failed_seq = job->failed_seq;
    if (st.ok() && job->in_the_way) {
      st = RenameReplacing(job->parent.fd, job->temp, job->parent.fd, job->parent.leaf, job->path);
      if (!st.ok()) {
        ::unlinkat(job->parent.fd, job->temp.c_str(), 0);
      } else {
        st = SyncDirectory(job->parent.fd, job->path);
      }
      code = last_error_code_;
      failed_seq = job->end.seq;
    }
    if (!st.ok()) {
      // The file stays as it was, its metadata too (as HandleFileEndWithMeta says); its
      // SetMeta still takes its turn, as on one thread -- taken with the file, or, when the
      // file's FileEnd ended what HandleAll had, the next message, which leaves it be too (the
      // file is the last of the files in flight: nothing else comes in between).
      NoteUnwritten(job->path);
      Emit(Error{failed_seq, code, st.ToString()});
      if (job->meta) {
        const Message meta(*job->meta);
        PrepareFor(meta);
        meta_skip_path_ = job->path;
        if (Status m = DoSetMeta(*job->meta); !m.ok()) {
          Emit(Error{job->meta->seq, last_error_code_, m.ToString()});
        }
      } else {
        meta_skip_path_ = job->path;
      }
      continue;
    }
    if (job->staged) {
      Stage(job->parent, job->temp, job->path, job->meta ? job->meta->seq : job->end.seq);
    }
    if (!job->meta_status.ok())
      Emit(Error{job->meta->seq, job->meta_code, job->meta_status.ToString()});
  }
}

}  // namespace georep::replication
