#!/usr/bin/env bash
# Coroutine runtime figures:
#   rt_switch_insns       instructions per rt_yield switch on Cortex-M4, measured
#                         under qemu-system-arm -M mps2-an386 -icount shift=0
#                         (1 instruction = 1 ns; CMSDK TIMER0 at 25 MHz, so one
#                         timer tick = 40 instructions): 100,000 ping-pong round
#                         trips between two coroutines, minus an empty loop of
#                         the same count, over 200,000 switches
#   rt_switch_insns_mpu_guard  the same with the MPU stack guard (RT_CFG_MPU_GUARD),
#                         as the device build uses it
#   rt_tcb_bytes          sizeof(struct rt_co) on Cortex-M4
#   rt_text_bytes         text of the runtime library at -Os (arm-none-eabi-size)
#   rt_1024_coroutines_ok 1024 coroutines on 256-byte pool stacks all ran to the end
#   rt_host_switches_per_s  the same ping-pong on this host (release build)
# Builds in build/bench-rt-m4 and build/bench-rt-host (override with
# RT_BENCH_BUILD=<prefix>).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
prefix=${RT_BENCH_BUILD:-$top/build/bench-rt}
m4=$prefix-m4
host=$prefix-host

cmake --preset cortex-m4 -S "$top" -B "$m4" >/dev/null
cmake --build "$m4" --target rt rt_bench_m4 rt_bench_m4_guard >/dev/null
cmake --preset release -S "$top" -B "$host" >/dev/null
cmake --build "$host" --target rt_bench_host >/dev/null

for img in rt_bench_m4 rt_bench_m4_guard; do
  out=$(timeout 120 qemu-system-arm -M mps2-an386 -icount shift=0 -nographic \
    -monitor none -serial null -serial null \
    -semihosting-config enable=on,target=native \
    -kernel "$m4/bench-rt/$img.elf" 2>&1)
  echo "$out" | grep -v '^bench:' >&2 || true
  # The guarded run adds only its switch figure.
  if [ $img = rt_bench_m4 ]; then
    echo "$out" | grep '^bench:'
  else
    echo "$out" | grep '^bench: rt_switch_insns_mpu_guard'
  fi
done

text=$(arm-none-eabi-size -t "$m4/firmware/rt/librt.a" | awk 'END { print $1 }')
echo "bench: rt_text_bytes $text bytes"

"$host/bench-rt/rt_bench_host"
