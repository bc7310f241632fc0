#!/bin/sh
# Versions benchmark: with N images (default 50,000), all labeled:
#   - time to commit v1 (manifests from the catalog -> git objects -> tag),
#     and a second commit after one exclusion;
#   - time from mount to the first complete
#     `ls @v1/exports/default/labels/train | wc -l` (cold: the version's
#     manifests are read from git and parsed, the export index is built);
#   - materializing v1's YOLO export: `dsfs export --version v1` (hard
#     links) vs `cp -r` of the same export out of the mount, and vs `cp -r`
#     of the materialized directory (native to native).
# Usage: bench/bench-versions.sh [N] [WxH]   (DSFS=path/to/dsfs, default build/tools/dsfs)
set -eu
N=${1:-50000}
SIZE=${2:-32x32}
DSFS=${DSFS:-$(cd "$(dirname "$0")/.." && pwd)/build/tools/dsfs}
T=$(mktemp -d /tmp/dsfs-bench-versions.XXXXXX)
M=$T/mnt
cleanup() {
	fusermount3 -u "$M" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
say() { printf '%-58s %s\n' "$1" "$2"; }

echo "dsfs versions benchmark: $N images ($SIZE), $(nproc) cores, $T"
"$DSFS" init "$T/ds" >/dev/null
t0=$(now)
"$DSFS" gen-shapes "$T/gen" --count "$N" --size "$SIZE" --seed 11 -q >/dev/null
t1=$(now)
"$DSFS" --repo "$T/ds" -q ingest "$T/gen/images"
t2=$(now)
"$DSFS" --repo "$T/ds" -q batch --size "$N"
"$DSFS" --repo "$T/ds" -q import-coco "$T/gen/instances_default.json" --batch latest
t3=$(now)
say "setup: generate / ingest / batch+import (s)" "$(secs "$t0" "$t1") / $(secs "$t1" "$t2") / $(secs "$t2" "$t3")"
boxes=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['annotations']))" "$T/gen/instances_default.json")
say "annotations" "$boxes"

sync
t0=$(now)
"$DSFS" --repo "$T/ds" -q commit -m "bench v1"
t1=$(now)
say "commit v1 (s)" "$(secs "$t0" "$t1")"
id=$("$DSFS" --repo "$T/ds" images | head -1 | cut -f1)
"$DSFS" --repo "$T/ds" -q exclude "$id" --reason bench
t0=$(now)
"$DSFS" --repo "$T/ds" -q commit -m "bench v2"
t1=$(now)
say "commit v2 (one exclusion later) (s)" "$(secs "$t0" "$t1")"
say "git directory size" "$(du -sh "$T/ds/git" | cut -f1)"

# Cold: drop the page cache if allowed, so git objects are read from disk.
sync
echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
mkdir -p "$M"
t0=$(now)
"$DSFS" mount "$T/ds" "$M"
n=$(ls "$M/@v1/exports/default/labels/train" | wc -l)
t1=$(now)
say "mount -> first ls @v1/exports/default/labels/train | wc -l (s)" "$(secs "$t0" "$t1")  ($n files)"
t0=$(now)
n=$(ls "$M/@v1/exports/default/labels/train" | wc -l)
t1=$(now)
say "second ls (cached) (s)" "$(secs "$t0" "$t1")"
t0=$(now)
n=$(ls "$M/@v2/exports/default/labels/train" | wc -l)
t1=$(now)
say "first ls of @v2 in the same mount (s)" "$(secs "$t0" "$t1")  ($n files)"

t0=$(now)
"$DSFS" --repo "$T/ds" -q export --version v1 --label-set default "$T/export"
t1=$(now)
say "dsfs export --version v1 (hard links) (s)" "$(secs "$t0" "$t1")"
t0=$(now)
cp -r "$M/@v1/exports/default" "$T/cp-mount"
t1=$(now)
say "cp -r @v1/exports/default out of the mount (s)" "$(secs "$t0" "$t1")"
t0=$(now)
cp -r "$T/export" "$T/cp-native"
t1=$(now)
say "cp -r of the materialized export (native) (s)" "$(secs "$t0" "$t1")"
diff -r "$T/export/labels" "$T/cp-mount/labels" >/dev/null && echo "check: materialized labels == mount's labels"
fusermount3 -u "$M"
