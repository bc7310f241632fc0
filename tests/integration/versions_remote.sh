#!/bin/sh
# Remotes: push to a directory remote (only missing blobs; a second push
# sends none), clone it (file:// URL), mount the clone before any blob is
# there and cmp files under @v1/exports/default/images/train/ with the
# originals: each blob is fetched on first read, and the clone's objects/
# then holds exactly the blobs that were read.  A blob corrupted on the
# remote reads as EIO and is not kept.  A new version pushed later arrives
# with `dsfs pull`, and the mounted clone shows it.
# The working state travels too: a clone's catalog is HEAD's (same `dsfs
# images`, commit finds nothing to commit, its mount's exports/ is @v1's),
# pull moves a clean working state to the new HEAD (also under a running
# mount) and keeps a changed one with a warning, `dsfs checkout` refuses to
# drop changes without --force, and commit refuses an empty working state
# over a HEAD with images.  The clone pushes to a second remote (fetching
# from origin); a push of an unrelated history is refused before any blob
# moves; two pushes at once both succeed; with origin gone an unread image
# gives EIO and fsck says origin is unreachable.
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
"$DSFS" --repo "$DS" images > "$T/images.ds"
"$DSFS" --repo "$C" images > "$T/images.clone"
[ "$(wc -l < "$T/images.clone")" -eq 30 ] || fail "clone has $(wc -l < "$T/images.clone") images"
cmp -s "$T/images.ds" "$T/images.clone" || fail "clone images differ: $(diff "$T/images.ds" "$T/images.clone" | head -5)"
if "$DSFS" --repo "$C" commit -m "from clone" 2>"$T/err"; then fail "commit in a fresh clone made a version"; fi
grep -q "nothing to commit: same as v1" "$T/err" || fail "clone commit: $(cat "$T/err")"
[ "$(find "$C/objects" -type f | wc -l)" -eq 0 ] || fail "clone checkout fetched blobs"
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

# The clone's working tree is HEAD's: the same labels as @v1, images fetched on read.
[ "$(ls "$M/exports/default/labels/train" "$M/exports/default/labels/val" | grep -c txt)" -eq 20 ] ||
	fail "clone working tree exports: $(ls -R "$M/exports/default/labels" | head)"
diff -r "$M/exports/default/labels" "$M/@v1/exports/default/labels" >/dev/null || fail "working labels differ from @v1"
cmp "$M/exports/default/coco/instances_train.json" "$M/@v1/exports/default/coco/instances_train.json" ||
	fail "working COCO differs from @v1"

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
# Working-tree images are fetched on read like @vN's.
cmp "$M/exports/default/images/val/$victim" "$vpath" || fail "working-tree image $victim"
[ -e "$C/objects/$(echo "$vid" | cut -c1-2)/$(echo "$vid" | cut -c3-4)/$vid" ] || fail "working-tree read fetched nothing"

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
grep -q "working state: v2" "$T/pull" || fail "pull left the clean working state: $(cat "$T/pull")"
[ "$(ls "$M/exports/default/labels/train" "$M/exports/default/labels/val" | grep -c txt)" -eq 30 ] ||
	fail "the mounted clone's working tree is not v2 after pull"
if "$DSFS" --repo "$C" commit -m same 2>"$T/err"; then fail "commit after pull made a version"; fi
grep -q "nothing to commit: same as v2" "$T/err" || fail "commit after pull: $(cat "$T/err")"

# A change made in the clone, committed and pushed; the origin dataset pulls it.
ex=$(sed -n 5p "$T/images.clone" | cut -f1)
"$DSFS" --repo "$C" -q exclude "$ex" --reason "from the clone" || fail "exclude in clone"
"$DSFS" --repo "$C" commit -m three > "$T/commit3" || fail "commit 3 in clone"
grep -q "^v3 " "$T/commit3" || fail "commit 3: $(cat "$T/commit3")"
"$DSFS" --repo "$C" push > "$T/push4" || fail "push from clone: $(cat "$T/push4")"
"$DSFS" --repo "$DS" pull > "$T/pull2" || fail "pull at origin: $(cat "$T/pull2")"
grep -q "working state: v3" "$T/pull2" || fail "origin pull: $(cat "$T/pull2")"
if "$DSFS" --repo "$DS" commit -m x 2>"$T/err"; then fail "origin commit after pull reverted v3"; fi
grep -q "nothing to commit: same as v3" "$T/err" || fail "origin commit after pull: $(cat "$T/err")"

# Uncommitted changes survive a pull (with a warning) and a plain checkout.
ex2=$(sed -n 6p "$T/images.clone" | cut -f1)
"$DSFS" --repo "$DS" -q exclude "$ex2" --reason "local" || fail "exclude at origin"
"$DSFS" --repo "$C" -q include "$ex" || fail "include in clone"
"$DSFS" --repo "$C" -q commit -m four || fail "commit 4 in clone"
"$DSFS" --repo "$C" -q push || fail "push 4"
"$DSFS" --repo "$DS" pull > "$T/pull3" 2>"$T/err" || fail "dirty pull: $(cat "$T/err")"
grep -q "uncommitted changes and was kept.*v4" "$T/err" || fail "dirty pull warning: $(cat "$T/err")"
grep -q "working state:" "$T/pull3" && fail "dirty pull replaced the working state"
if "$DSFS" --repo "$DS" checkout v4 2>"$T/err"; then fail "checkout dropped uncommitted changes"; fi
grep -q "uncommitted changes" "$T/err" || fail "checkout refusal: $(cat "$T/err")"
"$DSFS" --repo "$DS" checkout --force v4 > "$T/co" || fail "checkout --force"
grep -q "working state: v4" "$T/co" || fail "checkout: $(cat "$T/co")"
if "$DSFS" --repo "$DS" commit -m x 2>"$T/err"; then fail "commit after checkout made a version"; fi
grep -q "nothing to commit: same as v4" "$T/err" || fail "after checkout: $(cat "$T/err")"
"$DSFS" --repo "$C" pull > "$T/pull4" || fail "clone pull 4"

