#!/usr/bin/env bash
# Real GlusterFS clusters for tests: each node is a network namespace with its own private
# mount namespace (its own /etc -- users, groups, glusterd.vol --, /home, /var/lib/glusterd,
# /var/log/glusterfs, /run, /root/.ssh, /root/.local (georep workers' state), gsyncd's working
# directories in /var/lib/misc/gluster and a mountbroker root), its own sshd with its own host
# key, and its own glusterd. A node has no service manager: /usr/local/sbin/systemctl there
# restarts the node's glusterd (only that). Nodes reach each other and the engine (in the root
# namespace) over a bridge on 10.77.0.0/24, which exists only on this machine. Everything is
# stopped by the PIDs recorded here, then the namespaces are deleted.
#
#   cluster.sh up STATE_DIR AUTHORIZED_KEY_FILE
#       source cluster src1 + src2 (10.77.0.1, .2) with replica-2 volume gv0;
#       destination cluster dst1 (10.77.0.11) with volumes gv1 and gv2; dst1 is also
#       10.78.0.11 on a network of the clusters' own that the engine cannot reach
#   cluster.sh down STATE_DIR
#
# STATE_DIR/nodes lists "name ip ssh-fingerprint" per node; STATE_DIR/root-password is root's
# password on every node (sshd accepts it, for the engine's one-time-password key install).
set -Eeuo pipefail
cmd=${1:?up or down}
state=${2:?state directory}
bridge=brgeorep0
subnet=10.77.0
private=10.78.0

node_exec() {  # node_exec NAME COMMAND... : run inside the node's network and mount namespaces
  local name=$1
  shift
  nsenter --net="/run/netns/$name" --mount="$state/$name/mnt.ns" -- "$@"
}

