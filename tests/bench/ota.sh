#!/usr/bin/env bash
# OTA goodput over a simulated 115200-baud, 20 ms line: the gateway's sender
# (ag_ota_tx) to a device's agent, 300 KiB, as a percentage of the raw rate.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_build release bench_ota_goodput
"$(bench_dir release)/tests/bench/bench_ota_goodput"
