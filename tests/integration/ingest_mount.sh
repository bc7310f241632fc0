#!/bin/sh
# Ingest through the mount with cp and rsync; every image listed once and
# byte-identical; dimensions recorded; bad files rejected but kept; the
# read-only tree refuses writes (also to access(W_OK) as root); 8 readers
# run while an ingest is in progress.  dsfs ingest: a rejection told once
# with a reason that says what is wrong, libpng silent, the dataset's own
# directory refused or skipped, a FIFO or /dev/null an error.
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
python3 - "$T" "$M" <<'PY' || fail "byte-compare / dimensions"
import filecmp, os, sys
t, m = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(f"{t}/images.tsv")]
if len(rows) != 220:
    sys.exit(f"catalog holds {len(rows)} rows, expected 220")
for id_, ext, nbytes, w, h, name, src, at in rows:
    if name.startswith("shape_"):
        f, ew, eh = f"{t}/gen/images/{name}", 320, 240
    else:
        k = int(name[1:-4])
        f, ew, eh = f"{t}/png/{name}", 16 + k, 9 + k
    mp = f"{m}/images/{id_[:2]}/{id_[2:4]}/{id_}.{ext}"
    if not filecmp.cmp(f, mp, shallow=False):
        sys.exit(f"{name} differs through the mount")
    if (int(w), int(h)) != (ew, eh):
        sys.exit(f"{name}: dims {w}x{h}, expected {ew}x{eh}")
    if int(nbytes) != os.path.getsize(f) or os.path.getsize(mp) != int(nbytes):
        sys.exit(f"{name}: size {nbytes}")
    if src != "incoming":
        sys.exit(f"{name}: source {src!r}")
PY

note "rejected files are kept with a reason"
echo "just text" > "$M/incoming/x.jpg"
: > "$M/incoming/empty.jpg"
head -c 3000 "$T/gen/images/shape_000005.jpg" > "$M/incoming/trunc.jpg"
ls "$M/images" >/dev/null # listing waits for every upload closed so far
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
# The kernel opens files without asking the mount ("no open"), so the
# refusal comes at write(2); the cached bytes must stay the original ones.
before = open(img, "rb").read()
fd = os.open(img, os.O_WRONLY)
expect_erofs(lambda: os.write(fd, b"overwrite"), "write to an image")
os.close(fd)
fd = os.open(img, os.O_WRONLY | os.O_APPEND)
expect_erofs(lambda: os.write(fd, b"more"), "append to an image")
os.close(fd)
expect_erofs(lambda: open(img, "wb"), "open an image with O_TRUNC")
if open(img, "rb").read() != before:
    sys.exit("a refused write changed what the image reads as")
expect_erofs(lambda: os.mkdir(os.path.join(m, "images", "d")), "mkdir in images/")
expect_erofs(lambda: os.unlink(img), "unlink an image")
expect_erofs(lambda: os.truncate(img, 0), "truncate an image")
expect_erofs(lambda: os.symlink("/tmp", os.path.join(m, "lnk")), "symlink in the root")
expect_erofs(lambda: os.symlink("/tmp", os.path.join(m, "ctl", "lnk")), "symlink in ctl/")
expect_erofs(lambda: os.link(img, os.path.join(m, "hard")), "hard link to an image")
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
python3 - "$T/list" <<'PY' || fail "parallel readers"
import hashlib, sys, threading
paths = [l.strip() for l in open(sys.argv[1])]
def digest():
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()
results = [None] * 8
def reader(i):
    results[i] = digest()
threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
for th in threads: th.start()
for th in threads: th.join()
quiet = digest()
if any(r != quiet for r in results):
    sys.exit("a reader saw other bytes")
PY
wait $cpid || fail "cp during reads failed"
n=$(find "$M/images" -type f | wc -l)
[ "$n" -eq 280 ] || fail "expected 280 images after the concurrent ingest, found $n"

umount_dsfs "$M"

note "dsfs ingest: each rejection told once, libpng quiet, reasons that say what is wrong"
python3 - "$T/png/p3.png" "$T/cli" <<'PY'
import os, struct, sys, zlib
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
b = bytearray(open(src, "rb").read())
i = b.index(b"IDAT")
b[i + 3] = ord("[")
open(f"{out}/badtype.png", "wb").write(b)
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
open(f"{out}/noidat.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
open(f"{out}/nosof.jpg", "wb").write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")
PY
"$DSFS" --repo "$T/ds" ingest "$T/cli" >/dev/null 2>"$T/err" && fail "ingest of bad files exited 0"
grep -q libpng "$T/err" && fail "libpng wrote to stderr: $(cat "$T/err")"
for f in badtype.png noidat.png nosof.jpg; do
	[ "$(grep -c "$f" "$T/err")" -eq 1 ] || fail "$f not reported exactly once: $(cat "$T/err")"
done
grep badtype.png "$T/err" | grep -q "corrupt PNG data" || fail "badtype.png: $(cat "$T/err")"
grep noidat.png "$T/err" | grep -q "PNG without image data" || fail "noidat.png: $(cat "$T/err")"
grep nosof.jpg "$T/err" | grep -q "JPEG without a frame header" || fail "nosof.jpg: $(cat "$T/err")"

note "dsfs ingest never reads the dataset itself"
ls -A "$T/ds" "$T/ds/rejected" > "$T/before"
( cd "$T/ds" && "$DSFS" ingest . ) >/dev/null 2>"$T/err" && fail "ingest . in the dataset exited 0"
grep -q "inside the dataset" "$T/err" || fail "ingest .: $(cat "$T/err")"
"$DSFS" --repo "$T/ds" ingest "$T/ds/rejected" "$T/ds/catalog.db" >/dev/null 2>"$T/err" && fail "ingest of DIR/rejected exited 0"
[ "$(grep -c "inside the dataset" "$T/err")" -eq 2 ] || fail "ingest DIR/...: $(cat "$T/err")"
mkdir "$T/walk"
cp "$T/png/p4.png" "$T/walk/"
ln -s "$T/ds" "$T/walk/ds-link"
"$DSFS" --repo "$T/ds" ingest "$T/walk" >/dev/null 2>"$T/err" || fail "a walk past a link to the dataset failed: $(cat "$T/err")"
grep -q "skipped $T/walk/ds-link: inside the dataset" "$T/err" || fail "walk: $(cat "$T/err")"
ls -A "$T/ds" "$T/ds/rejected" > "$T/after"
diff "$T/before" "$T/after" || fail "ingest inside the dataset changed it"

note "dsfs ingest of a FIFO or a device: an error, not a silent success"
mkfifo "$T/fifo"
"$DSFS" --repo "$T/ds" ingest /dev/null "$T/fifo" >/dev/null 2>"$T/err" && fail "ingest /dev/null FIFO exited 0"
[ "$(grep -c "not a regular file or directory" "$T/err")" -eq 2 ] || fail "/dev/null, FIFO: $(cat "$T/err")"

"$DSFS" fsck "$T/ds" >/dev/null || fail "fsck after the test"
pass
