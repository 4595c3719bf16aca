#!/usr/bin/env bash
# The gateway with the sim-board firmware (flotilla-sim-device) on a pty:
# hello, heartbeats and telemetry; the device goes away and comes back
# (hot-plug), and the gateway reopens the port.
. "$(dirname "$0")/lib.sh"
: "${SIMDEV:?SIMDEV must point at flotilla-sim-device}"
"$SIMDEV" --device-id simdev-7 --uart "pty:$work/dev.pty" --flash "$work/flash.bin" \
	2>"$work/simdev.log" &
dev=$!
pids+=("$dev")
wait_for 10 test -L "$work/dev.pty" || fail "no pty from the sim device"
start_gateway gw --heartbeat-s 1 --serial "$work/dev.pty@115200" --reconnect-ms 200
one() { api /api/v1/devices/simdev-7; }
wait_for 20 api_ok /api/v1/devices/simdev-7 '.state == "online" and .heartbeats >= 2 and .telemetry >= 1' ||
	fail "device: $(one 2>&1)"
[ "$(one | jq -r .transport)" = serial ] || fail "transport"
[ "$(one | jq -r .hw_id)" = flotilla-sim ] || fail "hw id"
[ "$(metric 'flotilla_gateway_links{transport="serial"}')" = 1 ] || fail "serial link gauge"
kill -TERM $dev
wait $dev 2>/dev/null || true
wait_for 10 api_ok /api/v1/devices/simdev-7 '.state == "offline"' ||
	fail "device still online after it went away: $(one)"
"$SIMDEV" --device-id simdev-7 --uart "pty:$work/dev.pty" --flash "$work/flash.bin" \
	2>>"$work/simdev.log" &
dev=$!
pids+=("$dev")
wait_for 20 api_ok /api/v1/devices/simdev-7 '.state == "online" and .sessions >= 2' ||
	fail "device did not come back: $(one)"
echo "sim device on a pty: OK"
