// Framing: the Encoder puts each message's payload (wire_codec.h) in a frame -- magic, type,
// flags, payload length -- and the Decoder cuts a byte stream into frames, checks each header
// and hands the payload to its message's codec.
#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <type_traits>

#include "replication/wire.h"
#include "replication/wire_codec.h"

namespace georep::replication {

using namespace wire_codec;  // NOLINT(google-build-using-namespace): the protocol's own

namespace {

template <typename T>
Status DecodeInto(PayloadReader& r, Message* m) {
  T x;
  GEOREP_RETURN_IF_ERROR(DecodeBody(r, &x));
  *m = std::move(x);
  return Status::Ok();
}

}  // namespace

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
  Status st = std::visit(
      [&](const auto& m) -> Status {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, FileData>) {
          return EncodeFileData(m, zstd_ ? zstd_->cctx : nullptr, options_.zstd_level, out);
        } else {
          return EncodeBody(m, out);
        }
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
  PayloadReader r(frame);
  Message m;
  Status st = Status::Ok();
  switch (type) {
    case MessageType::kHello:
      st = DecodeInto<Hello>(r, &m);
      break;
    case MessageType::kHelloReply:
      st = DecodeInto<HelloReply>(r, &m);
      break;
    case MessageType::kMkdir:
      st = DecodeInto<Mkdir>(r, &m);
      break;
    case MessageType::kMakeNode:
      st = DecodeInto<MakeNode>(r, &m);
      break;
    case MessageType::kSymlink:
      st = DecodeInto<Symlink>(r, &m);
      break;
    case MessageType::kHardlink:
      st = DecodeInto<Hardlink>(r, &m);
      break;
    case MessageType::kRename:
      st = DecodeInto<Rename>(r, &m);
      break;
    case MessageType::kUnlink:
      st = DecodeInto<Unlink>(r, &m);
      break;
    case MessageType::kRmdir:
      st = DecodeInto<Rmdir>(r, &m);
      break;
    case MessageType::kSetMeta:
      st = DecodeInto<SetMeta>(r, &m);
      break;
    case MessageType::kFileBegin:
      st = DecodeInto<FileBegin>(r, &m);
      break;
    case MessageType::kFileData: {
      FileData x;
      st = DecodeFileData(
          r,
          [this] {
            if (!zstd_) zstd_ = std::make_unique<ZstdContext>();
            return zstd_->dctx;
          },
          &x);
      m = std::move(x);
      break;
    }
    case MessageType::kFileEnd:
      st = DecodeInto<FileEnd>(r, &m);
      break;
    case MessageType::kFileAbort:
      st = DecodeInto<FileAbort>(r, &m);
      break;
    case MessageType::kBarrier:
      st = DecodeInto<Barrier>(r, &m);
      break;
    case MessageType::kAck:
      st = DecodeInto<Ack>(r, &m);
      break;
    case MessageType::kError:
      st = DecodeInto<Error>(r, &m);
      break;
    case MessageType::kBlockCopy:
      st = DecodeInto<BlockCopy>(r, &m);
      break;
    case MessageType::kSourceCopy:
      st = DecodeInto<SourceCopy>(r, &m);
      break;
    case MessageType::kListTree:
      st = DecodeInto<ListTree>(r, &m);
      break;
    case MessageType::kTreeListing:
      st = DecodeInto<TreeListing>(r, &m);
      break;
    case MessageType::kBlockSignatures:
      return Status::Corruption(
          "block-signature messages are not defined");  // CheckHeader stops these
  }
  GEOREP_RETURN_IF_ERROR(st);
  GEOREP_RETURN_IF_ERROR(r.Finish(type));
  out->push_back(std::move(m));
  return Status::Ok();
}

}  // namespace georep::replication
