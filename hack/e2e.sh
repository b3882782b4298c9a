#!/usr/bin/env bash
# `make e2e`: builds the cluster binaries, Tekton Pipelines and goldimage's images (no Docker), starts a single-node
# cluster (hack/cluster/up.sh), deploys goldimage from config/, Tekton Pipelines from its own config/ (images built
# here), goldimage's tasks and pipelines, and an in-cluster registry, then runs the tests in test/e2e. The cluster is torn down
# on exit, pass or fail; GOLDIMAGE_E2E_KEEP=1 leaves it running for inspection (then run hack/cluster/down.sh).
# On failure, cluster state and logs are copied to .cache/e2e/diagnostics.
#
# Usage: hack/e2e.sh [go test flags, e.g. -run TestDataImportCron/block]
set -euo pipefail
# shellcheck source=hack/cluster/env.sh
source "$(dirname "$0")/cluster/env.sh"
# shellcheck source=hack/lib/gomod.sh
source "$root/hack/lib/gomod.sh"
cd "$root"

work=$root/.cache/e2e
controller_image=goldimage.local/cron-controller:e2e
importer_image=goldimage.local/importer:e2e
task_image=ghcr.io/goldimage/tasks:v0.1.0 # the reference tasks/ and pipelines/ use, so they apply unchanged
registry_image=goldimage.local/docker-registry:e2e
tekton_version=v1.0.0 # the version hack/tools/tekton/go.mod pins
tekton_commands=(controller webhook entrypoint nop sidecarlogresults workingdirinit)
tekton_shell_image=goldimage.local/tekton-shell:e2e
# CSI storage: the sidecars and snapshot controller from their upstream modules (hack/build-control-plane.sh pins
# the versions; the image tags name them) and goldimage's test hostpath driver (test/e2e/manifests/csi-hostpath.yaml).
csi_images=(csi-provisioner:v5.3.0 csi-snapshotter:v8.4.0 csi-resizer:v1.14.0 snapshot-controller:v8.4.0 csi-hostpath:e2e)
# In-cluster registry the pipelines push to and the crons poll, by Service name (test/e2e/manifests/registry.yaml).
export GOLDIMAGE_E2E_REGISTRY=registry.goldimage-registry.svc.cluster.local:5000
# KubeVirt (issue 17) is built here and deployed from its own operator manifest when want_kubevirt says so; the
# tests that need it skip, saying why, when it is not (they read GOLDIMAGE_E2E_KUBEVIRT).
kubevirt_build_cost=1500 # seconds to build its commands with cold Go caches (about 16 min on 2 cores) and its rootfs
kubevirt_run_cost=900    # seconds to deploy it and run the VM tests
tests_cost=900           # seconds the other tests take
# Where the test CSI driver keeps its volumes on the host (its --datadir), for the tests to read their bytes.
export GOLDIMAGE_E2E_CSI_DATA=$state/csi-data

main() {
	[ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, loop devices)"
	hack/install-deps.sh
	GOLDIMAGE_BIN_DIR=$GOLDIMAGE_BIN_DIR hack/build-control-plane.sh \
		etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy coredns \
		"${tekton_commands[@]/#/tekton-}" csi-provisioner csi-snapshotter snapshot-controller csi-resizer csi-hostpath
	build_images
	if want_kubevirt; then
		export GOLDIMAGE_E2E_KUBEVIRT=1
		build_kubevirt
	else
		export GOLDIMAGE_E2E_KUBEVIRT=0
	fi
	build_standin_iso
	trap finish EXIT
	trap 'exit 130' INT TERM # so that finish runs on ^C and on CI timeouts too
	hack/cluster/up.sh
	load_images
	deploy
	deploy_registry
	deploy_csi
	deploy_tekton
	deploy_tasks
	if [ "$GOLDIMAGE_E2E_KUBEVIRT" = 1 ]; then deploy_kubevirt; fi
	go test -tags e2e -count=1 -v -timeout 60m ./test/e2e/ "$@"
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
	build_tekton_images
	build_csi_images
	build_registry_image
	tasks/image/build.sh "$work/images/tasks.tar" "$task_image"
}

