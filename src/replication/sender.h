// TreeSender: the source side's producer of the operation stream. It turns scanned entries
// (scanner.h) and the files' contents into wire messages (wire.h) written to a FrameSink:
// Mkdir before anything inside the directory, hard links as Hardlink to the first path seen
// for the inode, whole files as FileBegin / FileData chunks / FileEnd (XXH3-128 of the
// content; holes of sparse files are skipped with SEEK_DATA/SEEK_HOLE and hashed as zeros),
// then SetMeta. Directory SetMeta (with their mtimes) is sent after all entries, since adding
// children changes a directory's mtime.
//
// Nothing is skipped silently: an entry that cannot be sent (unreadable) is listed in
// SendReport::skipped with its reason; one that is deliberately not replicated (a Unix
// socket, a device for an agent that is not root, a FIFO for an agent too old to make one) in
// SendReport::not_replicated, with why. FIFOs and devices go as MakeNode, then SetMeta.
//
// Which xattrs travel follows the peer's capabilities (SetPeerCapabilities): user.*; POSIX
// ACLs with kCapAcls; trusted.* and security.capability with kCapPrivilegedXattrs (both sides
// root). A root worker whose agent is not root still reads those, to say which entries went
// without them (PrivilegedXattrsDropped).
//
// Thread-safety: none; a TreeSender feeds one stream.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "replication/block_delta.h"
#include "replication/path_beneath.h"
#include "replication/scanner.h"
#include "replication/wire.h"

namespace georep::replication {

// Where encoded frames go (an ssh pipe, a buffer in tests).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual Status Write(std::string_view frames) = 0;
};

class StringFrameSink final : public FrameSink {
 public:
  Status Write(std::string_view frames) override {
    data.append(frames);
    return Status::Ok();
  }
  std::string data;
};

struct SenderOptions {
  size_t chunk_bytes = 1u << 20;  // FileData size (at most kMaxFileDataChunk)
  size_t flush_bytes = 1u << 20;  // encoded bytes buffered before FrameSink::Write
  bool compress = false;          // zstd FileData (only when the peer has kCapZstd)
  bool send_owner = true;
  bool send_xattrs = true;  // only when the peer has kCapXattrs
  // This worker can read trusted.* (it is root): read them, and security.capability, to send
  // them (kCapPrivilegedXattrs) or to say they were not.
  bool read_privileged_xattrs = false;
};

struct SendReport {
  uint64_t directories = 0;
  uint64_t files = 0;
  uint64_t file_bytes = 0;          // logical bytes of the files sent
  uint64_t delta_files = 0;         // files sent as a block delta
  uint64_t delta_copied_bytes = 0;  // ... bytes of them the destination copied from its own
  uint64_t symlinks = 0;
  uint64_t special_files = 0;  // FIFOs and devices (MakeNode)
  uint64_t hardlinks = 0;
  std::vector<ScanError> skipped;
  // Deliberately not replicated (Unix sockets; devices or FIFOs the agent cannot make): not
  // failures, but shown.
  std::vector<ScanError> not_replicated;
};

// Files at least this large go as SourceCopy when the agent can read the source (below this,
// the stream is cheaper than the agent's open and close).
inline constexpr uint64_t kSourceCopyMinBytes = 256u << 10;

class TreeSender {
 public:
  // Opens the source root. `sink` (not owned) must outlive the sender.
  static Result<std::unique_ptr<TreeSender>> Open(const std::string& source_root, FrameSink* sink,
                                                  SenderOptions options = {});
  TreeSender(const TreeSender&) = delete;
  TreeSender& operator=(const TreeSender&) = delete;

  // The handshake's opening message (the caller waits for the HelloReply).
  Status SendHello(uint64_t capabilities, std::string_view software);

  // Sends one entry (parents must have been sent before). Directories get their Mkdir now;
  // call SendDirectoryMeta for them once their contents are sent.
  // For a regular file of at least kDeltaMinFileSize bytes: with `basis` (the signature of
  // the version the destination holds) and block delta enabled, only the differences travel;
  // `signature`, when given, receives the signature of the version sent (left with
  // block_size 0 when there is none, e.g. for a sparse file).
  Status SendEntry(const ScanEntry& entry, SendReport* report,
                   const BlockSignature* basis = nullptr, BlockSignature* signature = nullptr);
  // Whether the agent takes BlockCopy (kCapBlockDelta in the handshake).
  void EnableBlockDelta(bool on) { block_delta_ = on; }
  // Whether the agent reads the source itself (kCapSourceCopy: it is on this host): files of
  // at least kSourceCopyMinBytes then travel as SourceCopy, not through the stream; the
  // sender still reads them, for FileEnd's hash and the block signature.
  void EnableSourceCopy(bool on) { source_copy_ = on; }
  // The capabilities both sides have (the HelloReply's): which xattrs and special files the
  // agent takes. None of kCapAcls, kCapPrivilegedXattrs, kCapSpecialFiles and kCapDevices
  // until this is called.
  void SetPeerCapabilities(uint64_t common) { peer_ = common; }
  // Entries whose metadata was last sent without the trusted.* or security.capability xattrs
  // they have (the agent is not root), by path, with why; an entry leaves when it is sent
  // again without any, deleted or moved.
  const std::map<std::string, std::string>& PrivilegedXattrsDropped() const { return dropped_; }
  Status SendDirectoryMeta(const ScanEntry& directory);

