#include "replication/wire.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <type_traits>

namespace georep::replication {
namespace {

constexpr uint8_t kMagic0 = 'G';
constexpr uint8_t kMagic1 = 'R';
constexpr uint8_t kFileDataZstd = 1u << 0;
constexpr uint8_t kBarrierDurable = 1u << 0;
constexpr uint8_t kAckDurable = 1u << 0;

// ---- encoding helpers ----------------------------------------------------------------------

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutSigned(std::string* out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

Status CheckLength(std::string_view what, std::string_view s, size_t max) {
  if (s.size() > max) {
    return Status::InvalidArgument(
        fmt::format("{} is {} bytes; the protocol allows at most {}", what, s.size(), max));
  }
  return Status::Ok();
}

// ---- decoding helpers ----------------------------------------------------------------------

// Reads fields from one frame's payload; the first failure sticks, so parsers can read a
// whole message and check once.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view payload) : rest_(payload) {}

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return Fail("truncated varint");
      auto byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      if (shift == 63 && byte > 1) return Fail("varint overflows 64 bits");
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return Fail("varint longer than 10 bytes");
  }
  uint32_t Varint32() {
    uint64_t v = Varint();
    if (v > UINT32_MAX) return static_cast<uint32_t>(Fail("value does not fit in 32 bits"));
    return static_cast<uint32_t>(v);
  }
  int64_t Signed() {
    uint64_t v = Varint();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  uint8_t Byte() {
    if (rest_.empty()) return static_cast<uint8_t>(Fail("truncated payload"));
    auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  uint64_t Fixed64() {
    if (rest_.size() < 8) return Fail("truncated fixed-width field");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(rest_[i])) << (8 * i);
    rest_.remove_prefix(8);
    return v;
  }
  std::string Bytes(std::string_view what, size_t max) {
    uint64_t n = Varint();
    if (!ok()) return {};
    if (n > max) {
      Fail(fmt::format("{} of {} bytes exceeds the limit of {}", what, n, max));
      return {};
    }
    if (n > rest_.size()) {
      Fail(fmt::format("{} of {} bytes runs past the end of the frame", what, n));
      return {};
    }
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }
  std::string Path() { return Bytes("path", kMaxPathBytes); }

  Status Finish(MessageType type) {
    if (ok() && !rest_.empty()) Fail(fmt::format("{} trailing bytes", rest_.size()));
    if (ok()) return Status::Ok();
    return Status::Corruption(fmt::format("malformed {} frame: {}", MessageTypeName(type), error_));
  }
  bool ok() const { return error_.empty(); }

 private:
  uint64_t Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    rest_ = {};
    return 0;
  }
  std::string_view rest_;
  std::string error_;
};

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

}  // namespace

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

// ---- Encoder -------------------------------------------------------------------------------

struct Encoder::ZstdContext {
  ZstdContext() : cctx(ZSTD_createCCtx()) {}
  ~ZstdContext() { ZSTD_freeCCtx(cctx); }
  ZstdContext(const ZstdContext&) = delete;
  ZstdContext& operator=(const ZstdContext&) = delete;
  ZSTD_CCtx* cctx;
};

Encoder::Encoder(EncoderOptions options) : options_(options) {
  if (options_.compress) zstd_ = std::make_unique<ZstdContext>();
}
Encoder::~Encoder() = default;

