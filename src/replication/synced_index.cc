#include "replication/synced_index.h"

#include <xxhash.h>

#include <string_view>

#include "replication/le_bytes.h"

namespace georep::replication {
namespace {

using le::GetStr;
using le::GetU64;
using le::PutStr;
using le::PutU64;

// Formats 3 and log-2 add `linked`; 2 and log-1 (without it) are read too, and folded into the
// new format at the next commit.
constexpr std::string_view kIndexMagic = "georep-index-3\n";
constexpr std::string_view kLogMagic = "georep-index-log-2\n";
constexpr std::string_view kIndexMagic2 = "georep-index-2\n";
constexpr std::string_view kLogMagic1 = "georep-index-log-1\n";
// A log smaller than this is never folded (folding a small index often gains nothing).
constexpr uint64_t kMinFoldBytes = 1 << 20;

void PutEntry(std::string* out, const std::string& path, const IndexEntry& e) {
  PutStr(out, path);
  PutU64(out, static_cast<uint64_t>(e.type));
  PutU64(out, e.mode);
  PutU64(out, e.uid);
  PutU64(out, e.gid);
  PutU64(out, e.size);
  PutU64(out, e.dev);
  PutU64(out, e.ino);
  PutU64(out, static_cast<uint64_t>(e.mtime_ns));
  PutU64(out, static_cast<uint64_t>(e.ctime_ns));
  PutStr(out, e.target);
  PutU64(out, e.linked ? 1 : 0);
}

// `older`: an entry of format 2 (log-1), without `linked`.
bool GetEntry(std::string_view* v, std::string* path, IndexEntry* e, bool older) {
  uint64_t type = 0, mode = 0, uid = 0, gid = 0, mtime = 0, ctime = 0, linked = 0;
  if (!GetStr(v, path) || !GetU64(v, &type) || !GetU64(v, &mode) || !GetU64(v, &uid) ||
      !GetU64(v, &gid) || !GetU64(v, &e->size) || !GetU64(v, &e->dev) || !GetU64(v, &e->ino) ||
      !GetU64(v, &mtime) || !GetU64(v, &ctime) || !GetStr(v, &e->target) || type > 3 ||
      (!older && (!GetU64(v, &linked) || linked > 1))) {
    return false;
  }
  e->linked = linked == 1;
  e->type = static_cast<EntryType>(type);
  e->mode = static_cast<uint32_t>(mode);
  e->uid = static_cast<uint32_t>(uid);
  e->gid = static_cast<uint32_t>(gid);
  e->mtime_ns = static_cast<int64_t>(mtime);
  e->ctime_ns = static_cast<int64_t>(ctime);
  return true;
}

// The file at `path`; `exists` false (and nothing) when it is not there.
Result<std::string> ReadWhole(Env* env, const std::string& path, bool* exists) {
  auto data = env->ReadFile(path);
  *exists = data.ok();
  if (data.status().code() == StatusCode::kNotFound) return std::string();
  return data;
}

// 0 when it is not there (or cannot be looked at).
uint64_t SizeOf(Env* env, const std::string& path) {
  auto size = env->FileSize(path);
  return size.ok() ? *size : 0;
}

}  // namespace

void ApplyDelta(const IndexDelta& delta, SyncedIndex* index) {
  if (delta.entry)
    (*index)[delta.path] = *delta.entry;
  else
    index->erase(delta.path);
}

Result<SyncedIndex> LoadIndex(const std::string& path, bool* older_format, Env* env) {
  SyncedIndex index;
  bool exists = false;
  GEOREP_ASSIGN_OR_RETURN(std::string data, ReadWhole(env, path, &exists));
  if (!exists) return index;
  std::string_view v = data;
  const bool older = v.substr(0, kIndexMagic2.size()) == kIndexMagic2;
  if (older_format != nullptr) *older_format = older;
  // An index of a format older still: start over (a full comparison at the destination).
  if (!older && v.substr(0, 13) == "georep-index-" &&
      v.substr(0, kIndexMagic.size()) != kIndexMagic)
    return index;
  if (!older && v.substr(0, kIndexMagic.size()) != kIndexMagic)
    return Status::Corruption(path + " is not a georep index");
  v.remove_prefix(older ? kIndexMagic2.size() : kIndexMagic.size());
  while (!v.empty()) {
    std::string p;
    IndexEntry e;
    if (!GetEntry(&v, &p, &e, older)) return Status::Corruption(path + " is truncated or damaged");
    index.emplace(std::move(p), std::move(e));
  }
  return index;
}

Status SaveIndex(const std::string& path, const SyncedIndex& index, Env* env) {
  std::string out(kIndexMagic);
  for (const auto& [p, e] : index) PutEntry(&out, p, e);
  // After a crash the snapshot is either the old one or the new one, whole.
  return ReplaceFile(env, path, out, /*sync=*/true);
}

IndexStore::IndexStore(const std::string& state_dir, Env* env)
    : env_(env), snapshot_path_(state_dir + "/index"), log_path_(state_dir + "/index.log") {}

Result<SyncedIndex> IndexStore::Load() {
  older_format_ = false;
  GEOREP_ASSIGN_OR_RETURN(SyncedIndex index, LoadIndex(snapshot_path_, &older_format_, env_));
  snapshot_bytes_ = SizeOf(env_, snapshot_path_);
  bool exists = false;
  GEOREP_ASSIGN_OR_RETURN(std::string log, ReadWhole(env_, log_path_, &exists));
  log_bytes_ = 0;
  dropped_log_bytes_ = 0;
  if (!exists) return index;
  std::string_view v = log;
  const bool older_log = v.substr(0, kLogMagic1.size()) == kLogMagic1;
  if (older_log) older_format_ = true;
  if (!older_log && v.substr(0, kLogMagic.size()) != kLogMagic) {
    dropped_log_bytes_ = log.size();
    return index;
  }
  v.remove_prefix(older_log ? kLogMagic1.size() : kLogMagic.size());
  // Records: payload length, payload (deltas), XXH3-64 of the payload.
  while (!v.empty()) {
    std::string_view rest = v;
    uint64_t length = 0, sum = 0;
    if (!GetU64(&rest, &length) || length > rest.size()) break;
    std::string_view payload = rest.substr(0, length);
    rest.remove_prefix(length);
    if (!GetU64(&rest, &sum) || XXH3_64bits(payload.data(), payload.size()) != sum) break;
    SyncedIndex staged;  // a record applies whole or not at all
    std::vector<IndexDelta> deltas;
    bool ok = true;
    while (!payload.empty() && ok) {
      uint64_t kind = 0;
      IndexDelta d;
      ok = GetU64(&payload, &kind) && (kind == 0 || kind == 1);
      if (ok && kind == 1) {
        IndexEntry e;
        ok = GetEntry(&payload, &d.path, &e, older_log);
        d.entry = std::move(e);
      } else if (ok) {
        ok = GetStr(&payload, &d.path);
      }
      if (ok) deltas.push_back(std::move(d));
    }
    if (!ok) break;
    for (const auto& d : deltas) ApplyDelta(d, &index);
    v = rest;
  }
  dropped_log_bytes_ = v.size();
  log_bytes_ = log.size() - v.size();
  return index;
}

std::optional<IndexEntry> PendingIndex::Find(const std::string& path) const {
  if (auto c = changes_.find(path); c != changes_.end()) return c->second;
  if (auto b = base_->find(path); b != base_->end()) return b->second;
  return std::nullopt;
}

void PendingIndex::ForEachIn(
    const std::string& path,
    const std::function<void(const std::string&, const IndexEntry&)>& visit) const {
  // Merges base's and the changes' [lo, hi) ranges, a change winning over base's entry.
  auto merge = [&](auto b, auto b_end, auto c, auto c_end) {
    while (b != b_end || c != c_end) {
      if (c == c_end || (b != b_end && b->first < c->first)) {
        visit(b->first, b->second);
        ++b;
        continue;
      }
      if (b != b_end && b->first == c->first) ++b;
      if (c->second) visit(c->first, *c->second);
      ++c;
    }
  };
  if (path == ".") {
    merge(base_->begin(), base_->end(), changes_.begin(), changes_.end());
    return;
  }
  if (auto self = Find(path)) visit(path, *self);
  // Beneath: from "path/" up to "path0" ('0' follows '/'). A sibling such as "path-2" or
  // "path.zip" sorts before "path/" and stays out.
  const std::string lo = path + "/", hi = path + "0";
  merge(base_->lower_bound(lo), base_->lower_bound(hi), changes_.lower_bound(lo),
        changes_.lower_bound(hi));
}

std::vector<std::pair<std::string, IndexEntry>> PendingIndex::Subtree(
    const std::string& path) const {
  std::vector<std::pair<std::string, IndexEntry>> out;
  ForEachIn(path, [&](const std::string& p, const IndexEntry& e) { out.emplace_back(p, e); });
  return out;
}

Status IndexStore::Append(const std::vector<IndexDelta>& deltas, const SyncedIndex& index) {
  if (deltas.empty()) return Status::Ok();
  if (log_bytes_ + deltas.size() * 64 > std::max(kMinFoldBytes, snapshot_bytes_) ||
      dropped_log_bytes_ > 0 || older_format_) {
    return Fold(index);
  }
  std::string payload;
  for (const auto& d : deltas) {
    PutU64(&payload, d.entry ? 1 : 0);
    if (d.entry)
      PutEntry(&payload, d.path, *d.entry);
    else
      PutStr(&payload, d.path);
  }
  std::string record;
  if (log_bytes_ == 0) record = kLogMagic;
  PutU64(&record, payload.size());
  record += payload;
  PutU64(&record, XXH3_64bits(payload.data(), payload.size()));
  // The first record starts the log afresh (a damaged tail of an older one goes).
  GEOREP_ASSIGN_OR_RETURN(auto log,
                          env_->OpenWritable(log_path_, log_bytes_ == 0 ? Env::OpenMode::kTruncate
                                                                        : Env::OpenMode::kAppend));
  Status st = log->Append(record);
  (void)log->Close();
  // A record half written stays behind as a torn tail; Load() stops before it.
  if (!st.ok()) return st;
  log_bytes_ += record.size();
  return Status::Ok();
}

Status IndexStore::Fold(const SyncedIndex& index) {
  // The log goes first: replayed over a newer snapshot, its older changes would claim states
  // the destination has left. A crash in between leaves the old snapshot alone, a state the
  // destination did hold, from which the worker catches up.
  if (Status t = env_->Truncate(log_path_, /*sync=*/true);
      !t.ok() && t.code() != StatusCode::kNotFound)
    return t;
  log_bytes_ = 0;
  dropped_log_bytes_ = 0;
  GEOREP_RETURN_IF_ERROR(SaveIndex(snapshot_path_, index, env_));
  older_format_ = false;
  snapshot_bytes_ = SizeOf(env_, snapshot_path_);
  ++folds_;
  return Status::Ok();
}

}  // namespace georep::replication
