#include "replication/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "replication/scanner.h"
#include "replication/wire.h"

namespace georep::replication {
namespace {

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(std::string("agent: cannot reply: ") + strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Reads the worker's stream on its own thread, up to kReadAheadBytes ahead of the applier:
// the worker (and ssh between) go on sending while the agent syncs or renames, and the agent
// knows when more of the stream is already here (group commit, Applier::HandleAll).
class ReadAhead {
 public:
  static constexpr size_t kReadAheadBytes = 32u << 20;

  explicit ReadAhead(int fd) : fd_(fd), stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ReadAhead() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    const uint64_t one = 1;
    if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next piece of the stream, waiting for it. False at its end: `*error` is then set when
  // reading failed.
  bool Next(std::string* chunk, Status* error) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !chunks_.empty() || done_; });
    if (chunks_.empty()) {
      *error = error_;
      return false;
    }
    *chunk = std::move(chunks_.front());
    chunks_.pop_front();
    queued_ -= chunk->size();
    changed_.notify_all();
    return true;
  }
  // Whether more of the stream is here already.
  bool HasMore() {
    std::lock_guard<std::mutex> lock(mutex_);
    return !chunks_.empty();
  }

 private:
  void Loop() {
    std::vector<char> buffer(1 << 20);
    Status error = Status::Ok();
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || queued_ < kReadAheadBytes; });
        if (stopping_) break;
      }
      // Waits for input or for the agent to stop (it may return before the stream ends).
      // Without an eventfd (none could be made) it looks at stopping_ every 200 ms instead.
      pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      const int ready = ::poll(fds, stop_fd_ >= 0 ? 2 : 1, stop_fd_ >= 0 ? -1 : 200);
      if (ready < 0) {
        if (errno == EINTR) continue;
        error =
            Status::Unavailable(std::string("agent: cannot wait for input: ") + strerror(errno));
        break;
      }
      if (ready == 0) continue;
      if (fds[1].revents != 0) break;
      ssize_t n = ::read(fd_, buffer.data(), buffer.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        error = Status::Unavailable(std::string("agent: cannot read: ") + strerror(errno));
        break;
      }
      if (n == 0) break;
      std::lock_guard<std::mutex> lock(mutex_);
      chunks_.emplace_back(buffer.data(), static_cast<size_t>(n));
      queued_ += static_cast<size_t>(n);
      changed_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = error;
    done_ = true;
    changed_.notify_all();
  }

  const int fd_;
  const int stop_fd_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  size_t queued_ = 0;
  bool done_ = false;      // the reader stopped: the stream ended, or reading failed
  bool stopping_ = false;  // the agent is done with it
  Status error_ = Status::Ok();
  std::thread thread_;
};

}  // namespace

Status ListDestination(const std::string& root, const ListTree& request,
                       const std::function<Status(TreeListing)>& emit) {
  TreeListing part;
  part.id = request.id;
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    part.last = true;
    part.error = "cannot open the destination root: " + std::string(strerror(errno));
    return emit(std::move(part));
  }
  ScanOptions options;
  options.read_xattrs = false;
  options.threads = 2;
  auto scanned = ScanBeneath(root_fd.get(), request.path, true, options);
  if (!scanned.ok()) {
    part.last = true;
    // Nothing there is an answer too: the index has nothing beneath that path.
    if (scanned.status().code() != StatusCode::kNotFound) part.error = scanned.status().message();
    return emit(std::move(part));
  }
  if (!scanned->errors.empty())
    part.error = scanned->errors.front().path + ": " + scanned->errors.front().status.message();
  const std::string error = std::move(part.error);
  part.error.clear();
  for (ScanEntry& e : scanned->entries) {
    // The applier's own files in flight are not part of the mirror.
    const auto slash = e.path.rfind('/');
    if (Applier::IsTempName(slash == std::string::npos
                                ? std::string_view(e.path)
                                : std::string_view(e.path).substr(slash + 1)))
      continue;
    part.entries.push_back(ListedEntry{std::move(e.path), e.mode, e.uid, e.gid, e.size, e.mtime_ns,
                                       e.ino, e.nlink, std::move(e.symlink_target)});
    if (part.entries.size() == kMaxListedEntries) {
      GEOREP_RETURN_IF_ERROR(emit(std::move(part)));
      part = TreeListing{};
      part.id = request.id;
    }
  }
  part.last = true;
  part.error = error;
  return emit(std::move(part));
}

Status ServeAgent(int in_fd, int out_fd, const AgentOptions& options) {
  Encoder encoder;
  std::string out;
  auto reply = [&](const std::vector<Message>& messages) -> Status {
    out.clear();
    for (const Message& m : messages) GEOREP_RETURN_IF_ERROR(encoder.Append(m, &out));
    return WriteAll(out_fd, out);
  };
  auto applier = Applier::Open(options.root, options.applier, options.calls);
  if (!applier.ok()) {
    (void)reply({Error{0, ErrorCode::kIO, applier.status().message()}});
    return applier.status();
  }
  Decoder decoder;
  ReadAhead input(in_fd);
  std::string chunk;
  std::vector<Message> in, replies;
  for (;;) {
    Status read_error = Status::Ok();
    if (!input.Next(&chunk, &read_error)) {
      if (!read_error.ok()) return read_error;
      if (decoder.AtFrameBoundary()) return Status::Ok();
      return Status::Unavailable("agent: the worker went away in the middle of a message");
    }
    in.clear();
    Status fed = decoder.Feed(chunk, &in);
    // A ListTree is answered once what came before it is handled (the worker sends one only
    // with nothing in flight): the operations before it, then the listing, then the rest.
    size_t begin = 0;
    while (begin <= in.size()) {
      auto list =
          std::find_if(in.begin() + static_cast<std::ptrdiff_t>(begin), in.end(),
                       [](const Message& m) { return std::holds_alternative<ListTree>(m); });
      const auto end = static_cast<size_t>(list - in.begin());
      std::vector<Message> part(
          std::make_move_iterator(in.begin() + static_cast<std::ptrdiff_t>(begin)),
          std::make_move_iterator(list));
      replies.clear();
      // More of the stream already here lets a batch's Ack ride on the next batch's sync.
      const bool more = list == in.end() && fed.ok() && input.HasMore();
      if (Status handled = (*applier)->HandleAll(part, &replies, more); !handled.ok()) {
        replies.push_back(Error{0, ErrorCode::kProtocol, handled.message()});
        (void)reply(replies);
        return handled;
      }
      if (list == in.end() && !fed.ok())
        replies.push_back(Error{0, ErrorCode::kProtocol, fed.message()});
      if (!replies.empty()) GEOREP_RETURN_IF_ERROR(reply(replies));
      if (list == in.end()) break;
      GEOREP_RETURN_IF_ERROR(ListDestination(
          options.root, std::get<ListTree>(*list),
          [&](TreeListing part_of_it) { return reply({Message(std::move(part_of_it))}); }));
      begin = end + 1;
    }
    if (!fed.ok()) return fed;
  }
}

}  // namespace georep::replication
