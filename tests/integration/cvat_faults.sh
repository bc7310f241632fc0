#!/bin/sh
# CVAT misbehaving: each failure leaves the dataset's labels exactly as
# they were and the job "failed" with the reason; transient 500s are
# retried; a 401 is not retried.  Runs `dsfs cvat` in the foreground.
# Running a batch again resumes its CVAT task (one task per batch, however
# many runs failed); a labeled batch is refused; a failed `size=N` run
# leaves no batch behind.
. "$(dirname "$0")/lib.sh"
setup
. "$(dirname "$0")/cvat_lib.sh"

cvat_dataset 45
fake_start --auto-annotate "$T/gen/instances_default.json" --auto-complete
cvat_config
"$DSFS" --repo "$T/ds" -q batch size=40 || fail "batch"

labels_digest() {
	python3 -c 'import hashlib,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(hashlib.sha1(repr((c.execute("select image_id,label_set,batch_id,source from labels order by 1,2").fetchall(), c.execute("select label_set,image_id,class_id,x_min,y_min,x_max,y_max from annotations order by 1,2,3,4,5,6,7").fetchall())).encode()).hexdigest())' "$T/ds/catalog.db"
}
log_len() { fake_hook GET /_fake/log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# requests LOG_START METHOD PATH_REGEX: how many such requests the fake saw since LOG_START.
requests() {
	fake_hook GET /_fake/log | python3 -c '
import json, re, sys
log = json.load(sys.stdin)[int(sys.argv[1]):]
print(sum(1 for r in log if r["method"] == sys.argv[2] and re.search(sys.argv[3], r["path"])))' "$@"
}
# expect_failure NAME REASON_REGEX ARGS...: dsfs cvat ARGS fails, the job is failed with the reason, labels unchanged.
expect_failure() {
	name=$1 reason=$2; shift 2
	before=$(labels_digest)
	if "$DSFS" --repo "$T/ds" cvat "$@" > "$T/$name.out" 2>&1; then
		cat "$T/$name.out"; fail "$name: dsfs cvat succeeded"
	fi
	grep -Eq "$reason" "$T/$name.out" || { cat "$T/$name.out"; fail "$name: no reason matching '$reason'"; }
	"$DSFS" --repo "$T/ds" jobs | tail -n 1 > "$T/$name.job"
	[ "$(cut -f 3 "$T/$name.job")" = failed ] || fail "$name: last job not failed: $(cat "$T/$name.job")"
	cut -f 6 "$T/$name.job" | grep -Eq "$reason" || fail "$name: job error: $(cat "$T/$name.job")"
	[ "$(labels_digest)" = "$before" ] || fail "$name: the labels changed"
	fake_hook DELETE /_fake/faults >/dev/null
	note "$name: failed cleanly: $(cut -f 6 "$T/$name.job")"
}

note "401: fails at once with the config key to fix"
start=$(log_len)
CVAT_TOKEN=wrong-token expect_failure e401 "cvat\.token" batch=latest
[ "$(requests "$start" GET '^/api/projects')" -le 1 ] || fail "a 401 was retried"

note "permanent 500: bounded retries, then failed"
fake_hook POST /_fake/faults '{"kind":"status","status":500,"count":-1,"path":"^/api/projects"}' >/dev/null
start=$(log_len)
expect_failure e500 "500" batch=latest
n=$(requests "$start" GET '^/api/projects')
[ "$n" -eq 4 ] || fail "expected 4 attempts (cvat.retries), saw $n"

note "garbage JSON while waiting"
fake_hook POST /_fake/faults '{"kind":"garbage","count":-1,"path":"^/api/jobs"}' >/dev/null
expect_failure garbage "JSON|json" batch=latest

note "a truncated export zip"
fake_hook POST /_fake/faults '{"kind":"truncated_zip","count":-1}' >/dev/null
expect_failure zip "archive|zip" batch=latest
[ "$(label_rows)" = "0 0" ] || fail "labels after the failures: $(label_rows)"

note "500 x3 then success: retried, the job completes"
fake_hook POST /_fake/faults '{"kind":"status","status":500,"count":3,"path":"^/api/jobs"}' >/dev/null
"$DSFS" --repo "$T/ds" cvat batch=latest > "$T/ok.out" 2>&1 || { cat "$T/ok.out"; fail "500 x3 then success failed"; }
grep -q "^state: imported" "$T/ok.out" || fail "$(cat "$T/ok.out")"
[ "$(label_rows | cut -d' ' -f1)" = 40 ] || fail "labels: $(label_rows)"
batch=$(sed -n 's/^batch_id: //p' "$T/ok.out")
# tasks NAME: how many tasks the fake has for batch NAME.
tasks() { fake_hook GET /_fake/state | python3 -c 'import json,sys; print(sum(t["name"] == sys.argv[1] for t in json.load(sys.stdin)["tasks"]))' "$1"; }
batch_row() { python3 -c 'import sqlite3,sys; print("|".join(map(str, sqlite3.connect(sys.argv[1]).execute("select state, cvat_task_id from batches where batch_id = ?", (sys.argv[2],)).fetchone())))' "$T/ds/catalog.db" "$1"; }
[ "$(tasks "$batch")" -eq 1 ] || fail "the re-runs after failures made $(tasks "$batch") CVAT tasks for $batch, not 1"
grep -q "^resumed_task: " "$T/ok.out" || fail "the re-run did not say it resumed the task: $(cat "$T/ok.out")"
row=$(batch_row "$batch")
case $row in labeled\|[0-9]*) ;; *) fail "batch row after the import: $row" ;; esac

