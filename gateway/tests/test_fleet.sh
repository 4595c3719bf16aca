#!/usr/bin/env bash
# Gateway + fleetsim, 1,000 devices over TCP: all register, and the registry
# (SQLite), the JSON API and /metrics agree with the simulator's own counts.
. "$(dirname "$0")/lib.sh"
n=1000
start_gateway gw --heartbeat-s 1 --flush-ms 200
start_sim sim --devices $n --connect 127.0.0.1:$GW_TCP --heartbeat-s 1 --seed 5
wait_for 60 json_ok "$work/sim.json" ".ready == $n" ||
	fail "simulator: $(cat "$work/sim.json" 2>/dev/null)"
wait_for 20 online_is $n || fail "gateway online: $(metric 'flotilla_gateway_devices{state="online"}')"
sleep 2 # a couple of heartbeats each
[ "$(metric 'flotilla_gateway_devices{state="offline"}')" = 0 ] || fail "offline devices"
[ "$(metric 'flotilla_gateway_links{transport="tcp"}')" = $n ] || fail "links"
[ "$(metric 'flotilla_gateway_hellos_total')" = "$(sim_field hellos)" ] ||
	fail "hellos: gateway $(metric flotilla_gateway_hellos_total) sim $(sim_field hellos)"
[ "$(metric 'flotilla_gateway_release_devices{release="1.0.0+0",state="online"}')" = $n ] ||
	fail "release gauge"
hb_gw=$(metric flotilla_gateway_heartbeats_total)
hb_sim=$(sim_field heartbeats)
# the stats file lags by up to 0.5 s (n heartbeats) and up to a window is in flight
diff=$((hb_gw - hb_sim)); [ ${diff#-} -le $((2 * n)) ] || fail "heartbeats: gateway $hb_gw sim $hb_sim"
[ "$hb_gw" -ge $((2 * n)) ] || fail "too few heartbeats: $hb_gw"
[ "$(metric 'flotilla_gateway_frame_errors_total{transport="tcp",reason="crc"}')" = 0 ] ||
	fail "crc errors on a clean line"
total=$(api '/api/v1/devices?limit=1' | jq .total)
[ "$total" = $n ] || fail "api total $total"
[ "$(api '/api/v1/devices?state=online&limit=10000' | jq '.devices | length')" = $n ] ||
	fail "api online list"
[ "$(api /api/v1/devices/sim-00042 | jq -r .state)" = online ] || fail "api one device"
sleep 0.5
rows=$(sqlite3 "$work/registry.db" 'select count(*) from devices')
[ "$rows" = $n ] || fail "registry rows $rows"
ids=$(sqlite3 "$work/registry.db" "select count(*) from devices where id like 'sim-%' and hw_id='flotilla-fleetsim' and slot0_version='1.0.0' and slot0_state=3")
[ "$ids" = $n ] || fail "registry content $ids"
# no device id and no pid as a label
if curl -fsS "http://127.0.0.1:$GW_HTTP/metrics" | grep -E '\{[^}]*(sim-0|pid=)'; then
	fail "device id or pid in a label"
fi
echo "fleet: OK ($n devices, $hb_gw heartbeats)"
