#!/bin/bash
# tools/bench_deliver.sh: local deliveries per second, this relay beside
# Postfix's local(8), in one run ("make bench-deliver", also run by "make
# bench").  Three methods:
#   mbox     ours: "local delivery mbox" into a scratch "local mailbox-dir";
#            Postfix: local(8) into a scratch mail_spool_directory (both
#            2775 root:mail, as Debian's /var/mail)
#   maildir  ours: "local delivery maildir ~/Maildir-TAG";
#            Postfix: local(8) with home_mailbox = Maildir-TAG/
#   lmtp     ours: "local delivery lmtp unix:SOCKET"; Postfix: local(8)
#            with mailbox_transport = lmtp:unix:SOCKET; SOCKET is a fresh
#            Dovecot LMTP server (dovecot-lmtpd) for each run, its own
#            instance as in regress/lib/dovecot.py
# For each method, BENCH_DELIVER_REPEAT (default 3) times ours and then
# Postfix, so that both meet the same state of the machine; the table
# gives medians.  Every run is a fresh instance with an empty queue and
# mailboxes of its own (TAG names the run), and nothing is deleted until
# the end: on this ext4 a file created soon after deletions costs far
# more (BENCHMARKS.md, "What limits us"), which would charge one run for
# the last one's clean-up.
# The load is ../shared/bench/tools/smtpload.py, one process per user
# (benchdeliver1..4, system users made here with homes in the scratch
# directory and removed at the end), BENCH_DELIVER_CONNS (default 32)
# persistent sessions in all, BENCH_DELIVER_MESSAGES (default 2000)
# messages of 1 KiB in all, for at most BENCH_DELIVER_SECONDS (default
# 30); bench/deliver_run.py counts the mailboxes until each accepted
# message is in one (at most BENCH_DELIVER_DRAIN seconds more, default
# 30).  The rate is messages over the time from the start of the load to
# the last delivery; CPU is each instance's accounting cgroup (Dovecot's
# apart) over the same time.  BENCH_DELIVER_METHODS picks methods
# (default "mbox maildir lmtp"), BENCH_DELIVER_MTAS=ours leaves Postfix
# out (to profile ours alone).  Postfix is Debian's package unpacked
# under PEERS_PREFIX (default /opt/mtabench) by ../shared/bench/setup.sh,
# run through ../shared/bench/mta-postfix.sh (its own instance, in a
# private mount namespace whose resolv.conf names only 127.0.0.1) with
# local delivery turned on; without it only ours is measured.  Exits
# non-zero if any run delivered other than what was accepted.  Everything
# started is stopped, the users removed and the scratch directory
# deleted on exit (users and directory kept, for their logs and
# mailboxes, with BENCH_DELIVER_KEEP=1).
set -eu
cd "$(dirname "$0")/.."
TREE=$(pwd)
MESSAGES=${BENCH_DELIVER_MESSAGES:-2000}
CONNS=${BENCH_DELIVER_CONNS:-32}
SECS=${BENCH_DELIVER_SECONDS:-30}
DRAIN=${BENCH_DELIVER_DRAIN:-30}
REPEAT=${BENCH_DELIVER_REPEAT:-3}
METHODS=${BENCH_DELIVER_METHODS:-mbox maildir lmtp}
USERS="benchdeliver1 benchdeliver2 benchdeliver3 benchdeliver4"
MARK="tools/bench_deliver.sh"
DOVECOT=/usr/sbin/dovecot
: "${PEERS_PREFIX:=/opt/mtabench}"
# ../shared/bench beside the main tree (also from a git worktree)
SHARED=${BENCH_SHARED:-$TREE/../shared/bench}
if [ ! -d "$SHARED" ]; then
	common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || common=
	[ -z "$common" ] || SHARED=$(dirname "$common")/../shared/bench
fi
SMTPLOAD=$SHARED/tools/smtpload.py

dir=$(mktemp -d /tmp/bench-deliver.XXXXXX)
chmod 755 "$dir"
results=$dir/results
made_users='' cgroups='' cg_new='' tgt=() ours_pid='' pf_dir='' dove_pid='' failed=0

