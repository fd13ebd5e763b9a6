#!/bin/sh
# tools/bench_milter.sh: "make bench-milter" (issue 16).  The shared
# harness's relay-1k-s10 with OpenDKIM signing every message, this relay
# (bench/mta-ours-dkim.sh) beside Postfix (bench/mta-postfix-dkim.sh)
# with the same OpenDKIM (bench/opendkim.sh), in one run, then
# bench/milter_report.py: msgs/s and CPU-s per 1000 of each MTA and of
# its OpenDKIM.  BENCH_ARGS passes options (e.g. --quick); BENCH_MTAS
# names the sides (default "ours-dkim postfix-dkim").  Run it under
# flock /tmp/bench.lock (the make target does).  The scratch directories are kept in a work directory
# of this run's own (see tools/bench.sh) until the report has read
# them.
set -eu
cd "$(dirname "$0")/.."
harness=../shared/bench/peers.sh
[ -x "$harness" ] || { echo "bench: $harness not found" >&2; exit 1; }
command -v opendkim >/dev/null || { echo "bench: opendkim not installed (tools/deps.sh)" >&2; exit 1; }
mkdir -p bench/results
work=${BENCH_WORK:-/var/tmp/mtabench-milter.$$}
plugins=
for m in ${BENCH_MTAS:-ours-dkim postfix-dkim}; do
	[ -f "bench/mta-$m.sh" ] || { echo "bench: no bench/mta-$m.sh" >&2; exit 1; }
	plugins="$plugins --plugin $m=bench/mta-$m.sh"
done
rc=0
# $plugins and BENCH_ARGS are lists of words
# shellcheck disable=SC2086
BENCH_PEERS=0 BENCH_WORK=$work BENCH_RESULTS=$(pwd)/bench/results \
    bash "$harness" $plugins --keep --no-phys \
    --only relay-1k-s10 ${BENCH_ARGS:-} || rc=$?
python3 bench/milter_report.py "$(ls -td bench/results/*/ | head -1)" "$work" || rc=$?
rm -rf "$work"
exit $rc
