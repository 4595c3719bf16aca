#!/usr/bin/env bash
# Image verification on the device: code size and RAM of ag_image's verify
# path in the cortex-m4 build (-Os, our mbedTLS config), measured on QEMU
# mps2-an386.
#   text:   ELF text of a program that calls ag_image_verify_mem() minus the
#           same program without the call (ag_image + mbedTLS + libc pieces)
#   static: .data + .bss difference (includes the static crypto heap)
#   heap:   smallest crypto heap that verifies (bisection on QEMU)
#   stack:  stack high-water of ag_image_verify_mem() (painted stack, QEMU)
# IMAGE_BENCH_DIR overrides the build directory (default build/cortex-m4).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=${IMAGE_BENCH_DIR:-$(bench_dir cortex-m4)}
cmake --preset cortex-m4 -S "$top" -B "$dir" >/dev/null
cmake --build "$dir" --target ag_image_m4_check ag_image_m4_size_base ag_image_m4_size_verify >/dev/null

img=$dir/agent/image
read -r base_text base_data base_bss _ < <(arm-none-eabi-size "$img/ag_image_m4_size_base.elf" | tail -n 1)
read -r text data bss _ < <(arm-none-eabi-size "$img/ag_image_m4_size_verify.elf" | tail -n 1)

out=$(timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none \
  -semihosting-config enable=on,target=native \
  -kernel "$img/ag_image_m4_check.elf" \
  -device loader,file="$img/testkey/test-image.img",addr=0x00200000 2>&1 | tr -d "\r")
echo "$out" | grep -q '^ag_image m4 check: ok' || { echo "$out" >&2; exit 1; }
kv() { echo "$out" | sed -n "s/^$1=//p"; }

static=$(( data + bss - base_data - base_bss ))
echo "bench: image_verify_text_bytes $(( text - base_text )) bytes"
echo "bench: image_verify_static_ram_bytes $static bytes"
echo "bench: image_verify_crypto_heap_size_bytes $(kv crypto_heap_size) bytes"
echo "bench: image_verify_crypto_heap_needed_bytes $(kv crypto_heap_needed) bytes"
echo "bench: image_verify_stack_bytes $(kv verify_stack) bytes"
echo "bench: image_verify_ram_bytes $(( static + $(kv verify_stack) )) bytes"
