#!/bin/sh
# The labeling pipeline end to end on the fake CVAT: one line to ctl/cvat
# makes a batch, a task, waits for the (auto-completing) annotators, pulls
# COCO, imports and commits; the exported labels equal the generator's
# boxes; info.yaml has the task id; a re-pull changes nothing (and
# commits no new version); the token
# appears nowhere in the dataset or the log.
. "$(dirname "$0")/lib.sh"
setup
. "$(dirname "$0")/cvat_lib.sh"

cvat_dataset 40
fake_start --auto-annotate "$T/gen/instances_default.json" --auto-complete
cvat_config
mount_bg "$T/ds" "$T/mnt"
M=$T/mnt

echo "label_set=default size=40 wait=yes commit=yes" > "$M/ctl/cvat" || fail "ctl/cvat: $(cat "$M/ctl/cvat")"
cat "$M/ctl/cvat"
id=$(job_field "$M/ctl/cvat" job_id)
batch=$(job_field "$M/ctl/cvat" batch_id)
[ -n "$id" ] && [ -n "$batch" ] || fail "no job id: $(cat "$M/ctl/cvat")"
ls "$M/ctl/jobs" | grep -qx "$id" || fail "ctl/jobs/ does not list job $id"
wait_job "$M/ctl/jobs/$id" committed
cat "$M/ctl/jobs/$id"
task=$(job_field "$M/ctl/jobs/$id" task_id)
[ -n "$task" ] || fail "no task id in the job"
grep -q "^cvat_task_id: $task\$" "$M/batches/$batch/info.yaml" || fail "info.yaml: $(cat "$M/batches/$batch/info.yaml")"
grep -q "^progress: v1\$" "$M/ctl/jobs/$id" || grep -q "version: v1" "$M/ctl/jobs/$id" || fail "no v1"
for s in task_created waiting pulling imported committed; do
	grep -q "^  ${s}_at: " "$M/ctl/jobs/$id" || fail "no timestamp for $s"
done

note "the exported labels are the generator's boxes"
if [ -d "$M/@v1/exports/default/labels" ]; then
	check_boxes "$M/@v1/exports/default/labels"
else
	note "no @v1/ in the mount yet: checking the working tree and the v1 tag"
	check_boxes "$M/exports/default/labels"
fi
git --git-dir "$T/ds/git" tag | grep -qx v1 || fail "no tag v1"

note "dsfs cvat pull re-pulls idempotently"
snap() { (cd "$M/exports/default" && find . -type f | sort | while read -r f; do echo "$f $(cksum < "$f")"; done) > "$1"; }
snap "$T/s1"
rows1=$(label_rows)
"$DSFS" --repo "$T/ds" cvat pull "batch=$batch" > "$T/pull.out" 2>&1 || { cat "$T/pull.out"; fail "pull"; }
grep -q "^state: imported" "$T/pull.out" || fail "pull: $(cat "$T/pull.out")"
[ "$(label_rows)" = "$rows1" ] || fail "pull changed the label rows: $rows1 -> $(label_rows)"
sleep 0.5   # the mount notices the catalog change (not asserted on timing: the export is identical anyway)
snap "$T/s2"
cmp "$T/s1" "$T/s2" || fail "a re-pull changed the export"

note "a re-pull with commit=yes: the same labels, so no new version"
"$DSFS" --repo "$T/ds" cvat pull "batch=$batch" commit=yes > "$T/pull2.out" 2>&1 || { cat "$T/pull2.out"; fail "pull commit=yes"; }
grep -q "^state: committed" "$T/pull2.out" || fail "pull commit=yes: $(cat "$T/pull2.out")"
[ "$(git --git-dir "$T/ds/git" tag | wc -l)" -eq 1 ] || fail "a re-pull made a new version: $(git --git-dir "$T/ds/git" tag)"
"$DSFS" --repo "$T/ds" jobs | tail -n 1 | cut -f 1 | xargs "$DSFS" --repo "$T/ds" jobs | grep -q "commit: nothing to commit" ||
	fail "no note about the unchanged version"

umount_dsfs "$M"
no_token
pass
