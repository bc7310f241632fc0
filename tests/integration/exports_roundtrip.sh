#!/bin/sh
# Batches, COCO import and the synthesized YOLO/COCO export, end to end
# through the mount: boxes equal the generator's, dataset.yaml resolves,
# split ratio and stability, Ultralytics' path rule, labels/ not writable,
# re-import identical, malformed import changes nothing, neither does a
# wrong file (no name in the batch, no categories, a duplicate name), a
# relative file= in ctl/import is refused, exclusions, empty batch
# selection is an error.
. "$(dirname "$0")/lib.sh"
setup

"$DSFS" init "$T/ds" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 300 --size 160x120 --seed 5 -q >/dev/null
"$DSFS" --repo "$T/ds" -q ingest "$T/gen/images" || fail "ingest"
mount_fg "$T/ds" "$T/mnt"
M=$T/mnt

echo "size=300" > "$M/ctl/batch" || fail "batch"
echo "file=$T/gen/instances_default.json batch=latest" > "$M/ctl/import" || fail "import"
grep -q "boxes: " "$M/ctl/import" || fail "import outcome: $(cat "$M/ctl/import")"

python3 - "$T" "$M" <<'PY' || fail "round trip"
import json, os, sys
t, m = sys.argv[1], sys.argv[2]
ex = f"{m}/exports/default"
coco = json.load(open(f"{t}/gen/instances_default.json"))
cats = {c["id"]: c["name"] for c in coco["categories"]}
truth = {}
for im in coco["images"]:
    truth[im["file_name"]] = (im["width"], im["height"], [])
byid = {im["id"]: im["file_name"] for im in coco["images"]}
for a in coco["annotations"]:
    truth[byid[a["image_id"]]][2].append((cats[a["category_id"]], a["bbox"]))
names = {}
for line in os.popen(f"{os.environ['DSFS']} --repo {t}/ds images"):
    f = line.split("\t"); names[f[0]] = f[5]
y = open(f"{ex}/dataset.yaml").read()
assert f"path: {ex}\n" in y and "train: images/train" in y and "nc: 3" in y, y
assert os.path.isdir(os.path.join(ex, "images/train")) and os.path.isdir(os.path.join(ex, "images/val"))
classes = ["rectangle", "ellipse", "triangle"]
n = {"train": 0, "val": 0}
for split in ("train", "val"):
    for img in os.listdir(f"{ex}/images/{split}"):
        n[split] += 1
        p = f"{ex}/images/{split}/{img}"
        # Ultralytics: label path = last /images/ -> /labels/, extension -> .txt
        lp = "/labels/".join(p.rsplit("/images/", 1)).rsplit(".", 1)[0] + ".txt"
        assert os.path.exists(lp), lp
        W, H, boxes = truth[names[img[:32]]]
        got = []
        for line in open(lp):
            c, cx, cy, w, h = line.split()
            got.append((classes[int(c)], float(cx), float(cy), float(w), float(h)))
        want = [(c, (b[0] + b[2] / 2) / W, (b[1] + b[3] / 2) / H, b[2] / W, b[3] / H) for c, b in boxes]
        assert len(got) == len(want), (img, got, want)
        for g, e in zip(sorted(got), sorted(want)):
            assert g[0] == e[0] and all(abs(a - b) <= 1e-6 for a, b in zip(g[1:], e[1:])), (img, g, e)
ratio = n["train"] / (n["train"] + n["val"])
assert n["train"] + n["val"] == 300 and abs(ratio - 0.8) <= 0.05, n
if os.access(f"{ex}/labels", os.W_OK) or os.access(f"{ex}/labels/train", os.W_OK):
    sys.exit("labels/ reads as writable")
for split in ("train", "val"):
    c = json.load(open(f"{ex}/coco/instances_{split}.json"))
    assert len(c["images"]) == n[split] and [x["name"] for x in c["categories"]] == classes
PY
python3 -c 'import os,sys; sys.exit(os.access(sys.argv[1], os.W_OK))' "$M/exports/default/labels" || fail "access(W_OK)"

note "dataset.yaml parses as YAML (Debian's python3-yaml) and its paths resolve"
/usr/bin/python3 - "$M/exports/default" <<'PY' || fail "dataset.yaml"
import os, sys, yaml
ex = sys.argv[1]
d = yaml.safe_load(open(f"{ex}/dataset.yaml"))
assert d["path"] == ex and d["nc"] == 3, d
assert d["names"] == {0: "rectangle", 1: "ellipse", 2: "triangle"}, d["names"]
for split in ("train", "val"):
    assert os.path.isdir(os.path.join(d["path"], d[split])), split
info = yaml.safe_load(open(f"{ex}/export_info.yaml"))
assert info["label_set"] == "default" and info["counts"]["images"]["total"] == 300, info
PY

