#!/bin/sh
# A daemon killed (-9) while its job waits for the annotators: the job
# stays "waiting" in the catalog; the next mount resumes it (a new runner
# takes over the job of a dead process) and the job completes.
. "$(dirname "$0")/lib.sh"
setup
. "$(dirname "$0")/cvat_lib.sh"

cvat_dataset 20
fake_start --auto-annotate "$T/gen/instances_default.json"   # annotators finish only when told
cvat_config
mount_fg "$T/ds" "$T/mnt" "$T/daemon1.log"
M=$T/mnt

echo "size=20 commit=no" > "$M/ctl/cvat" || fail "ctl/cvat: $(cat "$M/ctl/cvat")"
id=$(job_field "$M/ctl/cvat" job_id)
wait_job "$M/ctl/jobs/$id" waiting
i=0
until grep -q "^progress: 0/1 jobs completed" "$M/ctl/jobs/$id"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no progress: $(cat "$M/ctl/jobs/$id")"; sleep 0.2
done
task=$(job_field "$M/ctl/jobs/$id" task_id)

note "kill -9 the daemon while job $id waits on task $task"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
fusermount3 -uz "$M" 2>/dev/null || true
"$DSFS" --repo "$T/ds" jobs "$id" > "$T/st"
[ "$(job_field "$T/st" state)" = waiting ] || fail "after the kill: $(cat "$T/st")"
[ "$(label_rows)" = "0 0" ] || fail "labels before completion: $(label_rows)"

note "the annotators finish while no daemon runs; remount"
fake_hook POST "/_fake/tasks/$task/complete" '{}' >/dev/null
mount_fg "$T/ds" "$M" "$T/daemon2.log"
wait_job "$M/ctl/jobs/$id" imported
cat "$M/ctl/jobs/$id"
grep -q "resumed in state waiting" "$T/daemon2.log" || fail "the second daemon did not say it resumed the job"
[ "$(job_field "$M/ctl/jobs/$id" task_id)" = "$task" ] || fail "the task changed"
check_boxes "$M/exports/default/labels"
umount_dsfs "$M"
no_token "$T"/daemon*.log
pass