Status Encoder::Append(const Message& message, std::string* out) {
  const size_t start = out->size();
  out->append(kFrameHeaderSize, '\0');
  std::string* p = out;
  Status st = std::visit(
      [&](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("software name", m.software, kMaxTextBytes));
          PutVarint(p, m.min_version);
          PutVarint(p, m.max_version);
          PutVarint(p, m.capabilities);
          PutBytes(p, m.software);
        } else if constexpr (std::is_same_v<T, HelloReply>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("reason", m.reason, kMaxTextBytes));
          p->push_back(m.accepted ? 1 : 0);
          PutVarint(p, m.version);
          PutVarint(p, m.capabilities);
          PutBytes(p, m.reason);
        } else if constexpr (std::is_same_v<T, Mkdir>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
          PutVarint(p, m.mode);
        } else if constexpr (std::is_same_v<T, MakeNode>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
          PutVarint(p, m.mode);
          PutVarint(p, m.rdev);
        } else if constexpr (std::is_same_v<T, Symlink>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          GEOREP_RETURN_IF_ERROR(CheckLength("symlink target", m.target, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
          PutBytes(p, m.target);
        } else if constexpr (std::is_same_v<T, Hardlink>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.existing_path, kMaxPathBytes));
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.new_path, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.existing_path);
          PutBytes(p, m.new_path);
        } else if constexpr (std::is_same_v<T, Rename>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.from, kMaxPathBytes));
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.to, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.from);
          PutBytes(p, m.to);
        } else if constexpr (std::is_same_v<T, Unlink> || std::is_same_v<T, Rmdir>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
        } else if constexpr (std::is_same_v<T, SetMeta>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          if ((m.fields & ~kMetaAll) != 0) {
            return Status::InvalidArgument(fmt::format("unknown SetMeta fields {:#x}", m.fields));
          }
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
          PutVarint(p, m.fields);
          if (m.fields & kMetaMode) PutVarint(p, m.mode);
          if (m.fields & kMetaOwner) {
            PutVarint(p, m.uid);
            PutVarint(p, m.gid);
          }
          if (m.fields & kMetaAtime) PutSigned(p, m.atime_ns);
          if (m.fields & kMetaMtime) PutSigned(p, m.mtime_ns);
          if (m.fields & kMetaXattrs) {
            PutVarint(p, m.xattrs.size());
            for (const Xattr& x : m.xattrs) {
              GEOREP_RETURN_IF_ERROR(CheckLength("xattr name", x.name, kMaxXattrNameBytes));
              GEOREP_RETURN_IF_ERROR(CheckLength("xattr value", x.value, kMaxXattrValueBytes));
              PutBytes(p, x.name);
              PutBytes(p, x.value);
            }
          }
        } else if constexpr (std::is_same_v<T, FileBegin>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.path);
          PutVarint(p, m.size);
          PutVarint(p, m.mode);
        } else if constexpr (std::is_same_v<T, FileData>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("file data", m.data, kMaxFileDataChunk));
          PutVarint(p, m.seq);
          PutVarint(p, m.offset);
          std::string packed;
          if (zstd_ && !m.data.empty()) {
            packed.resize(ZSTD_compressBound(m.data.size()));
            size_t n = ZSTD_compressCCtx(zstd_->cctx, packed.data(), packed.size(), m.data.data(),
                                         m.data.size(), options_.zstd_level);
            // Compression is an optimisation: on failure or no gain, send the bytes as they are.
            if (ZSTD_isError(n) || n >= m.data.size()) {
              packed.clear();
            } else {
              packed.resize(n);
            }
          }
          if (!packed.empty()) {
            p->push_back(static_cast<char>(kFileDataZstd));
            PutVarint(p, m.data.size());
            PutBytes(p, packed);
          } else {
            p->push_back(0);
            PutBytes(p, m.data);
          }
        } else if constexpr (std::is_same_v<T, FileEnd>) {
          PutVarint(p, m.seq);
          PutVarint(p, m.size);
          PutFixed64(p, m.hash.low);
          PutFixed64(p, m.hash.high);
        } else if constexpr (std::is_same_v<T, FileAbort>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("reason", m.reason, kMaxTextBytes));
          PutVarint(p, m.seq);
          PutBytes(p, m.reason);
        } else if constexpr (std::is_same_v<T, Barrier>) {
          PutVarint(p, m.seq);
          p->push_back(static_cast<char>(m.durable ? kBarrierDurable : 0));
        } else if constexpr (std::is_same_v<T, Ack>) {
          PutVarint(p, m.applied_seq);
          p->push_back(static_cast<char>(m.durable ? kAckDurable : 0));
        } else if constexpr (std::is_same_v<T, Error>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("error message", m.message, kMaxTextBytes));
          PutVarint(p, m.seq);
          PutVarint(p, static_cast<uint32_t>(m.code));
          PutBytes(p, m.message);
        } else if constexpr (std::is_same_v<T, BlockCopy>) {
          PutVarint(p, m.seq);
          PutVarint(p, m.offset);
          PutVarint(p, m.base_offset);
          PutVarint(p, m.length);
        } else if constexpr (std::is_same_v<T, SourceCopy>) {
          PutVarint(p, m.seq);
          PutVarint(p, m.offset);
          PutVarint(p, m.length);
        } else if constexpr (std::is_same_v<T, ListTree>) {
          GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
          PutVarint(p, m.id);
          PutBytes(p, m.path);
        } else if constexpr (std::is_same_v<T, TreeListing>) {
          if (m.entries.size() > kMaxListedEntries) {
            return Status::InvalidArgument(fmt::format("TreeListing of {} entries; at most {}",
                                                       m.entries.size(), kMaxListedEntries));
          }
          GEOREP_RETURN_IF_ERROR(CheckLength("error message", m.error, kMaxTextBytes));
          PutVarint(p, m.id);
          PutVarint(p, m.entries.size());
          for (const ListedEntry& e : m.entries) {
            GEOREP_RETURN_IF_ERROR(CheckLength("path", e.path, kMaxPathBytes));
            GEOREP_RETURN_IF_ERROR(CheckLength("symlink target", e.target, kMaxPathBytes));
            PutBytes(p, e.path);
            PutVarint(p, e.mode);
            PutVarint(p, e.uid);
            PutVarint(p, e.gid);
            PutVarint(p, e.size);
            PutSigned(p, e.mtime_ns);
            PutVarint(p, e.ino);
            PutVarint(p, e.nlink);
            PutBytes(p, e.target);
          }
          p->push_back(static_cast<char>(m.last ? 1 : 0));
          PutBytes(p, m.error);
        }
        return Status::Ok();
      },
      message);
  size_t payload = out->size() - start - kFrameHeaderSize;
  if (st.ok() && payload > kMaxFramePayload) {
    st = Status::InvalidArgument(fmt::format("{} frame of {} bytes exceeds the maximum of {}",
                                             MessageTypeName(TypeOf(message)), payload,
                                             kMaxFramePayload));
  }
  if (!st.ok()) {
    out->resize(start);
    return st;
  }
  char* h = out->data() + start;
  h[0] = static_cast<char>(kMagic0);
  h[1] = static_cast<char>(kMagic1);
  h[2] = static_cast<char>(TypeOf(message));
  h[3] = 0;
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>((payload >> (8 * i)) & 0xff);
  return Status::Ok();
}

