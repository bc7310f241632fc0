#!/bin/sh
# Versions end to end through a mount: ctl/commit -> v1, more images and
# labels -> v2 (dsfs commit); @v1 still shows exactly what the working
# export was right after v1 (byte comparison), @v2 the new state; the real
# git CLI sees both commits and tags and `git diff --stat` lists manifests;
# @HEAD/@1 are links; versions/log; dsfs log/show/diff; dsfs export
# materializes @v1's export (hard links with --link, else copies); bad names and a corrupt manifest
# committed with the git CLI give ENOENT/EIO with a logged reason while the
# daemon keeps serving; fsck reports the corrupt version.
. "$(dirname "$0")/lib.sh"
setup
command -v git >/dev/null || skip "no git CLI"

DS=$T/ds
M=$T/mnt
GIT="git --git-dir=$DS/git"
"$DSFS" init "$DS" >/dev/null
"$DSFS" gen-shapes "$T/gen1" --count 60 --size 64x48 --seed 1 -q >/dev/null
"$DSFS" gen-shapes "$T/gen2" --count 40 --size 64x48 --seed 2 -q >/dev/null
"$DSFS" --repo "$DS" -q ingest "$T/gen1/images" || fail "ingest 1"
mount_fg "$DS" "$M" "$T/daemon.log"

echo "size=60" > "$M/ctl/batch" || fail "batch"
echo "file=$T/gen1/instances_default.json batch=latest" > "$M/ctl/import" || fail "import"
echo "message=first labels" > "$M/ctl/commit" || fail "ctl/commit: $(cat "$M/ctl/commit")"
grep -q "^version: v1$" "$M/ctl/commit" || fail "ctl/commit outcome: $(cat "$M/ctl/commit")"
# Nothing changed: a clear error, no v2.
if echo "message=again" > "$M/ctl/commit" 2>/dev/null; then fail "empty commit accepted"; fi
grep -q "nothing to commit" "$M/ctl/commit" || fail "empty commit message: $(cat "$M/ctl/commit")"

# The materialized copy of the working export right after v1.
cp -r "$M/exports/default" "$T/copy1"
# The kernel caches link targets: @HEAD must still move with the next commit.
[ "$(readlink "$M/@HEAD")" = "@v1" ] || fail "@HEAD after v1 -> $(readlink "$M/@HEAD")"

# More data: new images, labeled, a class, an exclusion; then v2 from the CLI.
"$DSFS" --repo "$DS" -q ingest "$T/gen2/images" || fail "ingest 2"
"$DSFS" --repo "$DS" -q batch --size 40 || fail "batch 2"
"$DSFS" --repo "$DS" -q import-coco "$T/gen2/instances_default.json" --batch latest || fail "import 2"
"$DSFS" --repo "$DS" -q labelset --classes star || fail "labelset"
"$DSFS" --repo "$DS" commit -m "second batch" | grep -q "^v2 " || fail "dsfs commit v2"

ls "$M" | grep -qx "@v1" || fail "ls root lacks @v1: $(ls "$M")"
ls "$M" | grep -qx "@v2" || fail "ls root lacks @v2"
ls "$M" | grep -qx "versions" || fail "ls root lacks versions/"

# @v1 is exactly the v1 export: every image, label and COCO byte-identical.
for d in images/train images/val labels/train labels/val coco; do
	diff -r "$T/copy1/$d" "$M/@v1/exports/default/$d" >/dev/null || fail "@v1/exports/default/$d differs from the copy made at v1"
