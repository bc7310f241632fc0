#!/bin/sh
# incoming/ is a link to the real directory DIR/incoming: files left there
# while nothing was mounted, `cp -r` of a directory, `mv` into it, a file
# still open for writing (left alone until its writer closes it), dotfiles
# (ignored), a CLI change seen at once by a file the kernel has cached, a
# hard link made while mounted (no close event), and a refused file whose
# name leaves no room for its .reason (kept once, under a shorter name).
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

note "ln into incoming/ while mounted (no close event), at the top and in a subdirectory"
cp "$(img 15)" "$(img 16)" "$T/"
ln "$T/shape_000015.jpg" "$T/ds/incoming/hl2.jpg"
ln "$T/shape_000016.jpg" "$T/mnt/incoming/sub/hl3.jpg"
[ "$(count)" -eq 16 ] || fail "expected 16 images after two hard links, found $(count)"
in_catalog hl2.jpg || fail "the hard link at the top of incoming/ was not ingested"
in_catalog hl3.jpg || fail "the hard link in a subdirectory was not ingested"
[ ! -e "$T/ds/incoming/hl2.jpg" ] && [ ! -e "$T/ds/incoming/sub/hl3.jpg" ] || fail "a hard link stayed in incoming/"
[ "$(stat -c %h "$T/shape_000015.jpg")" -eq 1 ] && cmp -s "$T/shape_000015.jpg" "$(img 15)" || fail "the user's own link changed"

note "a refused file whose name leaves no room for its .reason"
long=$(printf 'b%.0s' $(seq 250)).jpg
echo junk > "$T/mnt/incoming/$long"
ls "$T/mnt/images" >/dev/null
kept=$(ls "$T/mnt/incoming/.rejected/" | grep '^bbbb' | grep -v '\.reason$')
[ "$(echo "$kept" | wc -l)" -eq 1 ] || fail "kept as: $kept"
case "$kept" in *.jpg) ;; *) fail "the kept name lost its extension: $kept" ;; esac
grep -q "not a JPEG or PNG" "$T/mnt/incoming/.rejected/$kept.reason" || fail "no reason beside $kept"
[ -z "$(find "$T/ds/incoming" -type f ! -name '.*')" ] || fail "left in incoming/: $(find "$T/ds/incoming" -type f)"
[ -z "$(ls "$T/ds/tmp" 2>/dev/null | grep '^incoming-')" ] || fail "left in tmp/: $(ls "$T/ds/tmp")"

umount_dsfs "$T/mnt"
note "a file dropped after the unmount is ingested at the next mount"
cp "$(img 21)" "$T/ds/incoming/"
mount_fg "$T/ds" "$T/mnt"
[ "$(count)" -eq 17 ] || fail "expected 17 images after the remount, found $(count)"
[ "$(ls "$T/ds/rejected" | grep -c '^bbbb')" -eq 2 ] || fail "the remount kept the long-named file again: $(ls "$T/ds/rejected")"
umount_dsfs "$T/mnt"
"$DSFS" fsck "$T/ds" >/dev/null || fail "fsck"
pass
