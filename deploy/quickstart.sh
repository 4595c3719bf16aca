#!/usr/bin/env bash
# Flotilla quickstart: install what is needed, build, and run the demo.
#
# What it runs today: a gateway endpoint and a device endpoint, each in its
# own process, speaking the Flotilla wire protocol (agent/PROTOCOL.md) over
# a real pty pair. It prints every message they exchange. The full fleet demo
# (controller, gateway, simulated and QEMU devices, Prometheus) replaces it
# as those parts land.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case ${1:-} in
  -h|--help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0 ;;
esac

echo "==> installing dependencies (deploy/install-deps.sh)"
./deploy/install-deps.sh

echo "==> building (preset: default)"
cmake --preset default >/dev/null
cmake --build --preset default --target flotilla-ptydemo -j "$(nproc 2>/dev/null || echo 2)"

echo "==> running build/default/agent/proto/flotilla-ptydemo"
echo
if build/default/agent/proto/flotilla-ptydemo; then
  cat <<'MSG'

What just happened: two processes, a gateway and a device, opened a link
session over a pty (COBS frames, CRC-32C, sequence numbers, acknowledgements),
exchanged hello, heartbeats and telemetry, answered an unknown message type
with an error, moved a 48 KiB image with credit-based flow control through
injected line noise and verified its SHA-256, then the device "rebooted" and
opened a new session, which the gateway noticed.

Next: ./tests/run.sh runs every test; agent/PROTOCOL.md describes the protocol.
MSG
else
  echo "quickstart: the demo failed" >&2
  exit 1
fi
