#!/bin/bash
# W2 over ssh with the worker's default ciphers (AES-GCM first on a CPU with AES
# instructions) against ssh's default, chacha20-poly1305 (forced with -c in the ssh command),
# the same binary, alternated for 3 rounds on a fresh ext4 in a loop image.
#
#   bash bench/ssh_cipher_ab.sh [WORKDIR]      (default /var/tmp/georep-cipher-ab; root;
#                                               needs build/release: scripts/build.sh release)
set -euo pipefail
work=${1:-/var/tmp/georep-cipher-ab}
georep=$(cd "$(dirname "$0")/.." && pwd)/build/release/src/georep
port=22992
[ -x "$georep" ] || { echo "build the release binary first: bash scripts/build.sh release" >&2; exit 1; }
cleanup() {
  kill "$(cat "$work/sshd/pid" 2>/dev/null)" 2>/dev/null || true
  umount "$work/mnt" 2>/dev/null || true
  rm -rf "$work"
}
cleanup
trap cleanup EXIT
mkdir -p "$work/mnt" "$work/sshd"
truncate -s 8G "$work/img"
mkfs.ext4 -q "$work/img"
mount -o loop "$work/img" "$work/mnt"
m=$work/mnt
mkdir "$m/src"
for i in 1 2 3 4; do head -c 268435456 /dev/urandom >"$m/src/f$i"; done
ssh-keygen -q -t ed25519 -N "" -f "$work/id"
ssh-keygen -q -t ed25519 -N "" -f "$work/sshd/host"
cp "$work/id.pub" "$work/sshd/ak"
/usr/sbin/sshd -f /dev/null -o ListenAddress=127.0.0.1 -o Port=$port \
  -o HostKey="$work/sshd/host" -o AuthorizedKeysFile="$work/sshd/ak" \
  -o PidFile="$work/sshd/pid" -o StrictModes=no -o UsePAM=no -o PermitRootLogin=yes
sleep 0.5
ssh_cmd="ssh -i $work/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for r in 1 2 3; do
  for v in chacha20 default; do
    extra=""
    [ $v = chacha20 ] && extra=" -c chacha20-poly1305@openssh.com"
    rm -rf "$m/d-$v" "$m/s-$v"
    sync
    t0=$(date +%s%N)
    "$georep" worker --once --source "$m/src" --destination "root@127.0.0.1::$m/d-$v" \
      --state-dir "$m/s-$v" --ssh-command "$ssh_cmd$extra" --ssh-port $port \
      --remote-command "$georep agent"
    t1=$(date +%s%N)
    echo "W2 ssh, $v: round $r: $(((t1 - t0) / 1000000)) ms"
  done
done
for v in chacha20 default; do
  for i in 1 2 3 4; do cmp "$m/src/f$i" "$m/d-$v/f$i"; done
done
echo "both copies identical"
