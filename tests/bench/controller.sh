#!/usr/bin/env bash
# Controller bench: 1,000,000 Device objects.
#  - status ingest through the batch endpoint (HTTP + JSON included): the
#    first pass creates the devices, the timed pass updates all of them;
#  - list latency with a label selector (one page of 500 of 1M);
#  - watch fan-out: 100 watchers, time until each has seen 1000 changes;
#  - the same ingest on etcd (one local member), and the ratio.
# Prints:
#   bench: ctl_ingest_1m_s.sqlite <s> s
#   bench: ctl_ingest_1m_s.etcd <s> s
#   bench: ctl_ingest_ratio.etcd_over_sqlite <x> x
#   bench: ctl_list_selector_ms <ms> ms
#   bench: ctl_watch_fanout_ms <ms> ms
# Env: CTL_BENCH_N (devices, default 1000000), CTL_BENCH_ETCD_N (devices for
# the etcd run, default the same; a smaller one is scaled to N and says so),
# CTL_BENCH_BUILD (build dir, default /tmp/flotilla-bench-controller).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

n=${CTL_BENCH_N:-1000000}
etcd_n=${CTL_BENCH_ETCD_N:-$n}
build=${CTL_BENCH_BUILD:-/tmp/flotilla-bench-controller}
work=$(mktemp -d /tmp/ctl-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFLOTILLA_PARTS="agent;controller" >/dev/null
cmake --build "$build" --target flotilla-controller >/dev/null
ctl=$build/controller/server/flotilla-controller
cc -O2 -o "$work/ctl_bench" "$here/controller/ctl_bench.c" \
  $(pkg-config --cflags --libs libcurl) -lpthread
bench=$work/ctl_bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

start_controller() { # store -> sets url
  local port; port=$(free_port)
  "$ctl" --listen 127.0.0.1:$port --store "$1" --no-auth --log-level warn 2>>"$work/ctl.log" &
  pids+=($!)
  url=http://127.0.0.1:$port
  wait_http "$url/healthz"
}
stop_last() { local p=${pids[-1]}; kill "$p"; wait "$p" 2>/dev/null || true; unset 'pids[-1]'; }

batch=1000
conns=4

# --- SQLite ---
start_controller "sqlite:$work/bench.db"
"$bench" ingest "$url" "$n" $batch $conns 1 >/dev/null           # create
sqlite_s=$("$bench" ingest "$url" "$n" $batch $conns 2)            # update: timed
sqlite_1m=$(awk -v s="$sqlite_s" -v n="$n" 'BEGIN{printf "%.2f", s*1000000/n}')
echo "bench: ctl_ingest_1m_s.sqlite $sqlite_1m s"
list_ms=$("$bench" list "$url" "shard=17,site in (s7)" 9)
echo "bench: ctl_list_selector_ms $list_ms ms"
fan_ms=$("$bench" fanout "$url" 100 1000)
echo "bench: ctl_watch_fanout_ms $fan_ms ms"
stop_last

# --- etcd ---
ep=$(free_port); pp=$(free_port)
etcd --name b --data-dir "$work/etcd" --listen-client-urls http://127.0.0.1:$ep \
  --advertise-client-urls http://127.0.0.1:$ep --listen-peer-urls http://127.0.0.1:$pp \
  --initial-advertise-peer-urls http://127.0.0.1:$pp --initial-cluster b=http://127.0.0.1:$pp \
  --quota-backend-bytes 8589934592 --logger zap --log-level error 2>>"$work/etcd.log" &
pids+=($!)
wait_http "http://127.0.0.1:$ep/health"
start_controller "etcd:http://127.0.0.1:$ep"
"$bench" ingest "$url" "$etcd_n" $batch $conns 1 >/dev/null
etcd_s=$("$bench" ingest "$url" "$etcd_n" $batch $conns 2)
etcd_1m=$(awk -v s="$etcd_s" -v n="$etcd_n" 'BEGIN{printf "%.2f", s*1000000/n}')
note=""
[ "$etcd_n" = "$n" ] || note=" (measured on $etcd_n devices, scaled)"
echo "bench: ctl_ingest_1m_s.etcd $etcd_1m s$note"
echo "bench: ctl_ingest_ratio.etcd_over_sqlite $(awk -v a="$etcd_1m" -v b="$sqlite_1m" 'BEGIN{printf "%.1f", a/b}') x"
