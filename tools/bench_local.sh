#!/bin/sh
# tools/bench_local.sh: RCPT decisions per second for mail to this host
# ("make bench-local", also run by "make bench"), beside the access-only
# figure of tools/bench_policy.sh in the same run and on the same relay.
# The relay has bench_policy.sh's 20000-entry access map, a 100000-entry
# virtusertable (user%d@virt%d.example to remote addresses, and catch-alls
# "@virt%d.example %1%3@catchall.example" for half of the 1000 virtual
# domains), a 10000-entry aliases map (list%d of bench.invalid, the
# hostname: 1 to 5 members each, local users, remote addresses and, for
# every fourth list, the next list) and 1000 local users from a
# local-users map.  Two loads in turn, SECONDS (default 10) each:
# bench/policy_load.py (access-map decisions, as in bench-policy) and
# bench/local_load.py (virtusertable hits, catch-all hits, alias lists
# and unknown local users).  A map the relay cannot load (a build without
# it) is reported and the run goes on: its recipients are then decided
# without it.  Each batch ends in RSET, a junk command: the limit is
# raised so that no connection is closed during the load.
set -eu
cd "$(dirname "$0")/.."
SECONDS_LOAD=${BENCH_LOCAL_SECONDS:-10}
CONNS=${BENCH_LOCAL_CONNS:-8}
dir=$(mktemp -d /tmp/bench-local.XXXXXX)
conf="$dir/smtpd.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$conf" <<CONF
hostname "bench.invalid"
queue "$dir/spool"
control "$dir/smtpd.sock"
database "$dir/db/maps.db"
listen on 127.0.0.1 port $port
smtp reverse-dns no
limit recipients 1000
limit errors 1000000
limit junk-commands 1000000
local users map
CONF
python3 - "$dir" <<'PY'
import os
import sys
d = sys.argv[1]


def write(name, lines):
    with open(os.path.join(d, name + ".txt"), "w") as f:
        f.writelines(lines)


write("access", ("To:dest%d.example RELAY\nFrom:spammer%d.example REJECT\n"
                 "Connect:10.%d.%d REJECT\nTLS_Rcpt:vip%d@dest%d.example "
                 "VERIFY\n" % (i, i, i // 256, i % 256, i, i)
                 for i in range(5000)))
write("local-users", ("u%d\n" % i for i in range(1000)))
write("virtual-domains", ("virt%d.example\n" % i for i in range(1000)))
write("virtusertable",
      ["user%d@virt%d.example r%d@remote%d.example\n"
       % (i, i % 1000, i, i % 100) for i in range(100000)] +
      ["@virt%d.example %%1%%3@catchall.example\n" % i for i in range(500)])


def members(i):
    out = []
    for k in range(1 + i % 5):
        if k == 0 and i % 4 == 0 and i + 1 < 10000:
            out.append("list%d" % (i + 1))
        elif k % 2 == 1:
            out.append("u%d" % ((i + k) % 1000))
        else:
            out.append("m%d.%d@remote%d.example" % (i, k, i % 100))
    return ", ".join(out)


write("aliases", ("list%d: %s\n" % (i, members(i)) for i in range(10000)))
PY
mkdir -p "$dir/db"
for map in access local-users virtual-domains virtusertable aliases; do
	if ! bin/smtpctl -f "$conf" makemap "$map" "$dir/$map.txt" \
	    >"$dir/makemap.log" 2>&1; then
		echo "local-bench: map $map not loaded: $(tail -1 "$dir/makemap.log")" >&2
	fi
done
bin/smtpd -d -f "$conf" -x "$(pwd)/bin" >"$dir/smtpd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
i=0
until bin/smtpctl -f "$conf" show status >/dev/null 2>&1 &&
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "bench-local: relay did not start" >&2; exit 1; }
	sleep 0.1
done

queries() {
	bin/smtpctl -f "$conf" show stats | sed -n 's/^policy.query=//p'
}

# CPU ticks of this relay's smtpd-policyd (0 if it cannot be found)
policyd_ticks() {
	awk '{print $14+$15}' /proc/$(pgrep -f smtpd-policyd -P $pid | head -1)/stat 2>/dev/null || echo 0
}

# measure LABEL LOADER: one load, its client line and smtpd-policyd's view
measure() {
	before=$(queries)
	t0=$(date +%s.%N)
	cpu0=$(policyd_ticks)
	line=$(python3 "bench/$2" "$port" "$SECONDS_LOAD" "$CONNS")
	t1=$(date +%s.%N)
	after=$(queries)
	cpu1=$(policyd_ticks)
	echo "local-bench: $1: client: $line"
	python3 - "$1" "$before" "$after" "$t0" "$t1" "$cpu0" "$cpu1" \
	    "$(getconf CLK_TCK)" <<'PY'
import sys
label, b, a, t0, t1, c0, c1, hz = sys.argv[1:]
n = int(a or 0) - int(b or 0)
secs = float(t1) - float(t0)
cpu = (float(c1) - float(c0)) / float(hz)
print("local-bench: %s: smtpd-policyd answered %d queries in %.1f s: "
      "%.0f decisions/s, %.1f us CPU of smtpd-policyd each"
      % (label, n, secs, n / secs, cpu * 1e6 / n if n else 0))
PY
}

measure access-only policy_load.py
measure local local_load.py
