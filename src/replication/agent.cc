#include "replication/agent.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

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

}  // namespace

Status ServeAgent(int in_fd, int out_fd, const AgentOptions& options) {
  Encoder encoder;
  std::string out;
  auto reply = [&](const std::vector<Message>& messages) -> Status {
    out.clear();
    for (const Message& m : messages) GEOREP_RETURN_IF_ERROR(encoder.Append(m, &out));
    return WriteAll(out_fd, out);
  };
  auto applier = Applier::Open(options.root, options.applier);
  if (!applier.ok()) {
    (void)reply({Error{0, ErrorCode::kIO, applier.status().message()}});
    return applier.status();
  }
  Decoder decoder;
  std::vector<char> buffer(1 << 20);
  std::vector<Message> in, replies;
  for (;;) {
    ssize_t n = ::read(in_fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(std::string("agent: cannot read: ") + strerror(errno));
    if (n == 0) {
      if (decoder.AtFrameBoundary()) return Status::Ok();
      return Status::Unavailable("agent: the worker went away in the middle of a message");
    }
    in.clear();
    Status fed = decoder.Feed(std::string_view(buffer.data(), static_cast<size_t>(n)), &in);
    replies.clear();
    // More of the stream already here lets a batch's Ack ride on the next batch's sync.
    pollfd more{in_fd, POLLIN, 0};
    const bool more_input = ::poll(&more, 1, 0) > 0;
    if (Status handled = (*applier)->HandleAll(in, &replies, more_input); !handled.ok()) {
      replies.push_back(Error{0, ErrorCode::kProtocol, handled.message()});
      (void)reply(replies);
      return handled;
    }
    if (!fed.ok()) replies.push_back(Error{0, ErrorCode::kProtocol, fed.message()});
    if (!replies.empty()) GEOREP_RETURN_IF_ERROR(reply(replies));
    if (!fed.ok()) return fed;
  }
}

}  // namespace georep::replication
