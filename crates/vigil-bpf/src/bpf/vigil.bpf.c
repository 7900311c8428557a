// SPDX-License-Identifier: GPL-2.0
/*
 * vigil's kernel sensor.
 *
 * Syscalls are captured on the raw_syscalls tracepoints. sys_exit reads the argument
 * registers (x86-64 leaves them untouched through the call) and what they point to (user
 * strings are resident by then, and the kernel has filled output buffers), resolves paths
 * and descriptors by walking the kernel's own structures, and emits one record per call.
 * sys_enter stashes arguments per thread only where the exit cannot do without: close (the
 * descriptor is gone at exit) and, when user space asks for latency, every reported call.
 * Saving the stash map update and delete on the hot path is most of the sensor's cost
 * saving over a stash-everything design.
 *
 * Open events then pass a prefilter derived from the loaded rules (`filters`,
 * `filter_paths`, `filter_names`, see vg_filter): an open that no rule could match (a
 * read of a file no rule names, say) is dropped here, before the ring buffer and before
 * user space spends microseconds decoding and evaluating it. What to do with each
 * argument is data (the `specs` map, filled by user space), so adding a syscall is a table
 * entry, not new C.
 *
 * Process lifecycle records are always emitted: the child side of every clone/fork (from the
 * child's own sys_exit), every successful exec (sys_exit of execve/execveat, when the new
 * program is in place) and every thread-group exit (sched_process_exit).
 *
 * Structures are declared here, minimal and with preserve_access_index, instead of a generated
 * vmlinux.h: the object then builds on any host, and libbpf-style CO-RE relocations (resolved
 * by the loader against /sys/kernel/btf/vmlinux) fix the offsets for the running kernel.
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

#include "vigil_records.h"

#define PRESERVE __attribute__((preserve_access_index))

/* ---- minimal kernel structures (CO-RE) ---------------------------------------------- */

struct pt_regs {
	unsigned long di, si, dx, r10, r8, r9, orig_ax;
} PRESERVE;

/* The argument registers of the x86_64 register frame, r10 to di in its ABI order
 * (arch/x86/include/asm/ptrace.h: r15, r14, r13, r12, bp, bx, r11 come first); read whole with
 * one helper call instead of one call per argument register. */
struct regs_x86_args {
	unsigned long r10, r9, r8, ax, cx, dx, si, di;
};
#define REGS_X86_R10_OFF (7 * 8)

/* The arguments from a pt_regs the verifier knows (a BTF tracepoint's): plain loads. */
static __always_inline void syscall_args_btf(struct pt_regs *regs, __u64 *args)
{
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
}

static __always_inline void syscall_args(struct pt_regs *regs, __u64 *args)
{
	struct regs_x86_args r;
	if (bpf_probe_read_kernel(&r, sizeof(r), (char *)regs + REGS_X86_R10_OFF) != 0) {
		__builtin_memset(&r, 0, sizeof(r));
	}
	args[0] = r.di;
	args[1] = r.si;
	args[2] = r.dx;
	args[3] = r.r10;
	args[4] = r.r8;
	args[5] = r.r9;
}

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	__u32 val;
} kuid_t;
typedef struct {
	__u32 val;
} kgid_t;

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

struct super_block {
	unsigned long s_magic;
	__u32 s_dev;
} PRESERVE;

struct timespec64 {
	__s64 tv_sec;
	long tv_nsec;
} PRESERVE;

struct inode {
	unsigned short i_mode;
	kuid_t i_uid;
	kgid_t i_gid;
	struct super_block *i_sb;
	unsigned long i_ino;
	union {
		const unsigned int i_nlink;
		unsigned int __i_nlink;
	};
	__s64 i_mtime_sec;
	__s64 i_ctime_sec;
	__u32 i_mtime_nsec;
	__u32 i_ctime_nsec;
} PRESERVE;

/* Kernels before 6.11 kept timespec64 fields. */
struct inode___old {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
	struct timespec64 __i_ctime;
} PRESERVE;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
} PRESERVE;

struct vfsmount {
	struct dentry *mnt_root;
	struct super_block *mnt_sb;
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
	struct inode *f_inode;
	void *private_data;
	unsigned int f_flags;
} PRESERVE;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} PRESERVE;

/* A pointer-sized kernel type, to read a slot of the descriptor array through KCAST. */
struct llist_node {
	struct llist_node *next;
} PRESERVE;

struct files_struct {
	struct fdtable *fdt;
} PRESERVE;

struct fs_struct {
	struct path root;
	struct path pwd;
} PRESERVE;

struct mm_struct {
	unsigned long arg_start, arg_end, env_start, env_end;
	struct file *exe_file;
} PRESERVE;

typedef struct {
	__u64 val;
} kernel_cap_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
	kernel_cap_t cap_inheritable;
	kernel_cap_t cap_permitted;
	kernel_cap_t cap_effective;
} PRESERVE;

/* Complete, not minimal: pid->numbers[level] is indexed with a variable, and CO-RE
 * relocates field offsets but not the stride of an array of structs, which clang takes from
 * this declaration. The kernel's layout (since 4.15) is exactly these two fields. */
struct pid_namespace;
struct upid {
	int nr;
	struct pid_namespace *ns;
} PRESERVE;

struct pid {
	unsigned int level;
	struct upid numbers[1];
} PRESERVE;

struct tty_driver {
	int major;
	int minor_start;
} PRESERVE;

struct tty_struct {
	int index;
	struct tty_driver *driver;
} PRESERVE;

struct signal_struct {
	atomic_t live;
	int group_exit_code;
	struct pid *pids[4];
	struct tty_struct *tty;
} PRESERVE;

struct kernfs_node {
	__u64 id;
	const char *name;
} PRESERVE;

/* The parent link was renamed `__parent` in 6.15; CO-RE picks whichever the kernel has. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} PRESERVE;

struct kernfs_node___old {
	struct kernfs_node *parent;
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
	int exit_code;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	struct signal_struct *signal;
	const struct cred *cred;
	struct fs_struct *fs;
	struct files_struct *files;
	struct mm_struct *mm;
	struct css_set *cgroups;
	kuid_t loginuid;
	char comm[16];
} PRESERVE;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct {
		__u8 s6_addr[16];
	} skc_v6_daddr;
	struct {
		__u8 s6_addr[16];
	} skc_v6_rcv_saddr;
} PRESERVE;

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
} PRESERVE;

struct socket {
	struct sock *sk;
} PRESERVE;

struct ovl_inode {
	struct inode vfs_inode;
	struct dentry *__upperdentry;
} PRESERVE;

struct user_msghdr {
	void *msg_name;
	int msg_namelen;
} PRESERVE;

/* ---- constants -------------------------------------------------------------------- */

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IWUSR 00200
#define S_IWGRP 00020
#define S_IWOTH 00002

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define SOCKFS_MAGIC 0x534F434B
#define PIPEFS_MAGIC 0x50495045
#define ANON_INODE_FS_MAGIC 0x09041934
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

#define AT_FDCWD (-100)
#define PIDTYPE_PGID 2
#define PIDTYPE_SID 3

#define NR_open 2
#define NR_close 3
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_execve 59
#define NR_clone3 435
#define NR_execveat 322

/* procexit's category index (Process in user space's order, see sensor::CATEGORIES). */
#define VG_EXIT_CATEGORY 3

#define PATH_HALF 4096
#define PATH_BUF (2 * PATH_HALF)
#define PATH_DEPTH 128
#define NAME_MAX_MASK 255

/* Masks a value in a way the compiler cannot fold away after a range check: the verifier
 * needs to see the AND on the very register that is passed as a size. */
#define BOUND(v, mask) asm volatile("%0 &= " #mask : "+r"(v))

/*
 * One helper call for several fields of a structure: HEAD(buf, ptr) copies the first
 * sizeof(buf) bytes of *ptr (zeroes if unreadable, as BPF_CORE_READ gives for NULL), and
 * FIELD(buf, ptr, type, field) takes a field from that copy when the running kernel's layout
 * puts it inside, else reads it alone. The offset is a CO-RE constant once relocated, so the
 * verifier keeps only one of the two branches. Each helper call costs about as much as the
 * rest of a small program, and the open path reads a dozen fields of struct file, inode and
 * super_block.
 */
#define HEAD(buf, ptr)                                                                     \
	do {                                                                               \
		if (bpf_probe_read_kernel(buf, sizeof(buf), ptr) != 0)                     \
			__builtin_memset(buf, 0, sizeof(buf));                             \
	} while (0)
