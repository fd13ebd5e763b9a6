#!/bin/sh
# tools/bench_disk.sh: "make bench-disk".  The shared harness's accept
# scenarios for this relay and Postfix, each on this machine's disk and
# with its queue on a tmpfs (bench/mta-ours-tmpfs.sh,
# bench/mta-postfix-tmpfs.sh), in one run: the difference is what each
# waits for the disk.  BENCH_ONLY picks the scenarios (default
# accept-1k-s10,accept-1k-s50), BENCH_ARGS passes options (e.g. --quick);
# the scratch directories are kept in a work directory of this run's own
# (see tools/bench.sh) and removed at the end.  Needs root (mount).
set -eu
cd "$(dirname "$0")/.."
harness=../shared/bench/peers.sh
[ -x "$harness" ] || { echo "bench: $harness not found" >&2; exit 1; }
mkdir -p bench/results
work=${BENCH_WORK:-/var/tmp/mtabench-disk.$$}
rc=0
BENCH_WORK=$work BENCH_RESULTS=$(pwd)/bench/results \
    bash "$harness" --mta postfix --plugin ours=bench/mta-ours.sh \
    --plugin ours-tmpfs=bench/mta-ours-tmpfs.sh \
    --plugin postfix-tmpfs=bench/mta-postfix-tmpfs.sh --keep --no-phys \
    --only "${BENCH_ONLY:-accept-1k-s10,accept-1k-s50}" ${BENCH_ARGS:-} || rc=$?
rm -rf "$work"
exit $rc
