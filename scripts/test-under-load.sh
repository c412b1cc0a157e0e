#!/usr/bin/env bash
# Runs the test suite the way a shared CI machine runs it: with other CPU-bound processes competing
# for every core. Default: 2 burners per core on top of jest's own workers (about 4× oversubscription
# of a 2-core machine). Usage: scripts/test-under-load.sh [burners-per-core] [jest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
per_core=${1:-2}
shift || true
cores=$(nproc)
burners=$((per_core * cores))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# Each burner spins for at most 30 minutes, so a killed script never leaves one behind for long.
for _ in $(seq "$burners"); do
  timeout 1800 node -e 'for (;;) {}' &
  pids+=($!)
done
echo "== npm test with $burners CPU-bound processes on $cores cores"
npm test -- "$@"
