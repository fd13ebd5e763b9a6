#!/bin/sh
# tools/bench_policy.sh: access-map decisions per second through the
# daemon ("make bench-policy", also run by "make bench").  A relay with a
# 20000-entry access map (To:, From:, Connect:, TLS_Rcpt: keys) takes
# pipelined MAIL/RCPT batches from bench/policy_load.py; every RCPT is a
# full decision in smtpd-policyd (blacklist probes, relay-to and relay-from
# steps) answered from SQLite.  Bounded: SECONDS (default 10) of load.
# BENCH_POLICY_STORE=postgresql keeps the same map in a PostgreSQL 15
# started here (initdb as the postgres user in the scratch directory, TCP
# on loopback), and BENCH_POLICY_FRESH=1 gives every batch recipients never
# seen before (bench/policy_load.py), so that policyd's cache does not
# answer them.  bench/policy_pgsql.sh runs the variants side by side.
set -eu
cd "$(dirname "$0")/.."
SECONDS_LOAD=${BENCH_POLICY_SECONDS:-10}
CONNS=${BENCH_POLICY_CONNS:-8}
STORE=${BENCH_POLICY_STORE:-sqlite}
dir=$(mktemp -d /tmp/bench-policy.XXXXXX)
chmod 755 "$dir"
freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(freeport)
pgpid=
pgbin=/usr/lib/postgresql/15/bin
if [ "$STORE" = postgresql ]; then
	pgport=$(freeport)
	mkdir "$dir/pg" && chown postgres:postgres "$dir/pg"
	setpriv --reuid=postgres --regid=postgres --clear-groups \
	    "$pgbin/initdb" -D "$dir/pg/data" -A trust -U postgres -E UTF8 \
	    --locale=C --no-sync >/dev/null
	setpriv --reuid=postgres --regid=postgres --clear-groups \
	    "$pgbin/postgres" -D "$dir/pg/data" -p "$pgport" -k "$dir/pg" \
	    -c listen_addresses=127.0.0.1 >"$dir/pg/log" 2>&1 &
	pgpid=$!
	until "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$pgport"; do sleep 0.1; done
fi
cat > "$dir/smtpd.conf" <<CONF
hostname "policy-bench.invalid"
queue "$dir/spool"
control "$dir/smtpd.sock"
database "$dir/db/maps.db"
listen on 127.0.0.1 port $port
smtp reverse-dns no
limit recipients 1000
limit errors 1000000
# every batch ends in RSET, which counts as a junk command
limit junk-commands 1000000
CONF
[ -z "$pgpid" ] || echo "database postgresql \"host=127.0.0.1 port=$pgport dbname=postgres user=postgres sslmode=disable\"" >>"$dir/smtpd.conf"
python3 - "$dir/access.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        f.write("To:dest%d.example RELAY\n" % i)
        f.write("From:spammer%d.example REJECT\n" % i)
        f.write("Connect:10.%d.%d REJECT\n" % (i // 256, i % 256))
        f.write("TLS_Rcpt:vip%d@dest%d.example VERIFY\n" % (i, i))
PY
mkdir -p "$dir/db"
bin/smtpctl -f "$dir/smtpd.conf" makemap access "$dir/access.txt" >/dev/null
bin/smtpd -d -f "$dir/smtpd.conf" -x "$(pwd)/bin" >"$dir/smtpd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -z "$pgpid" ] || { kill -INT $pgpid; wait $pgpid; }; rm -rf "$dir"' EXIT
i=0
until bin/smtpctl -f "$dir/smtpd.conf" show status >/dev/null 2>&1 &&
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "bench-policy: relay did not start" >&2; exit 1; }
	sleep 0.1
done
before=$(bin/smtpctl -f "$dir/smtpd.conf" show stats | sed -n 's/^policy.query=//p')
t0=$(date +%s.%N)
cpu0=$(awk '{print $14+$15}' /proc/$(pgrep -f smtpd-policyd -P $pid | head -1)/stat 2>/dev/null || echo 0)
line=$(python3 bench/policy_load.py "$port" "$SECONDS_LOAD" "$CONNS")
t1=$(date +%s.%N)
after=$(bin/smtpctl -f "$dir/smtpd.conf" show stats | sed -n 's/^policy.query=//p')
cpu1=$(awk '{print $14+$15}' /proc/$(pgrep -f smtpd-policyd -P $pid | head -1)/stat 2>/dev/null || echo 0)
hz=$(getconf CLK_TCK)
echo "policy-bench: store $STORE${BENCH_POLICY_FRESH:+, fresh recipients}: client: $line"
python3 - "$before" "$after" "$t0" "$t1" "$cpu0" "$cpu1" "$hz" <<'PY'
import sys
b, a, t0, t1, c0, c1, hz = sys.argv[1:]
n = int(a or 0) - int(b or 0)
secs = float(t1) - float(t0)
cpu = (float(c1) - float(c0)) / float(hz)
print("policy-bench: smtpd-policyd answered %d queries in %.1f s: "
      "%.0f decisions/s, %.1f us CPU of smtpd-policyd each"
      % (n, secs, n / secs, cpu * 1e6 / n if n else 0))
PY
