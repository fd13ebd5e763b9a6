# shellcheck shell=bash
# bench/mta-postfix-dkim.sh: the shared harness's Postfix plugin
# (../shared/bench/mta-postfix.sh, unchanged) with OpenDKIM signing
# (bench/opendkim.sh) as smtpd_milters, for issue 16's relay-1k-s10 with
# signing beside ours (bench/mta-ours-dkim.sh, the same OpenDKIM).
# milter_protocol 6 and milter_default_action tempfail, as ours; no
# non_smtpd_milters (the load is SMTP).
HARNESS=${BENCH_HARNESS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" && pwd)}
# shellcheck source=/dev/null
source "$HARNESS/mta-postfix.sh"
# shellcheck source=bench/opendkim.sh
source "$(dirname "${BASH_SOURCE[0]}")/opendkim.sh"

eval "$(declare -f _pf_main_cf | sed '1s/^_pf_main_cf/pf_plain_main_cf/')"
eval "$(declare -f mta_start | sed '1s/^mta_start/pf_plain_start/')"
eval "$(declare -f mta_stop | sed '1s/^mta_stop/pf_plain_stop/')"
eval "$(declare -f mta_config_summary | sed '1s/^mta_config_summary/pf_plain_summary/')"

_pf_main_cf() {
    pf_plain_main_cf
    echo "smtpd_milters = inet:127.0.0.1:$DKIM_PORT"
    echo "milter_protocol = 6"
    echo "milter_default_action = tempfail"
}

mta_config_summary() {
    pf_plain_summary
    echo "smtpd_milters = inet:127.0.0.1:DKIM_PORT: OpenDKIM signing (bench/opendkim.sh), milter_protocol 6, milter_default_action tempfail"
}

mta_start() {
    dkim_start || return 1
    pf_plain_start
}

mta_stop() {
    pf_plain_stop
    dkim_stop
}
