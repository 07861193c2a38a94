#include "replication/change_watcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "base/log.h"
#include "replication/scanner.h"

namespace georep::replication {
namespace {

std::string Join(const std::string& dir, std::string_view name) {
  return dir == "." ? std::string(name) : dir + "/" + std::string(name);
}

std::string Errno(int err) {
  return std::strerror(err);
}

// A file handle as a hash key: its type, then its bytes.
std::string HandleKey(int type, const unsigned char* bytes, unsigned size) {
  std::string key(sizeof type + size, '\0');
  std::memcpy(key.data(), &type, sizeof type);
  std::memcpy(key.data() + sizeof type, bytes, size);
  return key;
}

// struct file_handle with room for the largest handle.
struct HandleBuffer {
  alignas(file_handle) unsigned char bytes[sizeof(file_handle) + MAX_HANDLE_SZ] = {};
  file_handle* get() { return reinterpret_cast<file_handle*>(bytes); }
};

// Outside-the-source handles remembered at most (the mark sees the whole file system).
constexpr size_t kMaxOutside = 4096;

// An entry of an unwatched directory changed this recently when it was listed is looked at
// again at the next listing: a change within the same tick of the file system's clock
// would leave the same ctime.
constexpr int64_t kHotNs = 1'000'000'000;

std::string ParentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// A number from /proc/sys, -1 when it cannot be read.
int64_t ReadProcNumber(const char* path) {
  std::ifstream in(path);
  int64_t v = -1;
  if (!(in >> v)) return -1;
  return v;
}

std::string Limit(int64_t v) {
  return v < 0 ? std::string("unknown") : std::to_string(v);
}

class SystemKernel final : public CaptureKernel {
 public:
  int InotifyInit(int flags) override { return ::inotify_init1(flags); }
  int InotifyAddWatch(int fd, const char* path, uint32_t mask) override {
    return ::inotify_add_watch(fd, path, mask);
  }
  int FanotifyInit(unsigned flags, unsigned event_f_flags) override {
    return ::fanotify_init(flags, event_f_flags);
  }
  CaptureLimits Limits() override {
    CaptureLimits l;
    l.max_user_watches = ReadProcNumber("/proc/sys/fs/inotify/max_user_watches");
    l.ns_max_watches = ReadProcNumber("/proc/sys/user/max_inotify_watches");
    l.max_user_instances = ReadProcNumber("/proc/sys/fs/inotify/max_user_instances");
    l.fanotify_max_user_groups = ReadProcNumber("/proc/sys/fs/fanotify/max_user_groups");
    l.fanotify_max_user_marks = ReadProcNumber("/proc/sys/fs/fanotify/max_user_marks");
    return l;
  }
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CaptureKernel& SystemCaptureKernel() {
  static SystemKernel kernel;
  return kernel;
}

int64_t CaptureLimits::watches() const {
  if (max_user_watches < 0) return ns_max_watches;
  if (ns_max_watches < 0) return max_user_watches;
  return std::min(max_user_watches, ns_max_watches);
}

const std::map<std::string, int>& ChangeWatcher::unwatched() const {
  static const std::map<std::string, int> kNone;
  return kNone;
}

std::string ExplainWatchError(int err, const CaptureLimits& limits, int64_t max_watches) {
  switch (err) {
    case ENOSPC: {
      if (max_watches > 0 && (limits.watches() < 0 || max_watches < limits.watches()))
        return "this worker's cap of " + std::to_string(max_watches) +
               " inotify watches is reached";
      std::string limit = "fs.inotify.max_user_watches=" + Limit(limits.max_user_watches);
      if (limits.ns_max_watches >= 0 && limits.ns_max_watches < limits.max_user_watches)
        limit += ", user.max_inotify_watches=" + Limit(limits.ns_max_watches) +
                 " in this user namespace";
      return "the inotify watch limit is reached (" + limit +
             ", shared by all of this user's processes): raise it with sysctl -w "
             "fs.inotify.max_user_watches=N (and in /etc/sysctl.d/ to keep it)";
    }
    case ENOMEM:
      return "the kernel could not allocate an inotify watch (out of memory)";
    case EACCES:
    case EPERM:
      return "the worker may not read this directory (" + Errno(err) + ")";
    default:
      return "inotify_add_watch: " + Errno(err);
  }
}

std::string_view ChangeCaptureName(ChangeCapture mode) {
  switch (mode) {
    case ChangeCapture::kAuto:
      return "auto";
    case ChangeCapture::kFanotify:
      return "fanotify";
    case ChangeCapture::kInotify:
      return "inotify";
  }
  return "auto";
}

Result<ChangeCapture> ParseChangeCapture(std::string_view name) {
  for (ChangeCapture m : {ChangeCapture::kAuto, ChangeCapture::kFanotify, ChangeCapture::kInotify})
    if (ChangeCaptureName(m) == name) return m;
  return Status::InvalidArgument("change capture must be auto, fanotify or inotify, not '" +
                                 std::string(name) + "'");
}

// ------------------------------------------------------------------ inotify

InotifyWatcher::InotifyWatcher(std::string source, ChangeWatcherOptions options)
    : source_(std::move(source)),
      options_(options),
      kernel_(options.kernel ? options.kernel : &SystemCaptureKernel()) {}

Status InotifyWatcher::Start() {
  limits_ = kernel_->Limits();
  int root = ::open(source_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ErrnoStatus(errno, "cannot open the source", source_);
  root_ = UniqueFd(root);
  int fd = kernel_->InotifyInit(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == EMFILE)
      return Status::IOError("inotify_init: " + Errno(e) +
                             " (inotify instances exhausted: fs.inotify.max_user_instances=" +
                             Limit(limits_.max_user_instances) +
                             ", in use by this user's other processes, or the worker's open "
                             "files at their limit)");
    return Status::IOError("inotify: " + Errno(e));
  }
  fd_ = UniqueFd(fd);
  WatchTree(".");
  return Status::Ok();
}

int InotifyWatcher::AddWatch(const std::string& rel) {
  // IN_DONT_FOLLOW: a directory replaced by a symlink is not watched through it.
  constexpr uint32_t kMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM |
                             IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_ONLYDIR |
                             IN_DONT_FOLLOW;
  const std::string path = rel == "." ? source_ : source_ + "/" + rel;
  const int wd = kernel_->InotifyAddWatch(fd_.get(), path.c_str(), kMask);
  if (wd < 0) return -1;
  // Over the cap: a new watch is given back (a directory watched already costs nothing).
  if (options_.max_watches > 0 && !watches_.count(wd) &&
      static_cast<int64_t>(watches_.size()) >= options_.max_watches) {
    ::inotify_rm_watch(fd_.get(), wd);
    errno = ENOSPC;
    return -1;
  }
  watches_[wd] = rel;
  watched_[rel] = wd;
  return wd;
}

bool InotifyWatcher::Watched(const std::string& rel) const {
  auto it = watched_.find(rel);
  if (it == watched_.end()) return false;
  auto w = watches_.find(it->second);
  return w != watches_.end() && w->second == rel;
}

void InotifyWatcher::WatchTree(const std::string& rel) {
  ScanOptions options;
  options.read_xattrs = false;
  auto scanned = ScanTreeToVector(rel == "." ? source_ : source_ + "/" + rel, options);
  if (!scanned.ok()) return;  // gone already: its parent's event covers it
  std::vector<std::string> failed;
  for (const auto& e : scanned->entries) {
    if (e.type != EntryType::kDirectory) continue;
    std::string p = e.path == "." ? rel : Join(rel, e.path);
    if (AddWatch(p) >= 0) {
      unwatched_.erase(p);
      listed_.erase(p);
      continue;
    }
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) continue;  // gone or replaced: its event says so
    unwatched_[p] = err;
    failed.push_back(std::move(p));
  }
  if (failed.empty()) return;
  // What the unwatched directories hold, as the scan (made before their watches were tried)
  // saw it: the first rescan names whatever changed since.
  std::set<std::string> blind(failed.begin(), failed.end());
  for (const auto& e : scanned->entries) {
    if (e.path == ".") continue;
    std::string p = Join(rel, e.path);
    const std::string dir = ParentOf(p);
    if (!blind.count(dir)) continue;
    listed_[dir][p.substr(dir == "." ? 0 : dir.size() + 1)] = {e.ino, e.ctime_ns,
                                                               e.type == EntryType::kDirectory};
  }
  for (const auto& dir : failed) listed_.try_emplace(dir);
}

Result<InotifyWatcher::Listing> InotifyWatcher::List(const std::string& rel,
                                                     int64_t hot_after_ns) const {
  GEOREP_ASSIGN_OR_RETURN(UniqueFd fd,
                          OpenBeneath(root_.get(), rel == "." ? "" : rel, O_RDONLY | O_DIRECTORY));
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) return ErrnoStatus(errno, "cannot list", rel);
  fd.Release();  // the DIR owns it now
  Listing out;
  while (dirent* d = ::readdir(dir)) {
    const std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone
    const int64_t ctime = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
    out[std::string(name)] = {st.st_ino, ctime >= hot_after_ns ? 0 : ctime, S_ISDIR(st.st_mode)};
  }
  ::closedir(dir);
  return out;
}

Status InotifyWatcher::RescanUnwatched(ChangeSet* changes) {
  const int64_t hot_after = NowNs() - kHotNs;
  std::vector<std::string> new_dirs;
  const std::vector<std::string> dirs = [&] {
    std::vector<std::string> v;
    for (const auto& [dir, err] : unwatched_) v.push_back(dir);
    return v;
  }();
  for (const std::string& dir : dirs) {
    // The watch first: what changes after the listing below is an event.
    const bool watched = AddWatch(dir) >= 0;
    const int err = errno;
    if (!watched && (err == ENOENT || err == ENOTDIR)) {
      // Gone or replaced: its parent names it (by an event or its own listing).
      unwatched_.erase(dir);
      listed_.erase(dir);
      continue;
    }
    if (!watched) unwatched_[dir] = err;
    auto now = List(dir, hot_after);
    if (!now.ok()) {
      if (now.status().code() == StatusCode::kNotFound || watched) {
        unwatched_.erase(dir);
        listed_.erase(dir);
      }
      continue;  // unreadable: the pass reports it
    }
    Listing& before = listed_[dir];
    auto name_changed = [&](const std::string& name) {
      std::string p = Join(dir, name);
      changes->entries.insert(p);
      changes->changed = true;
      return p;
    };
    for (const auto& [name, seen] : *now) {
      auto was = before.find(name);
      const bool is_new = was == before.end() || was->second.ino != seen.ino;
      if (is_new || was->second.ctime_ns != seen.ctime_ns || seen.ctime_ns == 0) {
        const std::string p = name_changed(name);
        if (seen.dir && is_new) changes->subtrees.insert(p);
        // Looked at again because it changed too recently: its content may have changed
        // with size and mtime as before.
        if (!seen.dir && !is_new && (seen.ctime_ns == 0 || was->second.ctime_ns == 0))
          changes->written.insert(p);
      }
      if (seen.dir) {
        const std::string p = Join(dir, name);
        if (!Watched(p) && !unwatched_.count(p)) new_dirs.push_back(p);
      }
    }
    for (const auto& [name, seen] : before)
      if (!now->count(name)) name_changed(name);
    if (watched) {
      unwatched_.erase(dir);
      listed_.erase(dir);
    } else {
      before = std::move(*now);
    }
  }
  // Directories that appeared where nothing watched: watched now, or unwatched in turn.
  for (const auto& p : new_dirs)
    if (!Watched(p) && !unwatched_.count(p)) WatchTree(p);
  return Status::Ok();
}

std::string InotifyWatcher::Needs() const {
  return "directories=" + std::to_string(watches_.size() + unwatched_.size()) +
         " watches=" + std::to_string(watches_.size()) +
         " unwatched=" + std::to_string(unwatched_.size()) +
         " max_user_watches=" + Limit(limits_.max_user_watches) +
         (limits_.ns_max_watches >= 0 && limits_.ns_max_watches < limits_.max_user_watches
              ? " ns_max_watches=" + Limit(limits_.ns_max_watches)
              : std::string()) +
         (options_.max_watches > 0 ? " watch_cap=" + std::to_string(options_.max_watches)
                                   : std::string()) +
         " max_user_instances=" + Limit(limits_.max_user_instances);
}

std::string InotifyWatcher::GapReason() const {
  if (unwatched_.empty()) return "";
  // The most common cause speaks for all of them.
  std::map<int, size_t> by_error;
  for (const auto& [dir, err] : unwatched_) ++by_error[err];
  const int err = std::max_element(by_error.begin(), by_error.end(), [](auto& a, auto& b) {
                    return a.second < b.second;
                  })->first;
  std::string first;
  for (const auto& [dir, e] : unwatched_)
    if (e == err) {
      first = dir;
      break;
    }
  const size_t total = watches_.size() + unwatched_.size();
  return std::to_string(unwatched_.size()) + " of " + std::to_string(total) +
         " directories have no inotify watch (" + first +
         (unwatched_.size() > 1 ? " and others" : "") + ": " +
         ExplainWatchError(err, limits_, options_.max_watches) +
         (err == ENOSPC ? ", to more than " + std::to_string(total) : std::string()) +
         "): changes there are found by a rescan every few seconds, not as they happen, until "
         "a watch succeeds";
}

Status InotifyWatcher::Drain(ChangeSet* changes) {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Ok();
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        changes->overflow = true;
        continue;
      }
      auto w = watches_.find(ev->wd);
      if (w == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        if (auto r = watched_.find(w->second); r != watched_.end() && r->second == ev->wd)
          watched_.erase(r);
        watches_.erase(w);
        continue;
      }
      const std::string dir = w->second;  // WatchTree below may change the map
      changes->changed = true;
      // The name is empty for an event on the watched directory itself.
      const std::string entry = ev->len > 0 && ev->name[0] != '\0' ? Join(dir, ev->name) : dir;
      changes->entries.insert(entry);
      if (entry == dir) continue;
      // Written to: sent again even if size and mtime look the same (two writes within one
      // tick of the file system's clock leave the same mtime).
      if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) changes->written.insert(entry);
      if (ev->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM)) {
        changes->unclosed.erase(entry);
      } else if ((ev->mask & (IN_CREATE | IN_MODIFY)) && !(ev->mask & IN_ISDIR)) {
        changes->unclosed.insert(entry);
      }
      if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && (ev->mask & IN_ISDIR)) {
        changes->subtrees.insert(entry);
        WatchTree(entry);
      }
    }
  }
}

