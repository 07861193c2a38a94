# shellcheck shell=bash
# Shared by the stand-alone benchmark scripts (sourced, not run).

# bench_binaries ARG...: the georep binaries to compare, into the array `binaries`: the
# arguments, or (none given) a fresh release build.
bench_binaries() {
  binaries=("$@")
  if [ ${#binaries[@]} -eq 0 ]; then
    bash scripts/build.sh release >/dev/null
    binaries=("$PWD/build/release/src/georep")
  fi
}

# bench_fresh_fs DIR SIZE: DIR made anew, on a fresh ext4 (journaled, mkfs defaults) in a
# loop-mounted image DIR.img of SIZE (truncate's units), so that the host's own file system (its
# options, other users' dirty data, inodes it freed a moment ago) weighs on no run; with
# GEOREP_BENCH_HOST_FS=1, on DIR's own file system. bench_release_fs DIR undoes it.
bench_fresh_fs() {
  local dir=$1 size=$2
  bench_release_fs "$dir"
  mkdir -p "$dir"
  if [ "${GEOREP_BENCH_HOST_FS:-0}" != 1 ]; then
    truncate -s "$size" "$dir.img"
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dir.img"
    mount -o loop "$dir.img" "$dir"
  fi
}
bench_release_fs() {
  local dir=$1
  if mountpoint -q "$dir"; then umount "$dir"; fi
  rm -rf "$dir" "$dir.img"
}
