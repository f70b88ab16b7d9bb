#!/usr/bin/env bash
# The README's test command (npm test): set up, build, run both phases of test/vitest.config.ts,
# and fail if either failed. Extra arguments go to both vitest runs (e.g. a file filter).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash test/setup.sh || exit 1
npm run build --silent || exit 1
npx vitest run --config test/vitest.config.ts "$@"
first=$?
WHEELHOUSE_TEST_PHASE=timed npx vitest run --config test/vitest.config.ts --passWithNoTests "$@"
second=$?
exit $((first || second))
