// Internal to the wire protocol (wire*.cc): the frame's constants, a reader for one frame's
// payload, and one codec per message -- EncodeBody appends a message's payload, DecodeBody
// reads it back (the frame header is wire_framing.cc's). Not for other users.
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "replication/byte_reader.h"
#include "replication/wire.h"

namespace georep::replication::wire_codec {

constexpr uint8_t kMagic0 = 'G';
constexpr uint8_t kMagic1 = 'R';
constexpr uint8_t kFileDataZstd = 1u << 0;
constexpr uint8_t kBarrierDurable = 1u << 0;
constexpr uint8_t kAckDurable = 1u << 0;

// InvalidArgument when `s` (named `what`) is longer than `max` bytes.
Status CheckLength(std::string_view what, std::string_view s, size_t max);
// Whether `t` is a message type this protocol version defines.
bool IsKnownType(uint8_t t);

// Reads the fields of one frame's payload (see ByteReader: the first failure sticks).
class PayloadReader : public ByteReader {
 public:
  explicit PayloadReader(std::string_view frame);  // the whole frame, header first
  std::string Path();
  // The outcome of reading a whole `type` payload: no failure, nothing left over.
  Status Finish(MessageType type);
  size_t frame_size() const { return frame_size_; }

 private:
  size_t frame_size_;
};

// The session (wire_codec_session.cc).
Status EncodeBody(const Hello& m, std::string* p);
Status DecodeBody(PayloadReader& r, Hello* x);
Status EncodeBody(const HelloReply& m, std::string* p);
Status DecodeBody(PayloadReader& r, HelloReply* x);
Status EncodeBody(const Barrier& m, std::string* p);
Status DecodeBody(PayloadReader& r, Barrier* x);
Status EncodeBody(const Ack& m, std::string* p);
Status DecodeBody(PayloadReader& r, Ack* x);
Status EncodeBody(const Error& m, std::string* p);
Status DecodeBody(PayloadReader& r, Error* x);
Status EncodeBody(const ListTree& m, std::string* p);
Status DecodeBody(PayloadReader& r, ListTree* x);
Status EncodeBody(const TreeListing& m, std::string* p);
Status DecodeBody(PayloadReader& r, TreeListing* x);

// Entry operations (wire_codec_entries.cc).
Status EncodeBody(const Mkdir& m, std::string* p);
Status DecodeBody(PayloadReader& r, Mkdir* x);
Status EncodeBody(const MakeNode& m, std::string* p);
Status DecodeBody(PayloadReader& r, MakeNode* x);
Status EncodeBody(const Symlink& m, std::string* p);
Status DecodeBody(PayloadReader& r, Symlink* x);
Status EncodeBody(const Hardlink& m, std::string* p);
Status DecodeBody(PayloadReader& r, Hardlink* x);
Status EncodeBody(const Rename& m, std::string* p);
Status DecodeBody(PayloadReader& r, Rename* x);
Status EncodeBody(const Unlink& m, std::string* p);
Status DecodeBody(PayloadReader& r, Unlink* x);
Status EncodeBody(const Rmdir& m, std::string* p);
Status DecodeBody(PayloadReader& r, Rmdir* x);
Status EncodeBody(const SetMeta& m, std::string* p);
Status DecodeBody(PayloadReader& r, SetMeta* x);

// A file's transfer (wire_codec_files.cc). FileData compresses with `cctx` when it is set
// and that pays; `dctx` gives the context that inflates a compressed payload (made on first
// use: most streams have none).
Status EncodeBody(const FileBegin& m, std::string* p);
Status DecodeBody(PayloadReader& r, FileBegin* x);
Status EncodeFileData(const FileData& m, ZSTD_CCtx* cctx, int level, std::string* p);
Status DecodeFileData(PayloadReader& r, const std::function<ZSTD_DCtx*()>& dctx, FileData* x);
Status EncodeBody(const FileEnd& m, std::string* p);
Status DecodeBody(PayloadReader& r, FileEnd* x);
Status EncodeBody(const FileAbort& m, std::string* p);
Status DecodeBody(PayloadReader& r, FileAbort* x);
Status EncodeBody(const BlockCopy& m, std::string* p);
Status DecodeBody(PayloadReader& r, BlockCopy* x);
Status EncodeBody(const SourceCopy& m, std::string* p);
Status DecodeBody(PayloadReader& r, SourceCopy* x);

}  // namespace georep::replication::wire_codec
