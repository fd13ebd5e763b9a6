#!/bin/sh
# tools/bench_proxy.sh: "make bench-proxy".  The shared harness's
# relay-1k-s10 and churn-1k-s50 for this relay directly and behind a real
# HAProxy sending PROXY v2 (bench/mta-ours-proxy.sh), in one run, so the
# cost of the proxy hop and of reading its header shows as a ratio.
# BENCH_ARGS passes options (e.g. --quick); the scratch directories are
# kept in a work directory of this run's own (see tools/bench.sh) and
# removed at the end.
set -eu
cd "$(dirname "$0")/.."
harness=../shared/bench/peers.sh
[ -x "$harness" ] || { echo "bench: $harness not found" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "bench: haproxy not installed (tools/deps.sh)" >&2; exit 1; }
mkdir -p bench/results
work=${BENCH_WORK:-/var/tmp/mtabench-proxy.$$}
rc=0
BENCH_PEERS=0 BENCH_WORK=$work BENCH_RESULTS=$(pwd)/bench/results \
    bash "$harness" --plugin ours=bench/mta-ours.sh \
    --plugin ours-haproxy=bench/mta-ours-proxy.sh --keep --no-phys \
    --only "${BENCH_ONLY:-relay-1k-s10,churn-1k-s50}" ${BENCH_ARGS:-} || rc=$?
rm -rf "$work"
exit $rc
