# shellcheck shell=bash
# bench/mta-ours.sh: this relay as the MTA under test of ../shared/bench.
# Plugin contract: ../shared/bench/README.md (PORT_IN, PORT_SINK, CERT, KEY,
# DIR; mta_start, mta_stop).  Built binaries are taken from the tree this
# file lives in; the queue, control socket and database live in DIR.
# STARTTLS is offered with the harness's CERT/KEY, handled by tlsproxy.
# OURS_LISTEN_PORT and OURS_LISTEN_OPTIONS change the listener (for a
# wrapper with a proxy in front, bench/mta-ours-proxy.sh); OURS_CONF_PRE
# is a statement written before the listener (a filter it names,
# bench/mta-ours-dkim.sh).
# OURS_LIMIT_SESSIONS (default 4096) sets `limit sessions`; bench/extra.py
# raises it for its 10 000 idle sessions.  Every load comes from 127.0.0.1,
# so `limit sessions-per-address` is set to the same number, as Postfix
# exempts mynetworks from its per-client limits
# (smtpd_client_event_limit_exceptions).

OURS_TREE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

mta_version() {
    echo "smtpd (this tree, $(git -C "$OURS_TREE" rev-parse --short HEAD 2>/dev/null || echo unknown))"
}

mta_config_summary() {
    echo "bin/smtpd -d -f DIR/smtpd.conf; pki CERT/KEY; listen on 127.0.0.1 port PORT_IN tls; route \"*\" via [127.0.0.1] port PORT_SINK;"
    echo "queue in DIR/spool (fsync + rename + directory fsync before 250); limit messages 100000 per session;"
    echo "limit sessions and sessions-per-address ${OURS_LIMIT_SESSIONS:-4096}; defaults otherwise"
}

mta_start() {
    mkdir -p "$DIR"
    cat > "$DIR/smtpd.conf" <<CONF
hostname "ours-bench.invalid"
queue "$DIR/spool"
control "$DIR/smtpd.sock"
database "$DIR/db/maps.db"
pki bench cert "$CERT" key "$KEY"
${OURS_CONF_PRE:-}
listen on 127.0.0.1 port ${OURS_LISTEN_PORT:-$PORT_IN} tls ${OURS_LISTEN_OPTIONS:-}
route "*" via "[127.0.0.1]" port $PORT_SINK
limit messages 100000
limit sessions ${OURS_LIMIT_SESSIONS:-4096}
limit sessions-per-address ${OURS_LIMIT_SESSIONS:-4096}
CONF
    "$OURS_TREE/bin/smtpd" -n -f "$DIR/smtpd.conf" >/dev/null || return 1
    "$OURS_TREE/bin/smtpd" -d -f "$DIR/smtpd.conf" -x "$OURS_TREE/bin" \
        >"$DIR/smtpd.log" 2>&1 </dev/null &
    echo $! > "$DIR/smtpd.pid"
}

# The counters are saved first, for bench/timings.py (where relay time
# goes); the harness may call mta_stop again once smtpd is gone, which must
# not replace them.
mta_stop() {
    local pid
    pid=$(cat "$DIR/smtpd.pid" 2>/dev/null) || return 0
    if timeout 10 "$OURS_TREE/bin/smtpctl" -f "$DIR/smtpd.conf" show stats \
        >"$DIR/stats.tmp" 2>/dev/null; then
        mv "$DIR/stats.tmp" "$DIR/stats.txt"
    else
        rm -f "$DIR/stats.tmp"
    fi
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

mta_queue_count() {
    find "$DIR/spool/envelope" -type f 2>/dev/null | wc -l
}
