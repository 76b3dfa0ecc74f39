#!/usr/bin/env bash
# npm test: the whole suite. Installs what is missing (Redis and ClickHouse from Debian, npm
# dependencies), regenerates the gRPC code and builds, checks the k6 script's types, then runs
# mocha over unit, integration and fault tests. Every test starts its own Redis/ClickHouse on
# private ports under .test-data/ and stops it. Ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
npm run --silent build
npx tsc -p loadtest/k6/tsconfig.json
rm -rf .test-data
set +e
npx mocha 'dist/test/unit/**/*.test.js' 'dist/test/integration/**/*.test.js' 'dist/test/fault/**/*.test.js' "$@"
status=$?
set -e
rm -rf .test-data
exit $status
