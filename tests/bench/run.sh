#!/usr/bin/env bash
# Run the benchmarks: every tests/bench/<name>.sh, or only the one named.
# Each bench prints its figures as lines `bench: <name> <value> <unit>`.
# Not part of CI. The benches build what they need (release and cortex-m4
# presets) through tests/bench/lib.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  echo "usage: tests/bench/run.sh [NAME]" >&2
  echo "benches:" >&2
  for f in "$here"/*.sh; do
    n=$(basename "$f" .sh)
    case $n in run|lib) continue ;; esac
    echo "  $n" >&2
  done
}

case ${1:-} in
  -h|--help) usage; exit 0 ;;
esac

rc=0
found=0
for f in "$here"/*.sh; do
  n=$(basename "$f" .sh)
  case $n in run|lib) continue ;; esac
  if [ $# -gt 0 ] && [ "$1" != "$n" ]; then continue; fi
  found=1
  echo "== bench $n" >&2
  bash "$f" || { echo "bench $n failed" >&2; rc=1; }
done
if [ $found -eq 0 ]; then
  echo "no bench named '${1:-}'" >&2
  usage
  exit 2
fi
exit $rc