// ---- Decoder -------------------------------------------------------------------------------

struct Decoder::ZstdContext {
  ZstdContext() : dctx(ZSTD_createDCtx()) {}
  ~ZstdContext() { ZSTD_freeDCtx(dctx); }
  ZstdContext(const ZstdContext&) = delete;
  ZstdContext& operator=(const ZstdContext&) = delete;
  ZSTD_DCtx* dctx;
};

Decoder::Decoder() = default;
Decoder::~Decoder() = default;

namespace {

// Checks the header at the start of `bytes` (at least kFrameHeaderSize long) and returns the
// whole frame's size.
Result<size_t> CheckHeader(std::string_view bytes) {
  auto b = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  if (b(0) != kMagic0 || b(1) != kMagic1) {
    return Status::Corruption(
        fmt::format("bad frame magic {:02x}{:02x} (not a georep replication stream)", b(0), b(1)));
  }
  if (!IsKnownType(b(2))) {
    if (b(2) >= 40 && b(2) <= 47) {
      return Status::Corruption(fmt::format(
          "message type {} is reserved for block-delta transfer and not defined in protocol "
          "version {}",
          b(2), kProtocolVersion));
    }
    return Status::Corruption(fmt::format("unknown message type {}", b(2)));
  }
  if (b(3) != 0) return Status::Corruption(fmt::format("unknown frame flags {:#x}", b(3)));
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(b(4 + i)) << (8 * i);
  if (len > kMaxFramePayload) {
    return Status::Corruption(
        fmt::format("frame payload of {} bytes exceeds the maximum of {}", len, kMaxFramePayload));
  }
  return kFrameHeaderSize + len;
}

}  // namespace

