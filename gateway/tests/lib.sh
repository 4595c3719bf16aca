# Sourced by the gateway's integration tests. Needs GW (flotilla-gateway)
# and SIM (flotilla-fleetsim) in the environment; starts real processes,
# remembers their pids and stops exactly those on exit.
set -euo pipefail

work=$(mktemp -d /tmp/flotilla-gwtest.XXXXXX)
pids=()

cleanup() {
	local rc=$?
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		for f in "$work"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (tail)" >&2
			tail -n 30 "$f" >&2
		done
	fi
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wait_for SECONDS CMD...: retries CMD every 0.2 s.
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	return 1
}

# start_gateway NAME [flags...]: listeners on free loopback ports; sets
# GW_PID, GW_TCP (device port), GW_HTTP (http port), GW_LOG.
start_gateway() {
	local name=$1; shift
	GW_LOG=$work/$name.log
	"$GW" --db "$work/registry.db" --listen-tcp 127.0.0.1:0 --http-listen 127.0.0.1:0 "$@" \
		2>"$GW_LOG" &
	GW_PID=$!
	pids+=("$GW_PID")
	wait_for 10 grep -q 'msg=ready' "$GW_LOG" || fail "gateway did not start"
	GW_TCP=$(sed -n 's/.*msg="listening for devices".* port=\([0-9]*\).*/\1/p' "$GW_LOG" | tail -n1)
	GW_HTTP=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$GW_LOG" | tail -n1)
	[ -n "$GW_HTTP" ] || fail "no http port in the gateway log"
}

# start_sim NAME [flags...]: sets SIM_PID, SIM_STATS.
start_sim() {
	local name=$1; shift
	SIM_STATS=$work/$name.json
	"$SIM" --stats "$SIM_STATS" "$@" >"$work/$name.out" 2>"$work/$name.log" &
	SIM_PID=$!
	pids+=("$SIM_PID")
}

sim_field() { jq -r ".$1" "$SIM_STATS"; }
api() { curl -fsS --max-time 5 "http://127.0.0.1:$GW_HTTP$1"; }
metric() {
	# metric 'name{labels}' -> value
	curl -fsS --max-time 5 "http://127.0.0.1:$GW_HTTP/metrics" |
		awk -v k="$1" '$1 == k { print $2; found=1 } END { if (!found) print "missing" }'
}
online_is() { [ "$(metric 'flotilla_gateway_devices{state="online"}')" = "$1" ]; }
gw_alive() { kill -0 "$GW_PID" 2>/dev/null; }
# api_ok PATH FILTER: the API answers PATH and FILTER holds on the reply
# (jq -e alone passes on empty input, so the reply is checked first).
api_ok() {
	local out
	out=$(api "$1") || return 1
	[ -n "$out" ] || return 1
	printf '%s' "$out" | jq -e "$2" >/dev/null
}
# json_ok FILE FILTER: likewise for a file.
json_ok() {
	[ -s "$1" ] || return 1
	jq -e "$2" "$1" >/dev/null
}
