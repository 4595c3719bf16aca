#!/usr/bin/env bash
# The gateway under 10,000 simulated devices at one heartbeat per second
# (flotilla-fleetsim over TCP, release build): gateway CPU (% of one core)
# and RSS once every device is online, then /metrics scrape latency with
# `wrk -c1` against the gateway and, the same way in the same run, against
# Debian's prometheus-node-exporter on loopback; the p99 ratio.
# Goals: <= 25 % of a core, <= 128 MB RSS, ratio <= 1.0.
#   GW_BENCH_BUILD=DIR  use binaries from this build dir instead of building
#                       the release preset
#   GW_BENCH_DEVICES=N  devices (default 10000); GW_BENCH_CPU_S=S (default 20)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${GW_BENCH_DEVICES:-10000}
cpu_s=${GW_BENCH_CPU_S:-20}
wrk_s=${GW_BENCH_WRK_S:-15}
if [ -n "${GW_BENCH_BUILD:-}" ]; then
  build=$GW_BENCH_BUILD
else
  bench_build release flotilla-gateway flotilla-fleetsim
  build=$(bench_dir release)
fi
gw=$build/gateway/daemon/flotilla-gateway
sim=$build/gateway/fleetsim/flotilla-fleetsim
ne=$(command -v prometheus-node-exporter || true)
[ -n "$ne" ] || { echo "gateway bench: prometheus-node-exporter missing (deploy/install-deps.sh)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "gateway bench: wrk missing (deploy/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/flotilla-gwbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "gateway bench: $*" >&2; for f in "$work"/*.log; do tail -n 5 "$f" >&2; done; exit 1; }

free_port() {
  local p
  # below the ephemeral range, where 10,000 simulator sockets sit
  for p in $(shuf -i 20000-32000 -n 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}

"$gw" --db "$work/registry.db" --listen-tcp 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --heartbeat-s 1 --max-devices $((n + 100)) 2>"$work/gw.log" &
gw_pid=$!
pids+=("$gw_pid")
for _ in $(seq 1 100); do grep -q 'msg=ready' "$work/gw.log" && break; sleep 0.1; done
tcp=$(sed -n 's/.*msg="listening for devices".* port=\([0-9]*\).*/\1/p' "$work/gw.log")
http=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$work/gw.log")
[ -n "$tcp" ] && [ -n "$http" ] || die "gateway did not start"

"$sim" --devices "$n" --connect "127.0.0.1:$tcp" --heartbeat-s 1 --ramp 2000 --seed 1 \
  --stats "$work/sim.json" >/dev/null 2>"$work/sim.log" &
sim_pid=$!
pids+=("$sim_pid")
online() {
  curl -fsS --max-time 10 "http://127.0.0.1:$http/metrics" |
    awk '$1 == "flotilla_gateway_devices{state=\"online\"}" {print $2}'
}
for _ in $(seq 1 120); do
  [ "$(online)" = "$n" ] && break
  sleep 1
done
[ "$(online)" = "$n" ] || die "only $(online) of $n devices online"
sleep 5 # steady state: every device past hello, heartbeating

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$gw_pid"); u0=$(ticks "$sim_pid"); s0=$(date +%s.%N)
sleep "$cpu_s"
t1=$(ticks "$gw_pid"); u1=$(ticks "$sim_pid"); s1=$(date +%s.%N)
pct() {
  awk -v a="$1" -v b="$2" -v x="$s0" -v y="$s1" -v hz="$hz" \
    'BEGIN { printf "%.1f", 100 * (b - a) / hz / (y - x) }'
}
cpu=$(pct "$t0" "$t1")
sim_cpu=$(pct "$u0" "$u1")
sim_rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$sim_pid/status")
rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$gw_pid/status")
hb=$(curl -fsS "http://127.0.0.1:$http/metrics" | awk '$1 == "flotilla_gateway_heartbeats_total" {print $2}')
[ "$(online)" = "$n" ] || die "devices dropped during the measurement: $(online) online"

wrk -t1 -c1 -d"${wrk_s}s" --latency "http://127.0.0.1:$http/metrics" >"$work/wrk_gw.txt" 2>&1 || true
ne_port=$(free_port)
"$ne" --web.listen-address="127.0.0.1:$ne_port" 2>"$work/ne.log" &
pids+=("$!")
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$ne_port/metrics" 2>/dev/null && break; sleep 0.2; done
wrk -t1 -c1 -d"${wrk_s}s" --latency "http://127.0.0.1:$ne_port/metrics" >"$work/wrk_ne.txt" 2>&1 || true
pick() {
  awk -v q="$2" '
    $1 == q {
      v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
      if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
      printf "%.3f", v
    }' "$1"
}
gw50=$(pick "$work/wrk_gw.txt" 50%); gw99=$(pick "$work/wrk_gw.txt" 99%)
ne50=$(pick "$work/wrk_ne.txt" 50%); ne99=$(pick "$work/wrk_ne.txt" 99%)
[ -n "$gw99" ] && [ -n "$ne99" ] || { cat "$work/wrk_gw.txt" "$work/wrk_ne.txt" >&2; die "no wrk figures"; }
gw_series=$(curl -fsS "http://127.0.0.1:$http/metrics" | grep -vc '^#')
ne_series=$(curl -fsS "http://127.0.0.1:$ne_port/metrics" | grep -vc '^#')
ratio=$(awk -v a="$gw99" -v b="$ne99" 'BEGIN { printf "%.3f", a / b }')

echo "gateway bench: $n devices online, $hb heartbeats so far; /metrics $gw_series series," \
  "node_exporter $ne_series series" >&2
echo "bench: gw_cpu_pct_10k $cpu %"
echo "bench: gw_rss_mb_10k $rss MB"
echo "bench: fleetsim_cpu_pct_10k $sim_cpu %"
echo "bench: fleetsim_rss_mb_10k $sim_rss MB"
echo "bench: gw_scrape_p50_ms $gw50 ms"
echo "bench: gw_scrape_p99_ms $gw99 ms"
echo "bench: node_exporter_scrape_p50_ms $ne50 ms"
echo "bench: node_exporter_scrape_p99_ms $ne99 ms"
echo "bench: gw_scrape_p99_ratio_vs_node_exporter $ratio ratio"
