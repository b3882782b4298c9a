#!/usr/bin/env bash
# Importer benchmark (run by hack/bench.sh, so `make bench`): in one run, cmd/importer against CDI's
# tools on this machine:
#   (a) a containerDisk (qcow2, BENCH_IMPORTER_SIZE virtual / BENCH_IMPORTER_DATA data, default 4G/1G)
#       pulled from a loopback registry, against skopeo copy dir: + tar extraction + qemu-img convert -O raw;
#   (b) the same disk as .raw.gz and .raw.zst over loopback HTTP, against curl | gunzip and curl | zstd -d.
# Prints wall and CPU time ratios and peak RSS (GNU time) and checks every output byte for byte.
# BENCH_DIR sets the work directory (default: a temporary one), BENCH_REPEAT the runs per side (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in skopeo:skopeo curl:curl zstd:zstd /usr/bin/time:time qemu-img:qemu-utils gunzip:gzip tar:tar; do
	command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/importer" ./cmd/importer
go build -o "$bin/importer-bench" ./test/bench/importer
args=(-importer "$bin/importer" -size "${BENCH_IMPORTER_SIZE:-4G}" -data "${BENCH_IMPORTER_DATA:-1G}" -repeat "${BENCH_REPEAT:-1}")
[ -n "${BENCH_DIR:-}" ] && args+=(-dir "$BENCH_DIR")
echo "== importer vs CDI's tools (skopeo $(skopeo --version | awk '{print $3}'), $(qemu-img --version | head -1), $(curl --version | head -1 | cut -d' ' -f1-2))"
"$bin/importer-bench" "${args[@]}"
