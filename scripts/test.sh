#!/usr/bin/env bash
# npm test: the whole suite. Installs what is missing (Redis and ClickHouse from Debian, npm
# dependencies), regenerates the gRPC code and builds, checks the k6 script's types, then runs
# mocha over unit, integration, fault and cluster tests, two files at a time. Every test starts
# its own Redis/ClickHouse on private ports under .test-data/ and stops it. Ends with the line
# "N passed, N failed".
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
# Two test files at a time, one per core: most files spend their time waiting on the processes
# they start (Redis, ClickHouse, nodes, failovers). The longest files start first, so that no
# worker is left running one of them alone at the end. Each worker times its files
# (test/support/file-times.ts) for the reporter's list of the slowest.
shopt -s globstar
first=(dist/test/fault/redis-failover.test.js dist/test/integration/unknown-ids-memory.test.js dist/test/integration/clickhouse-cluster.test.js)
files=("${first[@]}")
for file in dist/test/unit/**/*.test.js dist/test/integration/**/*.test.js dist/test/fault/**/*.test.js dist/test/cluster/**/*.test.js; do
  [[ " ${first[*]} " == *" $file "* ]] || files+=("$file")
done
set +e
npx mocha --parallel --jobs 2 --require dist/test/support/file-times.js "${files[@]}" "$@"
status=$?
set -e
rm -rf .test-data
exit $status
