# shellcheck shell=bash disable=SC2034 # its values are read by the scripts that source it
# Settings shared by hack/cluster/up.sh, down.sh and hack/e2e.sh. Source it; every value can be overridden
# from the environment.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${GOLDIMAGE_BIN_DIR:=$root/.cache/bin}"              # kube-* and etcd built by hack/build-control-plane.sh
: "${GOLDIMAGE_CLUSTER_DIR:=/tmp/goldimage-e2e}"        # all cluster state; removed by down.sh
: "${GOLDIMAGE_NODE_NAME:=goldimage-e2e}"               # the single node
: "${GOLDIMAGE_APISERVER_PORT:=6443}"
: "${GOLDIMAGE_ETCD_PORT:=23790}"
: "${GOLDIMAGE_POD_CIDR:=10.88.0.0/16}"
: "${GOLDIMAGE_POD_GATEWAY:=10.88.0.1}"                 # the host on the pod bridge: node IP, API server, test registry
: "${GOLDIMAGE_SERVICE_CIDR:=10.96.0.0/16}"
: "${GOLDIMAGE_KUBERNETES_SERVICE_IP:=10.96.0.1}"
: "${GOLDIMAGE_DNS_SERVICE_IP:=10.96.0.10}"            # CoreDNS, the cluster DNS
: "${GOLDIMAGE_DNS_IMAGE:=goldimage.local/coredns:e2e}"
: "${GOLDIMAGE_BRIDGE:=gi-e2e0}"
: "${GOLDIMAGE_PAUSE_IMAGE:=goldimage.local/pause:e2e}"
: "${GOLDIMAGE_FS_PVS:=24}"                              # hostPath filesystem PVs to create: one per import into goldimage-local in a whole e2e run (Retain: none is reused), with room to spare
: "${GOLDIMAGE_BLOCK_PVS:=12}"                          # loop-device block PVs to create: likewise
: "${GOLDIMAGE_PV_SIZE:=256Mi}"
: "${GOLDIMAGE_STORAGE_CLASS:=goldimage-local}"
state=$GOLDIMAGE_CLUSTER_DIR
pki=$state/pki
run=$state/run
logs=$state/logs
export KUBECONFIG=$state/admin.kubeconfig
containerd_sock=$run/containerd.sock
kubectl() { "$GOLDIMAGE_BIN_DIR/kubectl" "$@"; }
ctr_k8s() { ctr --address "$containerd_sock" -n k8s.io "$@"; }

# alive NAME: the process up.sh started as NAME still runs. Its pid file alone does not say so: after a crash or on
# a machine restored from a snapshot, the pid may now belong to another process, so its command line must name
# the state directory too (every component's does).
alive() {
	local pid
	[ -s "$run/$1.pid" ] || return 1
	pid=$(cat "$run/$1.pid")
	[ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$state/"
}

# any_alive: some process of this cluster still runs.
any_alive() {
	local f
	for f in "$run"/*.pid; do
		[ -e "$f" ] || continue
		alive "$(basename "$f" .pid)" && return 0
	done
	return 1
}
