#include "replication/reconcile.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace georep::replication {
namespace {

bool Beneath(const std::string& path, const std::string& scope) {
  if (scope == "." || scope.empty()) return true;
  return path == scope ||
         (path.size() > scope.size() && path.starts_with(scope) && path[scope.size()] == '/');
}

// `path` or a directory above it is skipped.
bool Skipped(const std::string& path, const std::function<bool(const std::string&)>& skip) {
  if (!skip || path == ".") return false;
  if (skip(path)) return true;
  for (auto pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1))
    if (skip(path.substr(0, pos))) return true;
  return false;
}

EntryType TypeOfMode(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return EntryType::kRegular;
    case S_IFDIR:
      return EntryType::kDirectory;
    case S_IFLNK:
      return EntryType::kSymlink;
    default:
      return EntryType::kOther;
  }
}

// The destination's entry as the index would record it, for no source inode.
IndexEntry FromListing(const ListedEntry& d) {
  IndexEntry i;
  i.type = TypeOfMode(d.mode);
  i.mode = d.mode & 07777;
  i.uid = d.uid;
  i.gid = d.gid;
  i.size = i.type == EntryType::kRegular ? d.size : 0;
  i.mtime_ns = d.mtime_ns;
  i.target = d.target;
  i.linked = i.type == EntryType::kRegular && d.nlink > 1;
  return i;
}

// The destination holds `want`'s content (metadata aside).
bool SameContentAs(const IndexEntry& want, const ListedEntry& d) {
  const EntryType type = TypeOfMode(d.mode);
  if (want.type != type) return false;
  switch (type) {
    case EntryType::kRegular:
      return want.size == d.size && want.mtime_ns == d.mtime_ns;
    case EntryType::kSymlink:
      return want.target == d.target;
    case EntryType::kDirectory:
      return true;
    case EntryType::kOther:
      return false;
  }
  return false;
}

// The destination has `want`'s metadata too (what the applier sets: mode; a directory's mtime,
// which its contents' arrival moves).
bool SameMetaAs(const IndexEntry& want, const ListedEntry& d) {
  if (want.type == EntryType::kSymlink) return true;
  if (want.mode != (d.mode & 07777)) return false;
  return want.type != EntryType::kDirectory || want.mtime_ns == d.mtime_ns;
}

