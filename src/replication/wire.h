// The replication wire protocol: the one binary format spoken between a `georep worker`
// (source side) and a `georep agent` (destination side), over any byte pipe (an ssh channel,
// a socketpair in tests).
//
// Framing. Every frame is an 8-byte header followed by a payload:
//   bytes 0-1  magic "GR"
//   byte  2    message type (MessageType)
//   byte  3    frame flags (must be 0 in protocol version 1)
//   bytes 4-7  payload length, little-endian u32, at most kMaxFramePayload
// Payload integers are LEB128 varints (signed ones zigzag-encoded); strings and byte fields
// are a varint length followed by the bytes. A payload must be consumed exactly.
//
// Conversation. The worker sends Hello; the agent answers HelloReply (accepting a version
// and the common capabilities, or refusing with a reason). From then on the worker pipelines
// operations without waiting: every operation carries a sequence number that increases by
// at least one per message. The agent answers only Barrier (with Ack) and failed operations
// (with Error, before the Ack of any later Barrier). See applier.h for what each operation
// means at the destination.
//
// Recovery (version 2). Between batches -- once every Barrier sent is acknowledged -- the
// worker may send ListTree; the agent answers with the metadata of everything at and beneath
// that path as it is at the destination (TreeListing frames, the last one flagged). A worker
// that finds its synced index may be wrong (it was killed, or the agent refused an operation
// for a parent that is not there) rebuilds the index from it (reconcile.h). A version-1 agent
// is never sent ListTree.
//
// Thread-safety: Encoder and Decoder are single-threaded objects; use one per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "replication/content_hash.h"