// ------------------------------------------------------------------ fanotify

FanotifyWatcher::FanotifyWatcher(std::string source, ChangeWatcherOptions options)
    : source_(std::move(source)),
      kernel_(options.kernel ? options.kernel : &SystemCaptureKernel()) {}

std::string FanotifyWatcher::Needs() const {
  return "directories=" + std::to_string(directories_) +
         " groups=1 marks=1 queue=unlimited max_user_groups=" +
         Limit(limits_.fanotify_max_user_groups) +
         " max_user_marks=" + Limit(limits_.fanotify_max_user_marks);
}

Status FanotifyWatcher::Start() {
  limits_ = kernel_->Limits();
  int root = ::open(source_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return ErrnoStatus(errno, "cannot open the source", source_);
  root_ = UniqueFd(root);
  // FAN_UNLIMITED_QUEUE: no event is ever lost to a full queue. The worker drains the queue
  // between passes and at every commit inside one, so it holds at most a batch's events.
  int fd = kernel_->FanotifyInit(
      FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE,
      O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == EPERM)
      return Status::FailedPrecondition(
          "fanotify_init: not permitted (a filesystem mark needs CAP_SYS_ADMIN: run the worker "
          "as root)");
    if (e == EINVAL || e == ENOSYS)
      return Status::FailedPrecondition("fanotify_init: " + Errno(e) +
                                        " (FAN_REPORT_DFID_NAME needs Linux 5.9 or later)");
    // Out of something: the user's fanotify groups (EMFILE; this worker has only a few files
    // open), the system's open files or kernel memory.
    if (e == EMFILE)
      return Status::Unavailable(
          "fanotify_init: " + Errno(e) + ": fanotify groups exhausted: " +
          "fs.fanotify.max_user_groups=" + Limit(limits_.fanotify_max_user_groups) +
          ", in use by other processes of this user (or the worker's open files at their "
          "limit)");
    if (e == ENFILE || e == ENOMEM)
      return Status::Unavailable(
          "fanotify_init: " + Errno(e) +
          (e == ENOMEM ? " (kernel memory for a fanotify group)" : " (the system's open files)"));
    return Status::IOError("fanotify_init: " + Errno(e));
  }
  fd_ = UniqueFd(fd);
  // Events on a file come with its directory and name; events on a directory itself
  // (FAN_ONDIR: attributes, removal) with that directory and the name ".".
  constexpr uint64_t kMask = FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY |
                             FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_DELETE_SELF | FAN_ONDIR;
  if (::fanotify_mark(fd_.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, kMask, root_.get(), nullptr) !=
      0) {
    const int e = errno;
    if (e == EXDEV || e == EOPNOTSUPP || e == ENODEV || e == EINVAL)
      return Status::FailedPrecondition("fanotify_mark on " + source_ + ": " + Errno(e) +
                                        " (its file system does not report file handles to "
                                        "fanotify)");
    return Status::IOError("fanotify_mark on " + source_ + ": " + Errno(e));
  }
  if (!FindRoot()) return Status::IOError("cannot tell where " + source_ + " is: " + Errno(errno));

  // Marked: now the directories there are, seeded into the cache. Whatever changes from
  // here on is queued, so nothing is missed between the mark and this crawl.
  ScanOptions options;
  options.read_xattrs = false;
  GEOREP_ASSIGN_OR_RETURN(ScanResult scanned, ScanTreeToVector(source_, options));
  const uint64_t dev = scanned.entries.empty() ? 0 : scanned.entries.front().dev;
  for (const auto& e : scanned.entries) {
    if (e.dev != dev)
      return Status::FailedPrecondition(
          source_ + " spans more than one file system (" + e.path +
          " is on another): one fanotify filesystem mark cannot see all of it");
    if (e.type != EntryType::kDirectory) continue;
    HandleBuffer h;
    h.get()->handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    const bool self = e.path == ".";
    if (::name_to_handle_at(root_.get(), self ? "" : e.path.c_str(), h.get(), &mount_id,
                            self ? AT_EMPTY_PATH : 0) != 0)
      continue;  // gone or renamed meanwhile: its event says so, and it is looked up then
    dirs_[HandleKey(h.get()->handle_type, h.get()->f_handle, h.get()->handle_bytes)] = e.path;
  }
  directories_ = dirs_.size();
  return Status::Ok();
}

