# shellcheck shell=bash
# bench/mta-ours-proxy.sh: this relay behind a real HAProxy (Debian's
# 2.6, TCP mode) that sends the PROXY protocol v2 header, for issue 17's
# "relay-1k-s10 through HAProxy with PROXY v2 beside direct".  HAProxy
# listens on PORT_IN and runs in the MTA's cgroup (its CPU counts as
# ours); the relay listens on PORT_IN+100 with proxy-protocol, trusting
# 127.0.0.1.  Everything else is bench/mta-ours.sh.
# shellcheck source=bench/mta-ours.sh
source "$(dirname "${BASH_SOURCE[0]}")/mta-ours.sh"

eval "$(declare -f mta_start | sed '1s/^mta_start/ours_direct_start/')"
eval "$(declare -f mta_stop | sed '1s/^mta_stop/ours_direct_stop/')"

mta_version() {
    echo "smtpd (this tree, $(git -C "$OURS_TREE" rev-parse --short HEAD 2>/dev/null || echo unknown)) behind $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3), send-proxy-v2"
}

mta_config_summary() {
    echo "HAProxy on PORT_IN (mode tcp, maxconn 8192) -> smtpd on PORT_IN+100 with proxy-protocol { 127.0.0.1 }; the rest as bench/mta-ours.sh"
}

mta_start() {
    local inner=$((PORT_IN + 100))
    OURS_LISTEN_PORT=$inner OURS_LISTEN_OPTIONS='proxy-protocol { "127.0.0.1" }' \
        ours_direct_start || return 1
    mkdir -p "$DIR"
    cat > "$DIR/haproxy.cfg" <<CFG
global
    maxconn 8192
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
frontend smtp
    bind 127.0.0.1:$PORT_IN
    default_backend relay
backend relay
    server relay 127.0.0.1:$inner send-proxy-v2 maxconn 8192
CFG
    # the relay first: HAProxy then has somewhere to send the first client
    for _ in $(seq 1 100); do
        (echo > "/dev/tcp/127.0.0.1/$inner") 2>/dev/null && break
        sleep 0.1
    done
    haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.log" 2>&1 </dev/null &
    echo $! > "$DIR/haproxy.pid"
}

mta_stop() {
    local pid
    pid=$(cat "$DIR/haproxy.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
    ours_direct_stop
}