namespace georep::replication {

inline constexpr uint32_t kProtocolVersion = 2;     // what this build speaks
inline constexpr uint32_t kMinProtocolVersion = 1;  // the oldest it still accepts

inline constexpr size_t kFrameHeaderSize = 8;
// Big enough for the largest FileData chunk even when zstd expands it, plus its fields.
inline constexpr size_t kMaxFramePayload = 8u << 20;
// Upper bound on the (uncompressed) bytes of one FileData.
inline constexpr size_t kMaxFileDataChunk = 4u << 20;
inline constexpr size_t kMaxPathBytes = 4096;         // PATH_MAX
inline constexpr size_t kMaxXattrNameBytes = 255;     // XATTR_NAME_MAX
inline constexpr size_t kMaxXattrValueBytes = 65536;  // XATTR_SIZE_MAX
inline constexpr size_t kMaxTextBytes = 65536;        // reasons, error messages, software names
// The first protocol version with ListTree/TreeListing.
inline constexpr uint32_t kListTreeVersion = 2;
// Entries per TreeListing frame, at most (well within kMaxFramePayload at kMaxPathBytes each).
inline constexpr size_t kMaxListedEntries = 1024;

// Capability bits exchanged in the handshake; the session uses their intersection.
inline constexpr uint64_t kCapZstd = 1u << 0;        // FileData may be zstd-compressed
inline constexpr uint64_t kCapXattrs = 1u << 1;      // SetMeta may carry xattrs
inline constexpr uint64_t kCapBlockDelta = 1u << 2;  // BlockCopy inside file transfers
// SourceCopy inside file transfers: the agent reads the source tree itself. Offered only by an
// agent started with a source root, which a worker does for a destination on its own host.
inline constexpr uint64_t kCapSourceCopy = 1u << 3;
// SetMeta's xattrs may hold POSIX ACLs (system.posix_acl_access, system.posix_acl_default). A
// worker offers it when the session syncs ACLs (sync-acls); the agent then manages them.
inline constexpr uint64_t kCapAcls = 1u << 4;
// SetMeta's xattrs may hold trusted.* and security.capability. Offered by a worker running as
// root (it can read them) and by an agent running as root (it can write them).
inline constexpr uint64_t kCapPrivilegedXattrs = 1u << 5;
// MakeNode for FIFOs.
inline constexpr uint64_t kCapSpecialFiles = 1u << 6;
// MakeNode for character and block devices: offered by an agent running as root.
inline constexpr uint64_t kCapDevices = 1u << 7;
inline constexpr uint64_t kCapabilitiesSupported =
    kCapZstd | kCapXattrs | kCapBlockDelta | kCapSourceCopy | kCapAcls | kCapPrivilegedXattrs |
    kCapSpecialFiles | kCapDevices;

enum class MessageType : uint8_t {
  kHello = 1,
  kHelloReply = 2,
  kMkdir = 10,
  kSymlink = 11,
  kHardlink = 12,
  kRename = 13,
  kUnlink = 14,
  kRmdir = 15,
  kSetMeta = 16,
  kMakeNode = 17,  // kCapSpecialFiles (kCapDevices for devices)
  kFileBegin = 20,
  kFileData = 21,
  kFileEnd = 22,
  kFileAbort = 23,
  kSourceCopy = 24,  // kCapSourceCopy
  kBarrier = 30,
  kAck = 31,
  kError = 32,
  // 40-47 are for block-delta transfer (kCapBlockDelta); 40 and 42-47 are reserved.
  kBlockSignatures = 40,
  kBlockCopy = 41,
  // Recovery (protocol version 2).
  kListTree = 50,
  kTreeListing = 51,
};

std::string_view MessageTypeName(MessageType type);

// Why an operation failed, as carried by Error. Stable numbers: they are on the wire.
enum class ErrorCode : uint32_t {
  kOther = 0,
  kInvalidPath = 1,   // not a normalised relative path, or it leaves the destination root
  kNotFound = 2,      // a parent directory or the source of a link/rename does not exist
  kNoSpace = 3,       // the destination file system is full (ENOSPC, EDQUOT)
  kPermission = 4,    // EACCES/EPERM at the destination
  kIO = 5,            // EIO and other local file-system failures
  kHashMismatch = 6,  // FileEnd's hash differs from the bytes received; file left unchanged
  kProtocol = 7,      // the stream broke the protocol; the agent closes the connection
  kUnsupported = 8,   // a feature this agent does not have
  // The source file read by the agent (SourceCopy) was not what the worker read: it changed
  // in between. The file is left unchanged; the worker sends it again once it has settled.
  kSourceChanged = 9,
};

struct Hello {
  uint32_t min_version = kMinProtocolVersion;
  uint32_t max_version = kProtocolVersion;
  uint64_t capabilities = 0;
  std::string software;  // "georep 0.1.0", for logs
  bool operator==(const Hello&) const = default;
};

struct HelloReply {
  bool accepted = false;
  uint32_t version = 0;       // the version both sides will speak (when accepted)
  uint64_t capabilities = 0;  // the common capabilities (when accepted)
  std::string reason;         // why not (when refused)
  bool operator==(const HelloReply&) const = default;
};

// Paths in every operation are relative to the destination root, '/'-separated, without
// empty, "." or ".." components (see path_beneath.h). SetMeta alone accepts "." (the root).
struct Mkdir {
  uint64_t seq = 0;
  std::string path;
  uint32_t mode = 0;  // permission bits; the final mode comes with the directory's SetMeta
  bool operator==(const Mkdir&) const = default;
};

struct Symlink {
  uint64_t seq = 0;
  std::string path;
  std::string target;  // stored verbatim, never resolved
  bool operator==(const Symlink&) const = default;
};

struct Hardlink {
  uint64_t seq = 0;
  std::string existing_path;
  std::string new_path;
  bool operator==(const Hardlink&) const = default;
};

struct Rename {
  uint64_t seq = 0;
  std::string from;
  std::string to;
  bool operator==(const Rename&) const = default;
};

struct Unlink {
  uint64_t seq = 0;
  std::string path;
  bool operator==(const Unlink&) const = default;
};

struct Rmdir {
  uint64_t seq = 0;
  std::string path;
  bool operator==(const Rmdir&) const = default;
};

// A FIFO (kCapSpecialFiles) or a character or block device (kCapDevices), made with mknod;
// what is in the way is replaced. Its owner, final mode, xattrs and times come with its
// SetMeta. Unix sockets are never sent: one is meaningless without the process serving it.
struct MakeNode {
  uint64_t seq = 0;
  std::string path;
  uint32_t mode = 0;  // S_IFIFO, S_IFCHR or S_IFBLK with the permission bits
  uint64_t rdev = 0;  // a device's number (0 for a FIFO)
  bool operator==(const MakeNode&) const = default;
};

struct Xattr {
  std::string name;
  std::string value;
  bool operator==(const Xattr&) const = default;
};

// Which fields of SetMeta are present.
inline constexpr uint32_t kMetaMode = 1u << 0;
inline constexpr uint32_t kMetaOwner = 1u << 1;
inline constexpr uint32_t kMetaAtime = 1u << 2;
inline constexpr uint32_t kMetaMtime = 1u << 3;
inline constexpr uint32_t kMetaXattrs = 1u << 4;  // the complete set; others are removed
inline constexpr uint32_t kMetaAll = 0x1f;

struct SetMeta {
  uint64_t seq = 0;
  std::string path;
  uint32_t fields = 0;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t atime_ns = 0;  // since the epoch
  int64_t mtime_ns = 0;
  std::vector<Xattr> xattrs;
  bool operator==(const SetMeta&) const = default;
};

// Whole-file transfer: FileBegin, FileData with increasing, non-overlapping offsets (a gap is
// a hole: zeros), FileEnd. Or FileAbort instead of FileEnd, when the source could not finish.
struct FileBegin {
  uint64_t seq = 0;
  std::string path;
  uint64_t size = 0;  // expected size (a hint; FileEnd's is authoritative)
  uint32_t mode = 0;  // permission bits, applied before the file becomes visible
  bool operator==(const FileBegin&) const = default;
};

struct FileData {
  uint64_t seq = 0;
  uint64_t offset = 0;
  std::string data;  // uncompressed bytes (the Decoder inflates zstd payloads)
  bool operator==(const FileData&) const = default;
};

struct FileEnd {
  uint64_t seq = 0;
  uint64_t size = 0;  // the file's final size
  Hash128 hash;       // XXH3-128 of all `size` bytes, holes as zeros
  bool operator==(const FileEnd&) const = default;
};

// Block delta (kCapBlockDelta), inside a file transfer, in the same increasing and
// non-overlapping offset order as FileData: the `length` bytes at `offset` of the new file are
// those at `base_offset` of the file the destination holds at the transfer's path (the old
// version the worker computed the delta from). FileEnd's hash covers the result as always.
struct BlockCopy {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint64_t base_offset = 0;
  uint64_t length = 0;
  bool operator==(const BlockCopy&) const = default;
};

// Source copy (kCapSourceCopy), inside a file transfer, in the same increasing and
// non-overlapping offset order as FileData: the `length` bytes at `offset` of the new file are
// the bytes at the same offset of the file at the transfer's path under the agent's source
// root. The worker reads and hashes the file itself as usual, so FileEnd's hash checks the
// agent's copy against what the worker read: a file rewritten between the two reads is
// refused (kSourceChanged), never half-copied.
struct SourceCopy {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const SourceCopy&) const = default;
};

