#!/usr/bin/env bash
# Starts a single-node Kubernetes cluster on this machine for the e2e tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kube-proxy (iptables mode) and CoreDNS (from hack/build-control-plane.sh),
# Debian's containerd+runc with a CNI bridge, and a kubelet; then a StorageClass with hostPath filesystem PVs and
# loop-device block PVs.
# Needs root. Everything lives in $GOLDIMAGE_CLUSTER_DIR; hack/cluster/down.sh undoes all of it (also after a failed start).
#
# Usage: hack/cluster/up.sh    (then: export KUBECONFIG=$GOLDIMAGE_CLUSTER_DIR/admin.kubeconfig)
set -euo pipefail
# shellcheck source=hack/cluster/env.sh
source "$(dirname "$0")/env.sh"

# Kubernetes 1.34 writes observedGeneration into pod conditions (PodObservedGenerationTracking, beta and on). KubeVirt
# v1.6.0's types predate that field, so its JSON patches of a launcher pod's conditions, which test the conditions
# it read, always fail ("the server rejected our request"), and a VMI never leaves Pending. Off, as in 1.33.
feature_gates=PodObservedGenerationTracking=false

main() {
	preflight
	# shellcheck disable=SC2154 # status is assigned inside the trap string
	trap 'status=$?; [ $status = 0 ] || { echo "start failed; cleaning up" >&2; "$root/hack/cluster/down.sh"; }' EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$pki" "$run" "$logs" "$state/cni/net.d" "$state/pv"
	save_host_settings
	make_pki
	make_bridge
	start_control_plane
	share_kubelet_dir
	share_fixed_host_paths # before containerd: its mount namespace copies these mounts when it starts
	start_containerd
	load_pause_image
	start_kubelet
	start_kube_proxy
	deploy_dns
	make_storage
	echo "cluster up: export KUBECONFIG=$KUBECONFIG"
}

preflight() {
	[ "$(id -u)" = 0 ] || die "must run as root (containerd, kubelet, loop devices)"
	if [ -e "$state" ]; then
		any_alive && die "$state exists and its cluster is running: run hack/cluster/down.sh first"
		echo "$state is left from a cluster that no longer runs (a crash, or a restored machine): cleaning it up with down.sh"
		"$(dirname "$0")/down.sh" || die "down.sh could not clean up $state"
		[ -e "$state" ] && die "$state still exists after down.sh"
	fi
	local b
	for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy coredns; do
		[ -x "$GOLDIMAGE_BIN_DIR/$b" ] || die "$GOLDIMAGE_BIN_DIR/$b missing: run hack/build-control-plane.sh $b"
	done
	for b in containerd ctr runc openssl iptables losetup tini unshare; do
		command -v "$b" >/dev/null || die "$b missing: run hack/install-deps.sh"
	done
	[ -x /usr/lib/cni/bridge ] || die "CNI plugins missing in /usr/lib/cni: run hack/install-deps.sh"
}

# save_host_settings records the global sysctls the CNI bridge plugin and kubelet change, for down.sh to restore.
save_host_settings() {
	local k
	for k in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/ipv4/conf/all/route_localnet vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
		kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
		[ -e "/proc/sys/$k" ] && echo "$k $(cat "/proc/sys/$k")"
	done >"$state/sysctl.orig"
}

make_pki() {
	local gw=$GOLDIMAGE_POD_GATEWAY
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=goldimage-e2e-ca" \
		-keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
	issue apiserver "/CN=kube-apiserver" \
		"subjectAltName=IP:127.0.0.1,IP:$gw,IP:$GOLDIMAGE_KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	issue admin "/O=system:masters/CN=goldimage-e2e-admin" "extendedKeyUsage=clientAuth"
	# The aggregation layer's front proxy (kube-apiserver's client for APIServices such as KubeVirt's
	# subresources.kubevirt.io): its own CA, as kubeadm sets it up; extension API servers trust that CA's
	# front-proxy-client for the requester's identity (extension-apiserver-authentication ConfigMap).
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=goldimage-e2e-front-proxy-ca" \
		-keyout "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt" 2>/dev/null
	issue front-proxy-client "/CN=front-proxy-client" "extendedKeyUsage=clientAuth" front-proxy-ca
	openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	"$GOLDIMAGE_BIN_DIR/kubectl" config set-cluster e2e --server "https://127.0.0.1:$GOLDIMAGE_APISERVER_PORT" \
		--certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
	"$GOLDIMAGE_BIN_DIR/kubectl" config set-credentials admin --client-certificate "$pki/admin.crt" \
		--client-key "$pki/admin.key" --embed-certs >/dev/null
	"$GOLDIMAGE_BIN_DIR/kubectl" config set-context e2e --cluster e2e --user admin >/dev/null
	"$GOLDIMAGE_BIN_DIR/kubectl" config use-context e2e >/dev/null
}

