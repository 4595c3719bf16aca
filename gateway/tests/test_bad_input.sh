#!/usr/bin/env bash
# Bad input: garbage and half frames on a serial line (a pty), a device that
# floods over TCP, malformed and oversized HTTP requests. The gateway stays
# up, keeps serving good devices, and logs each refusal clearly.
. "$(dirname "$0")/lib.sh"
start_gateway gw --heartbeat-s 1 --pty "$work/line" --link-rate-max 4096 --log-level info
start_sim sim --devices 5 --connect 127.0.0.1:$GW_TCP --heartbeat-s 1
wait_for 20 online_is 5 || fail "good devices did not come up"

# serial: random bytes, then frames cut short (a delimiter, a header, no end)
[ -L "$work/line" ] || fail "no pty link"
head -c 3000 /dev/urandom >"$work/line"
printf '\x00\x05\xa0\x01\x02' >"$work/line"
printf '\x00\x05\xa0\x01\x02\x00' >"$work/line"
printf '\x00\xff%.0s' $(seq 1 400) >"$work/line"
# TCP: a device that floods 3 MB as fast as it can
head -c 3000000 /dev/urandom >"$work/flood.bin"
timeout 10 bash -c "cat '$work/flood.bin' >/dev/tcp/127.0.0.1/$GW_TCP" || true

http="http://127.0.0.1:$GW_HTTP"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
[ "$(code -X POST -d x "$http/metrics")" = 413 ] || [ "$(code -X POST -d x "$http/metrics")" = 405 ] ||
	fail "POST with a body"
[ "$(code -X DELETE "$http/api/v1/devices")" = 405 ] || fail "DELETE"
[ "$(code "$http/api/v1/devices?limit=0")" = 400 ] || fail "bad query"
[ "$(code "$http/api/v1/devices?nope=1")" = 400 ] || fail "unknown query"
[ "$(code "$http/api/v1/devices/bad%20id")" = 400 ] || fail "bad id"
[ "$(code "$http/api/v1/devices/no-such")" = 404 ] || fail "unknown device"
[ "$(code --path-as-is "$http/api/../metrics")" = 400 ] || fail "dot segments"
long=$(head -c 3000 /dev/zero | tr '\0' a)
[ "$(code "$http/$long")" = 414 ] || fail "long path"
big=$(head -c 40000 /dev/zero | tr '\0' b)
c=$(code -H "X-Big: $big" "$http/metrics")
[ "$c" != 200 ] || fail "oversized headers served"
# garbage and a half request on a raw socket
timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$GW_HTTP; printf 'GARBAGE \\x01\\x02\\r\\n\\r\\n' >&3; cat <&3 >/dev/null" || true
timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$GW_HTTP; printf 'GET /metr' >&3; sleep 1" || true
sleep 1

gw_alive || fail "the gateway died"
[ "$(curl -fsS "$http/healthz")" = ok ] || fail "healthz"
[ "$(code -I "$http/metrics")" = 200 ] || fail "HEAD /metrics"
wait_for 10 online_is 5 || fail "good devices lost"
errs=0
for r in truncated too_big crc garbage; do
	v=$(metric "flotilla_gateway_frame_errors_total{transport=\"pty\",reason=\"$r\"}")
	errs=$((errs + v))
done
[ $errs -gt 0 ] || fail "no frame errors counted on the pty"
dropped=$(metric 'flotilla_gateway_link_dropped_in_bytes_total{transport="tcp"}')
received=$(metric 'flotilla_gateway_link_received_bytes_total{transport="tcp"}')
# the flood ran at most 10 s against 4096 B/s (plus a 4 KiB burst per link and
# the five good devices' few bytes): everything beyond was dropped
[ "$dropped" -gt 100000 ] || fail "flood not limited: received $received, dropped $dropped"
[ $((received - dropped)) -lt 100000 ] || fail "too much accepted: received $received, dropped $dropped"
grep -q 'msg="link over its input rate; dropping input" transport=tcp' "$GW_LOG" || fail "no flood log"
grep -q 'msg="dropped bad frames" transport=pty' "$GW_LOG" || fail "no bad-frame log"
grep -q 'msg="http request refused" status=414' "$GW_LOG" || fail "no 414 log"
grep -q 'msg="http request refused" status=405' "$GW_LOG" || fail "no 405 log"
# every line is logfmt with a level
if grep -v '^ts=[^ ]* level=\(debug\|info\|warn\|error\) msg=' "$GW_LOG"; then
	fail "a log line that is not logfmt"
fi
echo "bad input: OK (frame errors $errs, flood bytes dropped $dropped)"
