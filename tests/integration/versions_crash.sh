#!/bin/sh
# Commit atomicity: kill -9 the daemon while it commits 5,000 images
# (ctl/commit), several times at different moments.  Afterwards there is
# either no new tag or a complete one (its manifests parse, it lists all
# images, the catalog row is repaired by `dsfs log`), main points at the
# newest tag, and `dsfs fsck` (which also checks every blob each version
# names) passes.
. "$(dirname "$0")/lib.sh"
setup
command -v git >/dev/null || skip "no git CLI"

DS=$T/ds
M=$T/mnt
GIT="git --git-dir=$DS/git"
N=5000
"$DSFS" init "$DS" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count $N --size 32x32 --seed 7 -q >/dev/null
"$DSFS" --repo "$DS" -q ingest "$T/gen/images" || fail "ingest"
"$DSFS" --repo "$DS" -q batch --size $N || fail "batch"
"$DSFS" --repo "$DS" -q import-coco "$T/gen/instances_default.json" --batch latest || fail "import"
ids=$("$DSFS" --repo "$DS" images | cut -f1 | head -8)

before=0 after=0
round=0
for delay in 0.02 0.05 0.08 0.12 0.2 0.3; do
	round=$((round + 1))
	# Make the state differ from the last version: exclude one more image.
	"$DSFS" --repo "$DS" -q exclude "$(echo "$ids" | sed -n "${round}p")" --reason "round $round" || fail "exclude"
	ntags=$($GIT tag | wc -l)
	mount_fg "$DS" "$M" "$T/daemon.log"
	(echo "message=round $round" > "$M/ctl/commit") 2>/dev/null &
	writer=$!
	sleep "$delay"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	wait "$writer" 2>/dev/null || true
	fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null || true
	DAEMON_PID=

	now=$($GIT tag | wc -l)
	if [ "$now" -eq "$ntags" ]; then
		before=$((before + 1))
	elif [ "$now" -eq $((ntags + 1)) ]; then
		after=$((after + 1))
		tag=v$now
		# Complete: manifests of every image, readable through dsfs.
		[ "$($GIT show "$tag:images.tsv" | grep -vc '^#')" -eq $N ] || fail "$tag: images.tsv incomplete"
		"$DSFS" --repo "$DS" show "$tag" | grep -q "^images: $N$" || fail "$tag: dsfs show"
		$GIT show "$tag:exclusions.tsv" | grep -q "round $round" || fail "$tag: not this round's state"
	else
		fail "round $round: $ntags tags became $now"
	fi
	# The catalog row is repaired from the tag; main follows the newest tag.
	"$DSFS" --repo "$DS" log > "$T/log" || fail "dsfs log"
	[ "$(grep -c '^v' "$T/log")" -eq "$now" ] || fail "log lists $(grep -c '^v' "$T/log") of $now versions"
	note "round $round (kill after ${delay}s): $now versions"
done
note "kills before the tag: $before, after: $after"

# A later commit works and numbers on; main is at the newest tag.
"$DSFS" --repo "$DS" -q exclude "$(echo "$ids" | sed -n 8p)" --reason final || fail "exclude"
"$DSFS" --repo "$DS" commit -m final > "$T/out" 2>&1 || fail "commit after the kills: $(cat "$T/out")"
last=$($GIT tag | sort -V | tail -1)
grep -q "^$last " "$T/out" || fail "commit made $(cat "$T/out"), newest tag $last"
[ "$($GIT rev-parse main)" = "$($GIT rev-parse "$last")" ] || fail "main is not at $last"
"$DSFS" --repo "$DS" fsck > "$T/fsck" || fail "fsck: $(tail -5 "$T/fsck")"
grep -q " 0 problems" "$T/fsck" || fail "fsck output: $(cat "$T/fsck")"
pass