# issue NAME SUBJECT EXTENSION [CA] signs $pki/NAME.crt with $pki/CA.crt (default the cluster CA, ca).
issue() {
	local name=$1 subject=$2 ext=$3 ca=${4:-ca}
	openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$pki/$name.key" -out "$pki/$name.csr" 2>/dev/null
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial -days 2 \
		-extfile <(echo "$ext") -out "$pki/$name.crt" 2>/dev/null
}

# make_bridge creates the pod bridge up front so the host (node IP, API server, test registry) has the gateway
# address before any pod exists. Traffic between pods on the bridge passes the host's iptables
# (bridge-nf-call-iptables), so that kube-proxy's Service rules see replies too.
make_bridge() {
	ip link add name "$GOLDIMAGE_BRIDGE" type bridge
	echo "$GOLDIMAGE_BRIDGE" >"$state/bridge"
	ip addr add "$GOLDIMAGE_POD_GATEWAY/${GOLDIMAGE_POD_CIDR#*/}" dev "$GOLDIMAGE_BRIDGE"
	ip link set "$GOLDIMAGE_BRIDGE" up
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter ||
		die "bridge netfilter unavailable (modprobe br_netfilter): kube-proxy's Service rules would miss pod-to-pod replies"
	echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
	cat >"$state/cni/net.d/10-goldimage-e2e.conflist" <<-EOF
	{
	  "cniVersion": "1.0.0",
	  "name": "goldimage-e2e",
	  "plugins": [{
	    "type": "bridge", "bridge": "$GOLDIMAGE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
	    "ipam": {
	      "type": "host-local", "dataDir": "$state/cni/ipam",
	      "ranges": [[{"subnet": "$GOLDIMAGE_POD_CIDR", "gateway": "$GOLDIMAGE_POD_GATEWAY"}]],
	      "routes": [{"dst": "0.0.0.0/0"}]
	    }
	  }]
	}
	EOF
}

start_control_plane() {
	start etcd "$GOLDIMAGE_BIN_DIR/etcd" --data-dir "$state/etcd" --name e2e \
		--listen-client-urls "http://127.0.0.1:$GOLDIMAGE_ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$GOLDIMAGE_ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$((GOLDIMAGE_ETCD_PORT + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((GOLDIMAGE_ETCD_PORT + 1))" \
		--initial-cluster "e2e=http://127.0.0.1:$((GOLDIMAGE_ETCD_PORT + 1))" \
		--unsafe-no-fsync
	wait_for "etcd" curl -fsS "http://127.0.0.1:$GOLDIMAGE_ETCD_PORT/health"
	start kube-apiserver "$GOLDIMAGE_BIN_DIR/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$GOLDIMAGE_ETCD_PORT" \
		--bind-address 0.0.0.0 --secure-port "$GOLDIMAGE_APISERVER_PORT" --advertise-address "$GOLDIMAGE_POD_GATEWAY" \
		--cert-dir "$state/apiserver" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC --allow-privileged \
		--service-cluster-ip-range "$GOLDIMAGE_SERVICE_CIDR" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
		--kubelet-preferred-address-types InternalIP \
		--requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
		--requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
		--feature-gates "$feature_gates"
	wait_for "kube-apiserver" kubectl get --raw /readyz
	start kube-controller-manager "$GOLDIMAGE_BIN_DIR/kube-controller-manager" \
		--kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
		--leader-elect=false --bind-address 127.0.0.1 --secure-port 10257 \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--use-service-account-credentials=false
	start kube-scheduler "$GOLDIMAGE_BIN_DIR/kube-scheduler" \
		--kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
		--leader-elect=false --bind-address 127.0.0.1 --secure-port 10259
	wait_for "the default ServiceAccount" kubectl -n default get serviceaccount default
}

