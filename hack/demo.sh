#!/usr/bin/env bash
# The main job on the embedded default: builds cron-controller and the demo driver, then runs three
# publish/import rounds against an in-process registry with cron-controller in local mode (see hack/demo/main.go).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
bin=.cache/demo-bin
mkdir -p "$bin"
go build -o "$bin/" ./cmd/cron-controller ./hack/demo
"$bin/demo" --cron-controller "$bin/cron-controller" --dir .cache/demo
