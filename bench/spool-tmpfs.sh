# shellcheck shell=bash
# bench/spool-tmpfs.sh: a tmpfs on DIR/spool for the *-tmpfs plugins
# (bench/mta-ours-tmpfs.sh, bench/mta-postfix-tmpfs.sh): mounted before
# an MTA starts, taken away (lazily if something still holds it) after it
# stops.  NAME labels the mount in /proc/mounts.

spool_tmpfs_mount() {
    mkdir -p "$DIR/spool"
    mountpoint -q "$DIR/spool" || mount -t tmpfs -o size=2g,mode=0755 \
        "$1" "$DIR/spool"
}

spool_tmpfs_umount() {
    if mountpoint -q "$DIR/spool"; then
        umount "$DIR/spool" 2>/dev/null || umount -l "$DIR/spool"
    fi
    return 0
}
