// The conversation: the handshake, sequence numbers and the protocol's rules, each message
// dispatched to its operation, HandleAll's shortcuts (a FileEnd with its SetMeta, whole small
// files handed to threads), and the record of files whose new content was not written.
#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "replication/applier.h"
#include "replication/applier_internal.h"

namespace georep::replication {

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

Status Applier::Handle(const Message& message, std::vector<Message>* replies) {
  return HandleAll(std::vector<Message>{message}, replies);
}

void Applier::PrepareFor(const Message& message) {
  const auto* barrier = std::get_if<Barrier>(&message);
  // A durable Barrier commits the batch itself (DoBarrier); anything else that needs files
  // in place -- an earlier batch's, whose sync is in flight, or this batch's -- waits for them.
  if (barrier != nullptr && barrier->durable) return;
  if (!syncing_.empty() && EndsBatch(message, syncing_paths_, syncing_dirs_)) (void)FinishSync();
  if (!staged_.empty() &&
      (EndsBatch(message, staged_paths_, staged_dirs_) || staged_.size() >= kMaxStagedFiles))
    FlushStaged();
}

Status Applier::HandleOne(const Message& message) {
  if (stream_broken_) return Status::FailedPrecondition("the stream already broke the protocol");
  // What needs the files in flight finds them in place (or staged), their failures replied.
  if (!jobs_.empty() && NeedsFileJobs(message)) FinishFileJobs();
  if (const auto* hello = std::get_if<Hello>(&message)) {
    if (handshake_done_) {
      Status st = BreakStream("a second Hello");
      Emit(Error{0, ErrorCode::kProtocol, st.message()});
      return st;
    }
    HelloReply reply = AnswerHello(*hello, options_.capabilities);
    Emit(reply);
    if (!reply.accepted) {
      stream_broken_ = true;
      return Status::FailedPrecondition("refused the peer: " + reply.reason);
    }
    handshake_done_ = true;
    managed_ = reply.capabilities;  // what the worker sends is what this agent manages
    return Status::Ok();
  }
  if (!handshake_done_) {
    Status st = BreakStream(fmt::format("{} before Hello", MessageTypeName(TypeOf(message))));
    Emit(Error{0, ErrorCode::kProtocol, st.message()});
    return st;
  }
  PrepareFor(message);
  const auto* barrier = std::get_if<Barrier>(&message);
  barrier_hold_ = Hold::kNone;
  Status st = Apply(message);
  if (stream_broken_) {
    Emit(Error{SeqOf(message), ErrorCode::kProtocol, st.message()});
    return st;
  }
  bool durable = false;
  if (!st.ok()) {
    Emit(Error{SeqOf(message), last_error_code_, st.ToString()});
  } else if (barrier != nullptr) {
    durable = barrier->durable;
  }
  if (barrier != nullptr) {
    Out ack{Ack{applied_seq_, durable}};
    ack.barrier = barrier->seq;
    if (durable) {
      ack.hold = barrier_hold_;
      ack.sync = syncs_started_;
      if (ack.hold != Hold::kNone) ack.held_at_ms = clock_->MonotonicMillis();
    }
    out_.push_back(std::move(ack));
  }
  return Status::Ok();
}

Status Applier::Apply(const Message& operation) {
  if (stream_broken_) return Status::FailedPrecondition("the stream already broke the protocol");
  if (!collecting_) FinishFileJobs();
  MessageType type = TypeOf(operation);
  if (type == MessageType::kHello || type == MessageType::kHelloReply ||
      type == MessageType::kAck || type == MessageType::kError) {
    return BreakStream(fmt::format("{} is not an operation", MessageTypeName(type)));
  }
  uint64_t seq = SeqOf(operation);
  if (seq <= applied_seq_) {
    return BreakStream(fmt::format("sequence number {} does not follow {} ({})", seq, applied_seq_,
                                   MessageTypeName(type)));
  }
  const bool transfer = type == MessageType::kFileBegin || type == MessageType::kFileData ||
                        type == MessageType::kFileEnd || type == MessageType::kBlockCopy ||
                        type == MessageType::kSourceCopy || type == MessageType::kFileAbort;
  // Only the SetMeta that comes with a refused transfer is skipped (DoSetMeta).
  if (!transfer && type != MessageType::kSetMeta) meta_skip_path_.clear();
  Status st = ApplyOne(operation);
  if (!st.ok() && transfer && type != MessageType::kFileAbort) {
    NoteUnwritten(transfer_path_);
    meta_skip_path_ = transfer_path_;
  }
  applied_seq_ = seq;  // processed, successfully or with its failure reported
  return st;
}

void Applier::MoveUnwritten(const std::string& from, const std::string* to) {
  if (unwritten_.empty()) return;
  // `top` and what is beneath it (`top/...`; not a sibling such as `top-2`, which sorts between).
  auto take = [&](const std::string& top) {
    std::vector<std::string> out;
    if (unwritten_.erase(top) != 0) out.push_back(top);
    const std::string below = top + "/";
    for (auto it = unwritten_.lower_bound(below);
         it != unwritten_.end() && it->starts_with(below);) {
      out.push_back(*it);
      it = unwritten_.erase(it);
    }
    return out;
  };
  const std::vector<std::string> moved = take(from);
  if (to == nullptr) return;
  (void)take(*to);  // replaced
  for (const std::string& p : moved) unwritten_.insert(*to + p.substr(from.size()));
}

Status Applier::ApplyOne(const Message& operation) {
  bool in_file = file_ != nullptr || skipping_file_;
  MessageType type = TypeOf(operation);
  if (in_file && type != MessageType::kFileData && type != MessageType::kFileEnd &&
      type != MessageType::kFileAbort && type != MessageType::kBlockCopy &&
      type != MessageType::kSourceCopy) {
    return BreakStream(fmt::format("{} in the middle of a file transfer", MessageTypeName(type)));
  }
  return std::visit(
      [&](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Mkdir>) {
          return DoMkdir(m);
        } else if constexpr (std::is_same_v<T, Symlink>) {
          return DoSymlink(m);
        } else if constexpr (std::is_same_v<T, MakeNode>) {
          return DoMakeNode(m);
        } else if constexpr (std::is_same_v<T, Hardlink>) {
          return DoHardlink(m);
        } else if constexpr (std::is_same_v<T, Rename>) {
          return DoRename(m);
        } else if constexpr (std::is_same_v<T, Unlink>) {
          return DoUnlink(m.path, false);
        } else if constexpr (std::is_same_v<T, Rmdir>) {
          return DoUnlink(m.path, true);
        } else if constexpr (std::is_same_v<T, SetMeta>) {
          return DoSetMeta(m);
        } else if constexpr (std::is_same_v<T, FileBegin>) {
          return DoFileBegin(m);
        } else if constexpr (std::is_same_v<T, FileData>) {
          return DoFileData(m);
        } else if constexpr (std::is_same_v<T, FileEnd>) {
          return DoFileEnd(m);
        } else if constexpr (std::is_same_v<T, BlockCopy>) {
          return DoBlockCopy(m);
        } else if constexpr (std::is_same_v<T, SourceCopy>) {
          return DoSourceCopy(m);
        } else if constexpr (std::is_same_v<T, FileAbort>) {
          if (skipping_file_) {
            skipping_file_ = false;
            return Status::Ok();
          }
          if (!file_) return BreakStream("FileAbort without FileBegin");
          AbandonFile();
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, Barrier>) {
          return DoBarrier(m);
        } else {
          return BreakStream("not an operation");
        }
      },
      operation);
}

