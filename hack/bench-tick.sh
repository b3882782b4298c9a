#!/usr/bin/env bash
# Digest polling benchmark (part of make bench): pkg/cron BenchmarkTick polls 1,000 crons over 20 images
# through the shared Poller and, in the same run, through one registry client without sharing, and this
# prints how many registry requests one tick costs each way. BENCH_TICK_COUNT sets the ticks (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test -run '^$' -bench '^BenchmarkTick$' -benchtime "${BENCH_TICK_COUNT:-5}x" ./pkg/cron)
echo "$out"
echo "$out" | awk '/^BenchmarkTick/ {
	for (i = 2; i <= NF; i++) {
		if ($i == "requests/tick") shared = $(i - 1)
		if ($i == "anchor-requests/tick") anchor = $(i - 1)
		if ($i == "time-ratio") ratio = $(i - 1)
	}
}
END {
	if (shared == "" || shared == 0) { print "bench-tick: no request counts in the BenchmarkTick output" > "/dev/stderr"; exit 1 }
	printf "poll sharing: %s registry requests per tick of 1000 crons over 20 images, %s without sharing: %.1fx fewer; wall time %.2fx of the anchor\n", shared, anchor, anchor / shared, ratio
}'
