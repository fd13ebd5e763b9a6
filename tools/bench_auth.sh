#!/bin/bash
# tools/bench_auth.sh: authenticated submissions per second, this relay
# beside Postfix in one run ("make bench-auth", also run by "make bench").
# The shared harness has no AUTH scenario, so this script brings up each
# MTA in turn with the same shape: a listener offering STARTTLS and AUTH
# PLAIN only after it (ours: "listen ... tls auth"; Postfix:
# smtpd_tls_auth_only), passwords in a Cyrus sasldb made by saslpasswd2,
# relaying granted only by AUTH, every message relayed to a fresh smtp-sink
# that appends each transaction to a dump file.  bench/auth_load.py then
# runs BENCH_AUTH_CONNS (default 10) worker processes from 127.0.0.2 for
# BENCH_AUTH_SECONDS (default 15) with one submission per connection
# (connect, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), then for
# BENCH_AUTH_SESSION_SECONDS (default 6) with 10 per authenticated session.
# Peer name lookups are off on both sides ("smtp reverse-dns no",
# smtpd_peername_lookup = no).  After the load, each MTA has up to 30 s to
# drain to its sink; then every submission the client counted (235 for its
# AUTH, 250 for its DATA) must be in the dump exactly once, with the MTA's
# "with ESMTPSA" Received line, and nothing else may be there.
# Postfix is Debian's package unpacked by ../shared/bench/setup.sh under
# PEERS_PREFIX (default /opt/mtabench), run as its own instance through
# ../shared/bench/mta-postfix.sh with the SASL settings added; without it
# Postfix is skipped with a message.  Exits non-zero if a check fails.
# Everything it starts is stopped and its scratch directory removed on exit
# (kept with BENCH_AUTH_KEEP=1, to read the MTAs' logs).
set -eu
cd "$(dirname "$0")/.."
TREE=$(pwd)
SECS=${BENCH_AUTH_SECONDS:-15}
SESSION_SECS=${BENCH_AUTH_SESSION_SECONDS:-6}
CONNS=${BENCH_AUTH_CONNS:-10}
: "${PEERS_PREFIX:=/opt/mtabench}"
# ../shared/bench beside the main tree (also from a git worktree)
SHARED=${BENCH_SHARED:-$TREE/../shared/bench}
if [ ! -d "$SHARED" ]; then
	common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || common=
	[ -z "$common" ] || SHARED=$(dirname "$common")/../shared/bench
fi
REALM=auth-bench.invalid
USER_NAME=bench
PASSWORD=auth-bench-pw

dir=$(mktemp -d /tmp/bench-auth.XXXXXX)
chmod 755 "$dir"
ours_pid='' sink_pid='' pf_dir='' failed=0 cgroups=''
results=$dir/results

