#!/usr/bin/env bash
# Runs the fuzz targets (tests/fuzz.rs) for MINUTES minutes, each round with a fresh seed and
# PROPTEST_CASES cases per target (default 2000), in a release build. Stops at the first failure
# and prints the seed and proptest's shrunk case: add that case to `regressions()` in
# tests/fuzz.rs, then fix the code.
#
# Usage: scripts/fuzz.sh [MINUTES] [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
export PROPTEST_CASES="${2:-2000}"
deadline=$(( SECONDS + minutes * 60 ))
round=0
cargo test --release --test fuzz --no-run
while [ "$SECONDS" -lt "$deadline" ]; do
    round=$(( round + 1 ))
    seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
    echo "round ${round}: PROPTEST_RNG_SEED=${seed}, ${PROPTEST_CASES} cases per target"
    if ! PROPTEST_RNG_SEED="$seed" cargo test --release --test fuzz -q; then
        echo "FAILED in round ${round}; rerun with PROPTEST_RNG_SEED=${seed} PROPTEST_CASES=${PROPTEST_CASES}" >&2
        exit 1
    fi
done
echo "${round} rounds, no failure"