start_containerd() {
	cat >"$state/containerd.toml" <<-EOF
	version = 2
	root = "$state/containerd/root"
	state = "$state/containerd/state"
	[grpc]
	  address = "$containerd_sock"
	[ttrpc]
	  address = "$run/containerd-ttrpc.sock"
	[plugins."io.containerd.internal.v1.opt"]
	  path = "$state/containerd/opt"
	[plugins."io.containerd.grpc.v1.cri"]
	  sandbox_image = "$GOLDIMAGE_PAUSE_IMAGE"
	  restrict_oom_score_adj = true
	  device_ownership_from_security_context = true
	  netns_mounts_under_state_dir = true
	  [plugins."io.containerd.grpc.v1.cri".containerd]
	    snapshotter = "overlayfs"
	    default_runtime_name = "runc"
	    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
	      runtime_type = "io.containerd.runc.v2"
	      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
	        SystemdCgroup = false
	  [plugins."io.containerd.grpc.v1.cri".cni]
	    bin_dir = "/usr/lib/cni"
	    conf_dir = "$state/cni/net.d"
	EOF
	# containerd runs under tini as PID 1 of its own PID namespace, so that hostPID pods see tini as /proc/1
	# (KubeVirt's virt-handler enters /proc/1/ns/mnt; this machine's real PID 1 may not be entered: permission
	# denied). That namespace needs its own /proc (containerd finds its namespaces at /proc/self), hence a mount
	# namespace of its own; it copies the host's mounts with their propagation unchanged, so the shared ones (the
	# root, the kubelet's directory, /run/kubevirt) stay peers of the host's and mounts pass both ways.
	# unshare ignores SIGTERM while it waits, so down.sh signals tini, which passes it on to containerd; when tini
	# ends, the kernel ends whatever is left in the namespace.
	start containerd unshare --pid --fork --mount-proc --propagation unchanged --kill-child=SIGTERM \
		tini -- containerd --config "$state/containerd.toml"
	wait_for "tini under unshare" pgrep -P "$(cat "$run/containerd.pid")" tini
	pgrep -P "$(cat "$run/containerd.pid")" tini >"$run/containerd.pid"
	wait_for "containerd" ctr --address "$containerd_sock" version
}

# load_pause_image builds our pause binary, packs it as the sandbox image and imports it.
load_pause_image() {
	local tar=$state/images/pause.tar
	mkdir -p "$state/images"
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$state/images/pause" ./hack/tools/pause &&
		go run ./hack/tools/imagebuild --tag "$GOLDIMAGE_PAUSE_IMAGE" --out "$tar" --user 65535 "$state/images/pause:/pause")
	ctr_k8s images import "$tar" >/dev/null
}

start_kubelet() {
	cat >"$state/kubelet.yaml" <<-EOF
	apiVersion: kubelet.config.k8s.io/v1beta1
	kind: KubeletConfiguration
	containerRuntimeEndpoint: unix://$containerd_sock
	cgroupDriver: cgroupfs
	failCgroupV1: false
	failSwapOn: false
	makeIPTablesUtilChains: false
	evictionHard: {}
	imageGCHighThresholdPercent: 100
	imageGCLowThresholdPercent: 99
	address: $GOLDIMAGE_POD_GATEWAY
	port: 10250
	readOnlyPort: 0
	healthzBindAddress: 127.0.0.1
	healthzPort: 10248
	clusterDomain: cluster.local
	clusterDNS: [$GOLDIMAGE_DNS_SERVICE_IP]
	resolvConf: /etc/resolv.conf
	authentication:
	  anonymous: {enabled: false}
	  webhook: {enabled: false}
	  x509: {clientCAFile: "$pki/ca.crt"}
	authorization:
	  mode: AlwaysAllow
	featureGates: {${feature_gates/=/: }}
	EOF
	start kubelet "$GOLDIMAGE_BIN_DIR/kubelet" --config "$state/kubelet.yaml" --kubeconfig "$KUBECONFIG" \
		--root-dir "$state/kubelet" --cert-dir "$state/kubelet/pki" \
		--hostname-override "$GOLDIMAGE_NODE_NAME" --node-ip "$GOLDIMAGE_POD_GATEWAY"
	wait_for "node $GOLDIMAGE_NODE_NAME Ready" node_ready
	# The one node is the control plane too, labelled as kubeadm labels it (no taint: workloads run on it);
	# KubeVirt's install-strategy job and virt-operator's components require or prefer that role.
	kubectl label node "$GOLDIMAGE_NODE_NAME" node-role.kubernetes.io/control-plane= >/dev/null
}

