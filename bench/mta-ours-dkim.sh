# shellcheck shell=bash
# bench/mta-ours-dkim.sh: this relay (bench/mta-ours.sh) with OpenDKIM
# signing (bench/opendkim.sh) as the listener's filter, for issue 16's
# relay-1k-s10 with signing beside Postfix (bench/mta-postfix-dkim.sh,
# the same OpenDKIM): `filter dkim "inet:DKIM_PORT@127.0.0.1"` and
# `listen ... filter dkim`, failure mode tempfail (the default).
# shellcheck source=bench/mta-ours.sh
source "$(dirname "${BASH_SOURCE[0]}")/mta-ours.sh"
# shellcheck source=bench/opendkim.sh
source "$(dirname "${BASH_SOURCE[0]}")/opendkim.sh"

eval "$(declare -f mta_start | sed '1s/^mta_start/ours_plain_start/')"
eval "$(declare -f mta_stop | sed '1s/^mta_stop/ours_plain_stop/')"
eval "$(declare -f mta_config_summary | sed '1s/^mta_config_summary/ours_plain_summary/')"

mta_config_summary() {
    ours_plain_summary
    echo "filter dkim \"inet:DKIM_PORT@127.0.0.1\" (OpenDKIM signing, bench/opendkim.sh); listen ... filter dkim"
}

mta_start() {
    dkim_start || return 1
    OURS_CONF_PRE="filter dkim \"inet:$DKIM_PORT@127.0.0.1\"" \
        OURS_LISTEN_OPTIONS="filter dkim" ours_plain_start
}

mta_stop() {
    ours_plain_stop
    dkim_stop
}
