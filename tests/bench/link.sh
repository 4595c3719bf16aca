#!/usr/bin/env bash
# The wire protocol: goodput over a simulated 115200-baud, 20 ms link, and the
# footprint of the protocol library in the cortex-m4 -Os build.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_build release bench_link_goodput
"$(bench_dir release)/tests/bench/bench_link_goodput"

bench_build cortex-m4 ag_proto ag_base ag_proto_footprint
m4=$(bench_dir cortex-m4)
# Text of everything a device links for the protocol: framing, link,
# messages (with type names) and the CRC.
text=$(arm-none-eabi-size -t "$m4/agent/proto/libag_proto.a" | awk '/TOTALS/ {print $1}')
crc=$(arm-none-eabi-size "$m4/agent/base/CMakeFiles/ag_base.dir/src/crc.c.obj" | awk 'NR==2 {print $1}')
echo "bench: agent_proto_text_bytes $((text + crc)) bytes"
hex=$(arm-none-eabi-nm -S "$m4/agent/proto/CMakeFiles/ag_proto_footprint.dir/tests/footprint.c.obj" |
      awk '$4 == "ag_link_footprint" {print $2}')
echo "bench: agent_link_ram_bytes $((16#$hex)) bytes"