cleanup() {
	ours_stop
	[ -z "$pf_dir" ] || postfix_stop
	sink_stop
	cg_remove
	if [ "${BENCH_AUTH_KEEP:-0}" = 1 ]; then
		echo "bench-auth: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_gone() {
	for _ in $(seq 1 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
}

# ---- the sink: smtp-sink, each transaction appended to $1/dump
sink_bin() {
	local root
	for root in "$PEERS_PREFIX/postfix" /opt/relay-test/postfix; do
		if [ -x "$root/usr/sbin/smtp-sink" ]; then
			echo "$root"
			return 0
		fi
	done
	return 1
}

sink_start() {
	local sdir=$1 port=$2 root
	root=$(sink_bin) || { echo "bench-auth: no smtp-sink" >&2; return 1; }
	mkdir -p "$sdir"
	chown nobody "$sdir"
	LD_LIBRARY_PATH=$root/usr/lib/postfix "$root/usr/sbin/smtp-sink" \
	    -u nobody -h sink.invalid -D "$sdir/dump" "127.0.0.1:$port" 1024 \
	    >"$sdir/sink.log" 2>&1 &
	sink_pid=$!
	wait_listen "$port" || { echo "bench-auth: smtp-sink did not start" >&2; return 1; }
}

sink_stop() {
	[ -n "$sink_pid" ] || return 0
	kill -TERM "$sink_pid" 2>/dev/null || true
	wait_gone "$sink_pid"
	sink_pid=
}

wait_listen() {
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" \
		    2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

sink_count() {
	grep -c '^X-Bench-Id: ' "$1/dump" 2>/dev/null || true
}

wait_drain() {
	local sdir=$1 want=$2 n
	for _ in $(seq 1 150); do
		n=$(sink_count "$sdir")
		[ "${n:-0}" -lt "$want" ] || return 0
		sleep 0.2
	done
	return 0
}

# ---- the sasldb: one made by saslpasswd2, a copy for each MTA's reader
sasldb_make() {
	mkdir -m 750 "$dir/sasl-made"
	echo "$PASSWORD" | /usr/sbin/saslpasswd2 -c -p -f "$dir/sasl-made/sasldb2" \
	    -u "$REALM" "$USER_NAME"
}

sasldb_copy() {
	local to=$1 group=$2
	mkdir -m 750 "$to"
	cp "$dir/sasl-made/sasldb2" "$to/sasldb2"
	chown root:"$group" "$to" "$to/sasldb2"
	chmod 640 "$to/sasldb2"
}

# ---- ours
ours_start() {
	local d=$1 port=$2 sport=$3 cg=$4
	mkdir -p "$d"
	sasldb_copy "$d/sasl" sasl
	cat > "$d/smtpd.conf" <<CONF
hostname "$REALM"
queue "$d/spool"
control "$d/smtpd.sock"
database "$d/db/maps.db"
pki bench cert "$dir/cert.pem" key "$dir/key.pem"
listen on 127.0.0.1 port $port tls auth
auth sasldb "$d/sasl/sasldb2"
auth mechanisms "PLAIN"
auth trust "PLAIN"
route "*" via "[127.0.0.1]" port $sport
smtp reverse-dns no
limit messages 100000
limit sessions 4096
CONF
	bin/smtpd -n -f "$d/smtpd.conf" >/dev/null
	(cg_join "$cg" && exec bin/smtpd -d -f "$d/smtpd.conf" -x "$TREE/bin") \
	    >"$d/smtpd.log" 2>&1 </dev/null &
	ours_pid=$!
}

ours_stop() {
	[ -n "$ours_pid" ] || return 0
	kill -TERM "$ours_pid" 2>/dev/null || true
	wait_gone "$ours_pid"
	ours_pid=
}

# ---- Postfix: the shared plugin's instance plus the SASL settings
postfix_load() {
	[ -x "$PEERS_PREFIX/postfix/usr/sbin/postfix" ] || return 1
	[ -f "$SHARED/mta-postfix.sh" ] || return 1
	# shellcheck source=/dev/null
	. "$SHARED/mta-postfix.sh"
	eval "_pf_main_cf_shared() $(declare -f _pf_main_cf | tail -n +2)"
	_pf_main_cf() {
		_pf_main_cf_shared
		cat <<EOF
# added by tools/bench_auth.sh
smtpd_peername_lookup = no
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $DIR/etc/sasl
smtpd_sasl_local_domain = $REALM
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject
EOF
	}
}

postfix_start() {
	local cg=$4
	# read by the shared plugin's functions
	# shellcheck disable=SC2034
	DIR=$1 PORT_IN=$2 PORT_SINK=$3 CERT=$dir/cert.pem KEY=$dir/key.pem
	pf_dir=$DIR
	mkdir -p "$DIR"
	sasldb_copy "$DIR/sasl" postfix
	# Debian's Postfix reads smtpd.conf from config_directory/sasl (then
	# /usr/lib/sasl) whatever cyrus_sasl_config_path says: keep both there
	mkdir -p "$DIR/etc/sasl"
	cat > "$DIR/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $DIR/sasl/sasldb2
mech_list: PLAIN
EOF
	chmod 644 "$DIR/etc/sasl/smtpd.conf"
	# smtpd runs as postfix: it must be able to read the sasldb itself
	su -s /bin/sh postfix -c "test -r '$DIR/sasl/sasldb2'" ||
	    { echo "bench-auth: postfix cannot read its sasldb" >&2; return 1; }
	(cg_join "$cg" && mta_start)
}

postfix_stop() {
	local pid
	pid=$(tr -d ' ' < "$pf_dir/spool/pid/master.pid" 2>/dev/null) || pid=
	mta_stop
	[ -z "$pid" ] || wait_gone "$pid"
	pf_dir=
}

# ---- one MTA: probe, both loads, drain, check the dump
verify() {
	python3 - "$@" <<'PY'
import re, sys
dump, out = sys.argv[1], sys.argv[2:]
counted = []
for f in out:
    counted += open(f).read().split()
try:
    text = open(dump, encoding="latin-1").read()
except FileNotFoundError:
    text = ""
msgs = re.split(r"(?m)^(?=X-Client-Addr: )", text)
ids, nosa = [], 0
for m in msgs:
    found = re.findall(r"(?m)^X-Bench-Id: (\S+)", m)
    if not found:
        continue
    ids += found
    if not re.search(r"(?m)with ESMTPSA\b", m):
        nosa += 1
missing = set(counted) - set(ids)
dup = len(ids) - len(set(ids))
extra = set(ids) - set(counted)
print("sink has %d of %d counted, %d missing, %d duplicated, %d not counted, "
      "%d without ESMTPSA" % (len(set(ids) & set(counted)), len(counted),
                              len(missing), dup, len(extra), nosa))
sys.exit(1 if missing or dup or extra or nosa else 0)
PY
}

# ---- an accounting cgroup per MTA: CPU of every process it ever forks
cg_make() {
	local cg
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		cg=/sys/fs/cgroup/bench-auth-$1-$$
	elif [ -d /sys/fs/cgroup/cpuacct ]; then
		cg=/sys/fs/cgroup/cpuacct/bench-auth-$1-$$
	else
		return 0
	fi
	mkdir "$cg" 2>/dev/null && echo "$cg"
	return 0
}

cg_join() {
	[ -z "$1" ] || echo "$BASHPID" > "$1/cgroup.procs"
}

# CPU in ns of everything that ran in the cgroup (0 without one)
cg_cpu() {
	if [ -f "$1/cpuacct.usage" ]; then
		cat "$1/cpuacct.usage"
	elif [ -f "$1/cpu.stat" ]; then
		echo $(($(sed -n 's/^usage_usec //p' "$1/cpu.stat") * 1000))
	else
		echo 0
	fi
}

# CPU seconds by process name over the cgroup's live processes (what
# exited, such as Postfix's recycled smtpd processes, is not listed)
cg_top() {
	python3 - "$1/cgroup.procs" "$(getconf CLK_TCK)" <<'PY'
import collections, sys
hz, cpu = int(sys.argv[2]), collections.Counter()
for pid in open(sys.argv[1]).read().split():
    try:
        stat = open("/proc/%s/stat" % pid).read()
    except OSError:
        continue
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    f = stat[stat.rindex(")") + 2:].split()
    cpu[name] += (int(f[11]) + int(f[12])) / hz
print(", ".join("%s %.1f" % kv for kv in cpu.most_common(6)))
PY
}

# stop by PID whatever is left in our cgroups, then remove them
cg_remove() {
	local cg pid
	for cg in $cgroups; do
		[ -f "$cg/cgroup.procs" ] || continue
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done < "$cg/cgroup.procs"
		for _ in $(seq 1 50); do
			rmdir "$cg" 2>/dev/null && break
			sleep 0.1
		done
	done
}

# one load, then the drain of what it submitted; the MTA's CPU over both
run_load() {
	local name=$1 port=$2 secs=$3 per=$4 sdir=$5 cg=$6 line cpu0 want
	cpu0=$(cg_cpu "$cg")
	line=$(python3 bench/auth_load.py load "$port" "$secs" "$CONNS" "$per" \
	    "$USER_NAME" "$PASSWORD" "$dir/$name-$per.ids")
	want=$(cat "$dir/$name"-*.ids | wc -l)
	wait_drain "$sdir" "$want"
	echo "bench-auth: $name, $per per authenticated session: $line"
	echo "$name $per cpu_ns $(($(cg_cpu "$cg") - cpu0)) $line" >> "$results"
	case $line in *" failures 0 "*) ;; *) failed=1 ;; esac
}