Status Decoder::Feed(std::string_view bytes, std::vector<Message>* out) {
  if (!failed_.ok()) return failed_;
  auto fail = [&](Status st) {
    failed_ = std::move(st);
    partial_.clear();
    partial_.shrink_to_fit();
    return failed_;
  };
  while (!bytes.empty()) {
    if (!partial_.empty() || bytes.size() < kFrameHeaderSize) {
      // Top up the buffered partial frame: first its header, then (once checked) its body.
      size_t want = kFrameHeaderSize;
      if (partial_.size() >= kFrameHeaderSize) {
        want = CheckHeader(partial_).value();  // checked when the header completed
      }
      size_t take = std::min(want - partial_.size(), bytes.size());
      partial_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (partial_.size() == kFrameHeaderSize && want == kFrameHeaderSize) {
        Result<size_t> total = CheckHeader(partial_);
        if (!total.ok()) return fail(total.status());
        partial_.reserve(*total);
        if (*total > kFrameHeaderSize) continue;
        want = *total;
      }
      if (partial_.size() == want) {
        Status st = ParseFrame(partial_, out);
        partial_.clear();
        if (!st.ok()) return fail(std::move(st));
      }
      continue;
    }
    // Fast path: whole frames straight from the caller's bytes, without copying.
    Result<size_t> total = CheckHeader(bytes);
    if (!total.ok()) return fail(total.status());
    if (bytes.size() < *total) {
      partial_.reserve(*total);
      partial_.assign(bytes);
      return Status::Ok();
    }
    Status st = ParseFrame(bytes.substr(0, *total), out);
    if (!st.ok()) return fail(std::move(st));
    bytes.remove_prefix(*total);
  }
  return Status::Ok();
}

