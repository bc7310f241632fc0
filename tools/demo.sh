#!/bin/sh
# make demo: a dataset in a local folder, synthetic images, a real mount,
# and a walk through every capability that exists so far.
set -eu
DSFS=${1:-build/tools/dsfs}
DSFS=$(cd "$(dirname "$DSFS")" && pwd)/$(basename "$DSFS")
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=${DEMO_DIR:-$PWD/demo}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*"; }

fusermount3 -u "$W/mnt" 2>/dev/null || true
rm -rf "$W"
mkdir -p "$W/mnt"
export DSFS_REPO="$W/ds"

say "1. create a dataset and synthetic images (shapes with true boxes)"
run "'$DSFS' init '$W/ds'"
run "'$DSFS' gen-shapes '$W/shapes' --count 60 --size 320x240 --seed 1"

say "2. mount it"
run "'$DSFS' mount '$W/ds' '$W/mnt'"
run "ls '$W/mnt'"

say "3. ingest: copy images into incoming/ (and one bad file)"
echo "incoming is a link to a real directory: uploads are written at disk speed, and"
echo "each file is ingested in the background when its writer closes it"
run "ls -l '$W/mnt' | grep incoming"
run "cp '$W'/shapes/images/shape_00000*.jpg '$W/mnt/incoming/'"
run "echo 'not an image' > '$W/mnt/incoming/notes.jpg'"
echo "(listing any directory of the mount first ingests every upload closed before it)"
run "ls '$W/mnt/images' | head -n 3"
run "ls '$W/mnt/incoming/.rejected/' && cat '$W/mnt/incoming/.rejected/notes.jpg.reason'"
say "   ...or from the command line, while mounted"
run "'$DSFS' ingest '$W/shapes/images'" || true
run "head -n 5 '$W/mnt/README'"
run "find '$W/mnt/images' -type f | head -n 3"

say "4. a labeling batch (ctl/batch)"
run "echo 'label_set=default size=60 order=oldest' > '$W/mnt/ctl/batch'"
run "cat '$W/mnt/ctl/batch'"
run "ls '$W/mnt/batches/'*/ && head -n 3 '$W/mnt/batches/'*/manifest.tsv && cat '$W/mnt/batches/'*/info.yaml"

say "5. import the annotations (COCO 1.0, as CVAT exports them)"
run "echo 'file=$W/shapes/instances_default.json batch=latest' > '$W/mnt/ctl/import'"
run "cat '$W/mnt/ctl/import'"

say "6. the synthesized YOLO export: point any YOLO tool at dataset.yaml"
run "cat '$W/mnt/exports/default/dataset.yaml'"
run "ls '$W/mnt/exports/default/labels/train' | head -n 3"
run "f=\$(ls '$W/mnt/exports/default/labels/train' | head -n 1); cat '$W/mnt/exports/default/labels/train/'\$f"
run "sed -n '1,14p' '$W/mnt/exports/default/export_info.yaml'"
run "ls -l '$W/mnt/exports/default/coco/'"

say "7. exclusions leave batches and exports"
id=$(ls "$W/mnt/exports/default/labels/train" | head -n 1 | cut -c1-32)
run "echo 'images=$id reason=blurry' > '$W/mnt/ctl/exclude'"
run "grep -A3 'images:' '$W/mnt/exports/default/export_info.yaml'"

say "8. commit a version (ctl/commit) and look at it: @v1 is read-only and never changes"
run "echo 'message=first labels from the generator' > '$W/mnt/ctl/commit'"
run "cat '$W/mnt/ctl/commit'"
run "ls '$W/mnt'"
run "cat '$W/mnt/@v1/VERSION'"
run "head -n 3 '$W/mnt/@v1/exports/default/dataset.yaml'"
run "git --git-dir '$W/ds/git' log --oneline --decorate"

say "9. the labeling pipeline with CVAT (a fake CVAT server started here: tests/fakes/cvat_server.py)"
export DEMO_CVAT_TOKEN="demo-token-$$"
"$DSFS" -q gen-shapes "$W/more" --count 20 --size 320x240 --seed 2 >/dev/null
python3 "$SRC/tests/fakes/cvat_server.py" --port 0 --token "$DEMO_CVAT_TOKEN" \
	--auto-annotate "$W/more/instances_default.json" --auto-complete >"$W/fake.port" 2>"$W/fake.log" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
while [ ! -s "$W/fake.port" ]; do sleep 0.1; done
cat >>"$W/ds/dsfs.yaml" <<YAML
cvat:
  url: http://127.0.0.1:$(head -n 1 "$W/fake.port")
  project: shapes
  auth: bearer
  token_env: DEMO_CVAT_TOKEN
  poll_interval: 1
YAML
echo "(dsfs.yaml now has a cvat: section; the token comes from \$DEMO_CVAT_TOKEN, never from the file)"
run "cp '$W'/more/images/*.jpg '$W/mnt/incoming/'"
say "   the daemon reads dsfs.yaml at mount time: remount to pick up the cvat section"
run "'$DSFS' umount '$W/mnt' && '$DSFS' mount '$W/ds' '$W/mnt'"
run "echo 'label_set=default size=20 wait=yes commit=yes' > '$W/mnt/ctl/cvat'"
run "cat '$W/mnt/ctl/cvat'"
job=$(sed -n 's/^job_id: //p' "$W/mnt/ctl/cvat")
i=0
until grep -qE '^state: (committed|failed)' "$W/mnt/ctl/jobs/$job" || [ $i -ge 120 ]; do sleep 1; i=$((i + 1)); done
run "cat '$W/mnt/ctl/jobs/$job'"
run "'$DSFS' log"
run "'$DSFS' diff v1 v2"

say "10. a version as a real directory, for tools that cannot read a mount"
run "'$DSFS' export --version v1 --label-set default '$W/export-v1' && ls '$W/export-v1'"

say "11. share it: push to a directory remote, clone it (the clone has the working state; blobs come on first read)"
run "'$DSFS' remote add origin '$W/remote' && '$DSFS' push"
run "'$DSFS' clone '$W/remote' '$W/clone' && '$DSFS' --repo '$W/clone' images | wc -l && '$DSFS' --repo '$W/clone' log"
run "'$DSFS' --repo '$W/clone' commit -m 'nothing new' || true"

say "12. the training engine (Vulkan compute; lavapipe here): a quick benchmark"
run "'$DSFS' bench-ops --quick --reps 1" || echo "(no Vulkan device: skipped)"

say "13. consistency check"
run "'$DSFS' fsck '$W/ds'"

say "done"
echo "The dataset is mounted at $W/mnt; look around, then unmount with:"
echo "  $DSFS umount $W/mnt"