# share_kubelet_dir makes the kubelet's root directory a shared mount, so that a CSI node plugin's mounts under
# pods/ (mountPropagation: Bidirectional) reach the kubelet and the pods; down.sh unmounts it.
share_kubelet_dir() {
	mkdir -p "$state/kubelet"
	mount --bind "$state/kubelet" "$state/kubelet"
	mount --make-rshared "$state/kubelet"
}

# share_fixed_host_paths serves the host paths KubeVirt compiles in (virt-handler's hostPath volumes, the
# device-plugin socket directory): the kubelet's root dir is bind-mounted at /var/lib/kubelet in the same shared
# peer group (so virt-handler's /var/lib/kubelet and /pods see the kubelet's pod volumes, and mounts it makes there
# reach the pods), /run/kubevirt becomes a shared mount (virt-handler mounts it Bidirectional), and KubeVirt's other
# host directories are made. Each mount and each directory that did not exist is recorded for down.sh to undo.
share_fixed_host_paths() {
	local d
	for d in /var/lib/kubelet /run/kubevirt /run/kubevirt-private /run/kubevirt-libvirt-runtimes \
		/var/lib/kubevirt /var/lib/kubevirt-node-labeller; do
		[ -e "$d" ] || { mkdir -p "$d" && echo "$d" >>"$state/host-dirs"; }
	done
	mount --rbind "$state/kubelet" /var/lib/kubelet && echo /var/lib/kubelet >>"$state/host-mounts"
	mount --make-rshared /var/lib/kubelet
	mount --bind /run/kubevirt /run/kubevirt && echo /run/kubevirt >>"$state/host-mounts"
	mount --make-rshared /run/kubevirt
	# containerd (1.6) checks the propagation of the mount holding the path as written, without following the
	# /var/run -> /run symlink, so /var/run/kubevirt is "mounted on /": the root mount is made shared, as systemd
	# makes it on any ordinary host (this machine's is private), and private again by down.sh.
	if [ "$(findmnt -n -o PROPAGATION /)" = private ]; then
		mount --make-shared / && touch "$state/root-was-private"
	fi
}

# start_kube_proxy runs kube-proxy in iptables mode on the host, as a node agent. It changes no conntrack or
# localnet sysctls (zero limits keep the host's values; NodePorts only on the node IP).
start_kube_proxy() {
	cat >"$state/kube-proxy.yaml" <<-EOF
	apiVersion: kubeproxy.config.k8s.io/v1alpha1
	kind: KubeProxyConfiguration
	clientConnection: {kubeconfig: "$KUBECONFIG"}
	mode: iptables
	hostnameOverride: $GOLDIMAGE_NODE_NAME
	clusterCIDR: $GOLDIMAGE_POD_CIDR
	bindAddress: $GOLDIMAGE_POD_GATEWAY
	healthzBindAddress: 127.0.0.1:10256
	metricsBindAddress: 127.0.0.1:10249
	nodePortAddresses: [$GOLDIMAGE_POD_GATEWAY/32]
	conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
	EOF
	start kube-proxy "$GOLDIMAGE_BIN_DIR/kube-proxy" --config "$state/kube-proxy.yaml"
	touch "$state/kube-proxy-rules"
	wait_for "kube-proxy" curl -fsS http://127.0.0.1:10256/healthz
	wait_for "the kubernetes Service through kube-proxy" curl -fsS --cacert "$pki/ca.crt" \
		"https://$GOLDIMAGE_KUBERNETES_SERVICE_IP/readyz"
}

