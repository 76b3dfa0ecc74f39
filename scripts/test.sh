#!/usr/bin/env bash
# npm test: the whole suite. Installs what is missing (Redis and ClickHouse from Debian, npm
# dependencies), regenerates the gRPC code and builds, checks the k6 script's types, then runs
# mocha over unit, integration, fault and cluster tests. Every test starts its own Redis/ClickHouse on
# private ports under .test-data/ and stops it. Ends with the line "N passed, N failed".
# Extra arguments go to mocha (e.g. npm test -- --grep crash).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
npm run --silent build
# Static checks first: the proto module, lint (no floating promises, no import cycles, ...),
# and the k6 script against @types/k6.
npx buf lint
npx eslint .
npx prettier --check --log-level warn "{actors,services,test,loadtest,tools}/**/*.ts"
npx tsc -p loadtest/k6/tsconfig.json
rm -rf .test-data
set +e
npx mocha 'dist/test/unit/**/*.test.js' 'dist/test/integration/**/*.test.js' 'dist/test/fault/**/*.test.js' 'dist/test/cluster/**/*.test.js' "$@"
status=$?
set -e
rm -rf .test-data
exit $status
