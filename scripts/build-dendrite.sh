#!/usr/bin/env bash
# Builds Dendrite (the homeserver the end-to-end tests run against) from the
# Go module proxy, once, into a cache directory, and prints the directory
# holding its binaries. Later runs print the cached directory at once.
#
# The proxy refuses Dendrite's version list, so `go install …@version` fails;
# a throwaway module that requires the exact version works. The checksum
# database has no entry for it, hence GOSUMDB=off (the module proxy itself is
# still the source). Cold: about 5 minutes on 2 cores.
set -euo pipefail

version="${DENDRITE_VERSION:-v0.15.2}"
cache="${MXARCHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mxarchive}"
out="$cache/dendrite-$version"
bins=(dendrite generate-keys create-account)

have_all() {
	for b in "${bins[@]}"; do [[ -x "$out/bin/$b" ]] || return 1; done
}
if have_all; then
	echo "$out/bin"
	exit 0
fi

command -v gcc >/dev/null || { echo "build-dendrite: gcc is needed (Dendrite uses cgo for SQLite)" >&2; exit 1; }
mkdir -p "$cache"
# One builder at a time: parallel test packages may all ask for it.
exec 9>"$cache/.dendrite-build.lock"
flock 9
if have_all; then
	echo "$out/bin"
	exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/go.mod" <<MOD
module mxarchive.local/dendrite-build

go 1.23

require github.com/element-hq/dendrite $version
MOD
{
	echo '//go:build tools'
	echo
	echo 'package tools'
	echo
	echo 'import ('
	for b in "${bins[@]}"; do echo "	_ \"github.com/element-hq/dendrite/cmd/$b\""; done
	echo ')'
} >"$work/tools.go"

echo "build-dendrite: building Dendrite $version into $out (first time only, a few minutes)" >&2
(
	cd "$work"
	export GOSUMDB=off GOFLAGS=-mod=mod CGO_ENABLED=1
	go mod tidy >&2
	pkgs=()
	for b in "${bins[@]}"; do pkgs+=("github.com/element-hq/dendrite/cmd/$b"); done
	go build -trimpath -o "$out/bin.tmp/" "${pkgs[@]}" >&2
)
rm -rf "$out/bin"
mv "$out/bin.tmp" "$out/bin"
echo "$out/bin"
