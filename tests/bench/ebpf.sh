#!/usr/bin/env bash
# eBPF probe overhead per event (gateway/ebpf): for each probe, the same loop
# of the traced operation with the probe detached and attached, alternating
# in one run (min of 7 rounds each):
#   ebpf_overhead_ns.sys_enter_exit.gateway_syscall  link probe, a gateway syscall
#                                                    that is not device I/O (getppid)
#   ebpf_overhead_ns.sys_enter_exit.other_process    link probe, a syscall of any
#                                                    other process (tgid filter)
#   ebpf_overhead_ns.link_exchange                   one measured write+read pair
#                                                    on a watched fd
#   ebpf_overhead_ns.sched_switch.gateway_thread     per switch-in of a gateway
#                                                    thread (wakeup + switch)
#   ebpf_overhead_ns.sched_switch.other_process      per switch of other threads
#   ebpf_overhead_ns.tcp_probe                       per TCP segment received on
#                                                    a watched socket
#   ebpf_prog_ns.<program>                           time inside each program per
#                                                    run (kernel BPF statistics)
# Needs root and a kernel with BTF. Release build in build/bench-ebpf
# (override with EBPF_BENCH_BUILD=<dir>); EBPF_BENCH_SCALE scales the loops.
# Whole-gateway CPU with probes on/off (gw_cpu_pct_ebpf_on/off) needs the
# daemon with gw_ebpf wired in, and is not measured here yet.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
build=${EBPF_BENCH_BUILD:-$top/build/bench-ebpf}

if [ "$(id -u)" -ne 0 ]; then
  echo "ebpf bench: needs root (BPF programs)" >&2
  exit 1
fi
cmake --preset release -S "$top" -B "$build" >/dev/null
cmake --build "$build" --target gw_ebpf_bench >/dev/null
"$build/gateway/ebpf/bench/gw_ebpf_bench" "${EBPF_BENCH_SCALE:-1}"
