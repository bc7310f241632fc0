# Helpers for the CVAT pipeline tests (source after lib.sh and setup):
# a dataset of generated shapes, the fake CVAT server, dsfs.yaml's cvat section.

TOKEN="tok-$$-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export CVAT_TOKEN="$TOKEN"
command -v python3 >/dev/null || skip "no python3"

# cvat_dataset N: $T/ds with N generated 64x48 images ingested, classes of the generator.
cvat_dataset() {
	"$DSFS" init "$T/ds" >/dev/null
	"$DSFS" gen-shapes "$T/gen" --count "$1" --size 64x48 --seed 11 -q >/dev/null
	"$DSFS" --repo "$T/ds" -q ingest "$T/gen/images" || fail "ingest"
	"$DSFS" --repo "$T/ds" -q labelset classes=rectangle,ellipse,triangle || fail "labelset"
}

# fake_start [ARGS...]: the fake CVAT on a free port; sets FAKE_URL.  Killed by cleanup.
fake_start() {
	python3 "$FAKES/cvat_server.py" --port 0 --token "$TOKEN" "$@" >"$T/fake.port" 2>"$T/fake.log" &
	FAKE_PID=$!
	DAEMON_PIDS="$DAEMON_PIDS $FAKE_PID"
	i=0
	while [ ! -s "$T/fake.port" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the fake CVAT server did not start"
		sleep 0.05
	done
	FAKE_URL="http://127.0.0.1:$(head -n 1 "$T/fake.port")"
}

# cvat_config: point dsfs.yaml at the fake (1 s polls, short retry backoff).
cvat_config() {
	cat >>"$T/ds/dsfs.yaml" <<YAML
cvat:
  url: $FAKE_URL
  project: shapes
  auth: bearer
  token_env: CVAT_TOKEN
  poll_interval: 1
  retries: 4
  retry_base_ms: 100
  retry_max_ms: 400
YAML
}

# fake_hook METHOD PATH [JSON]: call a /_fake/ hook; prints the answer.
fake_hook() {
	python3 - "$FAKE_URL" "$@" <<'PY'
import sys, urllib.request
url, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
body = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(url + path, data=body, method=method,
                             headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode())
PY
}

# job_field FILE KEY: the value of "KEY: value" in a status file.
job_field() { sed -n "s/^$2: //p" "$1" | head -n 1; }

# wait_job STATUS_FILE STATE...: until the job is in one of STATEs (bounded: 90 s).
wait_job() {
	f=$1; shift
	i=0
	while :; do
		s=$(job_field "$f" state 2>/dev/null || true)
		for want in "$@"; do [ "$s" = "$want" ] && return 0; done
		[ "$s" = failed ] && fail "job failed: $(job_field "$f" error)"
		i=$((i + 1))
		[ $i -lt 450 ] || fail "job stuck in state '$s' (wanted $*): $(cat "$f")"
		sleep 0.2
	done
}

# check_boxes LABELS_DIR: YOLO labels under LABELS_DIR/{train,val} equal the generator's boxes.
check_boxes() {
	python3 - "$T" "$1" <<'PY' || fail "labels differ from the generator's boxes"
import json, os, sys
t, labels = sys.argv[1], sys.argv[2]
coco = json.load(open(f"{t}/gen/instances_default.json"))
cats = {c["id"]: c["name"] for c in coco["categories"]}
truth = {im["file_name"]: (im["width"], im["height"], []) for im in coco["images"]}
byid = {im["id"]: im["file_name"] for im in coco["images"]}
for a in coco["annotations"]:
    truth[byid[a["image_id"]]][2].append((cats[a["category_id"]], a["bbox"]))
names = {}
for line in os.popen(f"{os.environ['DSFS']} --repo {t}/ds images"):
    f = line.split("\t"); names[f[0]] = f[5]
classes = ["rectangle", "ellipse", "triangle"]
seen = 0
for split in ("train", "val"):
    d = os.path.join(labels, split)
    for fn in os.listdir(d):
        seen += 1
        W, H, boxes = truth[names[fn[:32]]]
        got = []
        for line in open(os.path.join(d, fn)):
            c, cx, cy, w, h = line.split()
            got.append((classes[int(c)], float(cx), float(cy), float(w), float(h)))
        want = [(c, (b[0] + b[2] / 2) / W, (b[1] + b[3] / 2) / H, b[2] / W, b[3] / H) for c, b in boxes]
        assert len(got) == len(want), (fn, got, want)
        for g, e in zip(sorted(got), sorted(want)):
            assert g[0] == e[0] and all(abs(a - b) <= 1e-6 for a, b in zip(g[1:], e[1:])), (fn, g, e)
assert seen == len(truth), (seen, len(truth))
print(f"{seen} label files match the generator")
PY
}

# label_rows: "labels annotations" row counts of the catalog.
label_rows() {
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from labels").fetchone()[0], c.execute("select count(*) from annotations").fetchone()[0])' "$T/ds/catalog.db"
}

# no_token: the secret appears nowhere under the dataset (catalog, git, dsfs.log, ...) nor in LOGS.
no_token() {
	if grep -rl -a -- "$TOKEN" "$T/ds" "$@" 2>/dev/null; then fail "the CVAT token leaked into the files above"; fi
}