# build_tekton_images packs each Tekton command as ko would lay it out (/ko-app/NAME, uid 65532), and a shell
# image (Debian's static busybox) for Tekton's place-scripts init container.
build_tekton_images() {
	local cmd
	for cmd in "${tekton_commands[@]}"; do
		go run ./hack/tools/imagebuild --tag "goldimage.local/tekton-$cmd:$tekton_version" --user 65532 \
			--out "$work/images/tekton-$cmd.tar" "$GOLDIMAGE_BIN_DIR/tekton-$cmd:/ko-app/$cmd"
	done
	local links=() applet
	for applet in sh cat touch chmod mkdir cp ls base64 echo; do
		links+=(--link "busybox:/bin/$applet")
	done
	go run ./hack/tools/imagebuild --tag "$tekton_shell_image" --user 65532 --entrypoint /bin/sh "${links[@]}" \
		--out "$work/images/tekton-shell.tar" /bin/busybox:/bin/busybox
}

# build_csi_images packs the CSI sidecars, the snapshot controller and the test driver, each as root (the driver
# mounts and attaches loop devices; the sidecars share its root-owned socket).
build_csi_images() {
	local image name
	for image in "${csi_images[@]}"; do
		name=${image%%:*}
		go run ./hack/tools/imagebuild --tag "goldimage.local/$image" --user 0 \
			--out "$work/images/$name.tar" "$GOLDIMAGE_BIN_DIR/$name:/usr/bin/$name"
	done
}

# build_registry_image packs Debian's docker-registry (distribution) with the shared libraries it links.
build_registry_image() {
	local bin=/usr/bin/docker-registry files=() lib
	files+=("$bin:$bin")
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		files+=("$(readlink -f "$lib"):$lib")
	done
	go run ./hack/tools/imagebuild --tag "$registry_image" --user 65532 --entrypoint "$bin" \
		--out "$work/images/docker-registry.tar" "${files[@]}"
}

# want_kubevirt decides whether this run deploys KubeVirt: GOLDIMAGE_E2E_KUBEVIRT=1 always, 0 never; unset, always
# unless GOLDIMAGE_E2E_DEADLINE (a Unix time by which make e2e should end; .ci/run sets it) leaves too little time
# for the other tests and KubeVirt (its build counts only when a binary is stale). It says why it leaves it out.
want_kubevirt() {
	case ${GOLDIMAGE_E2E_KUBEVIRT:-} in
	1) return 0 ;;
	0) echo "e2e: KubeVirt left out: GOLDIMAGE_E2E_KUBEVIRT=0"; return 1 ;;
	esac
	[ -n "${GOLDIMAGE_E2E_DEADLINE:-}" ] || return 0
	local left need=$((tests_cost + kubevirt_run_cost)) stale
	stale=$(hack/kubevirt/images.sh --stale | wc -l)
	[ "$stale" = 0 ] || need=$((need + kubevirt_build_cost))
	left=$((GOLDIMAGE_E2E_DEADLINE - $(date +%s)))
	if ((left < need)); then
		echo "e2e: KubeVirt left out: ${left}s left before GOLDIMAGE_E2E_DEADLINE, about ${need}s needed with it ($stale of its binaries to build)"
		return 1
	fi
	echo "e2e: KubeVirt included: ${left}s left before GOLDIMAGE_E2E_DEADLINE, about ${need}s needed with it"
}

# build_kubevirt builds KubeVirt's commands and its five images (hack/kubevirt/images.sh) and renders its
# operator manifest (hack/kubevirt/manifests.sh), all into $work/kubevirt.
build_kubevirt() {
	rm -rf "$work/kubevirt"
	hack/kubevirt/images.sh "$work/kubevirt/images"
	hack/kubevirt/manifests.sh "$work/kubevirt" >/dev/null
}

