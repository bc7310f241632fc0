#!/bin/sh
# Remotes: push to a directory remote (only missing blobs; a second push
# sends none), clone it (file:// URL), mount the clone before any blob is
# there and cmp files under @v1/exports/default/images/train/ with the
# originals: each blob is fetched on first read, and the clone's objects/
# then holds exactly the blobs that were read.  A blob corrupted on the
# remote reads as EIO and is not kept.  A new version pushed later arrives
# with `dsfs pull`, and the mounted clone shows it.
. "$(dirname "$0")/lib.sh"
setup

DS=$T/ds
R=$T/remote
C=$T/clone
M=$T/mnt
"$DSFS" init "$DS" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 30 --size 64x48 --seed 3 -q >/dev/null
"$DSFS" --repo "$DS" -q ingest "$T/gen/images" || fail "ingest"
"$DSFS" --repo "$DS" -q batch --size 20 || fail "batch"
"$DSFS" --repo "$DS" -q import-coco "$T/gen/instances_default.json" --batch latest || fail "import"
"$DSFS" --repo "$DS" -q commit -m one || fail "commit"

"$DSFS" --repo "$DS" remote add origin "$R" || fail "remote add"
"$DSFS" --repo "$DS" push > "$T/push1" || fail "push: $(cat "$T/push1")"
grep -q "30 blobs sent" "$T/push1" || fail "first push: $(cat "$T/push1")"
"$DSFS" --repo "$DS" push > "$T/push2" || fail "push 2"
grep -q "0 blobs sent .* 30 already there" "$T/push2" || fail "second push: $(cat "$T/push2")"
[ "$(find "$R/objects" -type f | wc -l)" -eq 30 ] || fail "remote objects"

"$DSFS" clone "file://$R" "$C" || fail "clone"
[ "$(find "$C/objects" -type f | wc -l)" -eq 0 ] || fail "clone copied blobs"
"$DSFS" --repo "$C" log | grep -q "^v1 .* one$" || fail "clone log: $("$DSFS" --repo "$C" log)"
mount_fg "$C" "$M" "$T/daemon.log"
ls "$M" | grep -qx "@v1" || fail "clone mount lacks @v1"
n=0
for f in $(ls "$M/@v1/exports/default/images/train" | head -3); do
	id=${f%.*}
	cmp "$M/@v1/exports/default/images/train/$f" \
		"$DS/objects/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-4)/$id" || fail "cmp $f"
	n=$((n + 1))
	echo "$id" >> "$T/read"
done
[ $n -eq 3 ] || fail "train split too small"
find "$C/objects" -type f -printf '%f\n' | sort > "$T/have"
sort "$T/read" | cmp -s - "$T/have" || fail "clone objects/ holds $(cat "$T/have" | tr '\n' ' '), read $(cat "$T/read" | tr '\n' ' ')"
# Listing and stat fetch nothing.
ls -l "$M/@v1/images/"*/*/ >/dev/null
[ "$(find "$C/objects" -type f | wc -l)" -eq 3 ] || fail "ls fetched blobs"

# A blob corrupted on the remote: EIO, not stored, the daemon keeps serving.
victim=$(ls "$M/@v1/exports/default/images/val" | head -1)
vid=${victim%.*}
vpath="$R/objects/$(echo "$vid" | cut -c1-2)/$(echo "$vid" | cut -c3-4)/$vid"
chmod u+w "$vpath"
printf 'garbage' > "$vpath"
if cat "$M/@v1/exports/default/images/val/$victim" >/dev/null 2>"$T/err"; then fail "corrupt remote blob served"; fi
grep -q "Input/output error" "$T/err" || fail "corrupt blob: $(cat "$T/err")"
[ ! -e "$C/objects/$(echo "$vid" | cut -c1-2)/$(echo "$vid" | cut -c3-4)/$vid" ] || fail "corrupt blob stored"
head -c 10 "$M/@v1/exports/default/images/train/$(head -1 "$T/read").jpg" >/dev/null 2>&1 ||
	head -c 10 "$M/@v1/exports/default/images/train/$(head -1 "$T/read").png" >/dev/null || fail "daemon stopped serving"
cp "$DS/objects/$(echo "$vid" | cut -c1-2)/$(echo "$vid" | cut -c3-4)/$vid" "$vpath"

# v2 made at the origin dataset, pushed, pulled into the mounted clone.
"$DSFS" --repo "$DS" -q batch --size 10 || fail "batch 2"
"$DSFS" --repo "$DS" -q import-coco "$T/gen/instances_default.json" --batch latest || fail "import 2"
"$DSFS" --repo "$DS" -q commit -m two || fail "commit 2"
"$DSFS" --repo "$DS" push > "$T/push3" || fail "push 3"
grep -q "0 blobs sent" "$T/push3" || fail "push 3 sent blobs (no new images): $(cat "$T/push3")"
"$DSFS" --repo "$C" pull > "$T/pull" || fail "pull: $(cat "$T/pull")"
grep -q "1 new versions" "$T/pull" || fail "pull: $(cat "$T/pull")"
[ "$(ls "$M/@v2/exports/default/labels/train" "$M/@v2/exports/default/labels/val" | grep -c txt)" -eq 30 ] ||
	fail "@v2 in the clone"
[ "$(readlink "$M/@HEAD")" = "@v2" ] || fail "clone @HEAD -> $(readlink "$M/@HEAD")"
umount_dsfs "$M"
"$DSFS" --repo "$C" fsck > "$T/fsck" || fail "clone fsck: $(cat "$T/fsck")"
pass