std::string ParentPath(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Directories the destination holds under a name neither the source nor the index has, paired
// with directories the index has that the destination lacks: a rename the agent applied but the
// index never recorded (the worker was killed), after which the source renamed the directory
// again (the index may have lost the directory's own entry to a refusal, keeping its contents).
// Paired by their immediate contents (names and types, files' sizes and mtimes -- names alone
// are alike in many directories): at least half of the larger of the two lists in common,
// each the other's best match, and no tie. Contents change while a
// writer is busy, so not all need match; a pairing that is wrong costs only efficiency (what
// differs in it is deleted and sent again, entry by entry). Empty directories have nothing to
// be paired by. Destination path -> index path.
std::map<std::string, std::string> RenamedThere(
    const SyncedIndex& index, const std::string& scope,
    const std::map<std::string, IndexEntry>& want,
    const std::map<std::string, const ListedEntry*>& there) {
  // A child: name, type, and a file's size and mtime.
  using Key = std::tuple<std::string, EntryType, uint64_t, int64_t>;
  std::map<std::string, std::set<Key>> unknown, lost;
  for (const auto& [path, d] : there)
    if (path != "." && TypeOfMode(d->mode) == EntryType::kDirectory && !want.count(path) &&
        !index.count(path))
      unknown[path];
  if (unknown.empty()) return {};
  auto in_scope = [&](auto&& each) {
    for (auto it = index.lower_bound(scope == "." ? "" : scope); it != index.end(); ++it) {
      if (!Beneath(it->first, scope)) {
        if (scope != "." && it->first > scope + "/\xff") break;
        continue;
      }
      each(it->first, it->second);
    }
  };
  // Lost: a directory the index has, or has entries in (a refused rename can leave them
  // without it), that the destination lacks.
  in_scope([&](const std::string& path, const IndexEntry& e) {
    if (path != "." && e.type == EntryType::kDirectory && e.ino != 0 && !there.count(path))
      lost[path];
    const std::string parent = ParentPath(path);
    if (path != "." && parent != "." && Beneath(parent, scope) && !there.count(parent))
      lost[parent];
  });
  if (lost.empty()) return {};
  auto leaf = [](const std::string& path) { return path.substr(path.rfind('/') + 1); };
  for (const auto& [path, d] : there)
    if (auto u = unknown.find(ParentPath(path)); u != unknown.end()) {
      const EntryType type = TypeOfMode(d->mode);
      const bool file = type == EntryType::kRegular;
      u->second.emplace(leaf(path), type, file ? d->size : 0, file ? d->mtime_ns : 0);
    }
  std::map<Key, std::vector<const std::string*>> holders;  // child -> lost directories
  in_scope([&](const std::string& path, const IndexEntry& e) {
    if (auto l = lost.find(ParentPath(path)); l != lost.end()) {
      const bool file = e.type == EntryType::kRegular;
      const Key key{leaf(path), e.type, file ? e.size : 0, file ? e.mtime_ns : 0};
      l->second.insert(key);
      holders[key].push_back(&l->first);
    }
  });
  // Each unknown directory's best lost one, and each lost one's best unknown one.
  struct Best {
    const std::string* with = nullptr;
    size_t common = 0;
    bool tie = false;
  };
  auto offer = [](Best* b, const std::string* with, size_t common) {
    if (common > b->common) {
      *b = {with, common, false};
    } else if (common == b->common && with != b->with) {
      b->tie = true;
    }
  };
  std::map<std::string, Best> best_lost;
  std::map<const std::string*, Best> best_unknown;
  for (const auto& [path, keys] : unknown) {
    std::map<const std::string*, size_t> common;
    for (const Key& k : keys)
      if (auto h = holders.find(k); h != holders.end())
        for (const std::string* l : h->second) ++common[l];
    for (const auto& [l, n] : common) {
      if (2 * n < std::max(keys.size(), lost.at(*l).size())) continue;
      offer(&best_lost[path], l, n);
      offer(&best_unknown[l], &path, n);
    }
  }
  std::map<std::string, std::string> out;
  for (const auto& [path, b] : best_lost) {
    if (b.with == nullptr || b.tie) continue;
    const Best& back = best_unknown[b.with];
    if (!back.tie && back.with != nullptr && *back.with == path) out[path] = *b.with;
  }
  return out;
}

// What the destination should hold beneath `scope`: the source's scan, else the index.
std::map<std::string, IndexEntry> Wanted(const SyncedIndex& index, const std::string& scope,
                                         const std::vector<ScanEntry>* source,
                                         const std::function<bool(const std::string&)>& skip) {
  std::map<std::string, IndexEntry> want;
  if (source != nullptr) {
    for (const ScanEntry& e : *source)
      if (Beneath(e.path, scope) && !Skipped(e.path, skip)) want[e.path] = IndexEntryOf(e);
    return want;
  }
  for (auto it = index.lower_bound(scope == "." ? "" : scope); it != index.end(); ++it) {
    if (!Beneath(it->first, scope)) {
      if (scope != "." && it->first > scope + "/\xff") break;
      continue;
    }
    if (!Skipped(it->first, skip)) want.insert(*it);
  }
  return want;
}

// Destination inode -> source file (dev, ino) -> its paths there.
using Sharing = std::map<uint64_t, std::map<std::pair<uint64_t, uint64_t>, size_t>>;

Sharing SharingOf(const std::map<std::string, IndexEntry>& want,
                  const std::map<std::string, const ListedEntry*>& there) {
  Sharing sharing;
  for (const auto& [path, d] : there) {
    if (TypeOfMode(d->mode) != EntryType::kRegular || d->nlink < 2) continue;
    if (auto w = want.find(path); w != want.end() && w->second.type == EntryType::kRegular)
      ++sharing[d->ino][{w->second.dev, w->second.ino}];
  }
  return sharing;
}

// Whether the destination file `d` belongs to another source file than `want_entry` (the one
// with the most paths on that inode keeps it).
bool LinkedToAnother(const Sharing& sharing, const IndexEntry& want_entry, const ListedEntry& d) {
  auto s = sharing.find(d.ino);
  if (TypeOfMode(d.mode) != EntryType::kRegular || s == sharing.end() || s->second.size() < 2)
    return false;
  const auto keeps =
      std::max_element(s->second.begin(), s->second.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  return keeps->first != std::make_pair(want_entry.dev, want_entry.ino);
}

// Links: the source files (dev, ino) whose paths are separate files at the destination.
std::set<std::pair<uint64_t, uint64_t>> SplitLinks(
    const std::map<std::string, IndexEntry>& want,
    const std::map<std::string, const ListedEntry*>& there,
    std::map<std::string, std::optional<IndexEntry>>& next) {
  std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>> inodes;
  for (const auto& [path, w] : want) {
    if (w.type != EntryType::kRegular || !w.linked) continue;
    auto& at = inodes[{w.dev, w.ino}];
    auto d = there.find(path);
    if (d != there.end() && TypeOfMode(d->second->mode) == EntryType::kRegular)
      at.insert(d->second->ino);
  }
  // And what the destination holds at a path the source has left, recorded with a linked
  // source file's inode: the pass moves it to that file's path (a directory renamed at the
  // source while the link made in it was not yet joined), a separate file still.
  for (const auto& [path, d] : there) {
    if (want.count(path) || TypeOfMode(d->mode) != EntryType::kRegular) continue;
    const auto& recorded = next[path];
    if (!recorded || recorded->ino == 0) continue;
    if (auto i = inodes.find({recorded->dev, recorded->ino}); i != inodes.end())
      i->second.insert(d->ino);
  }
  std::set<std::pair<uint64_t, uint64_t>> split;
  for (const auto& [id, at] : inodes)
    if (at.size() > 1) split.insert(id);
  return split;
}

}  // namespace

IndexEntry IndexEntryOf(const ScanEntry& e) {
  IndexEntry i;
  i.type = e.type;
  i.mode = e.mode & 07777;
  i.uid = e.uid;
  i.gid = e.gid;
  i.size = e.type == EntryType::kRegular ? e.size : 0;
  i.dev = e.dev;
  i.ino = e.ino;
  i.mtime_ns = e.mtime_ns;
  i.ctime_ns = e.ctime_ns;
  i.target = e.symlink_target;
  i.linked = e.type == EntryType::kRegular && e.nlink > 1;
  return i;
}

Reconciliation ReconcileIndex(const SyncedIndex& index, const std::string& scope,
                              const std::vector<ScanEntry>* source,
                              const std::vector<ListedEntry>& destination,
                              const std::function<bool(const std::string&)>& skip) {
  Reconciliation out;
  const std::map<std::string, IndexEntry> want = Wanted(index, scope, source, skip);
  std::map<std::string, const ListedEntry*> there;
  for (const ListedEntry& d : destination)
    if (Beneath(d.path, scope) && !Skipped(d.path, skip)) there[d.path] = &d;

  // The metadata the index records as sent, by source inode.
  // What the index records as sent, by source inode (whatever its path: a rename applied but
  // not recorded moved the entry, not what was sent of it).
  std::map<std::pair<uint64_t, uint64_t>, const IndexEntry*> sent;
  if (source != nullptr)
    for (const auto& [path, e] : index)
      if (e.ino != 0) sent[{e.dev, e.ino}] = &e;
  const std::map<std::string, std::string> renamed = RenamedThere(index, scope, want, there);
  // A destination file several paths share (hard links there) holds one source file only: a
  // path of it that the source has as another file (the source renamed that file over a link
  // while no worker ran, say) does not hold its content, whatever size and mtime say -- and its
  // metadata set there would be its other links' too. The source file with the most paths on
  // that inode keeps it; the others' paths are sent again, each a file of its own.
  // Destination inode -> source file (dev, ino) -> its paths there.
  const Sharing sharing = SharingOf(want, there);
  auto linked_to_another = [&](const IndexEntry& want_entry, const ListedEntry& d) {
    return LinkedToAnother(sharing, want_entry, d);
  };
  // The index's path for what the destination holds at `path`: itself, or beneath a directory
  // renamed there.
  auto index_path = [&](const std::string& path) -> std::string {
    for (std::string p = path; !renamed.empty() && p != "."; p = ParentPath(p))
      if (auto r = renamed.find(p); r != renamed.end()) return r->second + path.substr(p.size());
    return path;
  };
  std::map<std::string, std::optional<IndexEntry>> next;  // nullopt: not in the index
  for (const auto& [path, d] : there) {
    auto w = want.find(path);
    const IndexEntry* sent_as = nullptr;
    if (w != want.end())
      if (auto k = sent.find({w->second.dev, w->second.ino}); k != sent.end()) sent_as = k->second;
    // A file's size and mtime say its content is there only where the index records that very
    // version as sent: a file in flight when the worker was killed may have been read in the
    // clock tick of a write that left both as they were. A first sync (an empty index) trusts
    // them, as rsync does.
    const bool content_vouched =
        w != want.end() &&
        (source == nullptr || index.empty() || w->second.type != EntryType::kRegular ||
         (sent_as != nullptr && sent_as->size == w->second.size &&
          sent_as->mtime_ns == w->second.mtime_ns));
    IndexEntry recorded;
    if (w != want.end() && SameContentAs(w->second, *d) && content_vouched &&
        !linked_to_another(w->second, *d)) {
      recorded = w->second;
      // Owners and xattrs are not in the listing: they are known to be there only when the
      // index already recorded this very metadata (the same inode, the same ctime) as sent.
      // Else they go again -- metadata only, never the data. An entry the index has as not
      // current (mtime -1: a directory whose SetMeta a pass sends at its end, one an earlier
      // reconciliation found different, a refusal) was not sent, whatever its ctime says.
      const bool meta_known =
          source == nullptr ||
          (sent_as != nullptr && sent_as->ctime_ns == recorded.ctime_ns && sent_as->mtime_ns != -1);
      if (SameMetaAs(w->second, *d) && meta_known) {
        ++out.counts.kept;
      } else {
        // The content stays; the metadata is sent again (a directory's at the end of a pass).
        if (recorded.type == EntryType::kDirectory) {
          recorded.mtime_ns = -1;
        } else {
          recorded.ctime_ns = -1;
        }
        ++out.counts.meta;
      }
    } else if (w != want.end()) {
      recorded = FromListing(*d);
      recorded.dev = w->second.dev;
      recorded.ino = w->second.ino;
      recorded.mtime_ns = -1;  // differs from anything: sent again
      ++out.counts.stale;
    } else if (auto was = index.find(index_path(path)); source != nullptr && was != index.end() &&
                                                        was->second.ino != 0 &&
                                                        SameContentAs(was->second, *d)) {
      // What the index recorded there, still there: the source moved it (a rename not sent
      // before the kill) or deleted it. Recorded with its source inode, the pass finds the
      // move and renames it at the destination, its contents not sent again; else deletes it.
      recorded = was->second;
      if (!SameMetaAs(was->second, *d)) {
        if (recorded.type == EntryType::kDirectory) {
          recorded.mtime_ns = -1;
        } else {
          recorded.ctime_ns = -1;
        }
      }
      ++out.counts.extra;
    } else {
      recorded = FromListing(*d);  // no source inode: never taken for a rename's source
      ++out.counts.extra;
    }
    next[path] = recorded;
  }
  for (auto it = index.lower_bound(scope == "." ? "" : scope); it != index.end(); ++it) {
    if (!Beneath(it->first, scope)) {
      if (scope != "." && it->first > scope + "/\xff") break;
      continue;
    }
    if (Skipped(it->first, skip) || there.count(it->first)) continue;
    next[it->first] = std::nullopt;
    ++out.counts.missing;
  }

  out.relink = SplitLinks(want, there, next);
  out.counts.relinked = out.relink.size();

  for (auto& [path, entry] : next) {
    auto old = index.find(path);
    if (!entry) {
      if (old != index.end()) out.deltas.push_back({path, std::nullopt});
    } else if (old == index.end() || !(old->second == *entry)) {
      out.deltas.push_back({path, std::move(entry)});
    }
  }
  return out;
}

}  // namespace georep::replication
