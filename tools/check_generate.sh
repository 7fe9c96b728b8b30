#!/usr/bin/env bash
# make check-generate: the committed assembly of internal/kernel and internal/sq8 is what its
# generator (internal/avo, run by each package's //go:generate line) writes. The generators and
# the two packages are copied into a temporary tree, `go generate` runs there, and every file of
# the packages must come out byte for byte as committed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/internal"
cp go.mod go.sum "$tmp/"
cp -r internal/avo internal/kernel internal/sq8 "$tmp/internal/"
(cd "$tmp" && GOWORK=off go generate ./internal/kernel ./internal/sq8)
status=0
for pkg in internal/kernel internal/sq8; do
	if ! diff -r "$pkg" "$tmp/$pkg" >"$tmp/diff" 2>&1; then
		echo "check-generate: $pkg differs from what go generate writes (run go generate ./$pkg and commit):" >&2
		head -n 40 "$tmp/diff" >&2
		status=1
	fi
done
[ "$status" = 0 ] && echo "check-generate: internal/kernel and internal/sq8 match their generators"
exit "$status"