cleanup() {
	ours_stop
	[ -z "$pf_dir" ] || postfix_stop
	dovecot_stop
	cg_remove
	if [ "${BENCH_DELIVER_KEEP:-0}" = 1 ]; then
		echo "bench-deliver: kept $dir and users$made_users" >&2
		return
	fi
	users_remove
	rm -rf "$dir"
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

wait_listen() {
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" \
		    2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---- the users: made here, marked in their GECOS so that a run that
# was killed before its clean-up leaves nothing a later run trips on
users_make() {
	local u home
	mkdir -m 755 "$dir/home"
	for u in $USERS; do
		if getent passwd "$u" >/dev/null; then
			if [ "$(getent passwd "$u" | cut -d: -f5)" != "$MARK" ]; then
				echo "bench-deliver: user $u exists and is not ours" >&2
				return 1
			fi
			userdel -f "$u" 2>/dev/null || true
		fi
		home=$dir/home/$u
		useradd -M -N -d "$home" -s /usr/sbin/nologin -c "$MARK" "$u"
		made_users="$made_users $u"
		mkdir -m 700 "$home"
		chown "$u:" "$home"
	done
}

users_remove() {
	local u
	for u in $made_users; do
		userdel -f "$u" 2>/dev/null || true
	done
	made_users=
}

# a mailbox directory as Debian's /var/mail: 2775 root:mail
mail_dir() {
	mkdir -p "$1"
	chown root:mail "$1"
	chmod 2775 "$1"
}

# ---- an accounting cgroup per instance: CPU of every process it forks
cg_make() {
	local cg
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		cg=/sys/fs/cgroup/bench-deliver-$1-$$
	elif [ -d /sys/fs/cgroup/cpuacct ]; then
		cg=/sys/fs/cgroup/cpuacct/bench-deliver-$1-$$
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
	if [ -z "$1" ]; then
		echo 0
	elif [ -f "$1/cpuacct.usage" ]; then
		cat "$1/cpuacct.usage"
	elif [ -f "$1/cpu.stat" ]; then
		echo $(($(sed -n 's/^usage_usec //p' "$1/cpu.stat") * 1000))
	else
		echo 0
	fi
}

# CPU seconds by process name over the cgroup's live processes, with
# what their reaped children used (ours' delivery children are counted
# in smtpd-local; Postfix's recycled processes that exited are not)
cg_top() {
	[ -n "$1" ] || return 0
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
    cpu[name] += sum(int(x) for x in f[11:15]) / hz
print(", ".join("%s %.2f" % kv for kv in cpu.most_common(8)))
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
	cgroups=
}

# new_cg NAME: a cgroup in $cg_new, removed at the end (not called in a
# subshell, which would keep the list to itself)
new_cg() {
	cg_new=$(cg_make "$1")
	cgroups="$cgroups $cg_new"
}

# ---- Dovecot LMTP, its own instance (see regress/lib/dovecot.py)
dovecot_start() {
	local d=$1 cg=$2 u
	mkdir -p "$d/run" "$d/state" "$d/mail"
	chmod 755 "$d" "$d/run"
	# each user's Maildir is made by Dovecot, as that user
	chmod 1777 "$d/mail"
	for u in $USERS; do
		echo "$u::$(id -u "$u"):$(id -g "$u")::$d/mail/$u::"
	done > "$d/users"
	# auth_username_format %Ln: Postfix's lmtp gives user@domain, ours
	# the user name ("rcpt user"); both find the same passwd-file entry
	cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
first_valid_uid = 1
mail_location = maildir:~/Maildir
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = $d/users
}
userdb {
  driver = passwd-file
  args = $d/users
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
CONF
	(cg_join "$cg" && exec "$DOVECOT" -c "$d/dovecot.conf")
	for _ in $(seq 1 100); do
		[ -s "$d/run/master.pid" ] && [ -S "$d/run/lmtp" ] && break
		sleep 0.1
	done
	dove_pid=$(cat "$d/run/master.pid" 2>/dev/null) ||
	    { echo "bench-deliver: dovecot did not start" >&2; return 1; }
}

dovecot_stop() {
	[ -n "$dove_pid" ] || return 0
	kill -TERM "$dove_pid" 2>/dev/null || true
	wait_gone "$dove_pid"
	dove_pid=
}

# ---- ours
ours_start() {
	local d=$1 port=$2 rule=$3 cg=$4
	mkdir -p "$d"
	mail_dir "$d/mail"
	cat > "$d/smtpd.conf" <<CONF
hostname "ours-deliver.invalid"
queue "$d/spool"
control "$d/smtpd.sock"
database "$d/db/maps.db"
sendmail socket "$d/submit.sock"
sendmail drop-dir "$d/offline"
listen on 127.0.0.1 port $port
smtp reverse-dns no
limit messages 100000
local mailbox-dir "$d/mail"
local delivery $rule
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

# ---- Postfix: the shared plugin's instance with local delivery on
postfix_load() {
	[ -x "$PEERS_PREFIX/postfix/usr/sbin/postfix" ] || return 1
	[ -f "$SHARED/mta-postfix.sh" ] || return 1
	# shellcheck source=/dev/null
	. "$SHARED/mta-postfix.sh"
	eval "_pf_main_cf_shared() $(declare -f _pf_main_cf | tail -n +2)"
	_pf_main_cf() {
		# the plugin's "local delivery disabled" lines out (Postfix
		# would warn of each overridden one in every process), the
		# method's mailbox in
		_pf_main_cf_shared | grep -Ev \
		    '^(mydestination|local_transport|local_recipient_maps) ='
		cat <<EOF
# added by tools/bench_deliver.sh
mydestination = \$myhostname
local_transport = local
local_recipient_maps = proxy:unix:passwd.byname
smtpd_peername_lookup = no
mail_spool_directory = $DIR/mail
home_mailbox = $PF_HOME_MAILBOX
mailbox_transport = $PF_MAILBOX_TRANSPORT
EOF
	}
}

postfix_start() {
	local cg=$4
	# read by the shared plugin's functions
	# shellcheck disable=SC2034
	DIR=$1 PORT_IN=$2 PORT_SINK=$(free_port) CERT=$dir/cert.pem KEY=$dir/key.pem
	pf_dir=$DIR
	mkdir -p "$DIR"
	mail_dir "$DIR/mail"
	(cg_join "$cg" && mta_start)
}

postfix_stop() {
	local pid
	pid=$(tr -d ' ' 2>/dev/null < "$pf_dir/spool/pid/master.pid") || pid=
	DIR=$pf_dir mta_stop
	[ -z "$pid" ] || wait_gone "$pid"
	pf_dir=
}

# ---- one measured run
# targets KIND DIR_OF_EACH_USER SUFFIX: the USER=KIND:PATH arguments of
# bench/deliver_run.py, in the array tgt
targets() {
	local u
	tgt=()
	for u in $USERS; do
		tgt+=("$u=$1:$2/$u$3")
	done
}

# measure TAG DOMAIN PORT CG DOVECOT_CG TARGETS...
measure() {
	local tag=$1 domain=$2 port=$3 cg=$4 dcg=$5 line c0 d0 rc=0
	shift 5
	wait_listen "$port" || { echo "bench-deliver: $tag: the MTA did not start" >&2; return 1; }
	c0=$(cg_cpu "$cg")
	d0=$(cg_cpu "$dcg")
	line=$(python3 bench/deliver_run.py "$SMTPLOAD" "$port" "$domain" \
	    "$MESSAGES" "$CONNS" "$SECS" "$DRAIN" "$@") || rc=$?
	echo "bench-deliver: $tag: $line"
	if [ "$rc" != 0 ]; then
		echo "bench-deliver: $tag: FAILED: delivered is not accepted" >&2
		failed=1
	fi
	echo "bench-deliver: $tag: CPU-s by process (whole life):" \
	    "$(cg_top "$cg")"
	echo "$tag cpu_ns $(($(cg_cpu "$cg") - c0)) dovecot_ns" \
	    "$(($(cg_cpu "$dcg") - d0)) $line" >> "$results"
}

# run MTA METHOD REPEAT: a fresh instance (and Dovecot), one load, stop
run() {
	local mta=$1 method=$2 tag=$1-$2-$3 port cg dcg='' dove='' rule domain
	port=$(free_port)
	new_cg "$tag"
	cg=$cg_new
	if [ "$method" = lmtp ]; then
		new_cg "dovecot-$tag"
		dcg=$cg_new
		dove=$dir/dovecot-$tag
		dovecot_start "$dove" "$dcg"
	fi
	if [ "$mta" = ours ]; then
		domain=ours-deliver.invalid
		case $method in
		mbox) rule=mbox ;;
		maildir) rule="maildir \"~/Maildir-$tag\"" ;;
		lmtp) rule="lmtp \"unix:$dove/run/lmtp\"" ;;
		esac
		ours_start "$dir/$tag" "$port" "$rule" "$cg"
	else
		domain=postfix-bench.invalid
		PF_HOME_MAILBOX='' PF_MAILBOX_TRANSPORT=''
		case $method in
		maildir) PF_HOME_MAILBOX=Maildir-$tag/ ;;
		lmtp) PF_MAILBOX_TRANSPORT=lmtp:unix:$dove/run/lmtp ;;
		esac
		postfix_start "$dir/$tag" "$port" "" "$cg"
	fi
	case $method in
	mbox) targets mbox "$dir/$tag/mail" "" ;;
	maildir) targets maildir "$dir/home" "/Maildir-$tag" ;;
	lmtp) targets maildir "$dove/mail" /Maildir ;;
	esac
	measure "$tag" "$domain" "$port" "$cg" "$dcg" "${tgt[@]}"
	if [ "$mta" = ours ]; then
		ours_stop
	else
		postfix_stop
	fi
	dovecot_stop
}

