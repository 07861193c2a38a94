#!/usr/bin/env bash
# Installs everything georep needs to build, run and test, from Debian 12's own packages
# (and, for the web console, npm packages pinned by lock files: scripts/build-web.sh).
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ca-certificates
  # lld: links the ASan test binaries several times faster than GNU ld (docs/testing.md)
  lld
  # libraries (see README: "Libraries and why")
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev
  libboost-dev libcli11-dev libsodium-dev libpugixml-dev libssl-dev zlib1g-dev libbrotli-dev
  # alerts leave the engine over HTTP(S) (webhooks) and SMTP: libcurl, OpenSSL flavour
  libcurl4-openssl-dev
  # replication: XXH3-128 content hashes, zstd-compressed file data
  libxxhash-dev libzstd-dev
  # tests, benchmarks, formatting (strace counts the agent's syncs in a durability test)
  libgtest-dev libgmock-dev libbenchmark-dev clang-format clang-tidy strace
  # a real PostgreSQL server for the store conformance and API tests
  postgresql
  # a real GlusterFS for the tests that drive it (clusters in network namespaces)
  glusterfs-server iproute2 rsync
  # SSH: the engine reaches hosts with the OpenSSH client (sshpass feeds a one-time password
  # from a pipe to install its key); tests run a real sshd on loopback
  openssh-client openssh-server sshpass
  # used by the scripts (python3: scripts/tidy_files.py)
  curl procps util-linux openssl python3
  # promtool (from Debian's Prometheus) checks the /metrics scrape and the shipped alerting
  # rules in a test; no Prometheus server is started
  prometheus
)
# The web console is built with Node.js (18 or later) and npm (packages pinned in
# web/package-lock.json): Debian's, unless the machine already has them.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# `install-deps.sh --browser`: also Debian's Chromium, which the console's end-to-end tests drive.
if [ "${1:-}" = "--browser" ]; then
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: these packages are missing and installing them needs root: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package lists can be absent on a fresh machine, or stale.
apt-get update -qq
# Packages such as postgresql and openssh-server would start system services listening on the
# network; georep's tests start their own servers on loopback, so no service is started here.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
