#!/bin/sh
# tools/bench.sh: "make bench".  Runs ../shared/bench with this tree's
# plugin beside Postfix and OpenSMTPD, in one run, so the ratios are
# comparable.  BENCH_ARGS passes options (e.g. --quick, --only ...).
set -eu
cd "$(dirname "$0")/.."
harness=../shared/bench/peers.sh
[ -x "$harness" ] || { echo "bench: $harness not found" >&2; exit 1; }
mkdir -p bench/results
BENCH_RESULTS=$(pwd)/bench/results exec bash "$harness" \
    --plugin ours=bench/mta-ours.sh ${BENCH_ARGS:-}
