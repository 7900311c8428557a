// SPDX-License-Identifier: GPL-2.0
/*
 * vigil's enforcement programs.
 *
 * Decisions are data: user space writes, per policy "slot", path entries into one LPM trie
 * (`paths`, key = slot, kind, path bytes) and CIDR entries into two LPM tries (`net4`,
 * `net6`); `containers` maps a container's cgroup id to the slots that apply to it and
 * `policies` holds each slot's mode (audit / enforce), so a mode switch is one array write.
 *
 * - exec: sched_process_exec (raw tracepoint). The new image is mapped but no instruction of
 *   it has run; a SIGKILL queued here is handled on the way back to user space.
 * - files: sys_exit of open/openat/openat2/creat/open_by_handle_at. The kernel has resolved
 *   the path (symlinks, "..", dirfd, cwd) and installed the descriptor; we walk the opened
 *   file's dentries and kill the caller before it returns to user space, so it never sees
 *   the descriptor. The open itself has happened (O_CREAT / O_TRUNC side effects).
 * - unix sockets: cgroup connect_unix / sendmsg_unix (kernel 6.7+) at the cgroup v2 root: a
 *   denied connect or datagram fails with EPERM before the socket is looked up. Where the
 *   kernel lacks those hooks, sys_exit of connect with an AF_UNIX address kills the caller
 *   instead (the connection was made, nothing was sent). `config[0]` says which is active.
 * - network: cgroup connect4/6 and sendmsg4/6 at the cgroup v2 root; a denied connect or
 *   datagram fails with EPERM.
 *
 * Containers are keyed by the same id as the sensor's: the cgroup v2 id when the task is in
 * a non-root v2 cgroup, else the v1 memory controller's cgroup id (hybrid hosts).
 *
 * Kernel structures are declared minimally with preserve_access_index (CO-RE) instead of a
 * generated vmlinux.h, as in vigil-bpf.
 */

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "response.h"

#define PRESERVE __attribute__((preserve_access_index))

/* ---- minimal kernel structures (CO-RE) ---------------------------------------------- */

struct pt_regs {
	unsigned long di, si, dx, r10, r8, r9, orig_ax;
} PRESERVE;

struct qstr {
	union {
		struct {
			__u32 hash;
			__u32 len;
		};
		__u64 hash_len;
	};
	const unsigned char *name;
} PRESERVE;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} PRESERVE;

struct vfsmount {
	struct dentry *mnt_root;
} PRESERVE;

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} PRESERVE;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} PRESERVE;

struct file {
	struct path f_path;
	unsigned int f_mode;
} PRESERVE;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} PRESERVE;

struct files_struct {
	struct fdtable *fdt;
} PRESERVE;

struct fs_struct {
	struct path root;
} PRESERVE;

struct kernfs_node {
	__u64 id;
} PRESERVE;

struct cgroup {
	struct kernfs_node *kn;
} PRESERVE;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
} PRESERVE;

struct css_set {
	struct cgroup_subsys_state *subsys[12];
	struct cgroup *dfl_cgrp;
} PRESERVE;

enum cgroup_subsys_id {
	memory_cgrp_id = 4,
};

struct task_struct {
	int pid;
	int tgid;
	struct fs_struct *fs;
	struct files_struct *files;
	struct css_set *cgroups;
	char comm[16];
} PRESERVE;

struct linux_binprm {
	struct file *file;
	const char *filename;
} PRESERVE;

#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SIGKILL 9

#define NR_OPEN 2
#define NR_CONNECT 42
#define NR_CREAT 85
#define NR_OPEN_BY_HANDLE_AT 304
#define NR_OPENAT 257
#define NR_OPENAT2 437

/* ---- maps ------------------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vr_container);
} containers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct vr_policy);
} policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vr_path_key);
	__type(value, __u32);
} paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vr_net4_key);
	__type(value, struct vr_net_rules);
} net4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vr_net6_key);
	__type(value, struct vr_net_rules);
} net6 SEC(".maps");

/* cgroup id -> 1: egress denied entirely (user-space "isolate" response) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} isolated SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} reports SEC(".maps");

/* [0]: VR_CFG_* flags written by user space after attaching */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* [0] reports lost to a full ring buffer, [1] paths longer than the key (truncated) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

