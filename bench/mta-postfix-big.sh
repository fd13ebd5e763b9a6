# shellcheck shell=bash
# bench/mta-postfix-big.sh: the shared harness's Postfix plugin with
# message_size_limit raised from the shipped 10240000 to 50000000, so
# bench/extra.py's big-35m scenario (one 35 MB message) is accepted.
# Everything else is ../shared/bench/mta-postfix.sh unchanged: its
# main.cf writer is wrapped, and Postfix takes the last of two settings.

# shellcheck source=/dev/null
source "${BENCH_HARNESS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" && pwd)}/mta-postfix.sh"

eval "_pf_main_cf_shared() $(declare -f _pf_main_cf | tail -n +2)"

_pf_main_cf() {
    _pf_main_cf_shared
    echo "message_size_limit = 50000000"
}

eval "_pf_config_summary_shared() $(declare -f mta_config_summary | tail -n +2)"

mta_config_summary() {
    _pf_config_summary_shared
    echo "bench/mta-postfix-big.sh: message_size_limit = 50000000 (shipped 10240000)"
}