Status Decoder::ParseFrame(std::string_view frame, std::vector<Message>* out) {
  auto type = static_cast<MessageType>(static_cast<uint8_t>(frame[2]));
  PayloadReader r(frame.substr(kFrameHeaderSize));
  Message m;
  switch (type) {
    case MessageType::kHello: {
      Hello h;
      h.min_version = r.Varint32();
      h.max_version = r.Varint32();
      h.capabilities = r.Varint();
      h.software = r.Bytes("software name", kMaxTextBytes);
      m = std::move(h);
      break;
    }
    case MessageType::kHelloReply: {
      HelloReply h;
      uint8_t accepted = r.Byte();
      if (accepted > 1) return Status::Corruption("malformed HelloReply frame: bad accepted flag");
      h.accepted = accepted == 1;
      h.version = r.Varint32();
      h.capabilities = r.Varint();
      h.reason = r.Bytes("reason", kMaxTextBytes);
      m = std::move(h);
      break;
    }
    case MessageType::kMkdir: {
      Mkdir x;
      x.seq = r.Varint();
      x.path = r.Path();
      x.mode = r.Varint32();
      m = std::move(x);
      break;
    }
    case MessageType::kMakeNode: {
      MakeNode x;
      x.seq = r.Varint();
      x.path = r.Path();
      x.mode = r.Varint32();
      x.rdev = r.Varint();
      m = std::move(x);
      break;
    }
    case MessageType::kSymlink: {
      Symlink x;
      x.seq = r.Varint();
      x.path = r.Path();
      x.target = r.Bytes("symlink target", kMaxPathBytes);
      m = std::move(x);
      break;
    }
    case MessageType::kHardlink: {
      Hardlink x;
      x.seq = r.Varint();
      x.existing_path = r.Path();
      x.new_path = r.Path();
      m = std::move(x);
      break;
    }
    case MessageType::kRename: {
      Rename x;
      x.seq = r.Varint();
      x.from = r.Path();
      x.to = r.Path();
      m = std::move(x);
      break;
    }
    case MessageType::kUnlink: {
      Unlink x;
      x.seq = r.Varint();
      x.path = r.Path();
      m = std::move(x);
      break;
    }
    case MessageType::kRmdir: {
      Rmdir x;
      x.seq = r.Varint();
      x.path = r.Path();
      m = std::move(x);
      break;
    }
    case MessageType::kSetMeta: {
      SetMeta x;
      x.seq = r.Varint();
      x.path = r.Path();
      x.fields = r.Varint32();
      if (r.ok() && (x.fields & ~kMetaAll) != 0) {
        return Status::Corruption(
            fmt::format("malformed SetMeta frame: unknown fields {:#x}", x.fields));
      }
      if (x.fields & kMetaMode) x.mode = r.Varint32();
      if (x.fields & kMetaOwner) {
        x.uid = r.Varint32();
        x.gid = r.Varint32();
      }
      if (x.fields & kMetaAtime) x.atime_ns = r.Signed();
      if (x.fields & kMetaMtime) x.mtime_ns = r.Signed();
      if (x.fields & kMetaXattrs) {
        uint64_t n = r.Varint();
        // Each xattr takes at least two bytes, so a count beyond that is a lie; checking it
        // before reserving keeps hostile counts from allocating.
        if (n > frame.size() / 2) {
          return Status::Corruption("malformed SetMeta frame: xattr count exceeds the frame");
        }
        x.xattrs.reserve(n);
        for (uint64_t i = 0; i < n && r.ok(); ++i) {
          Xattr a;
          a.name = r.Bytes("xattr name", kMaxXattrNameBytes);
          a.value = r.Bytes("xattr value", kMaxXattrValueBytes);
          x.xattrs.push_back(std::move(a));
        }
      }
      m = std::move(x);
      break;
    }
    case MessageType::kFileBegin: {
      FileBegin x;
      x.seq = r.Varint();
      x.path = r.Path();
      x.size = r.Varint();
      x.mode = r.Varint32();
      m = std::move(x);
      break;
    }
    case MessageType::kFileData: {
      FileData x;
      x.seq = r.Varint();
      x.offset = r.Varint();
      uint8_t flags = r.Byte();
      if (r.ok() && (flags & ~kFileDataZstd) != 0) {
        return Status::Corruption(fmt::format("malformed FileData frame: flags {:#x}", flags));
      }
      if (flags & kFileDataZstd) {
        uint64_t raw = r.Varint();
        std::string packed = r.Bytes("compressed data", kMaxFramePayload);
        if (r.ok()) {
          if (raw > kMaxFileDataChunk) {
            return Status::Corruption(
                fmt::format("malformed FileData frame: {} uncompressed bytes exceed {}", raw,
                            kMaxFileDataChunk));
          }
          if (!zstd_) zstd_ = std::make_unique<ZstdContext>();
          x.data.resize(raw);
          size_t n = ZSTD_decompressDCtx(zstd_->dctx, x.data.data(), x.data.size(), packed.data(),
                                         packed.size());
          if (ZSTD_isError(n) || n != raw) {
            return Status::Corruption(
                fmt::format("malformed FileData frame: zstd data does not inflate to {} bytes ({})",
                            raw, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
          }
        }
      } else {
        x.data = r.Bytes("file data", kMaxFileDataChunk);
      }
      if (r.ok() && x.offset > (uint64_t{1} << 62)) {
        return Status::Corruption("malformed FileData frame: offset out of range");
      }
      m = std::move(x);
      break;
    }
    case MessageType::kFileEnd: {
      FileEnd x;
      x.seq = r.Varint();
      x.size = r.Varint();
      x.hash.low = r.Fixed64();
      x.hash.high = r.Fixed64();
      if (r.ok() && x.size > (uint64_t{1} << 62)) {
        return Status::Corruption("malformed FileEnd frame: size out of range");
      }
      m = x;
      break;
    }
    case MessageType::kFileAbort: {
      FileAbort x;
      x.seq = r.Varint();
      x.reason = r.Bytes("reason", kMaxTextBytes);
      m = std::move(x);
      break;
    }
    case MessageType::kBarrier: {
      Barrier x;
      x.seq = r.Varint();
      uint8_t flags = r.Byte();
      if (r.ok() && (flags & ~kBarrierDurable) != 0) {
        return Status::Corruption(fmt::format("malformed Barrier frame: flags {:#x}", flags));
      }
      x.durable = (flags & kBarrierDurable) != 0;
      m = x;
      break;
    }
    case MessageType::kAck: {
      Ack x;
      x.applied_seq = r.Varint();
      uint8_t flags = r.Byte();
      if (r.ok() && (flags & ~kAckDurable) != 0) {
        return Status::Corruption(fmt::format("malformed Ack frame: flags {:#x}", flags));
      }
      x.durable = (flags & kAckDurable) != 0;
      m = x;
      break;
    }
    case MessageType::kError: {
      Error x;
      x.seq = r.Varint();
      x.code = static_cast<ErrorCode>(r.Varint32());
      x.message = r.Bytes("error message", kMaxTextBytes);
      m = std::move(x);
      break;
    }
    case MessageType::kBlockCopy: {
      BlockCopy x;
      x.seq = r.Varint();
      x.offset = r.Varint();
      x.base_offset = r.Varint();
      x.length = r.Varint();
      if (r.ok() && (x.offset > (uint64_t{1} << 62) || x.base_offset > (uint64_t{1} << 62) ||
                     x.length == 0 || x.length > (uint64_t{1} << 62))) {
        return Status::Corruption("malformed BlockCopy frame: range out of bounds");
      }
      m = x;
      break;
    }
    case MessageType::kSourceCopy: {
      SourceCopy x;
      x.seq = r.Varint();
      x.offset = r.Varint();
      x.length = r.Varint();
      if (r.ok() &&
          (x.offset > (uint64_t{1} << 62) || x.length == 0 || x.length > (uint64_t{1} << 62))) {
        return Status::Corruption("malformed SourceCopy frame: range out of bounds");
      }
      m = x;
      break;
    }
    case MessageType::kListTree: {
      ListTree x;
      x.id = r.Varint();
      x.path = r.Path();
      m = std::move(x);
      break;
    }
    case MessageType::kTreeListing: {
      TreeListing x;
      x.id = r.Varint();
      const uint64_t n = r.Varint();
      if (r.ok() && n > kMaxListedEntries) {
        return Status::Corruption(fmt::format("malformed TreeListing frame: {} entries; at most {}",
                                              n, kMaxListedEntries));
      }
      x.entries.reserve(r.ok() ? n : 0);
      for (uint64_t i = 0; i < n && r.ok(); ++i) {
        ListedEntry e;
        e.path = r.Path();
        e.mode = r.Varint32();
        e.uid = r.Varint32();
        e.gid = r.Varint32();
        e.size = r.Varint();
        e.mtime_ns = r.Signed();
        e.ino = r.Varint();
        e.nlink = r.Varint32();
        e.target = r.Bytes("symlink target", kMaxPathBytes);
        x.entries.push_back(std::move(e));
      }
      const uint8_t last = r.Byte();
      if (r.ok() && last > 1)
        return Status::Corruption("malformed TreeListing frame: bad last flag");
      x.last = last == 1;
      x.error = r.Bytes("error message", kMaxTextBytes);
      m = std::move(x);
      break;
    }
    case MessageType::kBlockSignatures:
      return Status::Corruption(
          "block-signature messages are not defined");  // CheckHeader stops these
  }
  GEOREP_RETURN_IF_ERROR(r.Finish(type));
  out->push_back(std::move(m));
  return Status::Ok();
}

}  // namespace georep::replication