#define FIELD(buf, ptr, type, field)                                                       \
	({                                                                                 \
		typeof(((type *)0)->field) __v;                                            \
		__u32 __o = bpf_core_field_offset(type, field);                            \
		if (__o + sizeof(__v) <= sizeof(buf) && __o % sizeof(__v) == 0)            \
			__v = *(typeof(__v) *)((char *)(buf) + __o);                       \
		else                                                                       \
			__v = BPF_CORE_READ((type *)(ptr), field);                         \
		__v;                                                                       \
	})

#ifdef VG_KFUNC
#define KFUNCS 1
#include "vigil_kfunc.h"
#else
#define KFUNCS 0
#endif

/* ---- maps ------------------------------------------------------------------------- */

/* Records to user space. Size is set by the loader (SensorConfig::ring_bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* What to capture for each syscall (see struct vg_spec). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_NR_SYSCALLS);
	__type(key, __u32);
	__type(value, struct vg_spec);
} specs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_config);
} config SEC(".maps");

/* Kernel-side drops by cause (VG_DROP_*), per CPU so counting never contends. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct stash {
	__u64 ts;
	__u64 nr;
	__u64 args[6];
	__u64 file; /* struct file * resolved at entry (close) */
};

/* Entry arguments per thread between sys_enter and sys_exit. Threads that die inside a
 * syscall (exit_group never returns) are removed by sched_process_exit; LRU covers the rare
 * leftovers (a non-leader thread that execs changes tid). Per-CPU LRU lists avoid a global
 * lock on the hottest map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u32);
	__type(value, struct stash);
} stashes SEC(".maps");

/* Per-CPU scratch: the record being built, and a path assembly buffer. Separate maps because
 * a per-CPU value is limited to 32 KiB. */
struct scratch {
	__u8 rec[VG_REC_SIZE];
};

struct pathbuf {
	__u8 b[PATH_BUF];
	__u32 pos;
	__u32 off;
	/* Start of the last component of the latest walk (0: the path is "/"), and the walk's
	 * result: where the path starts, or PATH_NONE when no walk produced the event's path. */
	__u32 leaf;
	__u32 walked;
	struct vg_lpm_key key;
	struct vg_name_key name;
	/* Heads of the event's struct file, its inode and super block (see HEAD): read once by
	 * put_fd_name, used again by fill_fd. */
	__u64 fhead[10];
	__u64 ihead[10];
	__u64 sbhead[13];
	__u64 skhead[11];
	/* The path argument's string in the record (for the prefilter's "../" test). */
	__u32 upath_off;
	__u32 upath_len;
	/* Whether the latest walk reached a root (a cut path is not cached). */
	__u32 complete;
	__u32 pad;
	/* The path cache entry of the event's descriptor (ckey.dentry 0: none), the generation
	 * read before its path was computed, and the cached path-set bits after a hit. */
	struct vg_pc_key ckey;
	__u64 cgen;
	__u64 cmask;
	__u64 cinode;
	__u64 cparent;
	__u64 chash_len;
	/* fd_file's result on its way to becoming a scalar (KFUNCS). */
	__u64 fslot;
};

#define PATH_NONE 0xffffffff

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} heap SEC(".maps");

/* Prefilters of open events (see vg_filter in vigil_records.h), written by user space from
 * the loaded rules. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_NR_FILTERS);
	__type(key, __u32);
	__type(value, struct vg_filter);
} filters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_lpm_key);
	__type(value, __u64);
} filter_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_name_key);
	__type(value, __u64);
} filter_names SEC(".maps");

/*
 * The path cache: a prefiltered open of a file whose path was walked before skips the walk
 * and the path lookups (see mask_cached). What a walk computes depends only on the dentry,
 * its mount and the task's root, until a rename moves the dentry or one of its ancestors or a
 * mount changes: a successful rename or mount call bumps the generation (VG_SPEC_PATHGEN),
 * and a hit also requires the dentry's parent, name hash and inode to be the cached ones (a
 * freed and reused dentry, a renamed file). Renames that no syscall makes (io_uring requests)
 * would leave stale entries: the first io_uring instance turns the cache off
 * (VG_SPEC_NOCACHE), and user space leaves it off if one exists at start.
 *
 * Direct-mapped and per CPU: a lookup is an inlined array access (a hash map lookup is a call
 * and a hash), no two CPUs write the same slot (the program does not nest on a CPU, so an
 * entry is never read half-written), and a colliding key simply replaces the slot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_PC_ENTRIES);
	__type(key, __u32);
	__type(value, struct vg_pc_entry);
} path_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_GEN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} path_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_PC_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} path_cache_stats SEC(".maps");

/*
 * Per-cgroup maps for the profile and response features (laid out, not yet used by user
 * space). They cost nothing while empty: sys_enter looks at them only when
 * vg_config.record_cgroups is set.
 *
 * cgroup_record:   cgroup id -> 1 for cgroups whose syscall set is being learned.
 * cgroup_syscalls: cgroup id -> bitmap of syscall numbers seen (512 bits).
 * cgroup_policy:   cgroup id -> index of the response policy that applies to it.
 */
struct syscall_bitmap {
	__u64 bits[VG_NR_SYSCALLS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_record SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct syscall_bitmap);
} cgroup_syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_policy SEC(".maps");

static __always_inline __u8 *rec_at(struct scratch *s, __u32 off)
{
	__u64 o = off;
	BOUND(o, 16383);
	return &s->rec[o];
}

static __always_inline __u8 *path_at(struct pathbuf *s, __u32 pos)
{
	__u64 o = pos;
	BOUND(o, 4095);
	return &s->b[o];
}

/* ---- helpers ---------------------------------------------------------------------- */

static __always_inline void count_drop(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&drops, &slot);
	if (c)
		*c += 1;
}

static __always_inline struct vg_config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config, &zero);
}

/*
 * Round-trips a scalar through map memory so the verifier forgets its exact range. Loop
 * variables with precise, ever-changing ranges defeat state pruning and blow the 1M
 * instruction budget; every use of a laundered value is masked anyway.
 */
static __always_inline __u32 launder(__u32 v)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return v;
	*(volatile __u32 *)&pb->off = v;
	return *(volatile __u32 *)&pb->off;
}

/* The cgroup used to key containers: cgroup v2 when the task is in a v2 cgroup other than
 * the root, else the v1 memory controller's cgroup (hybrid hosts keep v2 empty). */
static __always_inline struct kernfs_node *task_cgroup_kn(struct task_struct *task)
{
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	struct kernfs_node *kn = BPF_CORE_READ(cgroups, dfl_cgrp, kn);
	if (BPF_CORE_READ(kn, id) > 1)
		return kn;
	int mem = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css;
	bpf_probe_read_kernel(&css, sizeof(css), &cgroups->subsys[mem & 15]);
	if (!css)
		return kn;
	return BPF_CORE_READ(css, cgroup, kn);
}

static __always_inline __u64 task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task_cgroup_kn(task), id);
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(((struct kernfs_node___new *)0)->__parent))
		return BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	if (fd < 0)
		return NULL;
	/* `task` is a BTF pointer (bpf_get_current_task_btf): plain loads up to the array. */
	struct fdtable *fdt = task->files->fdt;
	unsigned int max = fdt->max_fds;
	if ((unsigned long)fd >= max)
		return NULL;
	struct file **fds = fdt->fd;
#if KFUNCS
	/* A plain load through KCAST, returned as a scalar (through map memory: the verifier
	 * would keep it a typed pointer otherwise), as the probe read below gives it. */
	struct llist_node *slot = KCAST(struct llist_node, &fds[fd]);
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return NULL;
	*(volatile __u64 *)&pb->fslot = (__u64)slot->next;
	return (struct file *)*(volatile __u64 *)&pb->fslot;
#else
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
#endif
}

static __always_inline bool is_upper_layer_m(struct inode *inode, unsigned long magic, bool *overlay)
{
	*overlay = magic == OVERLAYFS_SUPER_MAGIC;
	if (!*overlay)
		return false;
	/* The overlay inode embeds the VFS inode; the upper dentry pointer follows it. A non-NULL
	 * upper dentry means the file exists on the upper (container-writable) layer. */
	struct dentry *upper = NULL;
	if (bpf_core_type_exists(struct ovl_inode)) {
		__u32 off = bpf_core_field_offset(struct ovl_inode, vfs_inode);
		struct ovl_inode *oi = (void *)((char *)inode - off);
		upper = BPF_CORE_READ(oi, __upperdentry);
	} else {
		__u32 sz = bpf_core_type_size(struct inode);
		bpf_probe_read_kernel(&upper, sizeof(upper), (char *)inode + sz);
	}
	return upper != NULL;
}

