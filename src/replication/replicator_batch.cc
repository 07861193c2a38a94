#include "replication/replicator_batch.h"

#include <algorithm>
#include <set>
#include <variant>

namespace georep::replication::replicator_internal {

bool Under(const std::string& path, const std::string& dir) {
  if (dir == "." || dir.empty()) return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string ParentOf(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool SameContent(const IndexEntry& i, const ScanEntry& e) {
  return i.type == e.type && i.size == e.size && i.mtime_ns == e.mtime_ns && i.dev == e.dev &&
         i.ino == e.ino;
}

std::string DurationText(int64_t ms) {
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + " minutes";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

Status ParseReplies(Decoder* decoder, std::string* buffer, uint64_t* acked, Refusals* refused) {
  std::vector<Message> in;
  GEOREP_RETURN_IF_ERROR(decoder->Feed(*buffer, &in));
  buffer->clear();
  for (const Message& m : in) {
    if (const auto* e = std::get_if<Error>(&m)) {
      if (e->seq == 0) return Status::Unavailable("the agent failed: " + e->message);
      (*refused)[e->seq] = {e->message, e->code == ErrorCode::kSourceChanged,
                            e->code == ErrorCode::kNotFound};
    } else if (const auto* a = std::get_if<Ack>(&m)) {
      *acked = std::max(*acked, a->applied_seq);
    }
  }
  return Status::Ok();
}

void NoteOperation(std::map<uint64_t, std::string>* op_path, uint64_t* marked, uint64_t last_seq,
                   const std::string& path) {
  if (last_seq == *marked) return;
  *marked = last_seq;
  (*op_path)[last_seq] = path;
}

void NoteUnsent(const ScanError& e, Batch* b, const MovedOn& moved_on) {
  if (e.status.code() == StatusCode::kNotFound && moved_on(b->deltas, e.path)) {
    b->resend.insert(e.path);
  } else {
    b->refused.emplace_back(e.path, e.status.message());
  }
}

void NoteMetaUnsent(const ScanError& e, Batch* b) {
  if (e.status.code() == StatusCode::kNotFound) {
    b->meta_unsent.insert(e.path);
  } else {
    b->refused.emplace_back(e.path, e.status.message());
  }
}

SettledBatch Resolve(Batch& b, Refusals* refused, const MovedOn& moved_on) {
  SettledBatch s;
  s.refused = std::move(b.refused);
  s.resend = std::move(b.resend);
  // Paths the agent refused for a reason of their own (full, permissions...): a "not found"
  // that follows for the same path (the metadata of a file whose transfer was refused) says
  // nothing about the index, and must not make the next pass reconcile at once -- a full
  // destination would be listed whole again and again instead of retried after a pause.
  std::set<std::string> refused_here;
  for (auto f = refused->begin(); f != refused->end() && f->first <= b.barrier;) {
    if (auto op = b.op_path.lower_bound(f->first); op != b.op_path.end()) {
      // A file rewritten while the agent copied it is sent again once its change is seen (the
      // rewrite queued a change event); it is a failure only if it still looks as sent.
      if (f->second.source_changed && moved_on(b.deltas, op->second))
        s.resend.insert(op->second);
      else
        s.refused.emplace_back(op->second, f->second.message);
      if (!f->second.not_found)
        refused_here.insert(op->second);
      else if (!refused_here.count(op->second))
        s.not_found = true;
    }
    f = refused->erase(f);
  }
  s.deltas = std::move(b.deltas);
  s.moved_in = std::move(b.moved_in);
  s.meta_unsent = std::move(b.meta_unsent);
  for (const auto& r : s.refused) b.data_bytes.erase(r.first);
  for (const auto& p : s.resend) b.data_bytes.erase(p);
  for (const auto& [path, bytes] : b.data_bytes) s.applied_bytes += bytes;
  return s;
}

std::vector<IndexDelta> SettledDeltas(SettledBatch& b, const SyncedIndex& index) {
  std::set<std::string> refused_paths = std::move(b.resend);
  for (const auto& r : b.refused) refused_paths.insert(r.first);
  std::vector<IndexDelta> applied;
  applied.reserve(b.deltas.size() + refused_paths.size());
  for (auto& d : b.deltas) {
    if (refused_paths.count(d.path)) continue;
    // Metadata not sent whole: the entry as sent, its metadata not current (ctime -1: sent
    // again wherever the next pass finds it -- moved along with a renamed directory too).
    if (d.entry && b.meta_unsent.count(d.path)) d.entry->ctime_ns = -1;
    applied.push_back(std::move(d));
  }
  for (const auto& p : refused_paths) {
    std::optional<IndexEntry> held;
    if (auto old = index.find(p); old != index.end()) {
      held = old->second;
      held->mtime_ns = -1;  // differs from anything: sent again next pass
    } else if (auto moved = b.moved_in.find(p); moved != b.moved_in.end()) {
      // The Rename carried this very content there (a transfer is written aside and renamed
      // into place, so a refused one left it as it was): the content is known, and not sent
      // again; its metadata may have been half set by what came after -- sent again.
      held = moved->second;
      held->ctime_ns = -1;
    }
    applied.push_back({p, std::move(held)});
  }
  return applied;
}

}  // namespace georep::replication::replicator_internal
