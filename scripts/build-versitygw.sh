#!/usr/bin/env bash
# Builds versitygw (an S3-compatible server, Apache-2.0, with a plain
# directory as its backend) from the Go module proxy, once, into a cache
# directory, and prints the path of the binary. The media package's S3 tests
# start it on loopback. Later runs print the cached path at once.
set -euo pipefail

version="${VERSITYGW_VERSION:-v1.8.0}"
cache="${MXARCHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mxarchive}"
out="$cache/versitygw-$version"
if [[ -x "$out/versitygw" ]]; then
	echo "$out/versitygw"
	exit 0
fi
mkdir -p "$cache"
# One builder at a time: parallel test packages may all ask for it.
exec 9>"$cache/.versitygw-build.lock"
flock 9
if [[ -x "$out/versitygw" ]]; then
	echo "$out/versitygw"
	exit 0
fi
echo "build-versitygw: building versitygw $version into $out (first time only, a few minutes)" >&2
mkdir -p "$out"
GOBIN="$out/bin.tmp" go install -trimpath "github.com/versity/versitygw/cmd/versitygw@$version" >&2
mv "$out/bin.tmp/versitygw" "$out/versitygw"
rmdir "$out/bin.tmp"
echo "$out/versitygw"