static __always_inline bool is_upper_layer(struct inode *inode, bool *overlay)
{
	return is_upper_layer_m(inode, BPF_CORE_READ(inode, i_sb, s_magic), overlay);
}

/* Appends a blob header at `off`; returns the offset of its payload. */
static __always_inline void blob_hdr(struct scratch *s, __u32 off, __u16 len, __u8 tag, __u8 arg)
{
	struct vg_blob *b = (void *)rec_at(s, off);
	b->len = len;
	b->tag = tag;
	b->arg = arg;
}

/*
 * Whether struct dentry has d_name (hash, length, then the name pointer) right after
 * d_parent, as on every kernel we know: one read from d_parent then fetches them all.
 */
static __always_inline bool dentry_name_packed(void)
{
	__u32 po = bpf_core_field_offset(struct dentry, d_parent);
	return bpf_core_field_offset(struct dentry, d_name) == po + 8 && bpf_core_field_offset(struct qstr, len) == 4 &&
	       bpf_core_field_offset(struct qstr, name) == 8;
}

/*
 * Resolves (dentry, vfsmount) to an absolute path in s->path, written backwards so each
 * component is copied once; stops at the task's root (chroot/container root) or the global
 * root, crossing mounts through struct mount. Returns the start position; the path occupies
 * [pos, PATH_HALF).
 */
static __always_inline __u32 walk_path(struct pathbuf *s, struct dentry *dentry, struct vfsmount *vfsmnt)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fs_struct *fs = task->fs;
	struct dentry *root_d = fs->root.dentry;
	struct vfsmount *root_m = fs->root.mnt;
	__u32 mnt_off = bpf_core_field_offset(struct mount, mnt);
	__u32 parent_off = bpf_core_field_offset(struct dentry, d_parent);
	bool packed = dentry_name_packed();
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	__u32 pos = PATH_HALF;
	__u32 leaf = 0;
	/* Set when the walk reached a root; a walk cut by depth or length is counted. */
	int complete = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < PATH_DEPTH; i++) {
		*(volatile __u32 *)&s->pos = pos;
		pos = *(volatile __u32 *)&s->pos;
		if (dentry == root_d && vfsmnt == root_m) {
			complete = 1;
			break;
		}
		if (dentry == mnt_root) {
			struct mount *m = (void *)((char *)vfsmnt - mnt_off);
			struct mount *parent = BPF_CORE_READ(m, mnt_parent);
			if (parent == m || !parent) {
				complete = 1;
				break;
			}
			dentry = BPF_CORE_READ(m, mnt_mountpoint);
			vfsmnt = (void *)((char *)parent + mnt_off);
			mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
			continue;
		}
		/* A dentry that is its own parent but not a mount root is disconnected (memfd and
		 * other pseudo files): its own name is the whole path, as d_path shows it. */
		struct dentry *up;
		__u64 len;
		const unsigned char *name;
		if (packed) {
			struct {
				struct dentry *parent;
				__u32 hash;
				__u32 len;
				const unsigned char *name;
			} dn = {};
			bpf_probe_read_kernel(&dn, sizeof(dn), (char *)dentry + parent_off);
			up = dn.parent;
			len = dn.len;
			name = dn.name;
		} else {
			up = BPF_CORE_READ(dentry, d_parent);
			len = BPF_CORE_READ(dentry, d_name.len);
			name = BPF_CORE_READ(dentry, d_name.name);
		}
		BOUND(len, 255);
		if (len + 1 >= pos)
			break;
		pos -= len;
		BOUND(len, 255);
		bpf_probe_read_kernel(path_at(s, pos), len, name);
		if (!leaf)
			leaf = pos;
		pos -= 1;
		*path_at(s, pos) = '/';
		if (up == dentry || !up) {
			complete = 1;
			break;
		}
		dentry = up;
	}
	s->complete = complete;
	if (!complete)
		count_drop(VG_DROP_PATH);
	if (pos == PATH_HALF) {
		pos -= 1;
		*path_at(s, pos) = '/';
	}
	s->leaf = leaf;
	return pos;
}

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&heap, &zero);
}

/*
 * The blob writers below are global (non-static) functions: the verifier checks each of them
 * once, on its own, instead of once per call site and per path into it, which is what keeps
 * the programs far below the verifier's instruction budget. They take plain scalars and find
 * the per-CPU scratch themselves.
 */

/* Resolves a path and appends it as a blob; returns the new record offset. */
/* Appends the path of the latest walk as a blob; returns the new record offset. */
__noinline __u32 vg_put_walked(__u32 off, __u32 tag_arg)
{
	struct scratch *s = get_scratch();
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!s || !pb)
		return off;
	__u32 pos = pb->walked;
	if (pos >= PATH_HALF)
		return off;
	if (off > VG_REC_HALF - PATH_HALF - sizeof(struct vg_blob)) {
		count_drop(VG_DROP_TRUNC);
		return off;
	}
	__u64 len = (PATH_HALF - pos);
	BOUND(len, 4095);
	blob_hdr(s, off, len, tag_arg & 0xff, tag_arg >> 8);
	off += sizeof(struct vg_blob);
	bpf_probe_read_kernel(rec_at(s, off), len, path_at(pb, pos));
	return off + len;
}

/* Walks a path into the path buffer (see vg_put_walked). */
__noinline int vg_walk(__u64 dentry, __u64 mnt)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return 0;
	pb->walked = walk_path(pb, (struct dentry *)dentry, (struct vfsmount *)mnt);
	return 0;
}

__noinline __u32 vg_put_path(__u32 off, __u64 dentry, __u64 mnt, __u32 tag_arg)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return off;
	pb->walked = walk_path(pb, (struct dentry *)dentry, (struct vfsmount *)mnt);
	return vg_put_walked(off, tag_arg);
}

static __always_inline __u32 put_path(struct scratch *s, __u32 off, struct dentry *d, struct vfsmount *m,
				      __u8 tag, __u8 arg)
{
	return vg_put_path(off, (__u64)d, (__u64)m, tag | ((__u32)arg << 8));
}

/* Appends a dentry's own name (no walk) as a blob: anon inodes, sockets, pipes. */
static __always_inline __u32 put_dname(struct scratch *s, __u32 off, struct dentry *d, __u8 tag, __u8 arg)
{
	if (off > VG_REC_HALF - 512)
		return off;
	__u64 len = BPF_CORE_READ(d, d_name.len);
	BOUND(len, 255);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	blob_hdr(s, off, len, tag, arg);
	off += sizeof(struct vg_blob);
	bpf_probe_read_kernel(rec_at(s, off), len, name);
	return off + len;
}

/* Appends a user string as a blob; returns the new offset (unchanged if unreadable: the
 * decoder then shows <NA>). */
__noinline __u32 vg_put_user_str(__u32 off, __u64 ptr, __u32 tag_arg)
{
	struct scratch *s = get_scratch();
	if (!s)
		return off;
	if (off > VG_REC_HALF - VG_STR_MAX - sizeof(struct vg_blob)) {
		count_drop(VG_DROP_TRUNC);
		return off;
	}
	__u32 data = off + sizeof(struct vg_blob);
	long n = bpf_probe_read_user_str(rec_at(s, data), VG_STR_MAX, (const void *)ptr);
	if (n <= 0)
		return off;
	n -= 1; /* drop the NUL */
	BOUND(n, 4095);
	blob_hdr(s, off, n, tag_arg & 0xff, tag_arg >> 8);
	return data + n;
}

/* Appends a kernel string (at most 255 bytes) as a blob; returns the new offset. */
__noinline __u32 vg_put_kernel_str(__u32 off, __u64 ptr, __u32 tag_arg)
{
	struct scratch *s = get_scratch();
	if (!s || !ptr)
		return off;
	if (off > VG_REC_HALF - 256 - sizeof(struct vg_blob)) {
		count_drop(VG_DROP_TRUNC);
		return off;
	}
	__u32 data = off + sizeof(struct vg_blob);
	long n = bpf_probe_read_kernel_str(rec_at(s, data), 256, (const void *)ptr);
	if (n <= 1)
		return off;
	n -= 1;
	BOUND(n, 255);
	blob_hdr(s, off, n, tag_arg & 0xff, tag_arg >> 8);
	return data + n;
}

static __always_inline __u32 put_user_str(struct scratch *s, __u32 off, const void *ptr, __u8 tag, __u8 arg,
					  char *first)
{
	__u32 end = vg_put_user_str(off, (__u64)ptr, tag | ((__u32)arg << 8));
	*first = end > off + sizeof(struct vg_blob) ? *rec_at(s, off + sizeof(struct vg_blob)) : 0;
	return end;
}

