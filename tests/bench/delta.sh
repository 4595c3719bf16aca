#!/usr/bin/env bash
# Delta patches: size against bsdiff, xdelta3 and zstd on every pair in
# ../shared/bench/pairs (plus the published detools and HDiffPatch sizes),
# generation time as a ratio to bsdiff, and the apply's RAM and code size in
# the cortex-m4 build. Every patch made is applied back and compared.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pairs=$shared/bench/pairs
page=${DELTA_PAGE:-1024} # flash page the RAM figure counts
rel=$top/build/bench-delta-release
m4=$top/build/bench-delta-cortex-m4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in bsdiff xdelta3 zstd arm-none-eabi-gcc arm-none-eabi-size; do
  command -v "$t" >/dev/null || { echo "delta bench: $t missing (deploy/install-deps.sh)" >&2; exit 1; }
done

# Builds: the generator (release) and the device apply (cortex-m4), in
# private binary dirs. Should the whole tree not configure (work in progress
# elsewhere), the few sources needed are compiled directly with the presets'
# flags instead.
inc=(-I"$top/agent/delta/include" -I"$top/agent/delta/src" -I"$top/agent/base/include")
m4flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -ffunction-sections
         -fdata-sections -Os -DNDEBUG -std=gnu11)
lib() { find "$1" -name "lib$2.a" | head -n1; }
if cmake --preset release -S "$top" -B "$rel" >/dev/null 2>&1 &&
   cmake --build "$rel" -j2 --target ag_delta_gen >/dev/null &&
   cmake --preset cortex-m4 -S "$top" -B "$m4" >/dev/null 2>&1 &&
   cmake --build "$m4" -j2 --target ag_delta >/dev/null; then
  cc -O2 -o "$work/delta_tool" "$top/tests/bench/delta/delta_tool.c" "${inc[@]}" \
    "$(lib "$rel" ag_delta_gen)" "$(lib "$rel" ag_delta)" "$(lib "$rel" ag_base)" \
    $(pkg-config --libs libdivsufsort)
  apply_obj=$(lib "$m4" ag_delta)
  crc_obj=$(find "$m4" -path '*ag_base.dir*' -name 'crc.c.obj' | head -n1)
else
  echo "delta bench: the tree does not configure; compiling the delta sources directly" >&2
  cc -O3 -DNDEBUG -std=gnu11 -o "$work/delta_tool" "$top/tests/bench/delta/delta_tool.c" \
    "$top/agent/delta/src/delta_gen.c" "$top/agent/delta/src/delta_apply.c" \
    "$top/agent/base/src/err.c" "$top/agent/base/src/crc.c" "${inc[@]}" \
    $(pkg-config --libs libdivsufsort)
  arm-none-eabi-gcc "${m4flags[@]}" "${inc[@]}" -c "$top/agent/delta/src/delta_apply.c" \
    -o "$work/delta_apply.c.obj"
  arm-none-eabi-gcc "${m4flags[@]}" "${inc[@]}" -c "$top/agent/base/src/crc.c" -o "$work/crc.c.obj"
  apply_obj=$work/delta_apply.c.obj
  crc_obj=$work/crc.c.obj
fi

now() { date +%s.%N; }
size_of() { stat -c %s "$1"; }
# published PAIR COLUMN: a figure from the pairs README's table (bytes).
published() {
  awk -F'|' -v p="$1" -v c="$2" '$2 ~ "^ *"p" *$" { gsub(/[ ,]/, "", $c); sub(/\(.*/, "", $c); print $c; exit }' \
    "$pairs/README.md" | sed 's/[^0-9].*//'
}

bench_pair() {
  local name=$1 old=$2 new=$3
  local p=$work/$name
  local t0 t1 ours theirs
  "$work/delta_tool" gen "$old" "$new" "$p.delta" 2>"$p.gen"
  ours=$(awk '/^seconds/ { print $2 }' "$p.gen")
  "$work/delta_tool" apply "$old" "$p.delta" "$p.out" 2>/dev/null
  cmp -s "$p.out" "$new" || { echo "delta bench: $name: applied image differs" >&2; exit 1; }
  t0=$(now); bsdiff "$old" "$new" "$p.bsdiff"; t1=$(now)
  theirs=$(echo "$t1 - $t0" | bc -l)
  xdelta3 -9 -e -f -s "$old" "$new" "$p.xd3"
  zstd -q -f --ultra -22 --patch-from="$old" "$new" -o "$p.zst" 2>/dev/null
  echo "bench: delta_patch_bytes.$name $(size_of "$p.delta") bytes"
  echo "bench: bsdiff_patch_bytes.$name $(size_of "$p.bsdiff") bytes"
  echo "bench: xdelta3_patch_bytes.$name $(size_of "$p.xd3") bytes"
  echo "bench: zstd_patch_bytes.$name $(size_of "$p.zst") bytes"
  echo "bench: detools_published_patch_bytes.$name $(published "$name" 6) bytes"
  echo "bench: hdiffpatch_published_patch_bytes.$name $(published "$name" 7) bytes"
  printf 'bench: delta_gen_time_ratio_vs_bsdiff.%s %.3f ratio\n' "$name" \
    "$(echo "$ours / $theirs" | bc -l)"
}

bench_pair micropython "$pairs/micropython/esp8266-20180511-v1.9.4.bin" \
  "$pairs/micropython/esp8266-20190125-v1.10.bin"
bench_pair pybv11 "$pairs/pybv11/v1.10/firmware1.bin" "$pairs/pybv11/1f5d945af/firmware1.bin"
bench_pair synthesizer "$pairs/synthesizer/1.bin" "$pairs/synthesizer/2.bin"

# Apply RAM: the state struct and one page buffer, as a device allocates
# them statically, measured from a cortex-m4 object. (The stack high-water
# mark during apply on QEMU is added by the board's bench.)
cat >"$work/ram.c" <<EOF
#include "agent/delta.h"
struct ag_delta delta_state;
unsigned char delta_page[$page];
EOF
arm-none-eabi-gcc "${m4flags[@]}" -fno-common "${inc[@]}" -c "$work/ram.c" -o "$work/ram.o"
state=$(arm-none-eabi-size -A "$work/ram.o" | awk '$1 ~ /^\.bss/ { t += $2 } END { print t }')
echo "bench: delta_apply_state_bytes $((state - page)) bytes"
echo "bench: delta_apply_ram_bytes $state bytes"

# Apply code: the decoder's object (CRC-32C included), -Os Thumb-2.
text=$(arm-none-eabi-size "$apply_obj" "$crc_obj" | awk '/delta_apply|crc/ { t += $1 } END { print t }')
echo "bench: delta_apply_text_bytes $text bytes"
