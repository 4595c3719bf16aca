#!/usr/bin/env bash
# Rollout step computation: ranks and per-gateway canary selection for
# 1,000,000 devices across 1,000 gateways (controller/rollout).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_build release bench_rollout_step
"$(bench_dir release)/tests/bench/bench_rollout_step"
