// The wire codecs of entry operations: Mkdir, MakeNode, Symlink, Hardlink, Rename, Unlink,
// Rmdir and SetMeta.
#include <fmt/format.h>

#include "replication/wire_codec.h"

namespace georep::replication::wire_codec {
namespace {

// Hardlink and Rename: a sequence number and two paths.
Status EncodeTwoPaths(uint64_t seq, const std::string& first, const std::string& second,
                      std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", first, kMaxPathBytes));
  GEOREP_RETURN_IF_ERROR(CheckLength("path", second, kMaxPathBytes));
  PutVarint(p, seq);
  PutBytes(p, first);
  PutBytes(p, second);
  return Status::Ok();
}

Status DecodeTwoPaths(PayloadReader& r, uint64_t* seq, std::string* first, std::string* second) {
  *seq = r.Varint();
  *first = r.Path();
  *second = r.Path();
  return Status::Ok();
}

// Unlink and Rmdir: a sequence number and the path removed.
template <typename Removal>
Status EncodeRemoval(const Removal& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.path);
  return Status::Ok();
}

template <typename Removal>
Status DecodeRemoval(PayloadReader& r, Removal* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  return Status::Ok();
}

}  // namespace

Status EncodeBody(const Mkdir& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.path);
  PutVarint(p, m.mode);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Mkdir* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  x->mode = r.Varint32();
  return Status::Ok();
}

Status EncodeBody(const MakeNode& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.path);
  PutVarint(p, m.mode);
  PutVarint(p, m.rdev);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, MakeNode* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  x->mode = r.Varint32();
  x->rdev = r.Varint();
  return Status::Ok();
}

Status EncodeBody(const Symlink& m, std::string* p) {
  GEOREP_RETURN_IF_ERROR(CheckLength("path", m.path, kMaxPathBytes));
  GEOREP_RETURN_IF_ERROR(CheckLength("symlink target", m.target, kMaxPathBytes));
  PutVarint(p, m.seq);
  PutBytes(p, m.path);
  PutBytes(p, m.target);
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, Symlink* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  x->target = r.Bytes("symlink target", kMaxPathBytes);
  return Status::Ok();
}

Status EncodeBody(const Hardlink& m, std::string* p) {
  return EncodeTwoPaths(m.seq, m.existing_path, m.new_path, p);
}

Status DecodeBody(PayloadReader& r, Hardlink* x) {
  return DecodeTwoPaths(r, &x->seq, &x->existing_path, &x->new_path);
}

Status EncodeBody(const Rename& m, std::string* p) {
  return EncodeTwoPaths(m.seq, m.from, m.to, p);
}

Status DecodeBody(PayloadReader& r, Rename* x) {
  return DecodeTwoPaths(r, &x->seq, &x->from, &x->to);
}

Status EncodeBody(const Unlink& m, std::string* p) {
  return EncodeRemoval(m, p);
}

Status DecodeBody(PayloadReader& r, Unlink* x) {
  return DecodeRemoval(r, x);
}

Status EncodeBody(const Rmdir& m, std::string* p) {
  return EncodeRemoval(m, p);
}

Status DecodeBody(PayloadReader& r, Rmdir* x) {
  return DecodeRemoval(r, x);
}

Status EncodeBody(const SetMeta& m, std::string* p) {
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
  return Status::Ok();
}

Status DecodeBody(PayloadReader& r, SetMeta* x) {
  x->seq = r.Varint();
  x->path = r.Path();
  x->fields = r.Varint32();
  if (r.ok() && (x->fields & ~kMetaAll) != 0) {
    return Status::Corruption(
        fmt::format("malformed SetMeta frame: unknown fields {:#x}", x->fields));
  }
  if (x->fields & kMetaMode) x->mode = r.Varint32();
  if (x->fields & kMetaOwner) {
    x->uid = r.Varint32();
    x->gid = r.Varint32();
  }
  if (x->fields & kMetaAtime) x->atime_ns = r.Signed();
  if (x->fields & kMetaMtime) x->mtime_ns = r.Signed();
  if (x->fields & kMetaXattrs) {
    uint64_t n = r.Varint();
    // Each xattr takes at least two bytes, so a count beyond that is a lie; checking it
    // before reserving keeps hostile counts from allocating.
    if (n > r.frame_size() / 2) {
      return Status::Corruption("malformed SetMeta frame: xattr count exceeds the frame");
    }
    x->xattrs.reserve(n);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      Xattr a;
      a.name = r.Bytes("xattr name", kMaxXattrNameBytes);
      a.value = r.Bytes("xattr value", kMaxXattrValueBytes);
      x->xattrs.push_back(std::move(a));
    }
  }
  return Status::Ok();
}

}  // namespace georep::replication::wire_codec