# build_standin_iso makes the stand-in installer ISO (hack/installer-iso) the pipeline tests install from.
build_standin_iso() {
	local iso=$work/standin.iso key
	# Keyed by the content of its inputs, not their times: a cache copied or restored keeps old times.
	key=$(cat hack/installer-iso/build.sh hack/installer-iso/init.sh | sha256sum | cut -c1-16)
	if [ ! -s "$iso" ] || [ "$(cat "$iso.key" 2>/dev/null)" != "$key" ]; then
		hack/installer-iso/build.sh "$iso.tmp" && mv "$iso.tmp" "$iso" && echo "$key" >"$iso.key"
	fi
	export GOLDIMAGE_E2E_STANDIN_ISO=$iso
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
		kubectl -n "$ns" patch "deployment/$name" --type json -p '[
			{"op": "add", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"},
			{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--insecure-registries='"$GOLDIMAGE_E2E_REGISTRY"'"}]' >/dev/null
		kubectl -n "$ns" rollout status "deployment/$name" --timeout 120s
	done < <(kubectl kustomize "${dirs[@]: -1}" | kubectl get -f - --ignore-not-found --no-headers \
		-o custom-columns=KIND:.kind,NS:.metadata.namespace,NAME:.metadata.name | awk '$1 == "Deployment" {print $2, $3}')
}

# deploy_registry runs Debian's docker-registry in the cluster behind a Service (plain HTTP, listed insecure above).
deploy_registry() {
	kubectl apply -f test/e2e/manifests/registry.yaml >/dev/null
	kubectl -n goldimage-registry set image deployment/registry "*=$registry_image" >/dev/null
	kubectl -n goldimage-registry rollout status deployment/registry --timeout 120s
}

# deploy_csi installs CSI storage beside the no-provisioner class: the VolumeSnapshot CRDs and the snapshot
# controller from external-snapshotter's own manifests, the sidecars' own RBAC, then the driver's pod, its
# StorageClasses (csi-hostpath, csi-hostpath-wffc) and VolumeSnapshotClass; upstream image references are replaced
# by the images built here and the RBAC's namespace by the driver's.
deploy_csi() {
	local snap prov resizer client ns=goldimage-csi
	snap=$(module_dir "$root" github.com/kubernetes-csi/external-snapshotter/v8@v8.4.0)
	client=$(module_dir "$root" github.com/kubernetes-csi/external-snapshotter/client/v8@v8.4.0)
	prov=$(module_dir "$root" github.com/kubernetes-csi/external-provisioner/v5@v5.3.0)
	resizer=$(module_dir "$root" github.com/kubernetes-csi/external-resizer@v1.14.0)
	kubectl apply --server-side -k "$client/config/crd" >/dev/null
	kubectl wait --for condition=Established --timeout 60s crd volumesnapshots.snapshot.storage.k8s.io \
		volumesnapshotcontents.snapshot.storage.k8s.io volumesnapshotclasses.snapshot.storage.k8s.io >/dev/null
	cat "$snap/deploy/kubernetes/snapshot-controller/rbac-snapshot-controller.yaml" \
		"$snap/deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml" |
		sed -e 's#image: registry.k8s.io/sig-storage/snapshot-controller:.*#image: goldimage.local/snapshot-controller:v8.4.0\n          imagePullPolicy: Never#' \
			-e '/imagePullPolicy: IfNotPresent/d' | kubectl apply -f - >/dev/null
	kubectl create namespace "$ns" >/dev/null
	{ cat "$prov/deploy/kubernetes/rbac.yaml"; echo "---"; cat "$snap/deploy/kubernetes/csi-snapshotter/rbac-csi-snapshotter.yaml"
		echo "---"; cat "$resizer/deploy/kubernetes/rbac.yaml"; } | sed "s/namespace: default/namespace: $ns/" | kubectl apply -f - >/dev/null
	sed -e "s#KUBELET_DIR#$state/kubelet#g" -e "s#DATA_DIR#$GOLDIMAGE_E2E_CSI_DATA#g" test/e2e/manifests/csi-hostpath.yaml |
		kubectl apply -f - >/dev/null
	kubectl -n "$ns" rollout status daemonset/csi-hostpath --timeout 120s
	wait_for_csi_node hostpath.csi.goldimage.io
}

# wait_for_csi_node waits until the kubelet has registered CSI driver $1 on the node.
wait_for_csi_node() {
	local i
	for i in $(seq 1 60); do
		kubectl get csinode "$GOLDIMAGE_NODE_NAME" -o jsonpath='{.spec.drivers[*].name}' 2>/dev/null | grep -qw "$1" && return 0
		sleep 1
	done
	die "CSI driver $1 did not register with the kubelet"
}

# deploy_tekton applies Tekton Pipelines' own config/ from its module, with ko:// references replaced by the
# images built here; the events controller, the webhook's HorizontalPodAutoscaler and the remote resolvers
# (config/events.yaml, webhook-hpa.yaml, resolvers/) are left out.
deploy_tekton() {
	local dir manifest=$work/tekton.yaml f
	dir=$(cd hack/tools/tekton && go list -m -f '{{.Dir}}' github.com/tektoncd/pipeline)/config
	: >"$manifest"
	for f in "$dir"/100-namespace/*.yaml "$dir"/*.yaml "$dir"/300-crds/*.yaml; do
		case $(basename "$f") in events.yaml | webhook-hpa.yaml) continue ;; esac
		{ cat "$f"; echo "---"; } >>"$manifest"
	done
	sed -i -e "s#ko://github.com/tektoncd/pipeline/cmd/\([a-z]*\)#goldimage.local/tekton-\1:$tekton_version#g" \
		-e "s#cgr.dev/chainguard/busybox@sha256:[0-9a-f]*#$tekton_shell_image#" "$manifest"
	kubectl apply --server-side -f "$manifest" >/dev/null
	kubectl wait --for condition=Established --timeout 60s crd -l app.kubernetes.io/part-of=tekton-pipelines >/dev/null
	kubectl -n tekton-pipelines rollout status deployment/tekton-pipelines-webhook --timeout 180s
	kubectl -n tekton-pipelines rollout status deployment/tekton-pipelines-controller --timeout 180s
}

# deploy_kubevirt imports KubeVirt's images, applies its operator manifest and the KubeVirt CR
# (test/e2e/manifests/kubevirt-cr.yaml: software emulation), and waits until the operator reports it Available
# (virt-api, virt-controller and virt-handler up on the node).
deploy_kubevirt() {
	local tar
	for tar in "$work"/kubevirt/images/*.tar; do
		ctr_k8s images import "$tar" >/dev/null
	done
	kubectl apply --server-side -f "$work/kubevirt/kubevirt-operator.yaml" >/dev/null
	kubectl -n kubevirt rollout status deployment/virt-operator --timeout 300s
	kubectl wait --for condition=Established --timeout 60s crd/kubevirts.kubevirt.io >/dev/null
	kubectl apply -f test/e2e/manifests/kubevirt-cr.yaml >/dev/null
	kubectl -n kubevirt wait kubevirt/kubevirt --for condition=Available --timeout 15m
}

# deploy_tasks installs goldimage's tasks and pipelines as a user would (tasks/README.md), into the namespace the
# pipeline tests run in, once the Tekton webhook admits them.
deploy_tasks() {
	local i
	kubectl create namespace goldimage-pipelines >/dev/null
	for i in $(seq 1 30); do
		kubectl -n goldimage-pipelines apply -k tasks/ >/dev/null 2>"$work/tasks-apply.err" &&
			kubectl -n goldimage-pipelines apply -k pipelines/ >/dev/null 2>>"$work/tasks-apply.err" && return 0
		sleep 2
	done
	cat "$work/tasks-apply.err" >&2
	die "tasks/ and pipelines/ were not admitted by the Tekton webhook"
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
	kubectl get pipelineruns,taskruns --all-namespaces -o wide >>"$out/objects.txt" 2>&1
	kubectl get kubevirts,virtualmachines,virtualmachineinstances --all-namespaces -o yaml >"$out/kubevirt.yaml" 2>&1
	kubectl get datavolumes,dataimportcrons,datasources,pvc,pods,pipelineruns,taskruns --all-namespaces -o yaml \
		>"$out/objects.yaml" 2>&1
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
