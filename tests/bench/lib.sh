# Sourced by the benches: paths and builds they share.
# bench_build PRESET [TARGET...]: configure and build a preset, quietly.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${FLOTILLA_SHARED:-$top/../shared}

bench_build() {
  local preset=$1; shift
  cmake --preset "$preset" -S "$top" >/dev/null
  if [ $# -gt 0 ]; then
    cmake --build --preset "$preset" --target "$@" >/dev/null
  else
    cmake --build --preset "$preset" >/dev/null
  fi
}

bench_dir() { echo "$top/build/$1"; }