/* Appends raw user bytes (at most VG_STR_MAX - 1) as a blob. */
__noinline __u32 vg_put_user_bytes(__u32 off, __u64 ptr, __u64 len, __u32 tag_arg)
{
	struct scratch *s = get_scratch();
	if (!s)
		return off;
	if (off > VG_REC_HALF - VG_STR_MAX - sizeof(struct vg_blob)) {
		count_drop(VG_DROP_TRUNC);
		return off;
	}
	if (len >= VG_STR_MAX) {
		len = VG_STR_MAX - 1;
		count_drop(VG_DROP_TRUNC);
	}
	__u32 data = off + sizeof(struct vg_blob);
	BOUND(len, 4095);
	if (bpf_probe_read_user(rec_at(s, data), len, (const void *)ptr) < 0)
		return off;
	blob_hdr(s, off, len, tag_arg & 0xff, tag_arg >> 8);
	return data + len;
}

static __always_inline __u32 put_user_bytes(struct scratch *s, __u32 off, const void *ptr, __u32 len,
					    __u8 tag, __u8 arg)
{
	return vg_put_user_bytes(off, (__u64)ptr, len, tag | ((__u32)arg << 8));
}

/* `f` is a socket whose struct file head put_fd_name read into `pb`. */
static __always_inline void fill_sock(struct pathbuf *pb, struct vg_sock *out, struct file *f)
{
	struct socket *sock = FIELD(pb->fhead, f, struct file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	/* The head of struct sock goes to map memory: this is inlined in sys_exit, whose stack
	 * frame the verifier's 512-byte limit for a call chain binds. */
	HEAD(pb->skhead, sk);
	out->family = FIELD(pb->skhead, sk, struct sock, __sk_common.skc_family);
	__u32 po = bpf_core_field_offset(struct sock, sk_protocol);
	if (bpf_core_field_offset(struct sock, sk_type) == po + 2 && bpf_core_field_size(struct sock, sk_protocol) == 2 &&
	    bpf_core_field_size(struct sock, sk_type) == 2) {
		__u16 pt[2] = {};
		bpf_probe_read_kernel(pt, sizeof(pt), (char *)sk + po);
		out->protocol = pt[0];
		out->type = pt[1];
	} else {
		out->type = BPF_CORE_READ(sk, sk_type);
		out->protocol = BPF_CORE_READ(sk, sk_protocol);
	}
	out->lport = FIELD(pb->skhead, sk, struct sock, __sk_common.skc_num);
	__be16 dport = FIELD(pb->skhead, sk, struct sock, __sk_common.skc_dport);
	out->rport = __builtin_bswap16(dport);
	if (out->family == 2 /* AF_INET */) {
		__be32 l = FIELD(pb->skhead, sk, struct sock, __sk_common.skc_rcv_saddr);
		__be32 r = FIELD(pb->skhead, sk, struct sock, __sk_common.skc_daddr);
		__builtin_memcpy(out->laddr, &l, 4);
		__builtin_memcpy(out->raddr, &r, 4);
	} else if (out->family == 10 /* AF_INET6 */) {
		BPF_CORE_READ_INTO(&out->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&out->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* Starts the descriptor block (kind) and appends the descriptor's name blob: what a
 * prefilter needs. fill_fd completes the block once the event is known to be reported. */
static __always_inline __u32 put_fd_name(struct scratch *s, __u32 off, struct vg_fd *out, struct file *f, long num,
					 bool have_head)
{
	out->num = num;
	if (!f)
		return off;
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return off;
	/* The path cache lookup of this event may have read the head already. */
	if (!have_head)
		HEAD(pb->fhead, f);
	struct inode *inode = FIELD(pb->fhead, f, struct file, f_inode);
	HEAD(pb->ihead, inode);
	struct super_block *sb = FIELD(pb->ihead, inode, struct inode, i_sb);
	HEAD(pb->sbhead, sb);
	out->flags = VG_FDF_VALID;
	out->mode = FIELD(pb->ihead, inode, struct inode, i_mode);
	out->magic = FIELD(pb->sbhead, sb, struct super_block, s_magic);
	if ((out->mode & S_IFMT) == S_IFSOCK)
		return off;
	struct dentry *d = FIELD(pb->fhead, f, struct file, f_path.dentry);
	if (out->magic == PIPEFS_MAGIC || out->magic == ANON_INODE_FS_MAGIC)
		return put_dname(s, off, d, VG_BLOB_FDPATH, 0);
	/* Walked only: emit_syscall appends it (vg_put_walked) once the event is reported. */
	vg_walk((__u64)d, (__u64)FIELD(pb->fhead, f, struct file, f_path.mnt));
	return off;
}

/* Completes the descriptor block from the heads put_fd_name read. */
static __always_inline void fill_fd(struct vg_fd *out, struct file *f)
{
	if (!f)
		return;
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return;
	struct inode *inode = FIELD(pb->fhead, f, struct file, f_inode);
	struct super_block *sb = FIELD(pb->ihead, inode, struct inode, i_sb);
	out->ino = FIELD(pb->ihead, inode, struct inode, i_ino);
	out->dev = FIELD(pb->sbhead, sb, struct super_block, s_dev);
	out->nlink = FIELD(pb->ihead, inode, struct inode, __i_nlink);
	out->open_flags = FIELD(pb->fhead, f, struct file, f_flags);
	bool overlay = false;
	if (is_upper_layer_m(inode, out->magic, &overlay))
		out->flags |= VG_FDF_UPPER;
	if (overlay)
		out->flags |= VG_FDF_OVERLAY;
	if ((out->mode & S_IFMT) == S_IFSOCK) {
		out->flags |= VG_FDF_SOCK;
		fill_sock(pb, &out->sock, f);
	}
}

static __always_inline void fill_hdr(struct vg_hdr *h, __u8 kind, __u16 nr, __s64 res)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	h->ts = kind == VG_REC_SYSCALL ? 0 : bpf_ktime_get_boot_ns();
	h->latency = 0;
	h->tid = (__u32)pid_tgid;
	h->pid = pid_tgid >> 32;
	h->res = res;
	h->nr = nr;
	h->kind = kind;
	h->cpu = bpf_get_smp_processor_id();
}

static __always_inline void submit(struct scratch *s, __u32 len, __u32 drop_slot, __u8 category)
{
	struct vg_hdr *h = (void *)s->rec;
	len &= (VG_REC_SIZE - 1);
	if (len < sizeof(struct vg_hdr))
		return;
	h->len = len;
	/* Waking the reader per record costs more than the record: wake it only when a batch is
	 * pending, and let it find smaller batches on its short poll timeout. */
	__u64 flags = 0;
	struct vg_config *cfg = get_config();
	if (cfg && cfg->wakeup_bytes)
		flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg->wakeup_bytes ? BPF_RB_FORCE_WAKEUP
											     : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, s->rec, len, flags) != 0) {
		count_drop(drop_slot);
		count_drop(VG_DROP_CATEGORY + (category & (VG_NR_CATEGORIES - 1)));
	}
}

static __always_inline bool is_clone(long nr)
{
	return nr == NR_clone || nr == NR_clone3 || nr == NR_fork || nr == NR_vfork;
}

/* ---- process records -------------------------------------------------------------- */

static __always_inline __u32 pid_vnr(struct pid *p)
{
	unsigned int level = BPF_CORE_READ(p, level);
	int nr = 0;
	bpf_probe_read_kernel(&nr, sizeof(nr), &p->numbers[level & 31].nr);
	return nr;
}

static __always_inline void fill_stdio(struct vg_stdio *out, struct file *f)
{
	if (!f)
		return;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	out->ino = BPF_CORE_READ(inode, i_ino);
	out->mode = BPF_CORE_READ(inode, i_mode);
	out->magic = BPF_CORE_READ(inode, i_sb, s_magic);
	if ((out->mode & S_IFMT) == S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		out->family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
	}
}

static __always_inline __u64 inode_time(struct inode *inode, bool ctime)
{
	__s64 sec = 0;
	__u32 nsec = 0;
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		if (ctime) {
			sec = BPF_CORE_READ(inode, i_ctime_sec);
			nsec = BPF_CORE_READ(inode, i_ctime_nsec);
		} else {
			sec = BPF_CORE_READ(inode, i_mtime_sec);
			nsec = BPF_CORE_READ(inode, i_mtime_nsec);
		}
	} else {
		struct inode___old *old = (void *)inode;
		struct timespec64 ts = {};
		if (!ctime)
			BPF_CORE_READ_INTO(&ts, old, i_mtime);
		else if (bpf_core_field_exists(old->__i_ctime))
			BPF_CORE_READ_INTO(&ts, old, __i_ctime);
		else
			BPF_CORE_READ_INTO(&ts, old, i_ctime);
		sec = ts.tv_sec;
		nsec = ts.tv_nsec;
	}
	return (__u64)sec * 1000000000ULL + nsec;
}

