#!/usr/bin/env bash
# Configuration from a file, the environment and flags (flags win), SIGHUP
# reload (a pty added, a bad file refused and the running settings kept),
# --help, and a bad configuration refused at start with exit status 2.
. "$(dirname "$0")/lib.sh"
"$GW" --help >"$work/help.txt" && grep -q -- '--listen-tcp' "$work/help.txt" || fail "--help"
if "$GW" --heartbeat-s 0 2>"$work/bad.log"; then fail "a bad flag was accepted"; fi
"$GW" --heartbeat-s 0 2>/dev/null || [ $? -eq 2 ] || fail "exit status of a bad configuration"
grep -q 'level=error msg="bad configuration" err="flag --heartbeat_s' "$work/bad.log" || fail "bad config log"
conf=$work/gw.conf
cat >"$conf" <<CONF
name = from-file
heartbeat_s = 5
log_level = info
CONF
export FLOTILLA_GW_NAME=from-env
start_gateway gw --config "$conf"
unset FLOTILLA_GW_NAME
curl -fsS "http://127.0.0.1:$GW_HTTP/metrics" >"$work/m.txt"
grep -q 'flotilla_gateway_build_info{version="[^"]*",gateway="from-env"} 1' "$work/m.txt" ||
	fail "env over file"
# a flag over the environment
FLOTILLA_GW_NAME=from-env "$GW" --config "$conf" --name from-flag --listen-tcp '' \
	--http-listen '' --db "$work/other.db" 2>"$work/flag.log" &
p=$!
pids+=("$p")
wait_for 10 grep -q 'msg=ready' "$work/flag.log" || fail "second gateway"
grep -q 'msg=starting .* name=from-flag ' "$work/flag.log" || fail "flag over env"
kill -TERM $p
echo "pty = $work/dev0" >>"$conf"
kill -HUP "$GW_PID"
wait_for 5 test -L "$work/dev0" || fail "reload did not add the pty"
grep -q 'msg="configuration reloaded"' "$GW_LOG" || fail "no reload log"
echo "heartbeat_s = oops" >>"$conf"
kill -HUP "$GW_PID"
wait_for 5 grep -q 'msg="reload failed; keeping the running configuration"' "$GW_LOG" || fail "bad reload log"
gw_alive || fail "gateway died on a bad reload"
[ -L "$work/dev0" ] || fail "the pty went away on a refused reload"
[ "$(metric 'flotilla_gateway_config_reloads_total{result="error"}')" = 1 ] || fail "reload counter"
# fleetsim devices on ptys, added as serial ports by a reload
mkdir -p "$work/ptys"
start_sim sim --devices 2 --pty-dir "$work/ptys" --heartbeat-s 1
wait_for 10 test -L "$work/ptys/sim-00001" || fail "fleetsim ptys"
sed -i '/heartbeat_s = oops/d' "$conf"
printf 'serial = %s\nserial = %s@230400\n' "$work/ptys/sim-00000" "$work/ptys/sim-00001" >>"$conf"
kill -HUP "$GW_PID"
wait_for 20 api_ok '/api/v1/devices?state=online' '.total == 2 and ([.devices[].transport] | unique) == ["serial"]' ||
	fail "pty devices: $(api /api/v1/devices)"
[ "$(metric 'flotilla_gateway_config_reloads_total{result="ok"}')" = 2 ] || fail "reload counter ok"
echo "reload: OK"
