#!/bin/sh
# bench/policy_pgsql.sh: access-map decisions per second with the SQLite
# store and with the PostgreSQL store (`database postgresql`), one after
# the other in one run (tools/bench_policy.sh each time, the same
# 20000-entry map and load): recipients repeated every batch (policyd's
# PostgreSQL cache answers them after the first) and fresh recipients
# (each RCPT's probes go to the server).  Run it under
# flock /tmp/bench.lock; each variant takes BENCH_POLICY_SECONDS (10).
set -eu
cd "$(dirname "$0")/.."
for store in sqlite postgresql; do
	BENCH_POLICY_STORE=$store sh tools/bench_policy.sh | sed -n 's/^policy-bench: //p'
	BENCH_POLICY_STORE=$store BENCH_POLICY_FRESH=1 sh tools/bench_policy.sh |
	    sed -n 's/^policy-bench: //p'
done