/* Emits a VG_REC_PROC record for the current task (a new process, or after exec). */
static __always_inline void emit_proc(long nr, __u64 clone_flags, bool with_env, __u8 category)
{
	struct scratch *s = get_scratch();
	if (!s)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	struct vg_hdr *h = (void *)s->rec;
	fill_hdr(h, VG_REC_PROC, nr, 0);
	struct vg_proc *p = (void *)(s->rec + sizeof(struct vg_hdr));
	__builtin_memset(p, 0, sizeof(*p));

	p->ptid = BPF_CORE_READ(task, real_parent, tgid);
	p->vtid = pid_vnr(BPF_CORE_READ(task, thread_pid));
	p->vpid = pid_vnr(BPF_CORE_READ(task, group_leader, thread_pid));
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct pid *pg = NULL, *sid = NULL;
	bpf_probe_read_kernel(&pg, sizeof(pg), &sig->pids[PIDTYPE_PGID]);
	bpf_probe_read_kernel(&sid, sizeof(sid), &sig->pids[PIDTYPE_SID]);
	if (pg)
		p->pgid = BPF_CORE_READ(pg, numbers[0].nr);
	if (sid)
		p->sid = BPF_CORE_READ(sid, numbers[0].nr);
	struct tty_struct *tty = BPF_CORE_READ(sig, tty);
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		p->tty = ((__u32)major << 20) | ((__u32)minor & 0xfffff);
	}
	const struct cred *cred = BPF_CORE_READ(task, cred);
	p->uid = BPF_CORE_READ(cred, uid.val);
	p->gid = BPF_CORE_READ(cred, gid.val);
	p->euid = BPF_CORE_READ(cred, euid.val);
	p->egid = BPF_CORE_READ(cred, egid.val);
	BPF_CORE_READ_INTO(&p->cap_inheritable, cred, cap_inheritable);
	BPF_CORE_READ_INTO(&p->cap_permitted, cred, cap_permitted);
	BPF_CORE_READ_INTO(&p->cap_effective, cred, cap_effective);
	if (bpf_core_field_exists(task->loginuid))
		p->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		p->loginuid = 0xffffffff;
	p->clone_flags = clone_flags;
	p->cgroup_id = task_cgroup_id(task);
	bpf_get_current_comm(p->comm, sizeof(p->comm));

	__u32 off = sizeof(struct vg_hdr) + sizeof(struct vg_proc);
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long a0 = BPF_CORE_READ(mm, arg_start), a1 = BPF_CORE_READ(mm, arg_end);
	if (a1 > a0)
		off = put_user_bytes(s, off, (void *)a0, a1 - a0, VG_BLOB_ARGV, 0);
	if (with_env) {
		unsigned long e0 = BPF_CORE_READ(mm, env_start), e1 = BPF_CORE_READ(mm, env_end);
		if (e1 > e0)
			off = put_user_bytes(s, off, (void *)e0, e1 - e0, VG_BLOB_ENV, 0);
	}
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	off = put_path(s, off, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), VG_BLOB_CWD, 0);

	/* The last components of the cgroup's path: user space names the container from them
	 * even when the process is gone before it could read /proc/<pid>/cgroup. */
	struct kernfs_node *kn = task_cgroup_kn(task);
#pragma clang loop unroll(disable)
	for (int i = 0; i < 3 && kn; i++) {
		off = launder(off);
		off = vg_put_kernel_str(off, (__u64)BPF_CORE_READ(kn, name), VG_BLOB_CGROUP | ((__u32)i << 8));
		kn = kn_parent(kn);
	}

	struct file *exe = BPF_CORE_READ(mm, exe_file);
	if (exe) {
		struct inode *inode = BPF_CORE_READ(exe, f_inode);
		struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
		p->exe_ino = BPF_CORE_READ(inode, i_ino);
		p->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		p->exe_ctime = inode_time(inode, true);
		p->exe_mtime = inode_time(inode, false);
		bool overlay = false;
		if (is_upper_layer(inode, &overlay))
			p->exe_flags |= VG_EXE_UPPER_LAYER;
		else if (overlay)
			p->exe_flags |= VG_EXE_LOWER_LAYER;
		unsigned long magic = BPF_CORE_READ(inode, i_sb, s_magic);
		unsigned int nlink = BPF_CORE_READ(inode, __i_nlink);
		char pfx[6] = {};
		bpf_probe_read_kernel(pfx, sizeof(pfx), BPF_CORE_READ(d, d_name.name));
		if (nlink == 0 && (magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC) && pfx[0] == 'm' &&
		    pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' && pfx[5] == ':')
			p->exe_flags |= VG_EXE_FROM_MEMFD;
		__u32 mode = BPF_CORE_READ(inode, i_mode);
		__u32 iuid = BPF_CORE_READ(inode, i_uid.val), igid = BPF_CORE_READ(inode, i_gid.val);
		if ((iuid == p->euid && (mode & S_IWUSR)) || (igid == p->egid && (mode & S_IWGRP)) ||
		    (mode & S_IWOTH))
			p->exe_flags |= VG_EXE_WRITABLE;
		off = put_path(s, off, d, BPF_CORE_READ(exe, f_path.mnt), VG_BLOB_EXEPATH, 0);
	}

#pragma clang loop unroll(disable)
	for (int i = 0; i < 3; i++) {
		off = launder(off);
		struct file *f = fd_file(task, i);
		if (!f)
			continue;
		fill_stdio(&p->stdio[i], f);
		if (!with_env)
			continue; /* stdio names only on exec, where rules read them */
		__u32 magic = p->stdio[i].magic;
		__u32 fmt = p->stdio[i].mode & S_IFMT;
		struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
		if (fmt == S_IFSOCK || magic == PIPEFS_MAGIC || magic == ANON_INODE_FS_MAGIC)
			continue; /* named from kind + inode by user space */
		off = put_path(s, off, d, BPF_CORE_READ(f, f_path.mnt), VG_BLOB_STDIO, i);
	}
	submit(s, off, VG_DROP_PROC, category);
}

/* ---- open prefilters ------------------------------------------------------------- */

/* Filter decisions. */
#define FILTER_DROP 0
#define FILTER_PASS 1
#define FILTER_UNDECIDED 2

/*
 * The verdict of filter `fi` for an event with these atoms: FILTER_PASS or FILTER_DROP when
 * the path does not matter, else FILTER_UNDECIDED (the path decides: path_filter). Inline,
 * like everything on the path of a dropped open: on CPUs with return-stack mitigations
 * (SRSO "safe RET") every call and return costs as much as a dozen plain instructions.
 */
static __always_inline int atom_filter(struct vg_filter *f, __u32 atoms)
{
	if (!f || f->pass_all)
		return FILTER_PASS;
	struct vg_combo *c = &f->combos[atoms & (VG_FILTER_COMBOS - 1)];
	if (c->always)
		return FILTER_PASS;
	if (!c->any && !c->npairs)
		return FILTER_DROP;
	return FILTER_UNDECIDED;
}

/* Whether a path with the set bits `pmask` passes filter `fi` under these atoms. */
static __always_inline int path_filter(struct vg_filter *f, __u32 atoms, __u64 pmask)
{
	if (!f || f->pass_all)
		return 1;
	struct vg_combo *c = &f->combos[atoms & (VG_FILTER_COMBOS - 1)];
	if (c->always || (pmask & c->any))
		return 1;
	__u32 n = c->npairs;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < VG_FILTER_PAIRS; i++) {
		if (i >= n)
			break;
		if ((pmask & c->pairs[i][0]) && (pmask & c->pairs[i][1]))
			return 1;
	}
	return 0;
}

/* The access-mode, O_CREAT and success atoms of an open event. */
static __always_inline __u32 open_atoms(struct vg_filter *f, __u64 *args, long ret)
{
	if (!f)
		return 0;
	__u64 flags = 0101; /* creat(): O_WRONLY|O_CREAT */
	__u8 a = f->flags_arg;
	if (a < 6)
		flags = args[a];
	__u32 acc = flags & 3, atoms = 0;
	if (acc == 1 || acc == 2)
		atoms |= VG_ATOM_WRITE;
	if (acc == 0 || acc == 2)
		atoms |= VG_ATOM_READ;
	if (flags & 0100)
		atoms |= VG_ATOM_CREATE;
	if (ret >= 0)
		atoms |= VG_ATOM_OK;
	return atoms;
}