down() {
  [ -d "$state" ] || return 0
  # Every process of ours: the pid files we chose, the ones glusterd writes in each node's
  # /run, and whatever still lives in the nodes' network namespaces.
  local pids=""
  for pidfile in "$state"/*/pids/*; do
    [ -f "$pidfile" ] && pids="$pids $(cat "$pidfile")"
  done
  for node in "$state"/*/; do
    [ -d "$node/run/gluster" ] && pids="$pids $(find "$node/run/gluster" -name '*.pid' -exec cat {} + 2>/dev/null)"
    name=$(basename "$node")
    [ -e "/run/netns/$name" ] && pids="$pids $(ip netns pids "$name" 2>/dev/null)"
  done
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    alive=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $pids; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
  for node in "$state"/*/; do
    name=$(basename "$node")
    # The root namespace's end of the node's link, deleted here and now: the kernel tears a
    # deleted namespace down later, and its links with it -- on a busy machine, seconds after
    # `ip netns del` returns, when the next `up` wants the same names.
    ip link del "veth-$name" 2>/dev/null || true
    [ -e "/run/netns/$name" ] && ip netns del "$name" 2>/dev/null || true
    [ -e "$node/mnt.ns" ] && umount "$node/mnt.ns" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  # The links moved into namespaces (pv-*, pd-*) go with them, whenever the kernel gets to it;
  # none of them is named in the root namespace again until `up` makes them, which waits too.
  ip route del unreachable "$private.0/24" 2>/dev/null || true
  umount "$state" 2>/dev/null || true
  rm -rf "$state"
}

start_node() {  # start_node NAME INDEX
  local name=$1 ip="$subnet.$2"
  local dir="$state/$name" extra_listen=""
  mkdir -p "$dir"/{glusterd,log,run,ssh,pids,bricks,misc,home,mountbroker,sbin,dotlocal,roothome}
  chmod 711 "$dir/mountbroker"
  # The node's own /etc: users, groups and /etc/glusterfs/glusterd.vol (which the mountbroker
  # set-up edits) never touch this machine's.
  cp -a /etc "$dir/etc"
  cat > "$dir/sbin/systemctl" <<SHIM
#!/bin/sh
# Test node stand-in for the service manager: restarts this node's glusterd, nothing else.
case "\$1 \$2" in
  "restart glusterd" | "restart glusterd.service") ;;
  *) echo "systemctl on a test node: only 'restart glusterd' is supported" >&2; exit 1 ;;
esac
pidfile='$dir/pids/glusterd'
if [ -f "\$pidfile" ]; then
  pid=\$(cat "\$pidfile")
  kill -TERM "\$pid" 2>/dev/null
  for _ in \$(seq 1 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
fi
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/glusterd -p "\$pidfile" \
  </dev/null >/dev/null 2>&1
SHIM
  chmod 755 "$dir/sbin/systemctl"
  cp -a /var/lib/glusterd/hooks /var/lib/glusterd/groups "$dir/glusterd/" 2>/dev/null || true
  chmod 700 "$dir/ssh"
  cp "$authorized_key_file" "$dir/ssh/authorized_keys"
  chmod 600 "$dir/ssh/authorized_keys"
  ssh-keygen -q -t ed25519 -N "" -f "$dir/ssh_host_ed25519_key"
  # root's password on this node only (its own /etc/shadow), for the one-time-password tests.
  awk -F: -v OFS=: -v hash="$root_hash" '$1 == "root" { $2 = hash } { print }' /etc/shadow \
    > "$dir/etc/shadow"

  ip netns add "$name"
  ip link add "veth-$name" type veth peer name eth0 netns "$name"
  ip link set "veth-$name" master "$bridge" up
  ip -n "$name" addr add "$ip/24" dev eth0
  ip -n "$name" link set eth0 up
  ip -n "$name" link set lo up
  if [ "$name" = dst1 ]; then
    # A network only the clusters share (10.78.0.0/24, bridged inside dst1): the engine, in
    # the root namespace, has no route to 10.78.0.11, the source nodes do.
    ip -n dst1 link add brprivate type bridge
    ip -n dst1 link set brprivate up
    ip -n dst1 addr add "$private.11/24" dev brprivate
    for peer in src1:1 src2:2; do
      local n=${peer%%:*} i=${peer##*:}
      ip link add "pv-$n" type veth peer name "pd-$n"
      ip link set "pv-$n" netns "$n"
      ip link set "pd-$n" netns dst1
      ip -n dst1 link set "pd-$n" master brprivate up
      ip -n "$n" addr add "$private.$i/24" dev "pv-$n"
      ip -n "$n" link set "pv-$n" up
    done
    extra_listen="-o ListenAddress=$private.11"
  fi

  # A private mount namespace, kept alive by binding its handle to a file (on the private
  # mount of the state directory).
  touch "$dir/mnt.ns"
  unshare --mount="$dir/mnt.ns" --propagation private /bin/sh -c "
    mount --bind '$dir/etc' /etc
    mount --bind '$dir/home' /home
    mount --bind '$dir/sbin' /usr/local/sbin
    mkdir -p /var/mountbroker-root && mount --bind '$dir/mountbroker' /var/mountbroker-root
    mount --bind '$dir/glusterd' /var/lib/glusterd
    mount --bind '$dir/log' /var/log/glusterfs
    mount --bind '$dir/run' /run
    mkdir -p /var/lib/misc/gluster && mount --bind '$dir/misc' /var/lib/misc/gluster
    # root's own home: a host of its own, not this machine's /root, whose shell start-up
    # files (a version manager's rehash lock, say) would run in every ssh session.
    mount --bind '$dir/roothome' /root
    mkdir -p /root/.ssh && mount --bind '$dir/ssh' /root/.ssh
    mkdir -p /root/.local && mount --bind '$dir/dotlocal' /root/.local
  "
  node_exec "$name" mkdir -p /run/sshd
  # shellcheck disable=SC2086
  node_exec "$name" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/sshd -o "ListenAddress=$ip" \
    ${extra_listen:-} -o "HostKey=$dir/ssh_host_ed25519_key" \
    -o PidFile="$dir/pids/sshd" -o PermitRootLogin=yes -o PasswordAuthentication=yes \
    -o KbdInteractiveAuthentication=no \
    -o UsePAM=no -o StrictModes=no
  echo "$name $ip $(ssh-keygen -lf "$dir/ssh_host_ed25519_key.pub" | awk '{print $2}')" >> "$state/nodes"
}

start_glusterd() {  # after every node's address exists
  local name=$1
  # A clean environment, as a service manager would give it: gsyncd's workers run the
  # python3 first on PATH and must get Debian's.
  node_exec "$name" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/glusterd \
    -p "$state/$name/pids/glusterd"
}

gluster_on() {
  local name=$1
  shift
  node_exec "$name" gluster --mode=script "$@"
}

wait_for() {  # wait_for SECONDS COMMAND...
  local limit=$1
  shift
  for _ in $(seq 1 $((limit * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "timed out waiting for: $*" >&2
  return 1
}

# A failed step names itself (`ip` alone says only "RTNETLINK answers: File exists").
trap 'echo "cluster.sh $cmd: line $LINENO: $BASH_COMMAND: exit $?" >&2' ERR

case "$cmd" in
up)
  authorized_key_file=${3:?authorized key file}
  down
  # Names a torn-down namespace may still hold for a while (see down): wait until they are free.
  for link in veth-src1 veth-src2 veth-dst1 pv-src1 pd-src1 pv-src2 pd-src2 "$bridge"; do
    wait_for 30 sh -c "! ip link show '$link'"
  done
  mkdir -p "$state"
  mount --bind "$state" "$state"
  mount --make-private "$state"
  : > "$state/nodes"
  # Every node's root password (each node has its own /etc/shadow); tests read it from here.
  (umask 077 && openssl rand -hex 12 > "$state/root-password")
  root_hash=$(openssl passwd -6 -stdin < "$state/root-password")
  ip link del "$bridge" 2>/dev/null || true
  ip link add "$bridge" type bridge
  ip addr add "$subnet.254/24" dev "$bridge"
  ip link set "$bridge" up
  # The clusters' own network is unreachable from here: fail fast, send nothing outside.
  ip route replace unreachable "$private.0/24"
  start_node src1 1
  start_node src2 2
  start_node dst1 11
  for n in src1 src2 dst1; do start_glusterd $n; done
  for n in src1 src2 dst1; do wait_for 30 gluster_on $n volume list; done
  gluster_on src1 peer probe "$subnet.2" >/dev/null
  wait_for 30 sh -c "nsenter --net=/run/netns/src1 --mount=$state/src1/mnt.ns -- gluster --mode=script pool list | grep -q Connected"
  gluster_on src1 volume create gv0 replica 2 "$subnet.1:$state/src1/bricks/gv0" \
    "$subnet.2:$state/src2/bricks/gv0" force >/dev/null
  gluster_on src1 volume start gv0 >/dev/null
  # The destination cluster: one node of its own, empty volumes gv1 and gv2.
  for v in gv1 gv2; do
    gluster_on dst1 volume create $v "$subnet.11:$state/dst1/bricks/$v" force >/dev/null
    gluster_on dst1 volume start $v >/dev/null
  done
  echo "clusters up: source src1+src2 (gv0, replica 2), destination dst1 (gv1, gv2)"
  ;;
down) down ;;
*) echo "usage: $0 up|down STATE_DIR [AUTHORIZED_KEY_FILE]" >&2; exit 2 ;;
esac
