#!/usr/bin/env bash
# npm start: installs what is missing, builds, and runs the local cluster (services/devenv/up.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
npm run --silent build
exec node dist/services/devenv/up.js
