#!/usr/bin/env bash
# Benchmarks (make bench): pkg/convert against `qemu-img convert -O raw` on a 4 GiB-virtual /
# 1 GiB-data image in each format, printing speedups and peak RSS measured in the same run.
# BENCH_SIZE, BENCH_DATA and BENCH_DIR override the defaults. Then runs the importer benchmark
# (hack/bench-importer.sh) when it exists, and the digest polling benchmark (hack/bench-tick.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-img >/dev/null || hack/install-deps.sh
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./test/bench
args=(-size "${BENCH_SIZE:-4G}" -data "${BENCH_DATA:-1G}")
[ -n "${BENCH_DIR:-}" ] && args+=(-dir "$BENCH_DIR")
"$bin/bench" run "${args[@]}"
if [ -x hack/bench-importer.sh ]; then
	hack/bench-importer.sh
fi
# Digest polling: registry requests per tick, shared Poller vs no sharing (hack/bench-tick.sh).
hack/bench-tick.sh
