#!/bin/bash
# The sim bootloader end to end: slot A holds the signed demo firmware; it
# installs B, every reset goes back through flotilla-sim-boot, which runs the
# chosen slot's payload with fexecve from a memfd.
#   test_boot_sim.sh confirm|never LOADER A_IMG B_IMG SLOT_SIZE TRIAL_BOOTS
set -u
mode=$1 loader=$2 a=$3 b=$4 slot=$5 trials=$6
dir=$(mktemp -d /tmp/boot-sim-XXXXXX)
trap 'rm -rf "$dir"' EXIT
flash=$dir/flash.bin
# Erased flash (0xff) with slot A's image at its offset (64 KiB).
head -c $((65536 + 2 * slot)) /dev/zero | tr '\0' '\377' > "$flash"
dd if="$a" of="$flash" bs=65536 seek=1 conv=notrunc status=none
FLOTILLA_DEMO_MODE=$mode FLOTILLA_DEMO_B=$b timeout 50 \
  "$loader" --flash "$flash" --slot-size "$slot" > "$dir/log" 2>&1
rc=$?
cat "$dir/log"
fail() { echo "test_boot_sim $mode: FAIL: $*"; exit 1; }
[ $rc -eq 0 ] || fail "exit status $rc"
grep -q "sim-boot: slot A 1.0.0+1 confirmed" "$dir/log" || fail "A did not boot first"
grep -q "demo: B installed: ok" "$dir/log" || fail "B not installed"
t=$(grep -c "sim-boot: slot B 1.1.0+2 testing" "$dir/log")
if [ "$mode" = confirm ]; then
  [ "$t" -eq 1 ] || fail "B booted on trial $t times"
  grep -q "demo: confirm: ok" "$dir/log" || fail "no confirm"
  grep -q "sim-boot: slot B 1.1.0+2 confirmed" "$dir/log" || fail "B not booted confirmed"
else
  [ "$t" -eq "$trials" ] || fail "B booted on trial $t times, want $trials"
  grep -q "(trial image reverted)" "$dir/log" || fail "not reverted"
  grep -q "demo: trial image reverted, A runs" "$dir/log" || fail "A not running"
fi
# Every boot ran from a memfd, not from a file.
echo "test_boot_sim $mode: PASS"