note "a labeled batch is not sent to CVAT again"
if CVAT_TOKEN=$TOKEN "$DSFS" --repo "$T/ds" cvat --batch latest --wait no > "$T/again.out" 2>&1; then
	cat "$T/again.out"; fail "a labeled batch was sent again"
fi
grep -q "batch $batch is already labeled (state labeled, CVAT task ${row#labeled|})" "$T/again.out" || fail "$(cat "$T/again.out")"
grep -q "action=pull batch=$batch" "$T/again.out" || fail "no way on in: $(cat "$T/again.out")"
[ "$(tasks "$batch")" -eq 1 ] || fail "a labeled batch got a second task"
[ "$(batch_row "$batch")" = "$row" ] || fail "batch row $row -> $(batch_row "$batch")"

note "failed re-pulls leave the imported labels alone"
fake_hook POST /_fake/faults '{"kind":"garbage","count":-1,"path":"dataset/export"}' >/dev/null
expect_failure pull_garbage "JSON|json|unexpected" pull "batch=$batch"
fake_hook POST /_fake/faults '{"kind":"truncated_zip","count":-1}' >/dev/null
expect_failure pull_zip "archive|zip" pull "batch=$batch"
"$DSFS" --repo "$T/ds" cvat pull "batch=$batch" > "$T/repull.out" 2>&1 || { cat "$T/repull.out"; fail "re-pull"; }

note "failed size=5 runs leave no batch behind"
batches() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from batches").fetchone()[0], c.execute("select count(*) from batch_items").fetchone()[0])' "$T/ds/catalog.db"; }
nbatches=$(batches)
CVAT_TOKEN=wrong-token expect_failure new401 "cvat\.token" size=5
fake_hook POST /_fake/faults '{"kind":"status","status":500,"count":-1,"path":"^/api/projects"}' >/dev/null
expect_failure new500 "500" size=5
fake_hook POST /_fake/faults '{"kind":"garbage","count":-1,"path":"^/api/projects"}' >/dev/null
expect_failure newgarbage "JSON|json" size=5
fake_hook POST /_fake/faults '{"kind":"body","body":"[]","count":-1,"path":"^/api/projects"}' >/dev/null
expect_failure newbody "object" size=5
[ "$(batches)" = "$nbatches" ] || fail "batches, items: $nbatches -> $(batches)"
grep -q "was removed" "$T/newbody.out" || fail "no word of the removed batch: $(cat "$T/newbody.out")"
"$DSFS" --repo "$T/ds" cvat size=5 > "$T/new.out" 2>&1 || { cat "$T/new.out"; fail "size=5 after the failures"; }
grep -q "^progress: 5 images" "$T/new.out" || fail "the 5 images were not free: $(cat "$T/new.out")"

no_token "$T"/*.out
pass
