/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layouts shared between response.bpf.c and src/kernel.rs. Every struct has a
 * _Static_assert on its size, mirrored by a const assertion on the Rust side.
 */
#ifndef VIGIL_RESPONSE_H
#define VIGIL_RESPONSE_H

#define VR_MAX_SLOTS 8      /* policies applied to one container */
#define VR_PATH_MAX 251     /* path bytes in a trie key (LPM data is at most 256 bytes) */
#define VR_NET_RULES 16     /* flattened rules per CIDR entry */

/* kinds of path-trie entries (the byte after the slot in the key) */
#define VR_KIND_EXEC 1
#define VR_KIND_READ 2
#define VR_KIND_WRITE 3
#define VR_KIND_UNIX 4
/* event kinds beyond the path kinds */
#define VR_KIND_NET4 5
#define VR_KIND_NET6 6

#define VR_ALLOW 1
#define VR_DENY 2

#define VR_MODE_OFF 0
#define VR_MODE_AUDIT 1
#define VR_MODE_ENFORCE 2

/* policy flags */
#define VR_F_EXEC_DEFAULT_DENY 1
#define VR_F_NET_DEFAULT_DENY 2

/* config[0] flags */
#define VR_CFG_UNIX_HOOKS 1 /* connect_unix/sendmsg_unix attached: no kill at sys_exit */

/* why something was denied */
#define VR_REASON_LISTED 1     /* matched a deny entry */
#define VR_REASON_DEFAULT 2    /* not in an allow list (default deny) */
#define VR_REASON_ISOLATED 3   /* container network isolated by a response */

struct vr_container {
	__u32 n;
	__u32 slots[VR_MAX_SLOTS];
};
_Static_assert(sizeof(struct vr_container) == 36, "vr_container");

struct vr_policy {
	__u32 mode;
	__u32 flags;
};
_Static_assert(sizeof(struct vr_policy) == 8, "vr_policy");

struct vr_path_key {
	__u32 prefixlen;
	__u32 slot;
	__u8 kind;
	__u8 path[VR_PATH_MAX];
};
_Static_assert(sizeof(struct vr_path_key) == 260, "vr_path_key");

struct vr_net4_key {
	__u32 prefixlen;
	__u32 slot;
	__u8 addr[4];
};
_Static_assert(sizeof(struct vr_net4_key) == 12, "vr_net4_key");

struct vr_net6_key {
	__u32 prefixlen;
	__u32 slot;
	__u8 addr[16];
};
_Static_assert(sizeof(struct vr_net6_key) == 24, "vr_net6_key");

struct vr_net_rule {
	__u8 verdict;
	__u8 proto; /* 0 = any, 6 = tcp, 17 = udp */
	__u16 port_lo;
	__u16 port_hi;
	__u16 pad;
};

struct vr_net_rules {
	__u32 n;
	struct vr_net_rule r[VR_NET_RULES];
};
_Static_assert(sizeof(struct vr_net_rules) == 4 + 8 * VR_NET_RULES, "vr_net_rules");

struct vr_event {
	__u64 ktime_ns;     /* when the kernel decided */
	__u64 cgroup_id;
	__u32 pid;          /* thread id */
	__u32 tgid;
	__u32 slot;         /* policy slot that decided */
	__u8 kind;          /* VR_KIND_* */
	__u8 enforced;      /* 1 = killed / refused, 0 = audit only */
	__u8 reason;        /* VR_REASON_* */
	__u8 proto;
	__u16 port;         /* host order */
	__u16 family;
	__u32 syscall;
	__s32 ret;          /* syscall return value (file/unix), 0 otherwise */
	__u8 addr[16];
	char comm[16];
	char path[256];
};
_Static_assert(sizeof(struct vr_event) == 336, "vr_event");

#endif
