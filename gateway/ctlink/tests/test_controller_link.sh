#!/usr/bin/env bash
# A controller (SQLite) and two gateways, each with fleetsim devices:
# devices show up with their status through `flotilla get devices`; the
# controller is killed and the gateways keep serving; it comes back and the
# state catches up; an assignment reaches its gateway only. Real processes,
# stopped by pid. Needs GW, SIM, CTL (flotilla-controller), CLI (flotilla).
. "$(dirname "$0")/../../tests/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CTL_PORT=$(free_port)
SERVER=http://127.0.0.1:$CTL_PORT
T_ADMIN=admin-token-0123456789abcdef
T_A=gw-a-token-0123456789abcdef
T_B=gw-b-token-0123456789abcdef
printf '%s admin\n%s gateway gw-a\n%s gateway gw-b\n' "$T_ADMIN" "$T_A" "$T_B" >"$work/tokens"

start_controller() {
	"$CTL" --listen "127.0.0.1:$CTL_PORT" --store "sqlite:$work/ctl.db" --tokens "$work/tokens" \
		--artifacts "$work/art" >>"$work/controller.log" 2>&1 &
	CTL_PID=$!
	pids+=("$CTL_PID")
	wait_for 10 curl -fsS --max-time 2 "$SERVER/healthz" || fail "controller did not start"
}
mkdir -p "$work/art"
start_controller

# gateway NAME TOKEN: its own registry; sets per-name port variables
start_gw() {
	local name=$1 tok=$2
	GW_LOG=$work/$name.log
	"$GW" --name "$name" --db "$work/$name.db" --listen-tcp 127.0.0.1:0 --http-listen 127.0.0.1:0 \
		--controller "$SERVER" --controller-token "$tok" --labels "site=lab,gw=$name" \
		--report-interval-ms 500 --heartbeat-s 1 2>"$GW_LOG" &
	GW_PID=$!
	pids+=("$GW_PID")
	wait_for 10 grep -q 'msg=ready' "$GW_LOG" || fail "$name did not start"
	GW_TCP=$(sed -n 's/.*msg="listening for devices".* port=\([0-9]*\).*/\1/p' "$GW_LOG" | tail -n1)
	GW_HTTP=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$GW_LOG" | tail -n1)
}
start_gw gw-a "$T_A"; A_PID=$GW_PID A_TCP=$GW_TCP A_HTTP=$GW_HTTP
start_gw gw-b "$T_B"; B_PID=$GW_PID B_TCP=$GW_TCP B_HTTP=$GW_HTTP
start_sim sim-a --devices 20 --connect "127.0.0.1:$A_TCP" --id-prefix a- --version 1.2.3 --heartbeat-s 1
start_sim sim-b --devices 15 --connect "127.0.0.1:$B_TCP" --id-prefix b- --version 2.0.1 --heartbeat-s 1

link_is() { [ "$(metric flotilla_gateway_controller_up)" = "$1" ]; }
cli() { "$CLI" "$@" --server "$SERVER" --token "$T_ADMIN"; }
devices_json() { cli get devices -o json >"$work/devs.json" 2>"$work/cli.err"; }
# count of devices with gateway G, version V and phase idle, seen in the last 30 s
count_ok() {
	devices_json || return 1
	jq -e --arg g "$1" --arg v "$2" --argjson n "$3" --argjson now "$(date +%s)" '
		[(.items // .)[] | select(.status.gateway == $g and .status.version == $v
			and .status.state == "online"
			and ((.status.lastSeen | fromdateiso8601) > $now - 30))] | length == $n' \
		"$work/devs.json" >/dev/null
}
wait_for 20 count_ok gw-a 1.2.3+0 20 || { cat "$work/devs.json" | head -c 2000; fail "gw-a devices not reported"; }
wait_for 10 count_ok gw-b 2.0.1+0 15 || fail "gw-b devices not reported"
n=$(jq '(.items // .) | length' "$work/devs.json")
[ "$n" = 35 ] || fail "expected 35 devices, got $n"
# Gateway objects: connected, version, device count, heartbeat, address, labels
gateway_ok() {
	cli get gateways -o json >"$work/gws.json" || return 1
	jq -e '[(.items // .)[] | select(.metadata.name == "gw-a" and .status.connected == true
	and .status.devices == 20 and (.status.version | length) > 0 and .status.lastHeartbeat != null
	and (.spec.address | startswith("http://127.0.0.1:")) and (.spec.address | endswith(":0") | not) and .metadata.labels.site == "lab")] | length == 1' \
	"$work/gws.json" >/dev/null
}
wait_for 10 gateway_ok || { cat "$work/gws.json"; fail "gw-a Gateway object"; }
GW_HTTP=$A_HTTP
[ "$(metric flotilla_gateway_controller_up)" = 1 ] || fail "controller_up not 1"
ts=$(metric flotilla_gateway_controller_last_report_timestamp_seconds)
awk -v t="$ts" -v now="$(date +%s)" 'BEGIN { exit !(t > now - 30) }' || fail "last report timestamp $ts"

