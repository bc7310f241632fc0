#!/bin/sh
# incoming/ is a link to the real directory DIR/incoming: files left there
# while nothing was mounted, `cp -r` of a directory, `mv` into it, a file
# still open for writing (left alone until its writer closes it), dotfiles
# (ignored), and a CLI change seen at once by a file the kernel has cached.
. "$(dirname "$0")/lib.sh"
setup

"$DSFS" init "$T/ds" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 24 --size 64x48 --seed 5 -q >/dev/null
G=$T/gen/images
count() { find "$T/mnt/images" -type f | wc -l; }
img() { printf '%s/shape_%06d.jpg' "$G" "$1"; } # the generator numbers from 1
in_catalog() { "$DSFS" --repo "$T/ds" images | cut -f6 | grep -qx "$1"; }

note "files copied into DIR/incoming while nothing is mounted"
cp "$(img 1)" "$(img 2)" "$(img 3)" "$(img 4)" "$(img 5)" "$T/ds/incoming/"
mount_fg "$T/ds" "$T/mnt"
[ "$(readlink "$T/mnt/incoming")" = "$T/ds/incoming" ] || fail "incoming is not a link to DIR/incoming: $(readlink "$T/mnt/incoming")"
[ "$(count)" -eq 5 ] || fail "expected the 5 files left before the mount, found $(count)"
[ -z "$(ls "$T/ds/incoming")" ] || fail "DIR/incoming not emptied: $(ls "$T/ds/incoming")"

note "cp -r of a directory, and mv into incoming/"
mkdir -p "$T/sub/deeper"
cp "$(img 6)" "$(img 7)" "$(img 8)" "$T/sub/"
cp "$(img 9)" "$(img 10)" "$T/sub/deeper/"
cp -r "$T/sub" "$T/mnt/incoming/"
cp "$(img 11)" "$T/moved.jpg"
mv "$T/moved.jpg" "$T/mnt/incoming/"
[ "$(count)" -eq 11 ] || fail "expected 11 images after cp -r and mv, found $(count)"
in_catalog shape_000010.jpg || fail "a file two directories down was not recorded under its base name"
in_catalog moved.jpg || fail "the moved file was not recorded"

note "a file still open for writing is left alone"
head -c 2000 "$(img 12)" > "$T/head"
tail -c +2001 "$(img 12)" > "$T/tail"
exec 3>"$T/mnt/incoming/slow.jpg"
cat "$T/head" >&3
cp "$(img 13)" "$T/mnt/incoming/"
ls "$T/mnt/images" >/dev/null # ingests every closed upload
in_catalog shape_000013.jpg || fail "a closed upload next to an open one was not ingested"
in_catalog slow.jpg && fail "a file still open for writing was ingested"
[ -f "$T/ds/incoming/slow.jpg" ] || fail "the open file left incoming/"
cat "$T/tail" >&3
exec 3>&-
ls "$T/mnt/images" >/dev/null
in_catalog slow.jpg || fail "the file was not ingested once its writer closed it"
[ ! -e "$T/mnt/incoming/.rejected/slow.jpg" ] || fail "the slow file was rejected: $(cat "$T/mnt/incoming/.rejected/slow.jpg.reason")"

note "dotfiles stay where they are"
cp "$(img 14)" "$T/mnt/incoming/.hidden.jpg"
ls "$T/mnt/images" >/dev/null
[ -f "$T/ds/incoming/.hidden.jpg" ] || fail "a dotfile was taken"
[ "$(count)" -eq 13 ] || fail "expected 13 images, found $(count)"

note "a CLI change reaches a file the kernel has cached"
grep -q "^images: 13" "$T/mnt/README" || fail "README: $(grep images: "$T/mnt/README")"
"$DSFS" --repo "$T/ds" -q ingest "$(img 20)" || fail "CLI ingest"
grep -q "^images: 14" "$T/mnt/README" || fail "cached README not refreshed by the CLI: $(grep images: "$T/mnt/README")"

umount_dsfs "$T/mnt"
note "a file dropped after the unmount is ingested at the next mount"
cp "$(img 21)" "$T/ds/incoming/"
mount_fg "$T/ds" "$T/mnt"
[ "$(count)" -eq 15 ] || fail "expected 15 images after the remount, found $(count)"
umount_dsfs "$T/mnt"
"$DSFS" fsck "$T/ds" >/dev/null || fail "fsck"
pass