/* Whether the user string blob at [off, off+len) of the record contains "../" (strings too
 * long to scan count as containing it). */
__noinline int vg_has_dotdot(__u32 off, __u32 len)
{
	struct scratch *s = get_scratch();
	if (!s || len > 255)
		return 1;
	/* Eight bytes at a time; only a word holding a '.' is looked at byte by byte. Bytes past
	 * the string are read (the record buffer is larger) but never matched. */
#pragma clang loop unroll(disable)
	for (__u32 w = 0; w < 32; w++) {
		__u32 i = w * 8;
		if (i + 2 >= len)
			break;
		__u64 x;
		__builtin_memcpy(&x, rec_at(s, off + i), sizeof(x));
		__u64 d = x ^ 0x2e2e2e2e2e2e2e2eULL;
		if (!((d - 0x0101010101010101ULL) & ~d & 0x8080808080808080ULL))
			continue;
#pragma clang loop unroll(disable)
		for (__u32 j = 0; j < 8; j++) {
			__u32 k = i + j;
			if (k + 2 >= len)
				break;
			if (*rec_at(s, off + k) == '.' && *rec_at(s, off + k + 1) == '.' && *rec_at(s, off + k + 2) == '/')
				return 1;
		}
	}
	return 0;
}

/* ---- the path cache (see `path_cache`) --------------------------------------------- */

/* The generation entries must carry to be used, or 0 while the cache is off. */
static __always_inline __u64 path_gen_now(void)
{
	__u32 k = VG_GEN_ENABLED;
	__u64 *on = bpf_map_lookup_elem(&path_gen, &k);
	if (!on || !*on)
		return 0;
	k = VG_GEN_KERNEL;
	__u64 *a = bpf_map_lookup_elem(&path_gen, &k);
	k = VG_GEN_USER;
	__u64 *b = bpf_map_lookup_elem(&path_gen, &k);
	if (!a || !b)
		return 0;
	return *a + *b + 1;
}

static __always_inline void path_gen_bump(void)
{
	__u32 k = VG_GEN_KERNEL;
	__u64 *g = bpf_map_lookup_elem(&path_gen, &k);
	if (g)
		__sync_fetch_and_add(g, 1);
}

static __always_inline void path_cache_off(void)
{
	__u32 k = VG_GEN_ENABLED;
	__u64 *on = bpf_map_lookup_elem(&path_gen, &k);
	if (on && *on)
		*on = 0;
}

static __always_inline void pc_count(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&path_cache_stats, &slot);
	if (c)
		*c += 1;
}

/* A dentry's parent and name (hash and length): what a rename or a reuse of its memory
 * changes. Plain loads with KFUNCS, else one read where the layout allows. */
static __always_inline void dentry_id(__u64 d, __u64 *parent, __u64 *hash_len)
{
#if KFUNCS
	struct dentry *dd = KCAST(struct dentry, d);
	*parent = (__u64)dd->d_parent;
	*hash_len = dd->d_name.hash_len;
#else
	if (dentry_name_packed()) {
		__u64 two[2] = {};
		bpf_probe_read_kernel(two, sizeof(two), (char *)d + bpf_core_field_offset(struct dentry, d_parent));
		*parent = two[0];
		*hash_len = two[1];
	} else {
		*parent = (__u64)BPF_CORE_READ((struct dentry *)d, d_parent);
		*hash_len = BPF_CORE_READ((struct dentry *)d, d_name.hash_len);
	}
#endif
}

/* The slot of a key: a multiplicative hash of its pointers (read back from map memory, as
 * scalars: the verifier allows no shifts or products on typed pointers). */
static __always_inline __u32 pc_slot(struct vg_pc_key *k)
{
	__u64 d = *(volatile __u64 *)&k->dentry, m = *(volatile __u64 *)&k->mnt;
	__u64 r = *(volatile __u64 *)&k->root_dentry;
	__u64 h = (d ^ (m >> 4) ^ (r >> 8)) * 0x9e3779b97f4a7c15ULL;
	return (__u32)(h >> 40) & (VG_PC_ENTRIES - 1);
}

/*
 * Looks up the path cache for open file `f` of `task`: returns 1 with the path-set bits in
 * pb->cmask on a valid hit, else 0 with pb->ckey/cgen/cinode set for vg_path_mask to store
 * what the walk computes. Without KFUNCS it reads the file's head into pb->fhead, hit or not,
 * for put_fd_name.
 */
static __always_inline int mask_cached(struct pathbuf *pb, struct task_struct *task, struct file *f)
{
	pb->ckey.dentry = 0;
	if (!f)
		return 0;
#if !KFUNCS
	/* Read even while the cache is off: put_fd_name then reuses it. */
	HEAD(pb->fhead, f);
#endif
	__u64 gen = path_gen_now();
	if (!gen)
		return 0;
	struct fs_struct *fs = task->fs;
	/* The key goes through map memory, which makes its values scalars the hash may mix. */
#if KFUNCS
	struct file *kf = KCAST(struct file, f);
	*(volatile __u64 *)&pb->ckey.mnt = (__u64)kf->f_path.mnt;
	*(volatile __u64 *)&pb->cinode = (__u64)kf->f_inode;
	*(volatile __u64 *)&pb->ckey.dentry = (__u64)kf->f_path.dentry;
#else
	pb->ckey.mnt = (__u64)FIELD(pb->fhead, f, struct file, f_path.mnt);
	pb->cinode = (__u64)FIELD(pb->fhead, f, struct file, f_inode);
	pb->ckey.dentry = (__u64)FIELD(pb->fhead, f, struct file, f_path.dentry);
#endif
	*(volatile __u64 *)&pb->ckey.root_dentry = (__u64)fs->root.dentry;
	*(volatile __u64 *)&pb->ckey.root_mnt = (__u64)fs->root.mnt;
	__u64 d = *(volatile __u64 *)&pb->ckey.dentry;
	if (!d)
		return 0;
	pb->cgen = gen;
	__u32 slot = pc_slot(&pb->ckey);
	struct vg_pc_entry *e = bpf_map_lookup_elem(&path_cache, &slot);
	if (!e || e->val.gen != gen || e->key.dentry != d || e->key.mnt != pb->ckey.mnt ||
	    e->key.root_dentry != pb->ckey.root_dentry || e->key.root_mnt != pb->ckey.root_mnt ||
	    e->val.inode != pb->cinode)
		return 0;
	/* Into map memory, not the stack: this frame is at the verifier's combined limit. */
	dentry_id(d, &pb->cparent, &pb->chash_len);
	if (e->val.parent != pb->cparent || e->val.hash_len != pb->chash_len)
		return 0;
	pb->cmask = e->val.mask;
	pc_count(VG_PC_HIT);
	return 1;
}

/* Stores the path-set bits of a complete walk in the slot mask_cached looked up. */
static __always_inline void pc_insert(struct pathbuf *pb, __u64 mask)
{
	__u64 d = pb->ckey.dentry;
	if (!d || !pb->complete)
		return;
	__u32 slot = pc_slot(&pb->ckey);
	struct vg_pc_entry *e = bpf_map_lookup_elem(&path_cache, &slot);
	if (!e)
		return;
	e->key = pb->ckey;
	e->val.gen = pb->cgen;
	e->val.inode = pb->cinode;
	e->val.mask = mask;
	dentry_id(d, &e->val.parent, &e->val.hash_len);
	pc_count(VG_PC_INSERT);
	pb->ckey.dentry = 0;
}

/* The path-set bits of the path the latest walk produced: the longest matching entry of
 * `filter_paths` and the entry of its last component in `filter_names`. Every bit when no
 * walk produced the path (the name was not a walked path: pipes, anon inodes). */