struct FileAbort {
  uint64_t seq = 0;
  std::string reason;
  bool operator==(const FileAbort&) const = default;
};

struct Barrier {
  uint64_t seq = 0;
  bool durable = false;  // ask for everything up to here to be on stable storage
  bool operator==(const Barrier&) const = default;
};

struct Ack {
  uint64_t applied_seq = 0;  // every operation with seq <= this was processed
  bool durable = false;      // ... and is on stable storage
  bool operator==(const Ack&) const = default;
};

struct Error {
  uint64_t seq = 0;  // the operation that failed (0: the stream as a whole)
  ErrorCode code = ErrorCode::kOther;
  std::string message;
  bool operator==(const Error&) const = default;
};

// The destination's metadata of `path` and everything beneath it ("." for all of it). Not an
// operation: it has no sequence number, and the worker sends it only with nothing in flight.
struct ListTree {
  uint64_t id = 0;  // echoed by the reply
  std::string path;
  bool operator==(const ListTree&) const = default;
};

// One entry as the destination holds it: enough to tell whether it is what the source has
// (type, mode, size, mtime, target) and which paths are links of one file (ino, nlink).
struct ListedEntry {
  std::string path;   // relative to the destination root; "." for the root
  uint32_t mode = 0;  // st_mode, type bits included
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  uint32_t nlink = 0;
  std::string target;  // symlinks
  bool operator==(const ListedEntry&) const = default;
};

// Part of the answer to a ListTree, parents before children; `last` ends it. `error`: why the
// listing is incomplete (in the last frame): what could not be read makes no index entry.
struct TreeListing {
  uint64_t id = 0;
  std::vector<ListedEntry> entries;  // at most kMaxListedEntries
  bool last = false;
  std::string error;
  bool operator==(const TreeListing&) const = default;
};

using Message = std::variant<Hello, HelloReply, Mkdir, Symlink, Hardlink, Rename, Unlink, Rmdir,
                             SetMeta, FileBegin, FileData, FileEnd, FileAbort, Barrier, Ack, Error,
                             BlockCopy, SourceCopy, ListTree, TreeListing, MakeNode>;

MessageType TypeOf(const Message& message);
// The sequence number of an operation; 0 for Hello, HelloReply, Ack, Error, ListTree and
// TreeListing.
uint64_t SeqOf(const Message& message);

// The agent's answer to a Hello: the highest common version and the common capabilities.
HelloReply AnswerHello(const Hello& hello, uint64_t our_capabilities);

struct EncoderOptions {
  bool compress = false;  // zstd FileData when it makes them smaller (needs kCapZstd)
  int zstd_level = 1;
};

// Appends frames to a caller's buffer.
class Encoder {
 public:
  explicit Encoder(EncoderOptions options = {});
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // InvalidArgument when a field exceeds the protocol's limits; `out` is then unchanged.
  Status Append(const Message& message, std::string* out);

 private:
  struct ZstdContext;
  EncoderOptions options_;
  std::unique_ptr<ZstdContext> zstd_;
};

// Turns a byte stream cut into arbitrary chunks back into messages. Memory is bounded: at
// most one partial frame is buffered, and its header is checked before its body is awaited.
class Decoder {
 public:
  Decoder();
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Appends every message completed by `bytes` to `out`. Malformed input yields Corruption;
  // the decoder then stays failed (the stream cannot be resynchronised).
  Status Feed(std::string_view bytes, std::vector<Message>* out);
  // True when no partial frame is buffered: the peer may close the stream here.
  bool AtFrameBoundary() const { return partial_.empty(); }

 private:
  struct ZstdContext;
  Status ParseFrame(std::string_view frame, std::vector<Message>* out);
  Status failed_;
  std::string partial_;
  std::unique_ptr<ZstdContext> zstd_;
};

}  // namespace georep::replication
