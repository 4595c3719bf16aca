#!/usr/bin/env bash
# fleetsim's impaired lines and crashing devices against the gateway: loss,
# bit errors, latency and a line rate; devices crash and reboot. Every device
# still registers; the gateway counts bad frames, and the crashes and boots
# the devices report reach the registry and the release health families.
. "$(dirname "$0")/lib.sh"
n=40
start_gateway gw --heartbeat-s 1 --offline-after-s 4
start_sim sim --devices $n --connect 127.0.0.1:$GW_TCP --heartbeat-s 1 --seed 3 \
	--loss 0.02 --ber 0.0001 --latency-ms 20 --rate 11520 --crash-per-hour 900
wait_for 40 api_ok '/api/v1/devices?limit=1' ".total == $n" || fail "not every device registered"
wait_for 40 json_ok "$SIM_STATS" '.crashes >= 3 and .lost_frames > 0 and .bit_errors > 0' ||
	fail "simulator: $(cat "$SIM_STATS")"
wait_for 30 sh -c "[ \$(sqlite3 '$work/registry.db' 'select coalesce(sum(crash_count),0) from devices') -ge 2 ]" ||
	fail "crashes did not reach the registry"
frame_errors() {
	errs=0
	local r
	for r in truncated too_big crc garbage; do
		errs=$((errs + $(metric "flotilla_gateway_frame_errors_total{transport=\"tcp\",reason=\"$r\"}")))
	done
	[ $errs -gt 0 ]
}
wait_for 30 frame_errors || fail "no bad frames counted on impaired lines"
crashes=$(metric 'flotilla_gateway_release_device_crashes{release="1.0.0+0"}')
[ "$crashes" != missing ] && [ "$crashes" -ge 1 ] || fail "release crash gauge: $crashes"
[ "$(metric flotilla_gateway_frame_retransmits_total\{transport=\"tcp\"\})" -ge 0 ] || fail retransmits
gw_alive || fail "gateway died"
echo "impaired: OK (frame errors $errs, $(jq -c '{crashes, lost_frames, bit_errors, ready}' "$SIM_STATS"))"
