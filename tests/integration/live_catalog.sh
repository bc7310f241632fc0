#!/bin/sh
# The command line and a mount on one dataset: a CLI ingest shows in the
# mount at once (README counts, images/), without remounting.
. "$(dirname "$0")/lib.sh"
setup

"$DSFS" init "$T/ds" >/dev/null
"$DSFS" gen-shapes "$T/gen" --count 30 --size 64x48 -q >/dev/null
mount_fg "$T/ds" "$T/mnt"
grep -q "^images: 0" "$T/mnt/README" || fail "README before: $(cat "$T/mnt/README")"
[ "$(find "$T/mnt/images" -type f | wc -l)" -eq 0 ] || fail "images before"

"$DSFS" --repo "$T/ds" -q ingest "$T/gen/images" || fail "CLI ingest"
grep -q "^images: 30" "$T/mnt/README" || fail "README after CLI ingest: $(grep images: "$T/mnt/README")"
[ "$(find "$T/mnt/images" -type f | wc -l)" -eq 30 ] || fail "images/ after CLI ingest"
pass
