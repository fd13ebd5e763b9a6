# shellcheck shell=bash
# bench/mta-postfix-tmpfs.sh: the shared harness's Postfix plugin with its
# queue_directory on a tmpfs, beside bench/mta-ours-tmpfs.sh, to show
# whether a scenario waits for the disk or for the CPU (BENCHMARKS.md,
# "accept-1k-s10 and the disk").  Not a configuration to run.
# Everything else is ../shared/bench/mta-postfix.sh unchanged.

# shellcheck source=/dev/null
source "${BENCH_HARNESS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../shared/bench" && pwd)}/mta-postfix.sh"

# shellcheck source=bench/spool-tmpfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/spool-tmpfs.sh"

eval "_pf_start_shared() $(declare -f mta_start | tail -n +2)"
eval "_pf_stop_shared() $(declare -f mta_stop | tail -n +2)"
eval "_pf_config_summary_shared() $(declare -f mta_config_summary | tail -n +2)"

mta_config_summary() {
    _pf_config_summary_shared
    echo "bench/mta-postfix-tmpfs.sh: DIR/spool is a tmpfs (size 2g)"
}

mta_start() {
    spool_tmpfs_mount mta-postfix-tmpfs || return 1
    _pf_start_shared
}

mta_stop() {
    _pf_stop_shared
    spool_tmpfs_umount
}