  // SendEntry for every entry, then SendDirectoryMeta for every directory (root included).
  Status SendTree(const std::vector<ScanEntry>& entries, SendReport* report);

  // Incremental operations (an entry that already exists at the destination).
  Status SendRename(const std::string& from, const std::string& to);
  Status SendUnlink(const std::string& path);
  Status SendRmdir(const std::string& path);
  // SetMeta for a file or symlink whose content did not change.
  Status SendMeta(const ScanEntry& entry);
  // Hard-link identity across incremental passes: a file the destination already holds at
  // `path` (its later links are sent as Hardlink to it), and forgetting them all.
  void RememberLink(uint64_t dev, uint64_t ino, const std::string& path) {
    links_[{dev, ino}] = path;
  }
  void ForgetLinks() { links_.clear(); }
  bool KnowsLink(uint64_t dev, uint64_t ino) const { return links_.count({dev, ino}) != 0; }
  // The path later links of the inode link to; null when none is known.
  const std::string* LinkFor(uint64_t dev, uint64_t ino) const {
    auto it = links_.find({dev, ino});
    return it == links_.end() ? nullptr : &it->second;
  }
  // Makes `path` a link of `existing` at the destination (replacing what is there).
  Status SendHardlink(const std::string& existing, const std::string& path) {
    return Emit(Hardlink{NextSeq(), existing, path});
  }
  // Asks for the destination's listing of `path` (sent at once; not an operation).
  Status SendListTree(uint64_t id, const std::string& path) {
    GEOREP_RETURN_IF_ERROR(Emit(ListTree{id, path}));
    return Flush();
  }
  // A Barrier; the agent's Ack for it says everything before it is applied.
  Status SendBarrier(bool durable);
  Status Flush();

  uint64_t last_seq() const { return seq_; }
  // Entries whose xattrs could not be read when their metadata was sent (it went without
  // them): not in step, to be sent again. Taken by the caller.
  std::vector<ScanError> TakeMetaErrors() { return std::exchange(meta_errors_, {}); }

 private:
  TreeSender(UniqueFd root, FrameSink* sink, SenderOptions options);
  Status Emit(const Message& message);
  uint64_t NextSeq() { return ++seq_; }
  // `xattrs`: the entry's, already read (else from the scan, or read now).
  SetMeta MetaFor(const ScanEntry& entry, bool with_mode,
                  const std::vector<Xattr>* xattrs = nullptr);
  // Sends one file; `sent` says whether it arrived whole. A file that cannot be opened is
  // listed in report->skipped; a read failure after FileBegin ends the transfer with
  // FileAbort and is listed too. Non-OK only when the sink fails.
  // `xattrs` receives the file's xattrs, read through the descriptor it was sent from (when
  // they are sent and the scan did not read them).
  Status SendFile(const ScanEntry& entry, SendReport* report, bool* sent,
                  const BlockSignature* basis, BlockSignature* signature,
                  std::optional<std::vector<Xattr>>* xattrs);

  // The xattrs read for an entry's SetMeta.
  XattrNamespaces Namespaces() const;
  // Takes the privileged xattrs the agent cannot set out of `xattrs`, noting `path`.
  void DropPrivileged(const std::string& path, std::vector<Xattr>* xattrs);

  UniqueFd root_;
  FrameSink* sink_;
  uint64_t peer_ = 0;
  std::map<std::string, std::string> dropped_;
  SenderOptions options_;
  Encoder encoder_;
  std::string buffer_;
  std::string chunk_;
  uint64_t seq_ = 0;
  bool block_delta_ = false;
  bool source_copy_ = false;
  std::vector<ScanError> meta_errors_;
  // (dev, ino) of files with several links -> the first path sent for it.
  std::map<std::pair<uint64_t, uint64_t>, std::string> links_;
};

}  // namespace georep::replication