#define BUF 512
struct scratch {
	__u8 buf[BUF + 256];
	struct vr_path_key key;
	__u32 pos;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* ---- helpers ---------------------------------------------------------------------- */

static __always_inline void count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &slot);
	if (c)
		*c += 1;
}

static __always_inline __u64 task_cgroup_id(struct task_struct *task)
{
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	__u64 id = BPF_CORE_READ(cgroups, dfl_cgrp, kn, id);
	if (id > 1)
		return id;
	int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = NULL;
	bpf_probe_read_kernel(&css, sizeof(css), &cgroups->subsys[mem & 15]);
	if (!css)
		return id;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * Writes the path of (dentry, vfsmount) as seen from the task's root into s->key.path,
 * NUL-terminated (truncated to VR_PATH_MAX bytes without NUL when longer). Walks dentries
 * up to the mount root, then crosses to the parent mount, like d_path().
 */
#define MAX_COMPONENTS 48
static __always_inline int walk_path(struct scratch *s, struct task_struct *task, struct dentry *d,
				     struct vfsmount *vmnt)
{
	struct dentry *root_d = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_m = BPF_CORE_READ(task, fs, root.mnt);
	__u32 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct mount *mnt = (void *)((char *)vmnt - mnt_off);
	__u32 pos = BUF - 1;
	s->buf[BUF - 1] = 0;

	for (int i = 0; i < MAX_COMPONENTS; i++) {
		if (d == root_d && vmnt == root_m)
			break;
		struct dentry *mroot = BPF_CORE_READ(vmnt, mnt_root);
		if (d == mroot) {
			struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
			if (parent == mnt || !parent)
				break;
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = parent;
			vmnt = (void *)((char *)mnt + mnt_off);
			continue;
		}
		struct dentry *up = BPF_CORE_READ(d, d_parent);
		if (up == d || !up)
			break;
		__u32 len = BPF_CORE_READ(d, d_name.len);
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		len &= 255;
		if (len + 1 > pos)
			break;
		pos -= len;
		bpf_probe_read_kernel(&s->buf[pos & (BUF - 1)], len, name);
		pos -= 1;
		s->buf[pos & (BUF - 1)] = '/';
		d = up;
		/* Round-trip through map memory so the verifier forgets pos's exact value:
		 * otherwise every iteration is a new state and the walk exceeds the
		 * instruction budget. Every use of pos is masked anyway. */
		*(volatile __u32 *)&s->pos = pos;
		pos = *(volatile __u32 *)&s->pos;
		if (pos > BUF - 1)
			break;
	}
	if (pos == BUF - 1) {
		pos -= 1;
		s->buf[pos & (BUF - 1)] = '/';
	}
	if (BUF - pos > VR_PATH_MAX)
		count(1); /* longer than the key: matched on its first VR_PATH_MAX bytes */
	/* buf ends with NUL, so a string copy of constant size takes exactly the path. */
	bpf_probe_read_kernel_str(s->key.path, VR_PATH_MAX, &s->buf[pos & (BUF - 1)]);
	return 0;
}

struct decision {
	__u32 slot;
	__u8 verdict;
	__u8 enforced;
	__u8 reason;
};

/* Evaluates s->key.path under every policy of the container for `kind`. */
static __always_inline void decide_path(struct scratch *s, struct vr_container *c, __u8 kind,
					struct decision *out)
{
	s->key.prefixlen = (4 + 1 + VR_PATH_MAX) * 8;
	s->key.kind = kind;
	for (int i = 0; i < VR_MAX_SLOTS; i++) {
		if (i >= c->n)
			break;
		__u32 slot = c->slots[i];
		struct vr_policy *p = bpf_map_lookup_elem(&policies, &slot);
		if (!p || p->mode == VR_MODE_OFF)
			continue;
		s->key.slot = slot;
		__u32 *v = bpf_map_lookup_elem(&paths, &s->key);
		__u8 verdict = v ? *v : 0;
		__u8 reason = VR_REASON_LISTED;
		if (!verdict && kind == VR_KIND_EXEC && (p->flags & VR_F_EXEC_DEFAULT_DENY)) {
			verdict = VR_DENY;
			reason = VR_REASON_DEFAULT;
		}
		if (verdict != VR_DENY)
			continue;
		__u8 enforce = p->mode == VR_MODE_ENFORCE;
		if (!out->verdict || (enforce && !out->enforced)) {
			out->verdict = VR_DENY;
			out->enforced = enforce;
			out->slot = slot;
			out->reason = reason;
		}
	}
}

static __always_inline void report(struct task_struct *task, __u64 cg, struct decision *d, __u8 kind,
				   __u32 nr, __s32 ret, struct scratch *s)
{
	struct vr_event *e = bpf_ringbuf_reserve(&reports, sizeof(*e), 0);
	if (!e) {
		count(0);
		return;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->ktime_ns = bpf_ktime_get_ns();
	e->cgroup_id = cg;
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->slot = d->slot;
	e->kind = kind;
	e->enforced = d->enforced;
	e->reason = d->reason;
	e->proto = 0;
	e->port = 0;
	e->family = 0;
	e->syscall = nr;
	e->ret = ret;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memset(e->path, 0, sizeof(e->path));
	if (s)
		bpf_probe_read_kernel(e->path, VR_PATH_MAX, s->key.path);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void act(struct task_struct *task, __u64 cg, struct decision *d, __u8 kind,
				__u32 nr, __s32 ret, struct scratch *s)
{
	/* Kill first: the report's timestamp then bounds the decision-to-kill latency. */
	if (d->enforced)
		bpf_send_signal(SIGKILL);
	report(task, cg, d, kind, nr, ret, s);
}

/* ---- exec ------------------------------------------------------------------------- */

SEC("raw_tracepoint/sched_process_exec")
int vigil_resp_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u64 cg = task_cgroup_id(task);
	struct vr_container *c = bpf_map_lookup_elem(&containers, &cg);
	if (!c)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct decision d = {};
	/* The name exec was called with, when absolute (for a script: the script itself)... */
	const char *fname = BPF_CORE_READ(bprm, filename);
	char first = 0;
	bpf_probe_read_kernel(&first, 1, fname);
	bool by_name = false;
	if (first == '/') {
		bpf_probe_read_kernel_str(s->key.path, VR_PATH_MAX, fname);
		decide_path(s, c, VR_KIND_EXEC, &d);
		by_name = d.verdict == VR_DENY;
	}
	/* ...and the file the kernel mapped, by its resolved path (for a script: the
	 * interpreter). */
	if (!(d.verdict == VR_DENY && d.enforced)) {
		struct file *f = BPF_CORE_READ(bprm, file);
		struct decision d2 = {};
		walk_path(s, task, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
		decide_path(s, c, VR_KIND_EXEC, &d2);
		if (d2.verdict == VR_DENY && (!d.verdict || (d2.enforced && !d.enforced))) {
			d = d2;
			by_name = false;
		}
		if (by_name) /* report the name that was denied */
			bpf_probe_read_kernel_str(s->key.path, VR_PATH_MAX, fname);
	}
	if (d.verdict == VR_DENY)
		act(task, cg, &d, VR_KIND_EXEC, 59, 0, s);
	return 0;
}

/* ---- files and unix sockets (syscall exit) --------------------------------------- */

struct sockaddr_un_min {
	__u16 family;
	char path[108];
};

SEC("raw_tracepoint/sys_exit")
int vigil_resp_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long ret = (long)ctx->args[1];
	long nr = BPF_CORE_READ(regs, orig_ax);
	bool is_open = nr == NR_OPENAT || nr == NR_OPEN || nr == NR_OPENAT2 || nr == NR_CREAT ||
		       nr == NR_OPEN_BY_HANDLE_AT;
	if (!is_open && nr != NR_CONNECT)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 cg = task_cgroup_id(task);
	struct vr_container *c = bpf_map_lookup_elem(&containers, &cg);
	if (!c)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct decision d = {};
	__u8 kind = 0;
	if (is_open) {
		if (ret < 0)
			return 0;
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
		unsigned int max = BPF_CORE_READ(fdt, max_fds);
		if ((unsigned long)ret >= max)
			return 0;
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = NULL;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]);
		if (!f)
			return 0;
		unsigned int mode = BPF_CORE_READ(f, f_mode);
		if (!(mode & (FMODE_READ | FMODE_WRITE)))
			return 0; /* O_PATH: no data access */
		walk_path(s, task, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
		if (mode & FMODE_WRITE) {
			decide_path(s, c, VR_KIND_WRITE, &d);
			kind = VR_KIND_WRITE;
		}
		if ((mode & FMODE_READ) && !(d.verdict == VR_DENY && d.enforced)) {
			struct decision r = {};
			decide_path(s, c, VR_KIND_READ, &r);
			if (r.verdict == VR_DENY && (!d.verdict || (r.enforced && !d.enforced))) {
				d = r;
				kind = VR_KIND_READ;
			}
		}
	} else {
		/* connect(fd, addr, len): only AF_UNIX paths here; inet goes through cgroup hooks,
		 * and so does AF_UNIX when the kernel has the unix hooks. */
		__u32 zero = 0;
		__u32 *cfg = bpf_map_lookup_elem(&config, &zero);
		if (cfg && (*cfg & VR_CFG_UNIX_HOOKS))
			return 0;
		struct sockaddr_un_min *ua = (void *)BPF_CORE_READ(regs, si);
		__u16 fam = 0;
		if (bpf_probe_read_user(&fam, sizeof(fam), &ua->family) || fam != AF_UNIX)
			return 0;
		__builtin_memset(s->key.path, 0, 112);
		if (bpf_probe_read_user_str(s->key.path, 108, ua->path) <= 1)
			return 0; /* abstract or unnamed socket */
		decide_path(s, c, VR_KIND_UNIX, &d);
		kind = VR_KIND_UNIX;
	}
	if (d.verdict == VR_DENY)
		act(task, cg, &d, kind, (__u32)nr, (__s32)ret, s);
	return 0;
}

/* ---- network (cgroup sock_addr) --------------------------------------------------- */

static __always_inline int rules_verdict(struct vr_net_rules *rs, __u8 proto, __u16 port)
{
	if (!rs)
		return 0;
	for (int i = 0; i < VR_NET_RULES; i++) {
		if (i >= rs->n)
			break;
		struct vr_net_rule *r = &rs->r[i];
		if (r->proto && r->proto != proto)
			continue;
		if (port < r->port_lo || port > r->port_hi)
			continue;
		return r->verdict;
	}
	return 0;
}

static __always_inline int net_check(struct bpf_sock_addr *ctx, bool v6, __u32 nr)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 cg = task_cgroup_id(task);
	struct decision d = {};
	__u8 proto = ctx->protocol;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 *iso = bpf_map_lookup_elem(&isolated, &cg);
	if (iso && *iso) {
		d.verdict = VR_DENY;
		d.enforced = 1;
		d.reason = VR_REASON_ISOLATED;
	} else {
		struct vr_container *c = bpf_map_lookup_elem(&containers, &cg);
		if (!c)
			return 1;
		for (int i = 0; i < VR_MAX_SLOTS; i++) {
			if (i >= c->n)
				break;
			__u32 slot = c->slots[i];
			struct vr_policy *p = bpf_map_lookup_elem(&policies, &slot);
			if (!p || p->mode == VR_MODE_OFF)
				continue;
			struct vr_net_rules *rs;
			if (v6) {
				struct vr_net6_key k = {.prefixlen = 32 + 128, .slot = slot};
				k.addr[0] = 0;
				__u32 *a = (__u32 *)k.addr;
				a[0] = ctx->user_ip6[0];
				a[1] = ctx->user_ip6[1];
				a[2] = ctx->user_ip6[2];
				a[3] = ctx->user_ip6[3];
				rs = bpf_map_lookup_elem(&net6, &k);
			} else {
				struct vr_net4_key k = {.prefixlen = 32 + 32, .slot = slot};
				*(__u32 *)k.addr = ctx->user_ip4;
				rs = bpf_map_lookup_elem(&net4, &k);
			}
			int v = rules_verdict(rs, proto, port);
			__u8 reason = VR_REASON_LISTED;
			if (!v && (p->flags & VR_F_NET_DEFAULT_DENY)) {
				v = VR_DENY;
				reason = VR_REASON_DEFAULT;
			}
			if (v != VR_DENY)
				continue;
			__u8 enforce = p->mode == VR_MODE_ENFORCE;
			if (!d.verdict || (enforce && !d.enforced)) {
				d.verdict = VR_DENY;
				d.enforced = enforce;
				d.slot = slot;
				d.reason = reason;
			}
		}
	}
	if (d.verdict != VR_DENY)
		return 1;
	struct vr_event *e = bpf_ringbuf_reserve(&reports, sizeof(*e), 0);
	if (e) {
		__u64 id = bpf_get_current_pid_tgid();
		e->ktime_ns = bpf_ktime_get_ns();
		e->cgroup_id = cg;
		e->pid = (__u32)id;
		e->tgid = id >> 32;
		e->slot = d.slot;
		e->kind = v6 ? VR_KIND_NET6 : VR_KIND_NET4;
		e->enforced = d.enforced;
		e->reason = d.reason;
		e->proto = proto;
		e->port = port;
		e->family = v6 ? AF_INET6 : AF_INET;
		e->syscall = nr;
		e->ret = d.enforced ? -1 : 0;
		__u32 *a = (__u32 *)e->addr;
		if (v6) {
			a[0] = ctx->user_ip6[0];
			a[1] = ctx->user_ip6[1];
			a[2] = ctx->user_ip6[2];
			a[3] = ctx->user_ip6[3];
		} else {
			a[0] = ctx->user_ip4;
			a[1] = 0;
			a[2] = 0;
			a[3] = 0;
		}
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		__builtin_memset(e->path, 0, sizeof(e->path));
		bpf_ringbuf_submit(e, 0);
	} else {
		count(0);
	}
	return d.enforced ? 0 : 1;
}

