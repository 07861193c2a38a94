// The fault harness's writer: a source tree seeded, then changed live by random operations of
// every kind (each noted for a round's report), all from the round's seed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fault/fault_options.h"

namespace georep::fault {

class Writer {
 public:
  // Random operations of `ops` on the tree at `root`, drawn from `rng`; `verbose`: each
  // operation is printed as it is made.
  Writer(std::string root, std::mt19937_64* rng, const std::set<std::string>& ops, bool verbose);

  // The seeded tree: `files` files in files/5 directories, with hard links, symlinks, xattrs,
  // owners and times.
  uint64_t Seed(int files);

  // One random operation; returns bytes written.
  uint64_t Step();

  // Adds `what` to the round's operations (printed too when verbose).
  void Note(const std::string& what);
  const std::string& log() const { return log_; }

 private:
  std::string Path(const std::string& rel) const { return rel.empty() ? root_ : root_ + "/" + rel; }
  std::string& Pick(std::vector<std::string>& v) { return v[rng_() % v.size()]; }

  void Refresh();

  // A new name in `dir`; now and then one that continues a sibling's name ("n7" and "n7-12",
  // "n7.12"), which plain string order puts between "n7" and "n7/...".
  std::string Fresh(const std::string& dir);

  void Create();
  void Append();
  void Truncate();
  void Overwrite();
  void Mkdir(const std::string& p);
  void RenameFile(bool replace);
  void RenameDir();
  void Link();
  void Unlink();
  void Rmdir();
  void Chmod();
  void Chown();
  void Utimes();
  void Xattr(bool trusted);
  void Symlink();
  void Fifo();
  void Acl();

  std::string root_;
  std::mt19937_64& rng_;
  bool verbose_;
  std::vector<std::string> mix_;
  std::vector<std::string> files_, dirs_, symlinks_, all_;
  int counter_ = 0;
  uint64_t written_ = 0;
  std::string log_;
};

}  // namespace georep::fault
