#!/usr/bin/env bash
# Integration: flotilla-gateway serves the gw_ebpf families on /metrics.
#  1. probes on (root, probes built): flotilla_gateway_ebpf_enabled 1, every
#     program attached, the scheduling latency histogram, promtool passes;
#  2. FLOTILLA_GATEWAY_EBPF=off: enabled 0 and one warning saying why.
# Usage: daemon_metrics.sh GATEWAY_BINARY HAVE_PROBES(0|1)
set -euo pipefail
gw=$1
have=$2
work=$(mktemp -d /tmp/gw-ebpf-daemon.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start ENV...: runs the gateway on free ports; sets pid and port.
start() {
  env "$@" "$gw" --listen-tcp "" --http-listen 127.0.0.1:0 --db "$work/gw.db" \
    >"$work/log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*http listening.*port=\([0-9]*\).*/\1/p' "$work/log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "gateway died" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/log" >&2; echo "no http port in the log" >&2; exit 1; }
}
stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
fail() { echo "FAIL: $*" >&2; cat "$work/log" >&2; exit 1; }

if [ "$have" = 1 ] && [ "$(id -u)" -eq 0 ]; then
  start
  sleep 0.3 # let the loop sleep and wake: run-queue samples
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/m1"
  grep -qx 'flotilla_gateway_ebpf_enabled 1' "$work/m1" || fail "ebpf not enabled"
  for p in sys_exit sched_wakeup sched_wakeup_new sched_switch tcp_probe; do
    grep -qx "flotilla_gateway_ebpf_program_attached{program=\"$p\"} 1" "$work/m1" ||
      fail "$p not attached"
  done
  grep -q '^flotilla_gateway_sched_latency_seconds_count ' "$work/m1" || fail "no sched histogram"
  grep -q 'ebpf.*probes attached: link rtt sched' "$work/log" || fail "no log line"
  if command -v promtool >/dev/null; then
    promtool check metrics <"$work/m1" || fail "promtool"
  fi
  stop
  echo "probes on: ok"
else
  echo "probes on: skipped (needs root and probes built)"
fi

start FLOTILLA_GATEWAY_EBPF=off
curl -sf "http://127.0.0.1:$port/metrics" >"$work/m2"
grep -qx 'flotilla_gateway_ebpf_enabled 0' "$work/m2" || fail "ebpf not reported off"
[ "$(grep -c 'ebpf: disabled' "$work/log")" = 1 ] || fail "want one log line saying why"
grep -q 'turned off by configuration' "$work/log" || fail "no reason in the log"
if command -v promtool >/dev/null; then
  promtool check metrics <"$work/m2" || fail "promtool"
fi
stop
echo "probes off: ok"
