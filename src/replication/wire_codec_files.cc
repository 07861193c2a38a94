// The wire codecs of a file's transfer: FileBegin, FileData (zstd-compressed when it pays),
// FileEnd, FileAbort, BlockCopy and SourceCopy.
#include <fmt/format.h>
#include <zstd.h>

#include <functional>

#include "replication/wire_codec.h"

namespace georep::replication::wire_codec {

Status EncodeBody(const FileBegin& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.path);
  PutVarint(p, m.size);
  PutVarint(p, m.mode);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, FileBegin* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  x->size = r.Varint();
  x->mode = r.Varint32();
  return Status::Ok();
}

Status EncodeFileData(const FileData& m, ZSTD_CCtx* cctx, int level, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("file data", m.data, kMaxFileDataChunk));
  PutVarint(p, m.seq);
  PutVarint(p, m.offset);
  std::string packed;
  if (cctx != nullptr && !m.data.empty()) {
    packed.resize(ZSTD_compressBound(m.data.size()));
    size_t n =
        ZSTD_compressCCtx(cctx, packed.data(), packed.size(), m.data.data(), m.data.size(), level);
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
  return Status::Ok();
}

Status DecodeFileData(PayloadReader& r, const std::function<ZSTD_DCtx*()>& dctx, FileData* x) {
  x->seq = r.Varint();
  x->offset = r.Varint();
  uint8_t flags = r.Byte();
  if (r.ok() && (flags & ~kFileDataZstd) != 0) {
    return Status::Corruption(fmt::format("malformed FileData frame: flags {:#x}", flags));
  }
  if (flags & kFileDataZstd) {
    uint64_t raw = r.Varint();
    std::string packed = r.Bytes("compressed data", kMaxFramePayload);
    if (r.ok()) {
      if (raw > kMaxFileDataChunk) {
        return Status::Corruption(fmt::format(
            "malformed FileData frame: {} uncompressed bytes exceed {}", raw, kMaxFileDataChunk));
      }
      x->data.resize(raw);
      size_t n =
          ZSTD_decompressDCtx(dctx(), x->data.data(), x->data.size(), packed.data(), packed.size());
      if (ZSTD_isError(n) || n != raw) {
        return Status::Corruption(
            fmt::format("malformed FileData frame: zstd data does not inflate to {} bytes ({})",
                        raw, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
      }
    }
  } else {
    x->data = r.Bytes("file data", kMaxFileDataChunk);
  }
  if (r.ok() && x->offset > (uint64_t{1} << 62)) {
    return Status::Corruption("malformed FileData frame: offset out of range");
  }
  return Status::Ok();
}

Status EncodeBody(const FileEnd& m, std::string* p) {
  PutVarint(p, m.seq);
  PutVarint(p, m.size);
  PutFixed64(p, m.hash.low);
  PutFixed64(p, m.hash.high);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, FileEnd* x) {
  x->seq = r.Varint();
  x->size = r.Varint();
  x->hash.low = r.Fixed64();
  x->hash.high = r.Fixed64();
  if (r.ok() && x->size > (uint64_t{1} << 62)) {
    return Status::Corruption("malformed FileEnd frame: size out of range");
  }
  return Status::Ok();
}

Status EncodeBody(const FileAbort& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("reason", m.reason, kMaxTextBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.reason);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, FileAbort* x) {
  x->seq = r.Varint();
  x->reason = r.Bytes("reason", kMaxTextBytes);
  return Status::Ok();
}

Status EncodeBody(const BlockCopy& m, std::string* p) {
  PutVarint(p, m.seq);
  PutVarint(p, m.offset);
  PutVarint(p, m.base_offset);
  PutVarint(p, m.length);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, BlockCopy* x) {
  x->seq = r.Varint();
  x->offset = r.Varint();
  x->base_offset = r.Varint();
  x->length = r.Varint();
  if (r.ok() && (x->offset > (uint64_t{1} << 62) || x->base_offset > (uint64_t{1} << 62) ||
                 x->length == 0 || x->length > (uint64_t{1} << 62))) {
    return Status::Corruption("malformed BlockCopy frame: range out of bounds");
  }
  return Status::Ok();
}

Status EncodeBody(const SourceCopy& m, std::string* p) {
  PutVarint(p, m.seq);
  PutVarint(p, m.offset);
  PutVarint(p, m.length);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, SourceCopy* x) {
  x->seq = r.Varint();
  x->offset = r.Varint();
  x->length = r.Varint();
  if (r.ok() &&
      (x->offset > (uint64_t{1} << 62) || x->length == 0 || x->length > (uint64_t{1} << 62))) {
    return Status::Corruption("malformed SourceCopy frame: range out of bounds");
  }
  return Status::Ok();
}

}  // namespace georep::replication::wire_codec