done
grep -v -e '^path:' -e '^# ' "$T/copy1/dataset.yaml" > "$T/y1"
grep -v -e '^path:' -e '^# ' "$M/@v1/exports/default/dataset.yaml" > "$T/y2"
cmp -s "$T/y1" "$T/y2" || fail "dataset.yaml of @v1 differs (besides path)"
grep -qx "path: $M/@v1/exports/default" "$M/@v1/exports/default/dataset.yaml" || fail "@v1 dataset.yaml path"
n1=$(ls "$M/@v1/exports/default/labels/train" "$M/@v1/exports/default/labels/val" | grep -c txt)
n2=$(ls "$M/@v2/exports/default/labels/train" "$M/@v2/exports/default/labels/val" | grep -c txt)
[ "$n1" -eq 60 ] && [ "$n2" -eq 100 ] || fail "labels in @v1/@v2: $n1 $n2"
[ "$(find "$M/@v1/images" -type f | wc -l)" -eq 60 ] || fail "@v1/images count"
[ "$(find "$M/@v2/images" -type f | wc -l)" -eq 100 ] || fail "@v2/images count"
f=$(find "$M/@v1/images" -type f | head -1)
id=$(basename "$f"); id=${id%.*}
cmp "$f" "$DS/objects/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-4)/$id" || fail "@v1 image bytes"
grep -q "^nc: 4" "$M/@v2/exports/default/dataset.yaml" || fail "@v2 has the new class"
grep -q "^nc: 3" "$M/@v1/exports/default/dataset.yaml" || fail "@v1 kept 3 classes"
grep -q "^images: 60$" "$M/@v1/VERSION" && grep -q "^message: first labels$" "$M/@v1/VERSION" || fail "@v1/VERSION: $(cat "$M/@v1/VERSION")"
[ "$(readlink "$M/@HEAD")" = "@v2" ] || fail "@HEAD -> $(readlink "$M/@HEAD")"
[ "$(readlink "$M/@1")" = "@v1" ] || fail "@1 link"
c1=$($GIT rev-parse v1)
[ "$(readlink "$M/@$(echo "$c1" | cut -c1-8)")" = "@v1" ] || fail "@<commit prefix> link"
ls "$M/@HEAD/exports/default/labels/train" >/dev/null || fail "through @HEAD"
ls "$M/@v1/annotations/default" | grep -qx annotations.tsv || fail "@v1/annotations"
grep -q "^v2 .*second batch" "$M/versions/log" && grep -q "^v1 .*first labels" "$M/versions/log" || fail "versions/log: $(cat "$M/versions/log")"
# Writing into a version is refused.
if touch "$M/@v1/exports/default/new" 2>/dev/null; then fail "a version is writable"; fi

# The real git CLI.
$GIT log --oneline | grep -q "second batch" && $GIT log --oneline | grep -q "first labels" || fail "git log: $($GIT log --oneline)"
[ "$($GIT tag | tr '\n' ' ')" = "v1 v2 " ] || fail "git tag: $($GIT tag)"
$GIT log --oneline --decorate | grep -q "(HEAD -> main, tag: v2) second batch" &&
	$GIT log --oneline --decorate | grep -q "(tag: v1) first labels" || fail "git log --decorate: $($GIT log --oneline --decorate)"
$GIT diff v1 v2 --stat > "$T/stat"
for p in images.tsv summary.tsv label_sets/default/annotations.tsv label_sets/default/classes.txt label_sets/default/labels.tsv; do
	grep -q " $p " "$T/stat" || fail "git diff --stat lacks $p: $(cat "$T/stat")"
done

# dsfs log / show / diff
"$DSFS" --repo "$DS" log | head -1 | grep -q "^v2 " || fail "dsfs log"
"$DSFS" --repo "$DS" show v1 | grep -q "default: classes=3 labeled=60" || fail "dsfs show: $("$DSFS" --repo "$DS" show v1)"
"$DSFS" --repo "$DS" diff v1 v2 > "$T/diff" || fail "dsfs diff"
grep -q "images: 60 -> 100 (+40 -0)" "$T/diff" && grep -q "class added: 3 star" "$T/diff" &&
	grep -q "labeled images: 60 -> 100" "$T/diff" || fail "diff text: $(cat "$T/diff")"

# dsfs export: @v1's export as a real directory, images hard-linked (--link).
"$DSFS" --repo "$DS" -q export --version v1 --label-set default --link "$T/out1" || fail "dsfs export"
for d in images/train images/val labels/train labels/val coco; do
	diff -r "$T/copy1/$d" "$T/out1/$d" >/dev/null || fail "materialized $d differs"
done
grep -qx "path: $T/out1" "$T/out1/dataset.yaml" || fail "materialized dataset.yaml path"
g=$(ls "$T/out1/images/train" | head -1)
[ "$(stat -c %h "$T/out1/images/train/$g")" -ge 2 ] || fail "materialized image is not a hard link"
# Without --link, copies: a write to one (root may) leaves the store alone.
"$DSFS" --repo "$DS" -q export --version v1 --label-set default "$T/out2" || fail "dsfs export (copies)"
[ "$(stat -c %h "$T/out2/images/train/$g")" -eq 1 ] || fail "a copied image shares its inode"
diff -r "$T/out1" "$T/out2" | grep -v "^diff\|^[<>] path:\|^---\|^[0-9]" && fail "copies differ from links"
printf 'scribble' >> "$T/out2/images/train/$g"
cmp -s "$T/out1/images/train/$g" "$T/out2/images/train/$g" && fail "the write reached the store"
"$DSFS" fsck "$DS" >/dev/null || fail "fsck after writing to a copied export"