# ---- the run
[ "$(id -u)" = 0 ] || { echo "bench-deliver: run as root" >&2; exit 1; }
[ -f "$SMTPLOAD" ] || { echo "bench-deliver: $SMTPLOAD not found" >&2; exit 1; }
if [ ! -x "$PEERS_PREFIX/postfix/usr/sbin/postfix" ] && [ -x "$SHARED/setup.sh" ]; then
	bash "$SHARED/setup.sh" >&2 || true
fi
have_dovecot=1
if [ ! -x "$DOVECOT" ] || [ ! -x /usr/lib/dovecot/lmtp ]; then
	echo "bench-deliver: dovecot-lmtpd is not installed (tools/deps.sh): no lmtp runs" >&2
	have_dovecot=0
fi
mtas="ours postfix"
[ "${BENCH_DELIVER_MTAS:-}" != ours ] || mtas=ours
[ "$mtas" = ours ] || postfix_load || {
	echo "bench-deliver: Postfix not found under $PEERS_PREFIX/postfix" \
	    "(../shared/bench/setup.sh installs it): measuring ours only" >&2
	mtas=ours
}
# the shared plugin wants a certificate for its STARTTLS
openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=deliver-bench.invalid \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
chmod 644 "$dir/cert.pem"
users_make
: > "$results"

