#!/usr/bin/env bash
# kill -9 the gateway under traffic, restart it: no device is missing from the
# registry, and every device reconnects.
. "$(dirname "$0")/lib.sh"
n=300
start_gateway gw1 --heartbeat-s 1 --flush-ms 500
port=$GW_TCP
start_sim sim --devices $n --connect 127.0.0.1:$port --heartbeat-s 1 --seed 9
wait_for 40 online_is $n || fail "first start: $(metric 'flotilla_gateway_devices{state="online"}') online"
sleep 1.5
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null || true
rows=$(sqlite3 "$work/registry.db" 'select count(*) from devices')
[ "$rows" = $n ] || fail "after kill -9 the registry holds $rows of $n"
# same device port, so the simulator finds the new process
GW_LOG=$work/gw2.log
"$GW" --db "$work/registry.db" --listen-tcp 127.0.0.1:$port --http-listen 127.0.0.1:0 \
	--heartbeat-s 1 2>"$GW_LOG" &
GW_PID=$!
pids+=("$GW_PID")
wait_for 10 grep -q 'msg=ready' "$GW_LOG" || fail "restart"
grep -q "devices=$n" "$GW_LOG" || fail "restart did not load $n devices"
GW_HTTP=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$GW_LOG" | tail -n1)
[ "$(api '/api/v1/devices?limit=1' | jq .total)" = $n ] || fail "api after restart"
wait_for 40 online_is $n || fail "reconnect: $(metric 'flotilla_gateway_devices{state="online"}') online"
[ "$(api /api/v1/devices/sim-00007 | jq .sessions)" -ge 2 ] || fail "sessions not counted"
kill -TERM "$GW_PID"
wait "$GW_PID" || fail "gateway exit status after SIGTERM"
grep -q 'msg="registry flushed"' "$GW_LOG" || fail "no flush on SIGTERM"
[ "$(sqlite3 "$work/registry.db" "select count(*) from devices where sessions >= 2")" = $n ] ||
	fail "flushed registry"
echo "kill9: OK"
