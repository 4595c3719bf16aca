#!/usr/bin/env bash
# The gateway with the Cortex-M4 firmware under qemu-system-arm, its UART a
# pty the gateway opens as a serial port. Fails (does not skip) when the
# cortex-m4 build is missing: tests/run.sh builds it first.
. "$(dirname "$0")/lib.sh"
: "${QEMU:?}" "${M4_CHAIN:?}" "${M4_APP:?}"
for f in "$M4_CHAIN" "$M4_APP"; do
	[ -f "$f" ] || fail "firmware image $f is missing: build the cortex-m4 preset first (or set FLOTILLA_M4_BUILD_DIR)"
done
"$QEMU" -M mps2-an386 -nographic -monitor none -serial pty -serial null \
	-kernel "$M4_CHAIN" -device "loader,file=$M4_APP" >"$work/qemu.log" 2>&1 &
q=$!
pids+=("$q")
wait_for 15 grep -q '/dev/pts/[0-9]*' "$work/qemu.log" || fail "no pty from qemu"
pty=$(grep -o '/dev/pts/[0-9]*' "$work/qemu.log" | head -n1)
start_gateway gw --heartbeat-s 1 --serial "$pty@115200"
wait_for 30 api_ok '/api/v1/devices?state=online' '.total == 1 and .devices[0].heartbeats >= 2' ||
	fail "firmware: $(api /api/v1/devices)"
id=$(api '/api/v1/devices?state=online' | jq -r '.devices[0].id')
echo "qemu device $id: $(api /api/v1/devices/$id | jq -c '{state, heartbeats, transport, release}')"
[ "$(metric 'flotilla_gateway_frames_in_total{transport="serial"}')" -gt 3 ] || fail "frames"
echo "qemu firmware on a pty: OK"
