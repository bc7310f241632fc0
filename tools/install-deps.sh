#!/bin/sh
# Install the Debian packages dsfs needs to build, test and run the demo, and
# only those. Idempotent: packages already present are skipped, so a second
# run costs one dpkg query.
set -eu

PKGS="build-essential meson ninja-build pkg-config
fuse3 libfuse3-dev
libsqlite3-dev libgit2-dev libcurl4-openssl-dev libjansson-dev
libxxhash-dev libyaml-dev libarchive-dev
libvulkan-dev mesa-vulkan-drivers glslc
libturbojpeg0-dev libpng-dev libcairo2-dev
libcmocka-dev
python3 python3-yaml git rsync valgrind"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: need root to apt-get install (run as root or install the packages above)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