# ours and Postfix in turn for each method and repeat, so that both see
# the same state of the machine and of the file system
for method in $METHODS; do
	[ "$method" != lmtp ] || [ "$have_dovecot" = 1 ] || continue
	for rep in $(seq 1 "$REPEAT"); do
		for mta in $mtas; do
			run "$mta" "$method" "$rep"
		done
	done
done

versions="ours $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ "$mtas" = ours ] || versions="$versions, $(mta_version)"
[ "$have_dovecot" = 0 ] || versions="$versions, Dovecot $("$DOVECOT" --version | cut -d' ' -f1)"
python3 - "$results" "$MESSAGES" "$CONNS" "$REPEAT" "$versions" <<'PY'
import collections
import statistics
import sys

runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    mta, method, _ = f[0].split("-")
    num = {f[i]: f[i + 1] for i in range(1, len(f) - 1, 2) if f[i] != "errors"}
    n = int(num["delivered"])
    secs = float(num["seconds"])
    runs[(mta, method)].append(dict(
        rate=n / secs if secs else 0,
        cpu=int(num["cpu_ns"]) / 1e9 * 1000 / n if n else 0,
        dove=int(num["dovecot_ns"]) / 1e9 * 1000 / n if n else 0,
        bad=num["accepted"] != num["delivered"],
        n=n))


def med(mta, method, key):
    r = runs.get((mta, method))
    return statistics.median(x[key] for x in r) if r else None


def fmt(v, f):
    return f % v if v is not None else "-"


print()
print("%s messages of 1 KiB to 4 local users over %s sessions, median of %s "
      "runs; %s" % (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
print()
print("| local delivery | ours /s | Postfix /s | ours / Postfix "
      "| CPU-s per 1000, ours | Postfix | Dovecot under ours / Postfix "
      "| delivered = accepted |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for method in ("mbox", "maildir", "lmtp"):
    if ("ours", method) not in runs:
        continue
    o, p = med("ours", method, "rate"), med("postfix", method, "rate")
    dove = "-"
    if method == "lmtp":
        dove = "%s / %s" % (fmt(med("ours", method, "dove"), "%.3f"),
                            fmt(med("postfix", method, "dove"), "%.3f"))
    bad = [m for m in ("ours", "postfix")
           if any(x["bad"] for x in runs.get((m, method), []))]
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        method, fmt(o, "%.0f"), fmt(p, "%.0f"),
        "%.2f" % (o / p) if p else "-",
        fmt(med("ours", method, "cpu"), "%.3f"),
        fmt(med("postfix", method, "cpu"), "%.3f"), dove,
        "no: " + ", ".join(bad) if bad else "yes"))
print()
for (mta, method), r in sorted(runs.items()):
    print("%s %s: %s deliveries/s, %s CPU-s per 1000" % (
        mta, method, " ".join("%.0f" % x["rate"] for x in r),
        " ".join("%.3f" % x["cpu"] for x in r)))
PY
[ "$failed" = 0 ] || { echo "bench-deliver: a run did not deliver every accepted message" >&2; exit 1; }