note "re-import gives identical exports; a malformed file changes nothing"
snap() { (cd "$M/exports/default" && find . -type f | sort | while read -r f; do echo "$f $(cksum < "$f")"; done) > "$1"; }
snap "$T/s1"
echo "file=$T/gen/instances_default.json batch=latest" > "$M/ctl/import" || fail "re-import"
snap "$T/s2"
cmp "$T/s1" "$T/s2" || fail "re-import changed the export"
head -c 500 "$T/gen/instances_default.json" > "$T/bad.json"
if echo "file=$T/bad.json batch=latest" > "$M/ctl/import"; then fail "truncated COCO accepted"; fi
grep -q "error:" "$M/ctl/import" || fail "no reason: $(cat "$M/ctl/import")"
snap "$T/s3"
cmp "$T/s1" "$T/s3" || fail "a malformed import changed the export"

note "files that can only be a mistake change nothing; ctl/import wants an absolute path"
python3 - "$T" <<'PY' || fail "making wrong COCO files"
import json, sys
t = sys.argv[1]
def load():
    return json.load(open(f"{t}/gen/instances_default.json"))
c = load()  # another batch's export: no file_name is in the batch
for im in c["images"]:
    im["file_name"] = "other_" + im["file_name"]
json.dump(c, open(f"{t}/wrong.json", "w"))
c = load()  # categories lost while annotations still name them
c["categories"] = []
json.dump(c, open(f"{t}/nocat.json", "w"))
c = load()  # one image twice
c["images"].append(dict(c["images"][0], id=max(i["id"] for i in c["images"]) + 1))
json.dump(c, open(f"{t}/dup.json", "w"))
PY
for f in wrong:"no image of the file is in batch" nocat:"has a category of the file" dup:"duplicate file_name"; do
	why=${f#*:}; f=${f%%:*}
	if echo "file=$T/$f.json batch=latest" > "$M/ctl/import"; then fail "$f.json accepted: $(cat "$M/ctl/import")"; fi
	grep -q "^status: error" "$M/ctl/import" || fail "$f.json: no error: $(cat "$M/ctl/import")"
	grep -q "^error: $T/$f.json: .*$why" "$M/ctl/import" || fail "$f.json: the reason does not say '$why' of the file: $(cat "$M/ctl/import")"
	snap "$T/s4"
	cmp "$T/s1" "$T/s4" || fail "importing $f.json changed the export"
done
if "$DSFS" --repo "$T/ds" -q import-coco "$T/wrong.json" --batch latest 2>"$T/err"; then fail "dsfs import-coco accepted wrong.json"; fi
grep -q "wrong.json" "$T/err" || fail "import-coco reason: $(cat "$T/err")"
cp "$T/gen/instances_default.json" "$T/gen/rel.json"
# A path that resolves from both the writer's and the daemon's directory: still refused.
dcwd=$(readlink "/proc/$DAEMON_PID/cwd")
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$T/gen/rel.json" "$dcwd")
if (cd "$dcwd" && echo "file=$rel batch=latest" > "$M/ctl/import"); then fail "a relative file= accepted"; fi
grep -q "file= must be an absolute path: the mount does not know your working directory" "$M/ctl/import" ||
	fail "relative path reason: $(cat "$M/ctl/import")"
(cd "$T/gen" && "$DSFS" --repo "$T/ds" -q import-coco rel.json --batch latest) || fail "import-coco of a relative path"
snap "$T/s5"
cmp "$T/s1" "$T/s5" || fail "re-import from a relative path changed the export"

note "split stability: 100 new labeled images move no old one"
(cd "$M/exports/default/images" && find . -type f | sort) > "$T/before"
"$DSFS" gen-shapes "$T/gen2" --count 100 --size 160x120 --seed 77 -q >/dev/null
"$DSFS" --repo "$T/ds" -q ingest "$T/gen2/images" || fail "ingest 2"
"$DSFS" --repo "$T/ds" -q batch --size 100 || fail "batch 2"
"$DSFS" --repo "$T/ds" -q import-coco "$T/gen2/instances_default.json" --batch latest || fail "import 2"
(cd "$M/exports/default/images" && find . -type f | sort) > "$T/after"
[ "$(wc -l < "$T/after")" -eq 400 ] || fail "expected 400 exported images"
[ -z "$(comm -23 "$T/before" "$T/after")" ] || fail "an old image changed split"

note "exclusions and empty batches"
id=$(head -n 1 "$T/before" | sed 's|.*/||' | cut -c1-32)
echo "images=$id reason=blurry" > "$M/ctl/exclude" || fail "exclude"
[ "$(cd "$M/exports/default/images" && find . -type f | wc -l)" -eq 399 ] || fail "excluded image still exported"
if echo "size=5" > "$M/ctl/batch"; then fail "empty batch selection accepted"; fi
grep -q "no images to label" "$M/ctl/batch" || fail "empty batch reason: $(cat "$M/ctl/batch")"
if echo "bogus=1" > "$M/ctl/batch"; then fail "unknown key accepted"; fi
grep -q "bogus" "$M/ctl/batch" || fail "unknown key reason: $(cat "$M/ctl/batch")"

note "control files: one write is one command"
printf 'name=extra classes=a,b' > "$M/ctl/labelset" || fail "a line without a newline did not run"
grep -q "extra" "$M/ctl/labelset" || fail "labelset outcome: $(cat "$M/ctl/labelset")"
if printf 'size=1\nsize=2\n' > "$M/ctl/batch"; then fail "two lines in one write accepted"; fi
pass