__noinline __u64 vg_path_mask(void)
{
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!pb)
		return ~0ULL;
	__u32 pos = pb->walked;
	if (pos >= PATH_HALF)
		return ~0ULL;
	__u32 len = PATH_HALF - pos;
	if (len < VG_LPM_BYTES) {
		__u32 n = len;
		BOUND(n, 255);
		bpf_probe_read_kernel(pb->key.data, n, path_at(pb, pos));
		pb->key.data[n] = 0;
		pb->key.prefixlen = (n + 1) * 8;
	} else {
		/* Longer paths are compared on their first VG_LPM_BYTES bytes. */
		bpf_probe_read_kernel(pb->key.data, VG_LPM_BYTES, path_at(pb, pos));
		pb->key.prefixlen = VG_LPM_BYTES * 8;
	}
	__u64 mask = 0;
	__u64 *v = bpf_map_lookup_elem(&filter_paths, &pb->key);
	if (v)
		mask |= *v;
	__u32 leaf = pb->leaf;
	if (leaf >= pos && leaf < PATH_HALF) {
		__u32 nl = PATH_HALF - leaf;
		if (nl >= VG_NAME_BYTES)
			return ~0ULL;
		__builtin_memset(pb->name.name, 0, VG_NAME_BYTES);
		BOUND(nl, 63);
		bpf_probe_read_kernel(pb->name.name, nl, path_at(pb, leaf));
		v = bpf_map_lookup_elem(&filter_names, &pb->name);
		if (v)
			mask |= *v;
	}
	pc_insert(pb, mask);
	return mask;
}

/* ---- syscall records -------------------------------------------------------------- */

static __always_inline bool cgroup_filtered(struct vg_config *cfg, struct task_struct *task)
{
	if (!cfg->ignore_cgroup)
		return false;
	return task_cgroup_id(task) == cfg->ignore_cgroup;
}

static __always_inline void record_cgroup_syscall(struct task_struct *task, long nr)
{
	__u64 cg = task_cgroup_id(task);
	if (!bpf_map_lookup_elem(&cgroup_record, &cg))
		return;
	struct syscall_bitmap *bm = bpf_map_lookup_elem(&cgroup_syscalls, &cg);
	if (!bm) {
		struct syscall_bitmap zero = {};
		bpf_map_update_elem(&cgroup_syscalls, &cg, &zero, BPF_NOEXIST);
		bm = bpf_map_lookup_elem(&cgroup_syscalls, &cg);
		if (!bm)
			return;
	}
	/* Read before the atomic OR: once a syscall is learned the bit is set, and a plain load
	 * keeps both cores from bouncing the cache line on every syscall. */
	__u64 bit = 1ULL << (nr & 63);
	if (!(bm->bits[(nr >> 6) & 7] & bit))
		__sync_fetch_and_or(&bm->bits[(nr >> 6) & 7], bit);
}

SEC("raw_tracepoint/sys_enter")
int vigil_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = ctx->args[1];
	if (nr < 0 || nr >= VG_NR_SYSCALLS)
		return 0;
	struct vg_config *cfg = get_config();
	if (!cfg)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (cfg->record_cgroups)
		record_cgroup_syscall(task, nr);
	__u32 key = nr;
	struct vg_spec *spec = bpf_map_lookup_elem(&specs, &key);
	if (!spec || !(spec->enabled & VG_SPEC_STASH))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if ((__u32)(pid_tgid >> 32) == cfg->self_tgid)
		return 0;
	if (cgroup_filtered(cfg, task))
		return 0;

	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct stash st = {};
	st.ts = bpf_ktime_get_boot_ns();
	st.nr = nr;
	syscall_args(regs, st.args);
	if (spec->fd_src == VG_FD_ARG0_ENTER)
		st.file = (__u64)fd_file(task, (long)st.args[0]);
	__u32 tid = (__u32)pid_tgid;
	if (bpf_map_update_elem(&stashes, &tid, &st, BPF_ANY) != 0)
		count_drop(VG_DROP_STASH);
	return 0;
}

/*
 * Appends the blobs of a syscall's arguments (strings, paths with the directory a relative
 * one is resolved against, socket addresses, pipe descriptors) to the record; returns the new
 * offset. The path argument's string position goes to the path buffer for vg_has_dotdot. A
 * global function: emit_syscall calls it before or after the prefilter.
 */
__noinline __u32 vg_put_arg_blobs(__u32 off, __u32 nr, long ret)
{
	struct scratch *s = get_scratch();
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	__u32 key = nr;
	struct vg_spec *spec = bpf_map_lookup_elem(&specs, &key);
	if (!s || !pb || !spec)
		return off;
	struct task_struct *task = bpf_get_current_task_btf();
	struct vg_sys *sys = (void *)(s->rec + sizeof(struct vg_hdr));
	pb->upath_off = 0;
	pb->upath_len = 0;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 6; i++) {
		off = launder(off);
		__u8 kind = spec->kind[i];
		void *ptr = (void *)sys->args[i];
		if (kind == VG_ARG_PATH || kind == VG_ARG_STR) {
			char first = 0;
			__u32 before = off;
			off = put_user_str(s, off, ptr, VG_BLOB_STR, i, &first);
			if (kind == VG_ARG_PATH && off > before) {
				pb->upath_off = before + sizeof(struct vg_blob);
				pb->upath_len = off - pb->upath_off;
			}
			if (kind != VG_ARG_PATH || first == '/')
				continue;
			/* Relative (or empty, for AT_EMPTY_PATH): record the directory it is
			 * relative to. */
			__u8 dfi = spec->dirfd_of[i];
			long dirfd = AT_FDCWD;
			if (dfi < 6)
				dirfd = (int)sys->args[dfi];
			if (dirfd == AT_FDCWD) {
				struct fs_struct *fs = BPF_CORE_READ(task, fs);
				struct path pwd = {};
				BPF_CORE_READ_INTO(&pwd, fs, pwd);
				off = put_path(s, off, pwd.dentry, pwd.mnt, VG_BLOB_BASEDIR, i);
			} else {
				struct file *df = fd_file(task, dirfd);
				if (df) {
					struct path dp = {};
					BPF_CORE_READ_INTO(&dp, df, f_path);
					off = put_path(s, off, dp.dentry, dp.mnt, VG_BLOB_BASEDIR, i);
				}
			}
		} else if (kind == VG_ARG_SOCKADDR && i < 5) {
			__u64 len = sys->args[i + 1];
			if (ptr && len > 0)
				off = put_user_bytes(s, off, ptr, len > 128 ? 128 : len, VG_BLOB_SOCKADDR, i);
		} else if (kind == VG_ARG_MSGHDR) {
			struct user_msghdr m = {};
			if (ptr && bpf_probe_read_user(&m, sizeof(m), ptr) == 0 && m.msg_name && m.msg_namelen > 0)
				off = put_user_bytes(s, off, m.msg_name, m.msg_namelen > 128 ? 128 : m.msg_namelen,
						     VG_BLOB_SOCKADDR, i);
		} else if (kind == VG_ARG_PIPEFDS) {
			if (ptr && ret == 0)
				off = put_user_bytes(s, off, ptr, 8, VG_BLOB_PIPEFDS, i);
		}
	}
	return off;
}

