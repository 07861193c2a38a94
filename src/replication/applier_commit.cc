// Batch commits and durability: kBatch's staged files, the syncs of the destination file
// system (pipelined under the next batch in HandleAll), the renames they allow, and the
// replies (Acks above all) held until what they say is true.
#include <algorithm>
#include <cerrno>
#include <future>
#include <memory>
#include <system_error>

#include "replication/applier.h"
#include "replication/applier_internal.h"

namespace georep::replication {
namespace applier_internal {

// A path of `paths` above `path` (a directory it would be in).
bool BeneathOneOf(const std::set<std::string>& paths, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (paths.count(path.substr(0, slash)) != 0) return true;
  }
  return false;
}

// `path` itself in `paths`, a path of `paths` beneath it, or one above it.
bool MeetsOneOf(const std::set<std::string>& paths, const std::string& path) {
  if (paths.count(path) != 0) return true;
  const std::string below = path + "/";
  auto it = paths.lower_bound(below);
  return (it != paths.end() && it->starts_with(below)) || BeneathOneOf(paths, path);
}

}  // namespace applier_internal

using namespace applier_internal;  // NOLINT(google-build-using-namespace): the applier's own

bool Applier::EndsBatch(const Message& message, const std::set<std::string>& paths,
                        const std::set<std::string>& dirs) {
  const PathsOf of(message);
  if (of.other) return true;  // a Barrier, or anything else: the batch ends
  // A file staged twice is renamed in twice, in order; but a file beneath a staged one must
  // find it in place (and fail on it), or the outcome would depend on when the batch ends.
  if (std::holds_alternative<FileBegin>(message)) return BeneathOneOf(paths, *of.first);
  // What works on a staged file, above one or beneath one, must find it in place. A
  // directory's times are set after the staged files are renamed into it (each rename
  // changes its mtime).
  if (std::holds_alternative<SetMeta>(message) && dirs.count(*of.first) != 0) return true;
  return of.Any([&](const std::string& path) { return MeetsOneOf(paths, path); });
}

void Applier::FlushStaged() {
  (void)FinishSync();  // an earlier batch's files go in first (failures are replied)
  if (staged_.empty()) return;
  syncing_ = std::exchange(staged_, {});
  syncing_paths_ = std::exchange(staged_paths_, {});
  syncing_dirs_ = std::exchange(staged_dirs_, {});
  syncing_barrier_ = 0;
  StartSync(false);
  (void)FinishSync();
}

void Applier::EmitBefore(uint64_t barrier, Message m) {
  if (barrier != 0) {
    for (auto it = out_.begin(); it != out_.end(); ++it) {
      if (it->hold != Hold::kNone && it->barrier == barrier) {
        out_.insert(it, Out{std::move(m)});
        return;
      }
    }
  }
  Emit(std::move(m));
}

void Applier::FailAck(size_t i, const Status& why, ErrorCode code) {
  out_[i].hold = Hold::kNone;
  std::get<Ack>(out_[i].message).durable = false;
  const uint64_t barrier = out_[i].barrier;
  out_.insert(out_.begin() + static_cast<ptrdiff_t>(i), Out{Error{barrier, code, why.ToString()}});
}

void Applier::StartSync(bool async) {
  ++syncs_started_;
  for (Out& o : out_) {
    if (o.hold == Hold::kNextSync) {
      o.hold = Hold::kSync;
      o.sync = syncs_started_;
    }
  }
  FileSystemCalls* calls = calls_;
  const int root = root_.get();
  auto sync = [calls, root] { return calls->Syncfs(root) == 0 ? 0 : errno; };
  if (async) {
    try {
      sync_ = std::async(std::launch::async, sync);
      return;
    } catch (const std::system_error&) {
      // No thread to be had: the sync is made here.
    }
  }
  std::promise<int> done;
  done.set_value(sync());
  sync_ = done.get_future();
}