measure() {
	local name=$1 port=$2 sdir=$3 cg=$4 out
	python3 bench/auth_load.py wait "$port" >&2 || return 1
	out=$(python3 bench/auth_load.py probe "$port") || failed=1
	echo "bench-auth: $name: $out"
	run_load "$name" "$port" "$SECS" 1 "$sdir" "$cg"
	run_load "$name" "$port" "$SESSION_SECS" 10 "$sdir" "$cg"
	out=$(verify "$sdir/dump" "$dir/$name"-*.ids) || failed=1
	echo "bench-auth: $name: $out"
	[ -z "$cg" ] || echo "bench-auth: $name: CPU-s of processes still running: $(cg_top "$cg")"
}

# ---- the run
[ "$(id -u)" = 0 ] || { echo "bench-auth: run as root" >&2; exit 1; }
[ -x /usr/sbin/saslpasswd2 ] || { echo "bench-auth: saslpasswd2 missing (tools/deps.sh)" >&2; exit 1; }
if [ ! -x "$PEERS_PREFIX/postfix/usr/sbin/postfix" ] && [ -x "$SHARED/setup.sh" ]; then
	bash "$SHARED/setup.sh" >&2 || true
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=auth-bench.invalid \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
chmod 644 "$dir/cert.pem"
sasldb_make
: > "$results"