std::optional<std::string> FanotifyWatcher::Relative(const std::string& absolute) const {
  if (absolute == root_path_) return ".";
  const std::string prefix = root_path_ == "/" ? "/" : root_path_ + "/";
  if (absolute.size() > prefix.size() && absolute.compare(0, prefix.size(), prefix) == 0)
    return absolute.substr(prefix.size());
  return std::nullopt;
}

void FanotifyWatcher::ForgetDirectories() {
  dirs_.clear();
  outside_.clear();
  FindRoot();
}

bool FanotifyWatcher::FindRoot() {
  char where[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(root_.get());
  ssize_t n = ::readlink(link.c_str(), where, sizeof where);
  if (n <= 0) return false;
  root_path_.assign(where, static_cast<size_t>(n));
  return true;
}

FanotifyWatcher::Where FanotifyWatcher::Locate(const unsigned char* record, std::string* dir) {
  file_handle header{};
  std::memcpy(&header, record, sizeof header);
  if (header.handle_bytes > MAX_HANDLE_SZ) return Where::kUnknown;
  const unsigned char* bytes = record + sizeof header;
  std::string key = HandleKey(header.handle_type, bytes, header.handle_bytes);
  if (auto it = dirs_.find(key); it != dirs_.end()) {
    *dir = it->second;
    return Where::kBeneath;
  }
  if (outside_.count(key)) return Where::kOutside;
  HandleBuffer h;
  h.get()->handle_bytes = header.handle_bytes;
  h.get()->handle_type = header.handle_type;
  std::memcpy(h.get()->f_handle, bytes, header.handle_bytes);
  auto remember_outside = [&] {
    if (outside_.size() >= kMaxOutside) outside_.clear();
    outside_.insert(std::move(key));
    return Where::kOutside;
  };
  int fd = ::open_by_handle_at(root_.get(), h.get(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    // Removed since: the event that removed it named it.
    if (errno == ESTALE || errno == ENOENT) return remember_outside();
    return Where::kUnknown;
  }
  UniqueFd opened(fd);
  struct stat st {};
  if (::fstat(opened.get(), &st) == 0 && st.st_nlink == 0) return remember_outside();
  char where[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(opened.get());
  ssize_t n = ::readlink(link.c_str(), where, sizeof where);
  if (n <= 0) return Where::kUnknown;
  std::optional<std::string> rel = Relative(std::string(where, static_cast<size_t>(n)));
  if (!rel) return remember_outside();
  ++looked_up_;
  dirs_[std::move(key)] = *rel;
  *dir = std::move(*rel);
  return Where::kBeneath;
}

Status FanotifyWatcher::Drain(ChangeSet* changes) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return Status::Ok();
    if (n < 0) return Status::IOError("cannot read fanotify events: " + Errno(errno));
    if (n == 0) return Status::Ok();
    // Events are 4-byte aligned only: each is copied out before it is read.
    for (size_t off = 0; off + sizeof(fanotify_event_metadata) <= static_cast<size_t>(n);) {
      fanotify_event_metadata meta{};
      std::memcpy(&meta, buf + off, sizeof meta);
      if (meta.event_len < sizeof meta || off + meta.event_len > static_cast<size_t>(n)) break;
      const char* event = buf + off;
      off += meta.event_len;
      const fanotify_event_metadata* m = &meta;
      if (m->vers != FANOTIFY_METADATA_VERSION)
        return Status::Internal("fanotify event metadata of version " + std::to_string(m->vers));
      if (m->fd >= 0) ::close(m->fd);  // none in this mode; never leak one
      if (m->mask & FAN_Q_OVERFLOW) {
        changes->overflow = true;
        continue;
      }
      // The directory record: DFID_NAME (a directory and an entry's name; "." for an event
      // on the directory itself) or DFID.
      const unsigned char* handle = nullptr;
      std::string_view name;
      const char* end = event + m->event_len;
      for (const char* p = event + m->metadata_len;
           p + sizeof(fanotify_event_info_header) <= end;) {
        fanotify_event_info_header info{};
        std::memcpy(&info, p, sizeof info);
        if (info.len < sizeof(fanotify_event_info_fid) + sizeof(file_handle) || p + info.len > end)
          break;
        if (info.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
            info.info_type == FAN_EVENT_INFO_TYPE_DFID) {
          handle = reinterpret_cast<const unsigned char*>(p) + sizeof(fanotify_event_info_fid);
          file_handle header{};
          std::memcpy(&header, handle, sizeof header);
          const char* after =
              reinterpret_cast<const char*>(handle) + sizeof header + header.handle_bytes;
          if (after > p + info.len) {
            handle = nullptr;
            break;
          }
          if (info.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
            name = std::string_view(after,
                                    ::strnlen(after, static_cast<size_t>(p + info.len - after)));
          break;
        }
        p += info.len;
      }
      if (handle == nullptr) continue;
      if (name == ".") name = {};
      std::string dir;
      const Where where = Locate(handle, &dir);
      switch (where) {
        case Where::kOutside:
          break;
        case Where::kUnknown:  // cannot tell where: only a full pass is sure
          changes->overflow = true;
          break;
        case Where::kBeneath: {
          changes->changed = true;
          // No name: an event on the directory itself.
          const std::string entry = name.empty() ? dir : Join(dir, name);
          changes->entries.insert(entry);
          if (name.empty()) break;
          if ((m->mask & (FAN_MODIFY | FAN_CLOSE_WRITE)) && !(m->mask & FAN_ONDIR))
            changes->written.insert(entry);
          if (m->mask & (FAN_CLOSE_WRITE | FAN_DELETE | FAN_MOVED_FROM)) {
            changes->unclosed.erase(entry);
          } else if ((m->mask & (FAN_CREATE | FAN_MODIFY)) && !(m->mask & FAN_ONDIR)) {
            changes->unclosed.insert(entry);
          }
          if ((m->mask & FAN_ONDIR) && (m->mask & (FAN_CREATE | FAN_MOVED_TO)))
            changes->subtrees.insert(entry);
          break;
        }
      }
      // A directory moved or removed. Beneath the source (or who knows where), the paths
      // known so far may be stale, and a directory moved in from outside is not outside any
      // more: both caches go, and directories are looked up again as their events come.
      // Outside, nothing known beneath the source changes -- but the source itself may have
      // moved with a directory above it, and a removed directory's handle must not stay
      // "outside". A new directory needs nothing: the mark covers it, and its handle is
      // looked up when it first appears in an event.
      if ((m->mask & FAN_ONDIR) && (m->mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_DELETE)) &&
          !name.empty()) {
        if (where != Where::kOutside) {
          ForgetDirectories();
        } else {
          if (m->mask & FAN_DELETE) outside_.clear();
          if (m->mask & (FAN_MOVED_FROM | FAN_MOVED_TO)) FindRoot();
        }
      }
    }
  }
}

// ------------------------------------------------------------------ choice

Result<std::unique_ptr<ChangeWatcher>> MakeChangeWatcher(const std::string& source,
                                                         ChangeCapture mode,
                                                         ChangeWatcherOptions options,
                                                         std::string* fallback,
                                                         std::string* standing) {
  if (fallback) fallback->clear();
  if (standing) standing->clear();
  if (mode != ChangeCapture::kInotify) {
    auto fanotify = std::make_unique<FanotifyWatcher>(source, options);
    Status started = fanotify->Start();
    if (started.ok()) return std::unique_ptr<ChangeWatcher>(std::move(fanotify));
    if (mode == ChangeCapture::kFanotify)
      return Status(started.code(), "change capture fanotify: " + started.message());
    const std::string why = started.message() + "; using inotify";
    if (started.code() == StatusCode::kUnavailable) {
      spdlog::warn("msg=\"fanotify cannot watch the source: inotify instead\" reason={}",
                   LogValue(why));
      if (standing) *standing = why;
    } else {
      spdlog::info("msg=\"fanotify cannot watch the source: inotify instead\" reason={}",
                   LogValue(why));
    }
    if (fallback) *fallback = why;
  }
  auto inotify = std::make_unique<InotifyWatcher>(source, options);
  GEOREP_RETURN_IF_ERROR(inotify->Start());
  return std::unique_ptr<ChangeWatcher>(std::move(inotify));
}

}  // namespace georep::replication
