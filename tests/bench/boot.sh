#!/usr/bin/env bash
# Boot and OTA storage on the device: the RAM a delta install needs on the
# Cortex-M4 (decoder state + one flash page + the stack high-water mark of
# the streaming apply, measured on QEMU mps2-an386 while a real delta goes
# into slot B through boot_ota), the bootloader's size, and the power-cut
# suite's cut points and failures.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

m4=$top/build/bench-boot-cortex-m4
rel=$top/build/bench-boot-release
for t in qemu-system-arm arm-none-eabi-size; do
  command -v "$t" >/dev/null || { echo "boot bench: $t missing (deploy/install-deps.sh)" >&2; exit 1; }
done

cmake --preset cortex-m4 -S "$top" -B "$m4" >/dev/null
cmake --build "$m4" -j2 --target boot_mps2 boot_demo_a boot_demo_b >/dev/null
cmake --preset release -S "$top" -B "$rel" -DFLOTILLA_M4_BUILD_DIR="$m4" >/dev/null
cmake --build "$rel" -j2 --target test_boot_qemu powerfail >/dev/null

# A delta from the slot A demo firmware to the slot B one, applied on QEMU.
out=$("$rel/firmware/boot/test_boot_qemu" confirm qemu-system-arm "$m4/firmware/boot/boot_mps2.elf" \
      "$m4/firmware/boot/boot_demo_a.img" "$m4/firmware/boot/boot_demo_b.img" 3)
grep -q "confirm: PASS" <<<"$out" || { echo "$out" >&2; echo "boot bench: QEMU flow failed" >&2; exit 1; }
line=$(grep "demo: apply_stack_bytes" <<<"$out")
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$line"; }
stack=$(field apply_stack_bytes)
finish=$(field finish_stack_bytes)
state=$(field delta_state_bytes)
page=$(field page_bytes)
ota=$(field boot_ota_bytes)
echo "bench: delta_apply_stack_bytes $stack bytes"
echo "bench: delta_apply_state_bytes $state bytes"
echo "bench: delta_apply_page_bytes $page bytes"
echo "bench: delta_apply_ram_bytes $((state + page + stack)) bytes"
echo "bench: boot_ota_static_bytes $ota bytes"
echo "bench: boot_ota_finish_stack_bytes $finish bytes"

# The bootloader at 0x00000000: verifier, mbedTLS, trailers, selection.
read -r text data bss _ < <(arm-none-eabi-size "$m4/firmware/boot/boot_mps2.elf" | tail -n1)
echo "bench: boot_text_bytes $text bytes"
echo "bench: boot_ram_bytes $((data + bss)) bytes"

# The power-cut suite.
pf=$("$rel/tests/powerfail/powerfail" || true)
echo "$pf" | grep '^powerfail: ' >&2 || true
echo "bench: powerfail_cut_points $(awk '/^powerfail_cut_points/ { print $2 }' <<<"$pf") cuts"
echo "bench: powerfail_failures $(awk '/^powerfail_failures/ { print $2 }' <<<"$pf") failures"
