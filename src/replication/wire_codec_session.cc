// The wire codecs of the conversation itself: the handshake (Hello, HelloReply), Barrier and
// Ack, Error, and the ListTree/TreeListing exchange verify uses.
#include <fmt/format.h>

#include "replication/wire_codec.h"

namespace georep::replication::wire_codec {

Status EncodeBody(const Hello& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("software name", m.software, kMaxTextBytes));
  PutVarint(p, m.min_version);
  PutVarint(p, m.max_version);
  PutVarint(p, m.capabilities);
  PutBytes(p, m.software);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Hello* x) {
  x->min_version = r.Varint32();
  x->max_version = r.Varint32();
  x->capabilities = r.Varint();
  x->software = r.Bytes("software name", kMaxTextBytes);
  return Status::Ok();
}

Status EncodeBody(const HelloReply& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("reason", m.reason, kMaxTextBytes));
  p->push_back(m.accepted ? 1 : 0);
  PutVarint(p, m.version);
  PutVarint(p, m.capabilities);
  PutBytes(p, m.reason);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, HelloReply* x) {
  uint8_t accepted = r.Byte();
  if (accepted > 1) return Status::Corruption("malformed HelloReply frame: bad accepted flag");
  x->accepted = accepted == 1;
  x->version = r.Varint32();
  x->capabilities = r.Varint();
  x->reason = r.Bytes("reason", kMaxTextBytes);
  return Status::Ok();
}

Status EncodeBody(const Barrier& m, std::string* p) {
  PutVarint(p, m.seq);
  p->push_back(static_cast<char>(m.durable ? kBarrierDurable : 0));
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Barrier* x) {
  x->seq = r.Varint();
  uint8_t flags = r.Byte();
  if (r.ok() && (flags & ~kBarrierDurable) != 0) {
    return Status::Corruption(fmt::format("malformed Barrier frame: flags {:#x}", flags));
  }
  x->durable = (flags & kBarrierDurable) != 0;
  return Status::Ok();
}

Status EncodeBody(const Ack& m, std::string* p) {
  PutVarint(p, m.applied_seq);
  p->push_back(static_cast<char>(m.durable ? kAckDurable : 0));
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Ack* x) {
  x->applied_seq = r.Varint();
  uint8_t flags = r.Byte();
  if (r.ok() && (flags & ~kAckDurable) != 0) {
    return Status::Corruption(fmt::format("malformed Ack frame: flags {:#x}", flags));
  }
  x->durable = (flags & kAckDurable) != 0;
  return Status::Ok();
}

Status EncodeBody(const Error& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("error message", m.message, kMaxTextBytes));
  PutVarint(p, m.seq);
  PutVarint(p, static_cast<uint32_t>(m.code));
  PutBytes(p, m.message);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Error* x) {
  x->seq = r.Varint();
  x->code = static_cast<ErrorCode>(r.Varint32());
  x->message = r.Bytes("error message", kMaxTextBytes);
  return Status::Ok();
}

Status EncodeBody(const ListTree& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  PutVarint(p, m.id);
  PutBytes(p, m.path);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, ListTree* x) {
  x->id = r.Varint();
  x->path = r.Path();
  return Status::Ok();
}

Status EncodeBody(const TreeListing& m, std::string* p) {
  if (m.entries.size() > kMaxListedEntries) {
    return Status::InvalidArgument(
        fmt::format("TreeListing of {} entries; at most {}", m.entries.size(), kMaxListedEntries));
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
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, TreeListing* x) {
  x->id = r.Varint();
  const uint64_t n = r.Varint();
  if (r.ok() && n > kMaxListedEntries) {
    return Status::Corruption(
        fmt::format("malformed TreeListing frame: {} entries; at most {}", n, kMaxListedEntries));
  }
  x->entries.reserve(r.ok() ? n : 0);
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
    x->entries.push_back(std::move(e));
  }
  const uint8_t last = r.Byte();
  if (r.ok() && last > 1) return Status::Corruption("malformed TreeListing frame: bad last flag");
  x->last = last == 1;
  x->error = r.Bytes("error message", kMaxTextBytes);
  return Status::Ok();
}

}  // namespace georep::replication::wire_codec
