#!/usr/bin/env bash
# npm run bench: builds, then runs the benchmark driver. The last line of stdout is the JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh >&2
npm run --silent build >&2
exec node dist/loadtest/bench.js
