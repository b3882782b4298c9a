package main

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// xattrCapability is the PAX record that carries a file capability (the security.capability extended attribute)
// in a layer tar; containerd and runc's unpackers set it on the file, as GNU tar --xattrs does.
const xattrCapability = "SCHILY.xattr.security.capability"

// capNumbers are the Linux capability numbers by name (linux/capability.h), in the spelling setcap(8) takes.
var capNumbers = map[string]uint{
	"cap_chown": 0, "cap_dac_override": 1, "cap_dac_read_search": 2, "cap_fowner": 3, "cap_fsetid": 4,
	"cap_kill": 5, "cap_setgid": 6, "cap_setuid": 7, "cap_setpcap": 8, "cap_linux_immutable": 9,
	"cap_net_bind_service": 10, "cap_net_broadcast": 11, "cap_net_admin": 12, "cap_net_raw": 13,
	"cap_ipc_lock": 14, "cap_ipc_owner": 15, "cap_sys_module": 16, "cap_sys_rawio": 17, "cap_sys_chroot": 18,
	"cap_sys_ptrace": 19, "cap_sys_pacct": 20, "cap_sys_admin": 21, "cap_sys_boot": 22, "cap_sys_nice": 23,
	"cap_sys_resource": 24, "cap_sys_time": 25, "cap_sys_tty_config": 26, "cap_mknod": 27, "cap_lease": 28,
	"cap_audit_write": 29, "cap_audit_control": 30, "cap_setfcap": 31, "cap_mac_override": 32,
	"cap_mac_admin": 33, "cap_syslog": 34, "cap_wake_alarm": 35, "cap_block_suspend": 36, "cap_audit_read": 37,
	"cap_perfmon": 38, "cap_bpf": 39, "cap_checkpoint_restore": 40,
}

// fileCapability encodes capabilities, e.g. "cap_net_bind_service" or "cap_net_admin,cap_sys_admin", as the value
// of security.capability that `setcap NAMES+ep` writes: struct vfs_cap_data revision 2 (little-endian magic with
// the effective flag, then permitted and inheritable words for capabilities 0-31 and 32-63), permitted and
// effective, nothing inheritable.
func fileCapability(names string) (string, error) {
	var permitted uint64
	for _, n := range strings.Split(names, ",") {
		num, ok := capNumbers[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return "", fmt.Errorf("unknown capability %q (want names like cap_net_bind_service)", n)
		}
		permitted |= 1 << num
	}
	const vfsCapRevision2, vfsCapFlagsEffective = 0x02000000, 0x000001
	b := make([]byte, 20)
	binary.LittleEndian.PutUint32(b[0:], vfsCapRevision2|vfsCapFlagsEffective)
	binary.LittleEndian.PutUint32(b[4:], uint32(permitted))      // permitted, 0-31
	binary.LittleEndian.PutUint32(b[12:], uint32(permitted>>32)) // permitted, 32-63 (inheritable words stay 0)
	return string(b), nil
}
