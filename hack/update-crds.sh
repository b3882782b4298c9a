#!/usr/bin/env bash
# Regenerates config/crd/bases from the CDI API Go types with controller-gen.
# With --verify it only checks that the committed CRDs match what the types generate.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
controller_gen=sigs.k8s.io/controller-tools/cmd/controller-gen@v0.19.0
api_pkg=kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1
kinds=(dataimportcrons datavolumes datasources storageprofiles cdiconfigs cdis)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root"
go run "$controller_gen" crd paths="$api_pkg" output:crd:dir="$out"

status=0
for kind in "${kinds[@]}"; do
	file=cdi.kubevirt.io_$kind.yaml
	if [ "${1:-}" = --verify ]; then
		if ! diff -u "config/crd/bases/$file" "$out/$file"; then
			echo "config/crd/bases/$file is stale: run 'make manifests'" >&2
			status=1
		fi
	else
		cp "$out/$file" "config/crd/bases/$file"
	fi
done
exit $status