sport=$(free_port)
port=$(free_port)
sink_start "$dir/sink-ours" "$sport"
cg=$(cg_make ours)
cgroups="$cgroups $cg"
ours_start "$dir/ours" "$port" "$sport" "$cg"
measure ours "$port" "$dir/sink-ours" "$cg"
ours_stop
sink_stop

have_postfix=0
if postfix_load; then
	sport=$(free_port)
	port=$(free_port)
	sink_start "$dir/sink-postfix" "$sport"
	cg=$(cg_make postfix)
	cgroups="$cgroups $cg"
	postfix_start "$dir/postfix" "$port" "$sport" "$cg"
	measure postfix "$port" "$dir/sink-postfix" "$cg"
	postfix_stop
	sink_stop
	have_postfix=1
else
	echo "bench-auth: Postfix not found under $PEERS_PREFIX/postfix" \
	    "(../shared/bench/setup.sh installs it): measuring ours only" >&2
fi

python3 - "$results" "$have_postfix" "$CONNS" <<'PY'
import sys
rate, cpu, client = {}, {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    n = int(f[f.index("submissions") + 1])
    rate[(f[0], int(f[1]))] = float(f[f.index("per_second") + 1])
    cpu[(f[0], int(f[1]))] = int(f[3]) / 1e9 * 1000 / n if n else 0
    client[(f[0], int(f[1]))] = \
        float(f[f.index("client_cpu") + 1]) * 1000 / n if n else 0
pf = sys.argv[2] == "1"


def row(what, o, p, fmt):
    print("| %s | %s | %s | %s |" % (what, fmt % o, fmt % p if pf else "-",
                                     "%.2f" % (o / p) if pf and p else "-"))


print()
print("| STARTTLS + AUTH PLAIN, %s clients | ours | Postfix | ours / Postfix |"
      % sys.argv[3])
print("|---|---:|---:|---:|")
for per, what in ((1, "1 per connection"), (10, "10 per session")):
    row("submissions/s, " + what, rate.get(("ours", per), 0),
        rate.get(("postfix", per), 0), "%.0f")
for per, what in ((1, "1 per connection"), (10, "10 per session")):
    row("CPU-s per 1000, " + what, cpu.get(("ours", per), 0),
        cpu.get(("postfix", per), 0), "%.3f")
for per, what in ((1, "1 per connection"), (10, "10 per session")):
    row("load generator CPU-s per 1000, " + what, client.get(("ours", per), 0),
        client.get(("postfix", per), 0), "%.3f")
PY
[ "$failed" = 0 ] || { echo "bench-auth: a check failed (see above)" >&2; exit 1; }
