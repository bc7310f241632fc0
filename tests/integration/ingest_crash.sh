#!/bin/sh
# kill -9 of the daemon during a 1,000-file ingest through the mount; after
# a remount fsck is clean, and copying the same files again completes the
# set with no duplicates.
. "$(dirname "$0")/lib.sh"
setup

"$DSFS" init "$T/ds" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 1000 --size 64x48 --seed 3 -q >/dev/null
mount_fg "$T/ds" "$T/mnt"

# Kill once a good part of the files went in (poll the catalog; not a timing assertion).
( cp "$T"/gen/images/*.jpg "$T/mnt/incoming/" 2>/dev/null ) &
cpid=$!
i=0
while [ "$("$DSFS" --repo "$T/ds" images | wc -l)" -lt 150 ] && [ $i -lt 2000 ]; do
	i=$((i + 1)); sleep 0.02
done
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
wait $cpid 2>/dev/null || true
fusermount3 -uz "$T/mnt" 2>/dev/null || true
got=$("$DSFS" --repo "$T/ds" images | wc -l)
note "daemon killed after $got of 1000 images"
[ "$got" -lt 1000 ] || note "(the copy finished before the kill; still checking recovery)"

"$DSFS" fsck "$T/ds" > "$T/fsck1" || { cat "$T/fsck1"; fail "fsck after the kill"; }

mount_fg "$T/ds" "$T/mnt"
cp "$T"/gen/images/*.jpg "$T/mnt/incoming/" || fail "re-copy failed"
n=$(find "$T/mnt/images" -type f | wc -l)
[ "$n" -eq 1000 ] || fail "expected 1000 images after re-copy, found $n"
rows=$("$DSFS" --repo "$T/ds" images | wc -l)
[ "$rows" -eq 1000 ] || fail "catalog has $rows rows"
names=$("$DSFS" --repo "$T/ds" images | cut -f6 | sort -u | wc -l)
[ "$names" -eq 1000 ] || fail "$names distinct names"
umount_dsfs "$T/mnt"
"$DSFS" fsck "$T/ds" > "$T/fsck2" || { cat "$T/fsck2"; fail "fsck after recovery"; }
pass
