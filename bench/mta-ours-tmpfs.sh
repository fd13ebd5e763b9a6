# shellcheck shell=bash
# bench/mta-ours-tmpfs.sh: this relay with its queue on a tmpfs, where a
# sync costs nothing, to show how much of a scenario's time is the disk's
# (BENCHMARKS.md, "accept-1k-s10 and the disk").  Not a configuration
# to run: a tmpfs queue loses every message at a crash.  The tmpfs is
# mounted on DIR/spool before the start and taken away after the stop.
# Everything else is bench/mta-ours.sh.
# shellcheck source=bench/mta-ours.sh
source "$(dirname "${BASH_SOURCE[0]}")/mta-ours.sh"

# shellcheck source=bench/spool-tmpfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/spool-tmpfs.sh"

eval "$(declare -f mta_start | sed '1s/^mta_start/ours_disk_start/')"
eval "$(declare -f mta_stop | sed '1s/^mta_stop/ours_disk_stop/')"

mta_version() {
    echo "smtpd (this tree, $(git -C "$OURS_TREE" rev-parse --short HEAD 2>/dev/null || echo unknown)), queue on tmpfs"
}

mta_config_summary() {
    echo "as bench/mta-ours.sh, with DIR/spool a tmpfs (size 2g): every fsync and syncfs of the queue returns at once"
}

mta_start() {
    spool_tmpfs_mount mta-ours-tmpfs || return 1
    ours_disk_start
}

mta_stop() {
    ours_disk_stop
    spool_tmpfs_umount
}