# The controller goes away: gateways keep running and serving their devices.
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
wait_for 10 link_is 0 || fail "link not seen down"
t0=$(date +%s%N)
api_ok /api/v1/devices '[.devices[] | select(.state == "online")] | length == 20' || fail "gw-a stopped serving"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || fail "gw-a API slow while the controller is down"
GW_HTTP=$B_HTTP
api_ok /api/v1/devices '[.devices[] | select(.state == "online")] | length == 15' || fail "gw-b stopped serving"
kill -0 "$A_PID" && kill -0 "$B_PID" || fail "a gateway died"
# Something changes while it is down: 5 devices of gw-b go away.
kill -TERM "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true
start_sim sim-b2 --devices 10 --connect "127.0.0.1:$B_TCP" --id-prefix b- --version 2.0.1 --heartbeat-s 1
# offline after 3 heartbeats + 5 s, seen by gw-b while the controller is away
GW_HTTP=$B_HTTP
wait_for 15 api_ok /api/v1/devices '[.devices[] | select(.state == "offline")] | length == 5' ||
	fail "gw-b did not see 5 devices go offline"
start_controller
# Catch-up: gw-b's 10 devices online, 5 offline, and the link is up again.
offline_ok() {
	devices_json || return 1
	jq -e '[(.items // .)[] | select(.status.gateway == "gw-b" and .status.state == "offline")] | length == 5' \
		"$work/devs.json" >/dev/null
}
wait_for 20 offline_ok || { jq -c '[(.items // .)[] | {n: .metadata.name, s: .status.state}]' "$work/devs.json"; fail "gw-b did not catch up"; }
wait_for 10 count_ok gw-b 2.0.1+0 10 || fail "gw-b online devices after catch-up"
wait_for 10 count_ok gw-a 1.2.3+0 20 || fail "gw-a devices after catch-up"
GW_HTTP=$A_HTTP
wait_for 10 link_is 1 || fail "link not up again"

# An assignment for a-3 reaches gw-a, not gw-b; gw-a may not read gw-b's.
API=$SERVER/apis/flotilla.io/v1
curl -fsS -H "Authorization: Bearer $T_ADMIN" "$API/devices/a-00003" |
	jq '.spec.assignment = {release: "rel-9", action: "install", rollout: "ro-9", cohort: "canary"}' \
	>"$work/a3.json"
curl -fsS -X PUT -H "Authorization: Bearer $T_ADMIN" -H 'Content-Type: application/json' \
	--data @"$work/a3.json" "$API/devices/a-00003" >/dev/null || fail "PUT assignment"
GW_HTTP=$A_HTTP
wait_for 10 api_ok /api/v1/assignments \
	'[.items[] | select(.device == "a-00003" and .release == "rel-9" and .action == "install" and .cohort == "canary")] | length == 1' ||
	{ api /api/v1/assignments; fail "assignment did not reach gw-a"; }
wait_for 5 grep -q "msg=assignment device=a-00003 release=rel-9 action=install" "$work/gw-a.log" || { grep assignment "$work/gw-a.log" >&2; fail "hook not called"; }
GW_HTTP=$B_HTTP
api_ok /api/v1/assignments '.items | length == 0' || fail "gw-b got an assignment"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T_A" "$API/gateways/gw-b/assignments")
[ "$code" = 403 ] || fail "gw-a read gw-b's assignments: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T_A" "$API/gateways/gw-a/assignments")
[ "$code" = 200 ] || fail "gw-a cannot read its own assignments: $code"
# Taking the assignment away reaches gw-a too.
curl -fsS -H "Authorization: Bearer $T_ADMIN" "$API/devices/a-00003" | jq 'del(.spec.assignment)' >"$work/a3.json"
curl -fsS -X PUT -H "Authorization: Bearer $T_ADMIN" -H 'Content-Type: application/json' \
	--data @"$work/a3.json" "$API/devices/a-00003" >/dev/null || fail "PUT without assignment"
GW_HTTP=$A_HTTP
wait_for 10 api_ok /api/v1/assignments '.items | length == 0' || fail "assignment not removed"
wait_for 5 grep -q 'msg="assignment removed" device=a-00003' "$work/gw-a.log" || fail "removal hook not called"
# Requests by result were counted on both sides of the outage.
for k in register heartbeat batch assignments; do
	v=$(metric "flotilla_gateway_controller_requests_total{kind=\"$k\",result=\"ok\"}")
	[ "$v" != missing ] && [ "$v" -ge 1 ] || fail "no ok $k requests counted"
done
v=$(metric 'flotilla_gateway_controller_requests_total{kind="heartbeat",result="error"}')
[ "$v" != missing ] && [ "$v" -ge 1 ] || fail "no failed heartbeats counted during the outage"
# A clean stop says the gateway is no longer connected.
kill -TERM "$B_PID"
wait "$B_PID" 2>/dev/null || true
cli get gateways -o json >"$work/gws.json"
jq -e '[(.items // .)[] | select(.metadata.name == "gw-b" and .status.connected == false)] | length == 1' \
	"$work/gws.json" >/dev/null || { cat "$work/gws.json"; fail "gw-b still connected after its stop"; }
echo "PASS"
