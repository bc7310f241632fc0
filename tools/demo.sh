#!/bin/sh
# make demo: a dataset in a local folder, synthetic images, a real mount,
# and a walk through every capability that exists so far.
set -eu
DSFS=${1:-build/tools/dsfs}
DSFS=$(cd "$(dirname "$DSFS")" && pwd)/$(basename "$DSFS")
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
run "cp '$W'/shapes/images/shape_00000*.jpg '$W/mnt/incoming/'"
run "echo 'not an image' > '$W/mnt/incoming/notes.jpg'"
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

say "8. consistency check"
run "'$DSFS' fsck '$W/ds'"

say "done"
echo "The dataset is mounted at $W/mnt; look around, then unmount with:"
echo "  $DSFS umount $W/mnt"