Status Applier::FinishSync() {
  if (!sync_.valid()) return Status::Ok();
  const int err = sync_.get();
  const uint64_t number = syncs_started_;
  Status synced = Status::Ok();
  ErrorCode code = ErrorCode::kOther;
  if (err != 0) {
    synced = FailErrno(err, "cannot sync the destination file system at", ".");
    code = last_error_code_;
  }
  // The files whose data it put on stable storage go into place; a failure is the file's own.
  const std::vector<Staged> files = std::exchange(syncing_, {});
  const bool distinct = syncing_paths_.size() == files.size();
  syncing_paths_.clear();
  syncing_dirs_.clear();
  const uint64_t barrier = std::exchange(syncing_barrier_, 0);
  std::vector<char> renamed(files.size(), 0);
  if (synced.ok() && distinct) RenameOnFileThreads(files, &renamed);
  for (size_t i = 0; i < files.size(); ++i) {
    if (renamed[i] != 0) continue;
    const Staged& f = files[i];
    Status st = synced;
    ErrorCode file_code = code;
    if (st.ok()) {
      st = RenameReplacing(f.parent, f.temp, f.parent, f.leaf, f.path);
      file_code = last_error_code_;
    }
    if (!st.ok()) {
      ::unlinkat(f.parent, f.temp.c_str(), 0);
      NoteUnwritten(f.path);
      EmitBefore(barrier, Error{f.seq, file_code, st.ToString()});
    }
  }
  // The Acks it served: the ones waiting for it, and the one of those files' batch (whose
  // renames now wait for the next sync).
  for (size_t i = 0; i < out_.size(); ++i) {
    Out& o = out_[i];
    const bool served = o.hold == Hold::kSync && o.sync == number;
    const bool renamed = o.hold == Hold::kRenames && o.barrier == barrier;
    if (!served && !renamed) continue;
    if (!synced.ok()) {
      FailAck(i, synced, code);
      ++i;  // past the Error put before it
    } else {
      o.hold = served ? Hold::kNone : Hold::kNextSync;
    }
  }
  if (!synced.ok()) last_error_code_ = code;
  return synced;
}

void Applier::RenameOnFileThreads(const std::vector<Staged>& files, std::vector<char>* renamed) {
  constexpr size_t kMinFiles = 64;  // fewer: not worth a hand-over
  if (file_queue_ == nullptr || files.size() < kMinFiles) return;
  const size_t parts = std::min(file_queue_->threads(), files.size() / (kMinFiles / 2));
  std::vector<std::future<void>> done;
  done.reserve(parts);
  for (size_t part = 0; part < parts; ++part) {
    auto task = std::make_shared<std::packaged_task<void()>>([&, part] {
      for (size_t i = part; i < files.size(); i += parts) {
        const Staged& f = files[i];
        if (calls_->Renameat(f.parent, f.temp.c_str(), f.parent, f.leaf.c_str()) == 0) {
          (*renamed)[i] = 1;
        }
      }
    });
    done.push_back(task->get_future());
    file_queue_->Run(part, [task] { (*task)(); });
  }
  for (std::future<void>& d : done) d.wait();
}

void Applier::SyncEverything() {
  (void)FinishSync();
  const bool waiting =
      std::any_of(out_.begin(), out_.end(), [](const Out& o) { return o.hold != Hold::kNone; });
  if (!waiting) return;
  StartSync(false);
  (void)FinishSync();
}

Status Applier::DoBarrier(const Barrier& m) {
  if (!m.durable) return Status::Ok();
  if (!collecting_) {  // Apply() alone: a sync of its own (staged files wait for Handle())
    if (calls_->Syncfs(root_.get()) != 0)
      return FailErrno(errno, "cannot sync the destination file system at", ".");
    return Status::Ok();
  }
  (void)FinishSync();  // the previous batch's files go in
  const bool files = !staged_.empty();
  if (files) {
    syncing_ = std::exchange(staged_, {});
    syncing_paths_ = std::exchange(staged_paths_, {});
    syncing_dirs_ = std::exchange(staged_dirs_, {});
    syncing_barrier_ = m.seq;
  }
  // This batch's data, and every rename before it.
  StartSync(may_defer_);
  if (may_defer_) {
    barrier_hold_ = files ? Hold::kRenames : Hold::kSync;
    return Status::Ok();
  }
  // Nothing more at hand: durable now -- the files in place, and their renames synced too.
  GEOREP_RETURN_IF_ERROR(FinishSync());
  if (!files) return Status::Ok();
  StartSync(false);
  return FinishSync();
}

void Applier::Stage(const Parent& parent, const std::string& temp, const std::string& path,
                    uint64_t seq) {
  Staged staged;
  staged.parent_owned = parent.owned;
  staged.parent = parent.fd;
  staged.temp = temp;
  staged.leaf = parent.leaf;
  staged.path = path;
  staged.seq = seq;
  staged_paths_.insert(path);
  const auto slash = path.rfind('/');
  staged_dirs_.insert(slash == std::string::npos ? "." : path.substr(0, slash));
  staged_.push_back(std::move(staged));
}

}  // namespace georep::replication
