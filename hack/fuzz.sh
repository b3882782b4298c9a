#!/usr/bin/env bash
# Runs every fuzz target of the main module for the given time each (default 20s).
# Targets are discovered with `go test -list`; a failing target does not stop the others,
# but makes the script exit non-zero. New crashers land in the package's testdata/fuzz/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
fuzztime=${1:-20s}
failed=()
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz') || continue
	for target in $targets; do
		echo "== $pkg $target ($fuzztime)"
		# Minimizing a new input may take up to a minute by default; keep the run close to fuzztime.
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg"; then
			failed+=("$pkg.$target")
		fi
	done
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "failing fuzz targets: ${failed[*]}" >&2
	exit 1
fi
echo "all fuzz targets passed"
