#!/bin/sh
# Ingest through the mount with cp and rsync; every image listed once and
# byte-identical; dimensions recorded; bad files rejected but kept; the
# read-only tree refuses writes (also to access(W_OK) as root); 8 readers
# run while an ingest is in progress.
. "$(dirname "$0")/lib.sh"
setup

"$DSFS" init "$T/ds" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 200 --size 320x240 --seed 7 -q >/dev/null
mkdir -p "$T/png"
i=0
while [ $i -lt 20 ]; do make_png "$T/png/p$i.png" $((16 + i)) $((9 + i)); i=$((i + 1)); done
mount_fg "$T/ds" "$T/mnt"
M=$T/mnt

note "cp 100 JPEGs + 10 PNGs, rsync the rest"
mkdir -p "$T/cp" "$T/rs"
ls "$T/gen/images" | head -n 100 | while read -r f; do ln "$T/gen/images/$f" "$T/cp/$f"; done
ls "$T/gen/images" | tail -n +101 | while read -r f; do ln "$T/gen/images/$f" "$T/rs/$f"; done
cp "$T"/cp/*.jpg "$T"/png/p?.png "$M/incoming/"
ln "$T"/png/p1?.png "$T/rs/"
rsync -a "$T/rs/" "$M/incoming/" || fail "rsync into incoming/ failed"

n=$(find "$M/images" -type f | wc -l)
[ "$n" -eq 220 ] || { "$DSFS" --repo "$T/ds" images | cut -f6 | sort > "$T/names"; ls "$T/gen/images" "$T/png" | grep -E "jpg|png" | sort > "$T/want"; diff "$T/want" "$T/names" | head; ls -la "$M/incoming" "$M/incoming/.rejected"; fail "expected 220 images under images/, found $n"; }
dups=$(find "$M/images" -type f -printf '%f\n' | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups image names listed twice"
ls "$M/incoming" | grep -v '^\.' && fail "incoming/ still lists files after close"

note "byte-compare and dimensions"
"$DSFS" --repo "$T/ds" images > "$T/images.tsv"
while IFS="$(printf '\t')" read -r id ext bytes w h name src at; do
	a=$(printf %s "$id" | cut -c1-2); b=$(printf %s "$id" | cut -c3-4)
	case $name in
	shape_*) f="$T/gen/images/$name"; ew=320; eh=240 ;;
	p*.png) f="$T/png/$name"; k=${name#p}; k=${k%.png}; ew=$((16 + k)); eh=$((9 + k)) ;;
	*) fail "unexpected name $name" ;;
	esac
	cmp "$f" "$M/images/$a/$b/$id.$ext" || fail "$name differs through the mount"
	[ "$w" -eq "$ew" ] && [ "$h" -eq "$eh" ] || fail "$name: dims ${w}x$h, expected ${ew}x$eh"
	[ "$bytes" -eq "$(stat -c %s "$f")" ] || fail "$name: size $bytes"
	[ "$src" = incoming ] || fail "$name: source '$src'"
done < "$T/images.tsv"
[ "$(wc -l < "$T/images.tsv")" -eq 220 ] || fail "catalog does not hold 220 rows"

note "rejected files are kept with a reason"
echo "just text" > "$M/incoming/x.jpg"
: > "$M/incoming/empty.jpg"
head -c 3000 "$T/gen/images/shape_000005.jpg" > "$M/incoming/trunc.jpg"
for f in x.jpg empty.jpg trunc.jpg; do
	[ -f "$M/incoming/.rejected/$f" ] || fail "$f not under incoming/.rejected/"
	[ -s "$M/incoming/.rejected/$f.reason" ] || fail "$f has no reason"
done
grep -q "not a JPEG or PNG" "$M/incoming/.rejected/x.jpg.reason" || fail "x.jpg reason: $(cat "$M/incoming/.rejected/x.jpg.reason")"
grep -q "empty" "$M/incoming/.rejected/empty.jpg.reason" || fail "empty reason"
grep -q "truncated" "$M/incoming/.rejected/trunc.jpg.reason" || fail "trunc reason"
[ "$(cat "$M/incoming/.rejected/x.jpg")" = "just text" ] || fail "rejected bytes changed"
cmp "$M/incoming/.rejected/trunc.jpg" "$T/ds/rejected/trunc.jpg" || fail "rejected copy differs"
n=$(find "$M/images" -type f | wc -l)
[ "$n" -eq 220 ] || fail "a rejected file became an image"

note "the read-only tree refuses writes"
some=$(find "$M/images" -type f | head -n 1)
python3 - "$M" "$some" <<'PY' || fail "write checks"
import errno, os, sys
m, img = sys.argv[1], sys.argv[2]
def expect_erofs(fn, what):
    try:
        fn()
    except OSError as e:
        if e.errno != errno.EROFS:
            sys.exit(f"{what}: errno {e.errno}, expected EROFS")
        return
    sys.exit(f"{what}: succeeded")
expect_erofs(lambda: open(os.path.join(m, "images", "new.jpg"), "wb"), "create in images/")
expect_erofs(lambda: open(img, "r+b"), "open image for writing")
expect_erofs(lambda: os.mkdir(os.path.join(m, "images", "d")), "mkdir in images/")
expect_erofs(lambda: os.unlink(img), "unlink an image")
expect_erofs(lambda: os.truncate(img, 0), "truncate an image")
for p in ("images", os.path.dirname(img), img, "README"):
    if os.access(os.path.join(m, p), os.W_OK):
        sys.exit(f"access({p}, W_OK) granted")
if not os.access(os.path.join(m, "incoming"), os.W_OK):
    sys.exit("incoming/ should be writable")
PY

note "8 parallel readers while an ingest runs"
find "$M/images" -type f > "$T/list"
mkdir -p "$T/more"
"$DSFS" gen-shapes "$T/more" --count 60 --size 320x240 --seed 99 -q >/dev/null
( cp "$T"/more/images/*.jpg "$M/incoming/" ) &
cpid=$!
pids=
for r in 1 2 3 4 5 6 7 8; do
	( while read -r f; do cat "$f"; done < "$T/list" | cksum > "$T/r$r" ) &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a reader failed"; done
wait $cpid || fail "cp during reads failed"
first=$(cat "$T/r1")
for r in 2 3 4 5 6 7 8; do [ "$(cat "$T/r$r")" = "$first" ] || fail "reader $r saw other bytes"; done
expect=$(while read -r f; do cat "$f"; done < "$T/list" | cksum)
[ "$first" = "$expect" ] || fail "readers' bytes differ from a quiet read"
n=$(find "$M/images" -type f | wc -l)
[ "$n" -eq 280 ] || fail "expected 280 images after the concurrent ingest, found $n"

umount_dsfs "$M"
"$DSFS" fsck "$T/ds" >/dev/null || fail "fsck after the test"
pass
