#!/usr/bin/env bash
# `make e2e`: builds the cluster binaries and goldimage's images (no Docker), starts a single-node cluster
# (hack/cluster/up.sh), deploys goldimage from config/ and runs the tests in test/e2e. The cluster is torn down
# on exit, pass or fail; GOLDIMAGE_E2E_KEEP=1 leaves it running for inspection (then run hack/cluster/down.sh).
# On failure, cluster state and logs are copied to .cache/e2e/diagnostics.
#
# Usage: hack/e2e.sh [go test flags, e.g. -run TestDataImportCron/block]
set -euo pipefail
# shellcheck source=hack/cluster/env.sh
source "$(dirname "$0")/cluster/env.sh"
cd "$root"

work=$root/.cache/e2e
controller_image=goldimage.local/cron-controller:e2e
importer_image=goldimage.local/importer:e2e

main() {
	[ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, loop devices)"
	hack/install-deps.sh
	GOLDIMAGE_BIN_DIR=$GOLDIMAGE_BIN_DIR hack/build-control-plane.sh \
		etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
	build_images
	trap finish EXIT
	trap 'exit 130' INT TERM # so that finish runs on ^C and on CI timeouts too
	hack/cluster/up.sh
	load_images
	deploy
	go test -tags e2e -count=1 -v -timeout 30m ./test/e2e/ "$@"
}

# build_images compiles the commands statically and packs each into an image tarball.
build_images() {
	local cmd
	mkdir -p "$work/bin" "$work/images"
	for cmd in importer cron-controller; do
		[ -d "cmd/$cmd" ] || die "cmd/$cmd does not exist yet"
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/bin/$cmd" "./cmd/$cmd"
	done
	go run ./hack/tools/imagebuild --tag "$importer_image" --user 107 --out "$work/images/importer.tar" \
		"$work/bin/importer:/usr/bin/importer"
	go run ./hack/tools/imagebuild --tag "$controller_image" --user 65532 --out "$work/images/cron-controller.tar" \
		"$work/bin/cron-controller:/usr/bin/cron-controller"
}

load_images() {
	local tar
	for tar in "$work"/images/*.tar; do
		ctr_k8s images import "$tar" >/dev/null
	done
}

# deploy applies config/ (CRDs, RBAC, the controller) and points the controller at the images built here.
deploy() {
	local dir dirs=(config/crd config/rbac config/manager)
	[ -f config/default/kustomization.yaml ] && dirs=(config/default)
	for dir in "${dirs[@]}"; do
		[ -d "$dir" ] || die "$dir does not exist yet"
		if [ -f "$dir/kustomization.yaml" ]; then
			kubectl apply --server-side -k "$dir"
		else
			kubectl apply --server-side -f "$dir"
		fi
	done
	kubectl wait --for condition=Established --timeout 60s crd --all >/dev/null
	local ns name
	while read -r ns name; do
		kubectl -n "$ns" set image "deployment/$name" "*=$controller_image" >/dev/null
		kubectl -n "$ns" set env "deployment/$name" --all "IMPORTER_IMAGE=$importer_image" >/dev/null
		kubectl -n "$ns" patch "deployment/$name" --type json \
			-p '[{"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"}]' >/dev/null
		kubectl -n "$ns" rollout status "deployment/$name" --timeout 120s
	done < <(kubectl get deployments --all-namespaces --no-headers -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name)
}

finish() {
	local status=$?
	set +e # collect and clean up as much as possible
	if [ $status != 0 ]; then
		collect_diagnostics
	fi
	if [ "${GOLDIMAGE_E2E_KEEP:-}" = 1 ]; then
		echo "cluster kept: export KUBECONFIG=$KUBECONFIG; stop it with hack/cluster/down.sh"
	else
		hack/cluster/down.sh
	fi
	exit $status
}

# collect_diagnostics saves objects, events, controller and importer logs and the component logs.
collect_diagnostics() {
	local out=$work/diagnostics
	rm -rf "$out" && mkdir -p "$out"
	[ -d "$logs" ] && cp -r "$logs" "$out/components"
	kubectl get nodes,pv,pvc,pods,deployments,datavolumes,dataimportcrons,datasources --all-namespaces -o wide \
		>"$out/objects.txt" 2>&1
	kubectl get datavolumes,dataimportcrons,datasources,pvc,pods --all-namespaces -o yaml >"$out/objects.yaml" 2>&1
	kubectl get events --all-namespaces --sort-by .lastTimestamp >"$out/events.txt" 2>&1
	local ns pod
	while read -r ns pod; do
		kubectl -n "$ns" logs --all-containers --prefix "$pod" >"$out/log-$ns-$pod.txt" 2>&1
	done < <(kubectl get pods --all-namespaces --no-headers -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name 2>/dev/null)
	echo "e2e failed; diagnostics in $out" >&2
}

die() {
	echo "hack/e2e.sh: $*" >&2
	exit 1
}

main "$@"