static __always_inline void emit_syscall(struct task_struct *task, struct vg_spec *spec, struct stash *st,
					 long nr, long ret, struct pt_regs *regs)
{
	struct scratch *s = get_scratch();
	__u32 zero = 0;
	struct pathbuf *pb = bpf_map_lookup_elem(&pathbufs, &zero);
	if (!s || !pb)
		return;
	struct vg_hdr *h = (void *)s->rec;
	struct vg_sys *sys = (void *)(s->rec + sizeof(struct vg_hdr));
	__builtin_memset(sys, 0, sizeof(*sys));
	if (st) {
		for (int i = 0; i < 6; i++)
			sys->args[i] = st->args[i];
	} else if (regs) {
		syscall_args_btf(regs, sys->args);
	}
	/* Arguments that are structures with scalars in them: their fields become arguments
	 * (the prefilter reads openat2's flags from them). */
#pragma clang loop unroll(disable)
	for (int i = 0; i < 6; i++) {
		__u8 kind = spec->kind[i];
		void *ptr = (void *)sys->args[i];
		if (kind == VG_ARG_OPENHOW && i < 4) {
			__u64 how[3] = {};
			if (ptr)
				bpf_probe_read_user(how, sizeof(how), ptr);
			sys->args[i] = how[0];
			sys->args[i + 1] = how[1];
			sys->args[i + 2] = how[2];
		} else if (kind == VG_ARG_CLONE3) {
			__u64 flags = 0;
			if (ptr)
				bpf_probe_read_user(&flags, sizeof(flags), ptr);
			sys->args[i] = flags;
		}
	}
	__u32 off = sizeof(struct vg_hdr) + sizeof(struct vg_sys);
	/* Argument blobs are read once the event is known to be reported, or when the "../" test
	 * decides: a dropped open costs no user-memory read. */
	bool blobs = false;

	/* Prefilter, first on the atoms, with and without "../" in the path argument: the string
	 * is read only when the two verdicts differ, which is rare once the path is known. */
	__u32 fi = spec->filter;
	__u32 atoms = 0;
	int plain = FILTER_PASS, dotdot = FILTER_PASS;
	struct vg_filter *flt = NULL;
	if (fi) {
		fi -= 1;
		flt = bpf_map_lookup_elem(&filters, &fi);
		atoms = open_atoms(flt, sys->args, ret);
		plain = atom_filter(flt, atoms);
		dotdot = atom_filter(flt, atoms | VG_ATOM_DOTDOT);
		if (plain == FILTER_DROP && dotdot == FILTER_DROP) {
			count_drop(VG_DROP_FILTERED);
			return;
		}
	}
	pb->walked = PATH_NONE;
	pb->ckey.dentry = 0;

	struct file *f = NULL;
	long num = -1;
	switch (spec->fd_src) {
	case VG_FD_RET:
	case VG_FD_ARG1_RET:
		num = ret;
		if (ret >= 0)
			f = fd_file(task, ret);
		break;
	case VG_FD_ARG0:
		num = (int)sys->args[0];
		f = fd_file(task, num);
		break;
	case VG_FD_ARG0_ENTER:
		num = (int)sys->args[0];
		if (st)
			f = (struct file *)st->file;
		break;
	default:
		break;
	}
	/* A failed open has no descriptor: no path test holds (fd.name is missing). */
	bool need_mask = (plain == FILTER_UNDECIDED || dotdot == FILTER_UNDECIDED) && (atoms & VG_ATOM_OK);
	/* A path cache hit gives the path-set bits without a walk; the walk is done only if the
	 * event is reported. */
	bool hit = need_mask && f && mask_cached(pb, task, f);
	/* Without KFUNCS the cache lookup read the file's head for put_fd_name. */
	bool have_head = need_mask && !KFUNCS;
	if (spec->fd_src != VG_FD_NONE && !hit)
		off = put_fd_name(s, off, &sys->fd, f, num, have_head);
	if (plain != dotdot || plain == FILTER_UNDECIDED) {
		__u64 pmask = 0;
		if (hit)
			pmask = pb->cmask;
		else if (need_mask)
			pmask = vg_path_mask();
		bool keep = plain == FILTER_UNDECIDED ? path_filter(flt, atoms, pmask) : plain == FILTER_PASS;
		bool keep_dotdot = dotdot == FILTER_UNDECIDED ? path_filter(flt, atoms | VG_ATOM_DOTDOT, pmask)
							      : dotdot == FILTER_PASS;
		if (keep != keep_dotdot) {
			/* The path argument decides. The descriptor's path goes first: a relative
			 * path argument's directory walk reuses the path buffer. */
			if (pb->walked != PATH_NONE)
				off = vg_put_walked(off, VG_BLOB_FDPATH);
			pb->walked = PATH_NONE;
			off = vg_put_arg_blobs(off, nr, ret);
			blobs = true;
			if (pb->upath_len && vg_has_dotdot(pb->upath_off, pb->upath_len))
				keep = keep_dotdot;
		}
		if (!keep) {
			count_drop(VG_DROP_FILTERED);
			return;
		}
	}
	if (hit)
		off = put_fd_name(s, off, &sys->fd, f, num, have_head);
	/* Reported: the descriptor's walked path, the arguments, the descriptor's details. */
	if (pb->walked != PATH_NONE)
		off = vg_put_walked(off, VG_BLOB_FDPATH);
	if (!blobs)
		off = vg_put_arg_blobs(off, nr, ret);
	if (spec->fd_src != VG_FD_NONE)
		fill_fd(&sys->fd, f);
	/* The header and clock once the event is known to be reported. */
	fill_hdr(h, VG_REC_SYSCALL, nr, ret);
	h->ts = bpf_ktime_get_boot_ns();
	if (st)
		h->latency = h->ts - st->ts;
	submit(s, off, VG_DROP_SYSCALL, spec->category);
}

/*
 * A BTF tracepoint: the verifier knows `regs` is a struct pt_regs, so its fields are plain
 * loads, not helper calls. This program runs on every syscall exit of the machine, and the
 * syscall number is the one thing it reads from all of them.
 */
SEC("tp_btf/sys_exit")
int vigil_sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	long nr = regs->orig_ax;
	long ret = (long)ctx[1];
#ifdef VG_CUT
	/* Measurement builds (VIGIL_BPF_CFLAGS=-DVG_CUT=1): the hook alone, no work. */
	if (VG_CUT == 1)
		return 0;
#endif
	if (nr < 0 || nr >= VG_NR_SYSCALLS)
		return 0;
	__u32 key = nr;
	struct vg_spec *spec = bpf_map_lookup_elem(&specs, &key);
	if (!spec)
		return 0;
	/* Most exits are of calls nothing needs: leave before any other helper call. */
	bool lifecycle = ret == 0 && (is_clone(nr) || nr == NR_execve || nr == NR_execveat);
	if (!spec->enabled && !lifecycle)
		return 0;
	if (spec->enabled & (VG_SPEC_PATHGEN | VG_SPEC_NOCACHE)) {
		if (ret >= 0 && (spec->enabled & VG_SPEC_PATHGEN))
			path_gen_bump();
		if (ret >= 0 && (spec->enabled & VG_SPEC_NOCACHE))
			path_cache_off();
		if (!(spec->enabled & VG_SPEC_ON) && !lifecycle)
			return 0;
	}
	/* Thread and group ids from the task: loads instead of another helper call. */
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tid = task->pid;
	__u32 tgid = task->tgid;

	/* Child side of a new task: regs are a copy of the parent's, so the arguments are
	 * still in them. */
	if (ret == 0 && is_clone(nr)) {
		__u64 flags = 0;
		if (nr == NR_clone)
			flags = regs->di;
		else if (nr == NR_clone3)
			bpf_probe_read_user(&flags, sizeof(flags), (void *)regs->di);
		else if (nr == NR_vfork)
			flags = 0x4000 | 0x100; /* CLONE_VFORK | CLONE_VM */
		if (tid == tgid)
			emit_proc(nr, flags, false, spec->category);
		else if (spec->enabled & VG_SPEC_ON)
			emit_syscall(task, spec, NULL, nr, ret, regs);
		return 0;
	}
	if (ret == 0 && (nr == NR_execve || nr == NR_execveat)) {
		/* The thread that exec'd may have taken over the leader's tid: drop both. */
		bpf_map_delete_elem(&stashes, &tid);
		emit_proc(nr, 0, true, spec->category);
		return 0;
	}
	if (!(spec->enabled & VG_SPEC_ON))
		return 0;
	if (!(spec->enabled & VG_SPEC_STASH)) {
		struct vg_config *cfg = get_config();
		if (!cfg || tgid == cfg->self_tgid || cgroup_filtered(cfg, task))
			return 0;
		emit_syscall(task, spec, NULL, nr, ret, regs);
		return 0;
	}
	struct stash *st = bpf_map_lookup_elem(&stashes, &tid);
	if (st && st->nr != (__u64)nr) {
		bpf_map_delete_elem(&stashes, &tid);
		st = NULL;
	}
	struct pt_regs *from_regs = NULL;
	if (!st) {
		/* No entry record: sys_enter never ran for this call. A seccomp filter that refuses
		 * a call returns before the sys_enter tracepoint, but sys_exit still runs, so this is
		 * how a refused attempt (a module load or bpf() from a default container) is seen.
		 * The call did not run, so the argument registers are untouched. The filters of
		 * sys_enter apply here too. */
		struct vg_config *cfg = get_config();
		if (!cfg || tgid == cfg->self_tgid || cgroup_filtered(cfg, task))
			return 0;
		from_regs = regs;
	}
	emit_syscall(task, spec, st, nr, ret, from_regs);
	if (st)
		bpf_map_delete_elem(&stashes, &tid);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int vigil_sched_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	__u32 tid = BPF_CORE_READ(task, pid);
	bpf_map_delete_elem(&stashes, &tid);
	/* Only the last thread of the group produces procexit (signal->live already dropped). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;
	struct vg_hdr *h = (void *)s->rec;
	fill_hdr(h, VG_REC_EXIT, 0, 0);
	h->tid = h->pid = BPF_CORE_READ(task, tgid);
	struct vg_exit *e = (void *)(s->rec + sizeof(struct vg_hdr));
	int code = BPF_CORE_READ(task, exit_code);
	int gcode = BPF_CORE_READ(task, signal, group_exit_code);
	if (gcode)
		code = gcode;
	e->status = (code >> 8) & 0xff;
	e->sig = code & 0x7f;
	e->core = (code & 0x80) ? 1 : 0;
	h->res = code;
	submit(s, sizeof(struct vg_hdr) + sizeof(struct vg_exit), VG_DROP_EXIT, VG_EXIT_CATEGORY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