# The safety net: a working state emptied under a HEAD with images is not committed.
umount_dsfs "$M"
rm -f "$C/catalog.db" "$C/catalog.db-wal" "$C/catalog.db-shm"
"$DSFS" init "$C" >/dev/null || fail "re-init clone catalog"
if "$DSFS" --repo "$C" commit -m wipe 2>"$T/err"; then fail "an empty working state was committed"; fi
grep -q "the working state is empty but v4 has 30 images: run 'dsfs checkout v4'" "$T/err" ||
	fail "empty commit: $(cat "$T/err")"
"$DSFS" --repo "$C" -q checkout v4 || fail "checkout into an empty catalog"
"$DSFS" --repo "$C" images | cmp -s - "$T/images.clone" || fail "checkout v4 images"
"$DSFS" --repo "$C" fsck > "$T/fsck" || fail "clone fsck: $(cat "$T/fsck")"
# The blobs read through the mount are referenced by versions: not "unreferenced".
grep -q " 0 unreferenced blobs" "$T/fsck" || fail "clone fsck counts fetched blobs as unreferenced: $(tail -1 "$T/fsck")"

# The lazy clone pushes to a second remote: the blobs it lacks come from origin.
"$DSFS" --repo "$C" remote add second "$T/second" || fail "remote add second"
"$DSFS" --repo "$C" push second > "$T/push_second" 2>&1 || fail "clone push to second: $(cat "$T/push_second")"
grep -q "30 blobs sent" "$T/push_second" || fail "clone push to second: $(cat "$T/push_second")"
[ "$(find "$T/second/objects" -type f | wc -l)" -eq 30 ] || fail "second remote objects"

# Refused before any blob moves, in one message: an unrelated dataset, and one behind.
U=$T/unrelated
"$DSFS" init "$U" >/dev/null
"$DSFS" gen-shapes "$T/gen2" --count 5 --size 64x48 --seed 9 -q >/dev/null
"$DSFS" --repo "$U" -q ingest "$T/gen2/images" || fail "ingest unrelated"
"$DSFS" --repo "$U" -q commit -m other || fail "commit unrelated"
"$DSFS" --repo "$U" remote add origin "$R" || fail "remote add unrelated"
before=$(find "$R/objects" -type f | wc -l)
if "$DSFS" --repo "$U" push > "$T/push5" 2>&1; then fail "unrelated push accepted"; fi
grep -q "unrelated history: the remote's main does not contain this dataset's versions nor the reverse" "$T/push5" ||
	fail "unrelated push: $(cat "$T/push5")"
! grep -q "pull first" "$T/push5" || fail "unrelated push says pull first: $(cat "$T/push5")"
[ "$(grep -o "push" "$T/push5" | wc -l)" -eq 1 ] || fail "unrelated push message: $(cat "$T/push5")"
[ "$(find "$R/objects" -type f | wc -l)" -eq "$before" ] || fail "refused push sent blobs"

# Two pushes at once to a fresh remote: both succeed, one after the other.
"$DSFS" --repo "$DS" remote add twice "$T/twice" || fail "remote add twice"
"$DSFS" --repo "$DS" push twice > "$T/push6" 2>&1 &
p6=$!
"$DSFS" --repo "$DS" push twice > "$T/push7" 2>&1 || fail "concurrent push: $(cat "$T/push7")"
wait $p6 || fail "concurrent push: $(cat "$T/push6")"
[ "$(find "$T/twice/objects" -type f | wc -l)" -eq 30 ] || fail "concurrent pushes: remote objects"
[ "$(git --git-dir="$T/twice/git" tag 2>/dev/null | wc -l)" -eq "$(git --git-dir="$DS/git" tag | wc -l)" ] ||
	! command -v git >/dev/null ||
	fail "concurrent pushes: tags"

# Origin gone: an image not fetched yet reads as EIO (ls still shows it), the
# reason is logged once, and fsck says once that origin is unreachable.
C2=$T/clone2
"$DSFS" clone "$R" "$C2" || fail "clone 2"
rm -rf "$R"
mount_fg "$C2" "$M" "$T/daemon2.log"
unread=$(ls "$M/@v1/exports/default/images/val" | tail -1)
uid=${unread%.*}
ls -l "$M/@v1/exports/default/images/val/$unread" >/dev/null || fail "ls without origin"
if cat "$M/@v1/exports/default/images/val/$unread" >/dev/null 2>"$T/err2"; then fail "read without origin"; fi
grep -q "Input/output error" "$T/err2" || fail "origin gone: $(cat "$T/err2")"
umount_dsfs "$M"
logged=$(cat "$C2/dsfs.log" "$T/daemon2.log" 2>/dev/null | grep -c "$uid" || true)
[ "$logged" -eq 1 ] || fail "reason logged $logged times: $(cat "$C2/dsfs.log" "$T/daemon2.log" 2>/dev/null | grep "$uid")"
if "$DSFS" --repo "$C2" fsck > "$T/fsck2"; then fail "fsck passed with origin gone"; fi
grep -q "^origin unreachable: .*: 30 blobs not checked" "$T/fsck2" || fail "fsck without origin: $(head -5 "$T/fsck2")"
[ "$(wc -l < "$T/fsck2")" -eq 2 ] || fail "fsck without origin printed $(wc -l < "$T/fsck2") lines: $(head -5 "$T/fsck2")"
pass
