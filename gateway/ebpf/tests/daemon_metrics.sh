#!/usr/bin/env bash
# Integration: flotilla-gateway serves the gw_ebpf families on /metrics.
#  1. probes on (root, probes built): flotilla_gateway_ebpf_enabled 1, every
#     program attached, the scheduling latency histogram, promtool passes;
#  2. FLOTILLA_GATEWAY_EBPF=off: enabled 0 and one warning saying why;
#  3. in both, with fleetsim devices on TCP: their links' latency shows in
#     flotilla_gateway_link_latency_seconds, labelled by transport and the
#     release the device runs (no device id), and per device in
#     /api/v1/devices/{id} as link.latency, from the probe or from the
#     userspace fallback.
# Usage: daemon_metrics.sh GATEWAY_BINARY HAVE_PROBES(0|1) FLEETSIM_BINARY
set -euo pipefail
gw=$1
have=$2
sim=$3
work=$(mktemp -d /tmp/gw-ebpf-daemon.XXXXXX)
pid=
simpid=
cleanup() {
  if [ -n "$simpid" ]; then kill "$simpid" 2>/dev/null || true; wait "$simpid" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start ENV...: runs the gateway on free ports; sets pid and port.
start() {
  rm -f "$work/gw.db"*
  env "$@" "$gw" --listen-tcp 127.0.0.1:0 --http-listen 127.0.0.1:0 --db "$work/gw.db" \
    --heartbeat-s 1 >"$work/log" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*http listening.*port=\([0-9]*\).*/\1/p' "$work/log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "gateway died" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/log" >&2; echo "no http port in the log" >&2; exit 1; }
  devport=$(sed -n 's/.*listening for devices.*port=\([0-9]*\).*/\1/p' "$work/log" | head -n 1)
}

# devices SOURCE: three simulated devices exchange frames for a while; their
# latency is in the histogram and in each device's JSON, from SOURCE.
devices() {
  "$sim" --devices 3 --connect "127.0.0.1:$devport" --heartbeat-s 1 --duration 4 \
    >"$work/sim.log" 2>&1 &
  simpid=$!
  sleep 3
  curl -sf "http://127.0.0.1:$port/metrics" >"$work/m3"
  count=$(sed -n 's/^flotilla_gateway_link_latency_seconds_count{transport="tcp",release="1.0.0[^"]*",cohort="none"} \([0-9]*\).*/\1/p' "$work/m3" | head -n 1)
  [ -n "$count" ] && [ "$count" -gt 0 ] || fail "no tcp link latency for release 1.0.0 ($1)"
  grep -q 'link_latency.*sim-' "$work/m3" && fail "a device id in a metric label"
  id=$(curl -sf "http://127.0.0.1:$port/api/v1/devices" | jq -r '.devices[0].id')
  curl -sf "http://127.0.0.1:$port/api/v1/devices/$id" >"$work/dev.json"
  [ "$(jq -r '.link.latency.source' "$work/dev.json")" = "$1" ] || fail "device $id: no $1 latency"
  [ "$(jq -r '.link.latency.count' "$work/dev.json")" -gt 0 ] || fail "device $id: count 0"
  wait "$simpid" 2>/dev/null || true
  simpid=
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
  devices ebpf
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
devices userspace
if command -v promtool >/dev/null; then
  promtool check metrics <"$work/m2" || fail "promtool"
fi
stop
echo "probes off: ok"
