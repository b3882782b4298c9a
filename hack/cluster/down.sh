#!/usr/bin/env bash
# Stops the cluster hack/cluster/up.sh started and removes everything it made: pods (through the kubelet, so
# CNI tears their networks down), processes, mounts, loop devices, the bridge, kube-proxy's iptables rules, kubelet's
# cgroups, changed sysctls and $GOLDIMAGE_CLUSTER_DIR. Safe to run after a partial start and more than once.
set -uo pipefail
# shellcheck source=hack/cluster/env.sh
source "$(dirname "$0")/env.sh"

main() {
	[ -d "$state" ] || exit 0
	drain_pods
	stop kubelet
	remove_containers
	stop containerd
	kill_shims
	stop kube-proxy
	remove_kube_proxy_rules
	stop kube-scheduler
	stop kube-controller-manager
	stop kube-apiserver # before etcd, so it does not spin on a vanished backend
	stop etcd
	unmount_host_paths
	unmount_all
	remove_loops
	remove_network
	remove_cgroups
	restore_sysctls
	rm -rf "$state"
	echo "cluster down"
}

# drain_pods deletes every pod while the kubelet still runs, and waits (bounded) for their sandboxes to stop.
drain_pods() {
	alive kubelet && alive kube-apiserver || return 0
	kubectl delete deployments,replicasets,jobs,statefulsets,daemonsets --all --all-namespaces --wait=false >/dev/null 2>&1
	kubectl delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1
	for _ in $(seq 1 60); do
		[ -z "$(kubectl get pods --all-namespaces -o name 2>/dev/null)" ] && ! running_tasks && return 0
		sleep 1
	done
	echo "down: pods still running after 60 s; removing them with ctr" >&2
}

running_tasks() {
	ctr_k8s tasks ls 2>/dev/null | grep -q RUNNING
}

# remove_containers kills and deletes whatever containerd still runs after the kubelet stopped.
remove_containers() {
	alive containerd || return 0
	local id
	for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
		ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1
	done
	sleep 1
	for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
		ctr_k8s tasks delete -f "$id" >/dev/null 2>&1
	done
	for id in $(ctr_k8s containers ls -q 2>/dev/null); do
		ctr_k8s containers delete "$id" >/dev/null 2>&1
	done
}

# kill_shims ends runc shims this cluster's containerd left behind (they carry its socket address).
kill_shims() {
	local pid
	for pid in $(pgrep -f "containerd-shim.*-address $containerd_sock" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
}

# stop NAME sends SIGTERM to the process up.sh started as NAME, then SIGKILL after 15 s.
stop() {
	local name=$1 pid
	alive "$name" || { rm -f "$run/$name.pid"; return 0; }
	pid=$(cat "$run/$name.pid")
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$run/$name.pid"
}

# unmount_all unmounts everything under the state directory, deepest first.
unmount_all() {
	local m
	for m in $(findmnt -rn -o TARGET | grep "^$state/" | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# unmount_host_paths undoes up.sh's share_fixed_host_paths: its mounts outside the state directory (with whatever
# was mounted beneath them), then the directories it created, with what KubeVirt left in them.
unmount_host_paths() {
	local m d
	if [ -f "$state/host-mounts" ]; then
		while read -r m; do
			umount -R "$m" 2>/dev/null || umount -R -l "$m"
		done < <(sort -r "$state/host-mounts")
		rm -f "$state/host-mounts"
	fi
	[ -f "$state/root-was-private" ] && mount --make-private / && rm -f "$state/root-was-private"
	if [ -f "$state/host-dirs" ]; then
		while read -r d; do
			findmnt -rn -o TARGET | grep -q "^$d\(/\|$\)" && { echo "down: $d still has mounts; left in place" >&2; continue; }
			rm -rf "$d"
		done <"$state/host-dirs"
		rm -f "$state/host-dirs"
	fi
}

# remove_loops detaches the block PVs' loop devices, and any a CSI driver left attached to files in the state
# directory (its pods went before it could unpublish them).
remove_loops() {
	local dev
	if [ -f "$state/loops" ]; then
		while read -r dev; do
			losetup -d "$dev"
		done <"$state/loops"
		rm -f "$state/loops"
	fi
	for dev in $(losetup -n -O NAME,BACK-FILE 2>/dev/null | awk -v s="$state/" 'index($2, s) == 1 {print $1}'); do
		losetup -d "$dev"
	done
	# A loop the CSI driver attached inside its container names its file as the container saw it
	# (/volumes/vol-.../data): those are found by the backing file's device and inode, while the file still exists.
	local fs ino maj_min
	fs=$(mountpoint -d "$(df --output=target "$state" | tail -1)" 2>/dev/null) || return 0
	while read -r dev maj_min ino; do
		[ "$maj_min" = "$fs" ] || continue
		[ -n "$(find "$state" -xdev -inum "$ino" -print -quit 2>/dev/null)" ] && losetup -d "$dev"
	done < <(losetup -n -O NAME,BACK-MAJ:MIN,BACK-INO 2>/dev/null)
}

# remove_kube_proxy_rules deletes the iptables chains and rules kube-proxy made (its own --cleanup).
remove_kube_proxy_rules() {
	[ -f "$state/kube-proxy-rules" ] || return 0
	"$GOLDIMAGE_BIN_DIR/kube-proxy" --cleanup >"$logs/kube-proxy-cleanup.log" 2>&1 && rm -f "$state/kube-proxy-rules"
}

remove_network() {
	if [ -f "$state/bridge" ]; then
		ip link del "$(cat "$state/bridge")" && rm -f "$state/bridge"
	fi
}

# remove_cgroups removes the (empty) kubepods cgroup trees the kubelet created, leaves first.
remove_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
}

restore_sysctls() {
	[ -f "$state/sysctl.orig" ] || return 0
	local key value
	while read -r key value; do
		[ "$(cat "/proc/sys/$key")" = "$value" ] || echo "$value" >"/proc/sys/$key"
	done <"$state/sysctl.orig"
}

main "$@"
