#!/usr/bin/env bash
# npm start: installs what is missing, builds, and runs the local cluster (tools/devenv/up.ts).
# `npm start -- --nodes 3` (or TAPLINE_NODES=3 npm start) runs a 3-node authorizer cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
npm run --silent build
exec node dist/tools/devenv/up.js "$@"