# Bad names: ENOENT, and the daemon keeps serving.
for bad in @v999 @nonsense @ @HEADX; do
	if ls "$M/$bad" >/dev/null 2>"$T/err"; then fail "$bad exists"; fi
	grep -q "No such file" "$T/err" || fail "$bad: $(cat "$T/err")"
done
# A corrupt manifest, committed and tagged with the git CLI.
bad=$(printf '# id\text\nnot-an-id\tjpg\t1\t1\t1\tx\ty\tz\n' | $GIT hash-object -w --stdin)
export GIT_INDEX_FILE="$T/index" GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
$GIT read-tree v2
$GIT update-index --cacheinfo "100644,$bad,images.tsv"
tree=$($GIT write-tree)
c3=$($GIT commit-tree "$tree" -p v2 -m "corrupt")
$GIT tag v3 "$c3"
unset GIT_INDEX_FILE
if ls "$M/@v3/images" >/dev/null 2>"$T/err"; then fail "corrupt @v3/images listed"; fi
grep -q "Input/output error" "$T/err" || fail "corrupt @v3: $(cat "$T/err")"
if cat "$M/@v3/exports/default/dataset.yaml" >/dev/null 2>&1; then fail "corrupt @v3 export read"; fi
grep -q "corrupt manifest images.tsv, line 2" "$T/daemon.log" || fail "reason not logged: $(tail -5 "$T/daemon.log")"
cmp "$f" "$DS/objects/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-4)/$id" || fail "daemon stopped serving @v1"
ls "$M/@v2/exports/default/labels/train" >/dev/null || fail "daemon stopped serving @v2"
umount_dsfs "$M"
if "$DSFS" --repo "$DS" fsck > "$T/fsck" 2>&1; then fail "fsck passed a corrupt version"; fi
grep -q "version v3: .*images.tsv, line 2" "$T/fsck" || fail "fsck output: $(cat "$T/fsck")"

# A deleted tag is a problem fsck names: a gap in v1..vN, or main left without a version.
note "fsck and deleted tags"
"$DSFS" init "$T/dt" >/dev/null
for k in 1 2 3; do
	"$DSFS" --repo "$T/dt" -q ingest "$T"/gen1/images/shape_00000$k.jpg
	"$DSFS" --repo "$T/dt" -q commit -m "v$k" || fail "commit $k"
done
"$DSFS" fsck "$T/dt" >/dev/null || fail "fsck of three versions"

# ctl/checkout: the mount's working tree becomes a version; uncommitted work is kept unless force=yes.
note "ctl/checkout"
mount_fg "$T/dt" "$T/mdt" "$T/dt.log"
echo "version=v1" > "$T/mdt/ctl/checkout" || fail "ctl/checkout v1: $(cat "$T/mdt/ctl/checkout")"
grep -q "^images: 1$" "$T/mdt/ctl/checkout" || fail "checkout outcome: $(cat "$T/mdt/ctl/checkout")"
[ "$(find "$T/mdt/images" -type f | wc -l)" -eq 1 ] || fail "images/ after checkout v1"
cp "$T/gen1/images/shape_000009.jpg" "$T/mdt/incoming/"
if echo "version=v3" > "$T/mdt/ctl/checkout"; then fail "checkout over an uncommitted image accepted"; fi
grep -q "uncommitted changes" "$T/mdt/ctl/checkout" || fail "refusal: $(cat "$T/mdt/ctl/checkout")"
[ "$(find "$T/mdt/images" -type f | wc -l)" -eq 2 ] || fail "a refused checkout changed images/"
echo "version=v3 force=yes" > "$T/mdt/ctl/checkout" || fail "checkout force=yes: $(cat "$T/mdt/ctl/checkout")"
[ "$(find "$T/mdt/images" -type f | wc -l)" -eq 3 ] || fail "images/ after checkout v3"
umount_dsfs "$T/mdt"
git --git-dir "$T/dt/git" tag -d v2 >/dev/null
if "$DSFS" fsck "$T/dt" > "$T/fsck" 2>&1; then fail "fsck passed a deleted v2 tag"; fi
grep -q "version v2: its tag is missing" "$T/fsck" || fail "fsck on a gap: $(cat "$T/fsck")"
git --git-dir "$T/dt/git" tag -d v3 >/dev/null
if "$DSFS" fsck "$T/dt" > "$T/fsck" 2>&1; then fail "fsck passed a deleted newest tag"; fi
grep -q "^main: commit .* is not a version" "$T/fsck" || fail "fsck on an untagged main: $(cat "$T/fsck")"
pass