# deploy_dns runs CoreDNS as the cluster DNS from Kubernetes' own addon manifest (cluster/addons/dns/coredns in the
# k8s.io/kubernetes module), with its variables filled in and its image replaced by the one built here.
deploy_dns() {
	local manifest tar=$state/images/coredns.tar
	(cd "$root/hack/tools/controlplane" && go mod download k8s.io/kubernetes) # the binaries may be cached while the module is not
	manifest=$(cd "$root/hack/tools/controlplane" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/cluster/addons/dns/coredns/coredns.yaml.sed
	[ -f "$manifest" ] || die "$manifest missing"
	(cd "$root" && go run ./hack/tools/imagebuild --tag "$GOLDIMAGE_DNS_IMAGE" --out "$tar" --user 0 \
		"$GOLDIMAGE_BIN_DIR/coredns:/coredns")
	ctr_k8s images import "$tar" >/dev/null
	sed -e "s/\$DNS_DOMAIN/cluster.local/g" -e "s/\$DNS_SERVER_IP/$GOLDIMAGE_DNS_SERVICE_IP/g" \
		-e "s/\$DNS_MEMORY_LIMIT/170Mi/g" -e "s#image: registry.k8s.io/coredns/coredns:.*#image: $GOLDIMAGE_DNS_IMAGE#" \
		"$manifest" >"$state/coredns.yaml"
	kubectl apply -f "$state/coredns.yaml" >/dev/null
	kubectl -n kube-system rollout status deployment/coredns --timeout 120s
}

node_ready() {
	[ "$(kubectl get node "$GOLDIMAGE_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# make_storage creates a no-provisioner StorageClass with hostPath filesystem PVs and local block PVs on loop devices.
make_storage() {
	local i dir img dev manifest=$state/storage.yaml
	cat >"$manifest" <<-EOF
	apiVersion: storage.k8s.io/v1
	kind: StorageClass
	metadata: {name: $GOLDIMAGE_STORAGE_CLASS, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
	provisioner: kubernetes.io/no-provisioner
	volumeBindingMode: Immediate
	reclaimPolicy: Retain
	EOF
	for i in $(seq 1 "$GOLDIMAGE_FS_PVS"); do
		dir=$state/pv/fs-$i
		mkdir -p "$dir" && chmod 0777 "$dir"
		pv "fs-$i" Filesystem "hostPath: {path: $dir, type: Directory}" >>"$manifest"
	done
	for i in $(seq 1 "$GOLDIMAGE_BLOCK_PVS"); do
		img=$state/pv/block-$i.img
		truncate -s "$(numfmt --from=iec-i "$GOLDIMAGE_PV_SIZE")" "$img"
		dev=$(losetup --find --show "$img")
		echo "$dev" >>"$state/loops"
		pv "block-$i" Block "local: {path: $dev}" \
			"nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$GOLDIMAGE_NODE_NAME]}]}]}}" \
			>>"$manifest"
	done
	kubectl apply -f "$manifest" >/dev/null
}

# pv NAME MODE SOURCE [NODE_AFFINITY] prints a PersistentVolume of the e2e StorageClass, labelled with its mode.
pv() {
	cat <<-EOF
	---
	apiVersion: v1
	kind: PersistentVolume
	metadata: {name: e2e-$1, labels: {goldimage.e2e/volume-mode: $2}}
	spec:
	  capacity: {storage: $GOLDIMAGE_PV_SIZE}
	  accessModes: [ReadWriteOnce]
	  volumeMode: $2
	  storageClassName: $GOLDIMAGE_STORAGE_CLASS
	  persistentVolumeReclaimPolicy: Retain
	  $3
	  ${4:-}
	EOF
}

# start NAME CMD... runs CMD in the background with its log in $logs/NAME.log and its pid in $run/NAME.pid.
start() {
	local name=$1
	shift
	"$@" >"$logs/$name.log" 2>&1 &
	echo $! >"$run/$name.pid"
	echo "$name started (pid $!, log $logs/$name.log)"
}

# wait_for WHAT CMD... retries CMD for up to 120 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 240); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	die "timed out waiting for $what (logs in $logs)"
}

die() {
	echo "hack/cluster/up.sh: $*" >&2
	exit 1
}

main "$@"
