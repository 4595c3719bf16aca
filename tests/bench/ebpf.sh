#!/usr/bin/env bash
# eBPF probe overhead per event (gateway/ebpf): for each probe, the same loop
# of the traced operation with the probe detached and attached, alternating
# in one run (median over 21 rounds of the attached - detached difference):
#   ebpf_overhead_ns.sys_exit.gateway_syscall        link probe, a gateway syscall
#                                                    that is not device I/O (getppid)
#   ebpf_overhead_ns.sys_exit.other_process          link probe, a syscall of any
#                                                    other process (tgid filter)
#   ebpf_overhead_ns.link_exchange                   one measured write+read pair
#                                                    on a watched fd
#   ebpf_overhead_ns.sched_switch.gateway_thread     per switch-in of a gateway
#                                                    thread (wakeup + switch)
#   ebpf_overhead_ns.sched_switch.other_process      per switch of other threads
#   ebpf_overhead_ns.tcp_probe                       per TCP segment received on
#                                                    a watched socket
#   ebpf_overhead_ns.sys_exit_raw.*, link_exchange_raw  the same for the link
#                                                    probe as it runs without
#                                                    kernel BTF (raw_tp, no CO-RE;
#                                                    /sys/kernel/btf hidden in a
#                                                    private mount namespace)
#   ebpf_prog_ns.<program>                           time inside each program per
#                                                    run (kernel BPF statistics)
#   gw_cpu_pct_ebpf_on / gw_cpu_pct_ebpf_off          CPU of flotilla-gateway
#                                                    (% of one core, 10 s after
#                                                    a 12 s ramp) under 10,000
#                                                    flotilla-fleetsim devices on
#                                                    TCP, heartbeat 1 s, with
#                                                    FLOTILLA_GATEWAY_EBPF on/off
# Needs root and a kernel with BTF. Release build in build/bench-ebpf
# (override with EBPF_BENCH_BUILD=<dir>); EBPF_BENCH_SCALE scales the loops,
# EBPF_BENCH_DEVICES the fleet (default 10000).
# The daemon does not hand its device fds to gw_ebpf yet, so under load the
# link probe pays its filter on every gateway syscall but records no exchange.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=${EBPF_BENCH_BUILD:-$top/build/bench-ebpf}

if [ "$(id -u)" -ne 0 ]; then
  echo "ebpf bench: needs root (BPF programs)" >&2
  exit 1
fi
cmake --preset release -S "$top" -B "$build" >/dev/null
cmake --build "$build" --target gw_ebpf_bench flotilla-gateway flotilla-fleetsim >/dev/null
"$build/gateway/ebpf/bench/gw_ebpf_bench" "${EBPF_BENCH_SCALE:-1}"

devices=${EBPF_BENCH_DEVICES:-10000}
work=$(mktemp -d /tmp/bench-ebpf.XXXXXX)
gpid= fpid=
cleanup() {
  for p in $fpid $gpid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

# gw_cpu MODE: CPU % of one core the gateway uses under the fleet.
gw_cpu() {
  local mode=$1 port= t0 t1
  rm -f "$work"/gw.db*
  FLOTILLA_GATEWAY_EBPF=$mode "$build/gateway/daemon/flotilla-gateway" \
    --listen-tcp 127.0.0.1:0 --http-listen "" --heartbeat-s 1 --db "$work/gw.db" \
    >"$work/gw.log" 2>&1 &
  gpid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening for devices.*port=\([0-9]*\).*/\1/p' "$work/gw.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$work/gw.log" >&2; echo "ebpf bench: gateway did not start" >&2; exit 1; }
  grep 'msg=ebpf' "$work/gw.log" >&2 || true
  "$build/gateway/fleetsim/flotilla-fleetsim" --devices "$devices" \
    --connect "127.0.0.1:$port" --heartbeat-s 1 --duration 40 >"$work/fs.log" 2>&1 &
  fpid=$!
  sleep 12
  t0=$(awk '{ print $14 + $15 }' "/proc/$gpid/stat")
  sleep 10
  t1=$(awk '{ print $14 + $15 }' "/proc/$gpid/stat")
  kill "$fpid" "$gpid"
  wait "$fpid" "$gpid" 2>/dev/null || true
  fpid= gpid=
  awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.1f", (b - a) * 100 / hz / 10 }'
}

off=$(gw_cpu off)
on=$(gw_cpu on)
echo "bench: gw_cpu_pct_ebpf_off $off %"
echo "bench: gw_cpu_pct_ebpf_on $on %"
