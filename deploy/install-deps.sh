#!/usr/bin/env bash
# Install every Debian package Flotilla needs to build, test and run, and fetch
# mbedTLS's Debian source package for the Cortex-M4 build.
#
# Idempotent: packages already present are left alone, and the mbedTLS source
# is fetched only once into $FLOTILLA_DEPS_DIR (default: <repo>/.deps).
#
# This is the project's one list of packages. Add to it; do not start another.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps_dir=${FLOTILLA_DEPS_DIR:-$here/.deps}

packages=(
  # build
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang llvm lld libclang-rt-14-dev
  # device cross build and emulation
  gcc-arm-none-eabi binutils-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  # the runtime's aarch64 port, tested under qemu-user
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # libraries
  libcmocka-dev libmbedtls-dev libcurl4-openssl-dev libssl-dev libjansson-dev
  libmicrohttpd-dev libbpf-dev bpftool libelf-dev zlib1g-dev
  libsqlite3-dev sqlite3 libgit2-dev libyaml-dev libdivsufsort-dev
  # servers and peers used by tests and benches
  prometheus etcd-server etcd-client bsdiff xdelta3 xz-utils zstd
  prometheus-node-exporter wrk curl jq
  # network namespaces and TUN links of the eBPF RTT test
  iproute2
  # apt-get source
  dpkg-dev
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done

need_src=0
[ -f "$deps_dir/mbedtls/include/mbedtls/version.h" ] || need_src=1

if [ ${#missing[@]} -gt 0 ] || [ $need_src -eq 1 ]; then
  # A deb-src entry that mirrors the existing deb entries, for apt-get source.
  if [ $need_src -eq 1 ] && [ -f /etc/apt/sources.list.d/debian.sources ] &&
     ! grep -q '^Types:.*deb-src' /etc/apt/sources.list.d/debian.sources; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $sudo tee /etc/apt/sources.list.d/flotilla-deb-src.sources >/dev/null
  fi
  echo "install-deps: apt-get update" >&2
  $sudo apt-get update -qq
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  # Packaged daemons (prometheus, etcd) must not be started by their postinst:
  # tests start their own instances on loopback.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
    $sudo chmod +x $policy
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
  [ $made_policy -eq 0 ] || $sudo rm -f $policy
fi

if [ $need_src -eq 1 ]; then
  echo "install-deps: fetching mbedtls source into $deps_dir" >&2
  mkdir -p "$deps_dir"
  tmp=$(mktemp -d "$deps_dir/src.XXXXXX")
  chmod 755 "$tmp" # apt-get source downloads as the _apt user
  (cd "$tmp" && apt-get source -qq mbedtls >&2)
  src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'mbedtls-*' | head -n 1)
  [ -n "$src" ] || { echo "install-deps: apt-get source mbedtls gave no tree" >&2; exit 1; }
  rm -rf "$deps_dir/mbedtls"
  mv "$src" "$deps_dir/mbedtls"
  rm -rf "$tmp"
fi

echo "install-deps: ok" >&2