Status Applier::HandleAll(const std::vector<Message>& messages, std::vector<Message>* replies,
                          bool more_input) {
  collecting_ = true;
  Status st = Status::Ok();
  for (size_t i = 0; i < messages.size() && st.ok(); ++i) {
    may_defer_ = more_input || i + 1 < messages.size();
    if (file_queue_ != nullptr && std::holds_alternative<FileBegin>(messages[i])) {
      if (const size_t last = StartFileJob(messages, i); last != 0) {
        i = last;
        continue;
      }
    }
    const auto* end = std::get_if<FileEnd>(&messages[i]);
    const auto* meta = end != nullptr && i + 1 < messages.size()
                           ? std::get_if<SetMeta>(&messages[i + 1])
                           : nullptr;
    if (meta != nullptr && file_ && !skipping_file_ && handshake_done_ && !stream_broken_ &&
        meta->path == file_->path && end->seq > applied_seq_ && meta->seq > end->seq) {
      st = HandleFileEndWithMeta(*end, *meta);
      ++i;
      continue;
    }
    st = HandleOne(messages[i]);
  }
  may_defer_ = false;
  // The oldest Ack held: a stream that goes on without a Barrier (a large file) would keep
  // the batch before it unacknowledged until the file ends.
  auto held =
      std::find_if(out_.begin(), out_.end(), [](const Out& o) { return o.hold != Hold::kNone; });
  const bool stale =
      held != out_.end() && clock_->MonotonicMillis() - held->held_at_ms > kMaxHoldMillis;
  if (file_queue_ != nullptr) StartFileGroup();  // the next call may be a while
  if (!more_input || !st.ok() || stale) {
    FinishFileJobs();
    SyncEverything();
  }
  while (!out_.empty() && out_.front().hold == Hold::kNone) {
    replies->push_back(std::move(out_.front().message));
    out_.pop_front();
  }
  collecting_ = false;
  return st;
}

Status Applier::HandleFileEndWithMeta(const FileEnd& end, const SetMeta& meta) {
  Status meta_status;
  Status st = DoFileEnd(end, &meta, &meta_status);
  applied_seq_ = end.seq;
  if (!st.ok()) {
    // The file stays as it was, its metadata too: the SetMeta describes the version that did
    // not arrive, and its mtime on the old bytes would make them pass for that version in any
    // quick check of size and mtime (a reconciliation's, rsync's) -- for ever. The refusal
    // has the worker send both again.
    NoteUnwritten(transfer_path_);
    meta_skip_path_ = transfer_path_;
    Emit(Error{end.seq, last_error_code_, st.ToString()});
    return HandleOne(Message(meta));  // in order, as on its own: DoSetMeta leaves the file be
  }
  applied_seq_ = meta.seq;
  if (!meta_status.ok()) Emit(Error{meta.seq, meta_error_code_, meta_status.ToString()});
  return Status::Ok();
}

}  // namespace georep::replication
