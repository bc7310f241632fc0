# Shared helpers for the integration tests: a temp dir, a mounted dataset,
# and cleanup that always unmounts (trap), even when a check fails.
# Usage: . "$(dirname "$0")/lib.sh"; then setup; ... ; pass
set -eu

DSFS=${DSFS:?DSFS must name the dsfs binary}
FAKES=${FAKES:-$(cd "$(dirname "$0")/../fakes" && pwd)}
T=
MNTS=
DAEMON_PIDS=

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $(basename "$0")"; exit 0; }
note() { echo "-- $*"; }

cleanup() {
	rc=$?
	for m in $MNTS; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
	done
	for p in $DAEMON_PIDS; do kill -9 "$p" 2>/dev/null || true; done
	if [ $rc -ne 0 ] && [ -n "$T" ]; then
		for l in "$T"/*.log "$T"/*/dsfs.log; do
			[ -f "$l" ] && { echo "== $l (tail)"; tail -n 30 "$l"; }
		done
	fi
	[ -n "$T" ] && rm -rf "$T"
	exit $rc
}

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "no fusermount3"
	T=$(mktemp -d /tmp/dsfs-test.XXXXXX)
	trap cleanup EXIT INT TERM
}

# wait_mounted MNT: until MNT is a dsfs mount (bounded; not a timing assertion).
wait_mounted() {
	i=0
	while ! grep -q " $1 fuse.dsfs " /proc/mounts; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "mount of $1 did not appear"
		sleep 0.05
	done
}

# mount_fg REPO MNT [LOG]: mount in the foreground in the background; sets DAEMON_PID.
mount_fg() {
	mkdir -p "$2"
	"$DSFS" -v mount "$1" "$2" -f >"${3:-$T/daemon.log}" 2>&1 &
	DAEMON_PID=$!
	DAEMON_PIDS="$DAEMON_PIDS $DAEMON_PID"
	MNTS="$MNTS $2"
	wait_mounted "$2"
}

# mount_bg REPO MNT: the daemonized form (returns once mounted).
mount_bg() {
	mkdir -p "$2"
	MNTS="$MNTS $2"
	"$DSFS" mount "$1" "$2"
	wait_mounted "$2"
}

umount_dsfs() {
	fusermount3 -u "$1"
	if [ -n "${DAEMON_PID:-}" ]; then wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=; fi
}

# make_png FILE W H: a valid PNG written with Python's zlib (no PIL needed).
make_png() {
	python3 - "$1" "$2" "$3" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = b"".join(b"\0" + bytes(((x * 7 + y * 3 + w) & 255) for x in range(w * 3)) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
with open(path, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
}
