// The wire protocol's vocabulary: message type names, a message's type and sequence number,
// the handshake's answer, and the helpers every codec shares. Framing is wire_framing.cc's;
// each message's codec is in wire_codec_session.cc, wire_codec_entries.cc or
// wire_codec_files.cc.
#include "replication/wire.h"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "replication/wire_codec.h"

namespace georep::replication {
namespace wire_codec {

Status CheckLength(std::string_view what, std::string_view s, size_t max) {
  if (s.size() > max) {
    return Status::InvalidArgument(
        fmt::format("{} is {} bytes; the protocol allows at most {}", what, s.size(), max));
  }
  return Status::Ok();
}

bool IsKnownType(uint8_t t) {
  switch (static_cast<MessageType>(t)) {
    case MessageType::kHello:
    case MessageType::kHelloReply:
    case MessageType::kMkdir:
    case MessageType::kSymlink:
    case MessageType::kHardlink:
    case MessageType::kRename:
    case MessageType::kUnlink:
    case MessageType::kRmdir:
    case MessageType::kSetMeta:
    case MessageType::kFileBegin:
    case MessageType::kFileData:
    case MessageType::kFileEnd:
    case MessageType::kFileAbort:
    case MessageType::kBarrier:
    case MessageType::kAck:
    case MessageType::kError:
    case MessageType::kBlockCopy:
    case MessageType::kSourceCopy:
    case MessageType::kListTree:
    case MessageType::kTreeListing:
    case MessageType::kMakeNode:
      return true;
    case MessageType::kBlockSignatures:
      return false;
  }
  return false;
}

PayloadReader::PayloadReader(std::string_view frame)
    : ByteReader(frame.substr(kFrameHeaderSize), Words{"payload", "the end of the frame"}),
      frame_size_(frame.size()) {}

std::string PayloadReader::Path() {
  return Bytes("path", kMaxPathBytes);
}

Status PayloadReader::Finish(MessageType type) {
  if (ok() && !empty()) Fail(fmt::format("{} trailing bytes", remaining()));
  if (ok()) return Status::Ok();
  return Status::Corruption(fmt::format("malformed {} frame: {}", MessageTypeName(type), error()));
}

}  // namespace wire_codec

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello:
      return "Hello";
    case MessageType::kHelloReply:
      return "HelloReply";
    case MessageType::kMkdir:
      return "Mkdir";
    case MessageType::kSymlink:
      return "Symlink";
    case MessageType::kHardlink:
      return "Hardlink";
    case MessageType::kRename:
      return "Rename";
    case MessageType::kUnlink:
      return "Unlink";
    case MessageType::kRmdir:
      return "Rmdir";
    case MessageType::kSetMeta:
      return "SetMeta";
    case MessageType::kFileBegin:
      return "FileBegin";
    case MessageType::kFileData:
      return "FileData";
    case MessageType::kFileEnd:
      return "FileEnd";
    case MessageType::kFileAbort:
      return "FileAbort";
    case MessageType::kBarrier:
      return "Barrier";
    case MessageType::kAck:
      return "Ack";
    case MessageType::kError:
      return "Error";
    case MessageType::kBlockSignatures:
      return "BlockSignatures";
    case MessageType::kBlockCopy:
      return "BlockCopy";
    case MessageType::kSourceCopy:
      return "SourceCopy";
    case MessageType::kListTree:
      return "ListTree";
    case MessageType::kTreeListing:
      return "TreeListing";
    case MessageType::kMakeNode:
      return "MakeNode";
  }
  return "Unknown";
}

MessageType TypeOf(const Message& message) {
  static constexpr MessageType kTypes[] = {
      MessageType::kHello,     MessageType::kHelloReply,  MessageType::kMkdir,
      MessageType::kSymlink,   MessageType::kHardlink,    MessageType::kRename,
      MessageType::kUnlink,    MessageType::kRmdir,       MessageType::kSetMeta,
      MessageType::kFileBegin, MessageType::kFileData,    MessageType::kFileEnd,
      MessageType::kFileAbort, MessageType::kBarrier,     MessageType::kAck,
      MessageType::kError,     MessageType::kBlockCopy,   MessageType::kSourceCopy,
      MessageType::kListTree,  MessageType::kTreeListing, MessageType::kMakeNode,
  };
  static_assert(std::size(kTypes) == std::variant_size_v<Message>);
  return kTypes[message.index()];
}

uint64_t SeqOf(const Message& message) {
  return std::visit(
      [](const auto& m) -> uint64_t {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello> || std::is_same_v<T, HelloReply> ||
                      std::is_same_v<T, Ack> || std::is_same_v<T, Error> ||
                      std::is_same_v<T, ListTree> || std::is_same_v<T, TreeListing>) {
          return 0;
        } else {
          return m.seq;
        }
      },
      message);
}

HelloReply AnswerHello(const Hello& hello, uint64_t our_capabilities) {
  HelloReply reply;
  uint32_t lo = std::max(hello.min_version, kMinProtocolVersion);
  uint32_t hi = std::min(hello.max_version, kProtocolVersion);
  if (lo > hi) {
    reply.reason =
        fmt::format("no common protocol version: the peer speaks {}-{}, this agent speaks {}-{}",
                    hello.min_version, hello.max_version, kMinProtocolVersion, kProtocolVersion);
    return reply;
  }
  reply.accepted = true;
  reply.version = hi;
  reply.capabilities = hello.capabilities & our_capabilities & kCapabilitiesSupported;
  return reply;
}

}  // namespace georep::replication