/* ---- unix sockets (cgroup connect_unix / sendmsg_unix) ---------------------------- */

/*
 * A sock_addr program's context is the kernel's struct bpf_sock_addr_kern; the unix hooks
 * expose no path field, so the address the caller passed (already copied into kernel memory
 * by the socket layer) is read from there. Declared with CO-RE like the other structures.
 */
struct bpf_sock_addr_kern {
	void *uaddr;
	__u32 uaddrlen;
} PRESERVE;

static __always_inline int unix_check(struct bpf_sock_addr *ctx, __u32 nr)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u64 cg = task_cgroup_id(task);
	struct vr_container *c = bpf_map_lookup_elem(&containers, &cg);
	if (!c)
		return 1;
	struct scratch *s = get_scratch();
	if (!s)
		return 1;
	struct bpf_sock_addr_kern *k = (void *)ctx;
	struct sockaddr_un_min *ua = BPF_CORE_READ(k, uaddr);
	__u32 len = BPF_CORE_READ(k, uaddrlen);
	if (!ua || len <= 2)
		return 1; /* unnamed */
	__builtin_memset(s->key.path, 0, 112);
	if (bpf_probe_read_kernel_str(s->key.path, 108, ua->path) <= 1)
		return 1; /* abstract socket (leading NUL) */
	struct decision d = {};
	decide_path(s, c, VR_KIND_UNIX, &d);
	if (d.verdict != VR_DENY)
		return 1;
	report(task, cg, &d, VR_KIND_UNIX, nr, d.enforced ? -1 : 0, s);
	return d.enforced ? 0 : 1;
}

/*
 * The section name says connect4 because aya 0.13 rejects sections it does not know
 * (`cgroup/connect_unix`) and would refuse the whole object; user space never loads these
 * two through aya but itself, with expected_attach_type BPF_CGROUP_UNIX_CONNECT/SENDMSG
 * (src/unix_hooks.rs). Kernel program names are at most 15 bytes.
 */
SEC("cgroup/connect4")
int vigil_resp_ucon(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, 42);
}

SEC("cgroup/connect4")
int vigil_resp_usnd(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, 46);
}

SEC("cgroup/connect4")
int vigil_resp_connect4(struct bpf_sock_addr *ctx)
{
	return net_check(ctx, false, 42);
}

SEC("cgroup/connect6")
int vigil_resp_connect6(struct bpf_sock_addr *ctx)
{
	return net_check(ctx, true, 42);
}

SEC("cgroup/sendmsg4")
int vigil_resp_sendmsg4(struct bpf_sock_addr *ctx)
{
	return net_check(ctx, false, 46);
}

SEC("cgroup/sendmsg6")
int vigil_resp_sendmsg6(struct bpf_sock_addr *ctx)
{
	return net_check(ctx, true, 46);
}

char LICENSE[] SEC("license") = "GPL";
