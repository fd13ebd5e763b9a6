#!/bin/sh
# tools/bench.sh: "make bench".  Runs ../shared/bench with this tree's
# plugin beside Postfix and OpenSMTPD, in one run, so the ratios are
# comparable.  BENCH_ARGS passes options (e.g. --quick, --only ...).
# Then bench/extra.py (BENCH_EXTRA=0 skips it; EXTRA_ARGS passes options).
#
# The harness removes each scenario's scratch directory before the next
# scenario starts; on a file system like this machine's (ext4 without a
# journal) every file created in the minute after such a removal pays
# for it, which made accept-1k-s50 look 3x slower than s10 for every MTA
# (BENCHMARKS.md, "accept at 50 sessions").  So the directories are kept
# (--keep) in a work directory of this run's own, removed once the run is
# over unless BENCH_ARGS asks for --keep itself.
set -eu
cd "$(dirname "$0")/.."
harness=../shared/bench/peers.sh
[ -x "$harness" ] || { echo "bench: $harness not found" >&2; exit 1; }
mkdir -p bench/results
work=${BENCH_WORK:-/var/tmp/mtabench-make.$$}
rc=0
BENCH_WORK=$work BENCH_RESULTS=$(pwd)/bench/results bash "$harness" \
    --plugin ours=bench/mta-ours.sh --keep ${BENCH_ARGS:-} || rc=$?
# where relay time went, from the counters mta_stop saved
python3 bench/timings.py "$work" || true
# bench/extra.py: the scenarios the harness lacks, into the same results
if [ "${BENCH_EXTRA:-1}" != 0 ]; then
	q=; case " ${BENCH_ARGS:-} " in *" --quick "*) q=--quick ;; esac
	python3 bench/extra.py --results "$(ls -td bench/results/*/ | head -1)" \
	    $q ${EXTRA_ARGS:-} || rc=$?
fi
case " ${BENCH_ARGS:-} " in
*" --keep "*) echo "bench: scratch directories kept in $work" >&2 ;;
*) rm -rf "$work" ;;
esac
exit $rc
