# shellcheck shell=bash
# bench/opendkim.sh: one signing OpenDKIM (Debian 12's) for a bench
# plugin, sourced by bench/mta-ours-dkim.sh and bench/mta-postfix-dkim.sh
# so that both MTAs sign through the same filter with the same settings.
# dkim_start makes a 2048-bit key for load.invalid (the domain of the
# harness's sender, so every message is signed) with opendkim-genkey in
# DIR/dkim and runs opendkim in the foreground on
# inet:DKIM_PORT@127.0.0.1 (PORT_IN+200), as its user opendkim, from the
# plugin's mta_start, and moves it out of the MTA's cgroup into one of
# its own (mtabench-x-opendkim), so that the harness's CPU figure is the
# MTA's alone, comparable with its plain relay-1k-s10.  dkim_stop writes
# the CPU seconds opendkim used, user and system from /proc/PID/stat, to
# DIR/opendkim.cpu before it stops it, for bench/milter_report.py.

DKIM_PORT=$((PORT_IN + 200))

dkim_start() {
    local d=$DIR/dkim
    mkdir -p "$d"
    opendkim-genkey -D "$d" -d load.invalid -s bench -b 2048 || return 1
    chown -R opendkim:opendkim "$d"
    cat > "$d/opendkim.conf" <<CONF
Syslog no
UserID opendkim
Socket inet:$DKIM_PORT@127.0.0.1
PidFile $d/opendkim.pid
Mode s
Domain load.invalid
Selector bench
KeyFile $d/bench.private
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
InternalHosts 127.0.0.1
RequireSafeKeys false
CONF
    opendkim -f -x "$d/opendkim.conf" >"$d/opendkim.log" 2>&1 </dev/null &
    echo $! > "$d/pid"
    dkim_cgroup "$!" || return 1
    for _ in $(seq 1 100); do
        (echo > "/dev/tcp/127.0.0.1/$DKIM_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "opendkim did not start: $(tail -3 "$d/opendkim.log")" >&2
    return 1
}

# The harness's cgroup layout: v2 if the unified hierarchy is mounted on
# /sys/fs/cgroup, else v1's cpuacct (../shared/bench/tools/runner.py).
DKIM_CGROUP=/sys/fs/cgroup/cpuacct/mtabench-x-opendkim
[ -f /sys/fs/cgroup/cgroup.controllers ] && DKIM_CGROUP=/sys/fs/cgroup/mtabench-x-opendkim

dkim_cgroup() {
    mkdir -p "$DKIM_CGROUP" && echo "$1" > "$DKIM_CGROUP/cgroup.procs"
}

dkim_stop() {
    local pid tck
    pid=$(cat "$DIR/dkim/pid" 2>/dev/null) || return 0
    tck=$(getconf CLK_TCK)
    # fields 14 and 15 of /proc/PID/stat: user and system ticks of every
    # thread; the name field "(opendkim)" has no space
    if [ -r "/proc/$pid/stat" ] && [ ! -s "$DIR/opendkim.cpu" ]; then
        awk -v t="$tck" '{ printf "%.3f %.3f\n", $14 / t, $15 / t }' \
            "/proc/$pid/stat" > "$DIR/opendkim.cpu"
    fi
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rmdir "$DKIM_CGROUP" 2>/dev/null || true
}
