/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0 */
/*
 * Record layouts shared by the eBPF programs and user space.
 *
 * Every struct here has a #[repr(C)] twin in crates/vigil-bpf/src/lib.rs; the sizes are
 * pinned with _Static_assert below and const assertions on the Rust side, so a change on one
 * side that is not mirrored on the other fails the build instead of corrupting decoding.
 *
 * A ring-buffer record is: struct vg_hdr, then a kind-specific fixed part (vg_sys, vg_proc or
 * vg_exit), then zero or more blobs. A blob is struct vg_blob (length, tag, argument index)
 * followed by `len` bytes (no NUL). Blobs carry everything variable-sized: strings read from
 * user memory, paths resolved in the kernel, socket addresses, argv/env areas.
 */
#ifndef VIGIL_RECORDS_H
#define VIGIL_RECORDS_H

/* Record kinds (vg_hdr.kind). */
#define VG_REC_SYSCALL 1 /* a syscall exit (with its entry arguments) */
#define VG_REC_PROC 2    /* process lifecycle: clone child or successful exec */
#define VG_REC_EXIT 3    /* thread-group exit (procexit) */

/* Blob tags (vg_blob.tag). */
#define VG_BLOB_STR 1      /* user string argument `arg`, exactly as passed */
#define VG_BLOB_BASEDIR 2  /* absolute directory a relative path argument `arg` is relative to */
#define VG_BLOB_SOCKADDR 3 /* raw struct sockaddr from argument `arg` */
#define VG_BLOB_FDPATH 4   /* absolute path (or anon name) of the event's file descriptor */
#define VG_BLOB_PIPEFDS 5  /* int[2] written by pipe/pipe2 */
#define VG_BLOB_ARGV 6     /* argv area of the process: NUL-separated */
#define VG_BLOB_ENV 7      /* environment area: NUL-separated */
#define VG_BLOB_CWD 8      /* current working directory */
#define VG_BLOB_EXEPATH 9  /* absolute path of the executable file */
#define VG_BLOB_STDIO 10   /* name of fd `arg` (0, 1 or 2) */
#define VG_BLOB_PEERPATH 11 /* unix socket: path bound by the peer / the socket itself */
#define VG_BLOB_CGROUP 12  /* a component of the task's cgroup path: arg 0 the last, 1 its parent, ... */

/* Argument kinds in the per-syscall spec (vg_spec.kind[i]). */
#define VG_ARG_INT 0      /* plain integer, passed through */
#define VG_ARG_PATH 1     /* user string that is a path, resolved against dirfd/cwd */
#define VG_ARG_STR 2      /* user string that is not a path (memfd name, symlink target) */
#define VG_ARG_SOCKADDR 3 /* user sockaddr; its length is the next argument */
#define VG_ARG_PIPEFDS 4  /* user int[2], read at exit */
#define VG_ARG_MSGHDR 5   /* user msghdr: its msg_name sockaddr is captured */
#define VG_ARG_CLONE3 6   /* user struct clone_args: flags replace the raw pointer */
#define VG_ARG_OPENHOW 7  /* user struct open_how: flags, mode, resolve replace args i..i+2 */

/* Where the event's file descriptor comes from (vg_spec.fd_src). */
#define VG_FD_NONE 0
#define VG_FD_RET 1       /* the return value is the new descriptor */
#define VG_FD_ARG0 2      /* argument 0 is the descriptor, resolved at exit */
#define VG_FD_ARG0_ENTER 3 /* argument 0, resolved at entry (close: gone at exit) */
#define VG_FD_ARG1_RET 4  /* dup2/dup3: the new descriptor is the return value */

/* Sentinel in vg_spec.dirfd_of: the path argument is relative to the cwd. */
#define VG_DIRFD_CWD 0xff

/* vg_fd.flags */
#define VG_FDF_VALID 1
#define VG_FDF_OVERLAY 2
#define VG_FDF_UPPER 4
#define VG_FDF_SOCK 8

/* vg_proc.exe_flags: same values as vigil_event::params::exe_flags. */
#define VG_EXE_UPPER_LAYER 1
#define VG_EXE_FROM_MEMFD 2
#define VG_EXE_WRITABLE 4
#define VG_EXE_LOWER_LAYER 8

/* Drop counter slots (per-CPU array `drops`). */
#define VG_DROP_SYSCALL 0   /* ring buffer full: syscall record lost */
#define VG_DROP_PROC 1      /* ring buffer full: lifecycle record lost */
#define VG_DROP_EXIT 2      /* ring buffer full: procexit lost */
#define VG_DROP_STASH 3     /* entry args could not be stashed (map full) */
#define VG_DROP_TRUNC 4     /* a record was truncated (scratch space exhausted) */
#define VG_DROP_PATH 5      /* a path walk hit its depth/length budget: path cut at the top */
#define VG_DROP_FILTERED 6  /* not a loss: open events no rule can match, stopped by a prefilter */
#define VG_DROP_CATEGORY 8  /* + category index: ring-buffer losses by event category */
#define VG_NR_CATEGORIES 8
#define VG_DROP_SLOTS 16

/* Sizes. */
#define VG_NR_SYSCALLS 512
#define VG_STR_MAX 4096
#define VG_REC_HALF 16384
#define VG_REC_SIZE (2 * VG_REC_HALF)

struct vg_hdr {
	__u64 ts;      /* bpf_ktime_get_boot_ns() at exit */
	__u64 latency; /* exit ts - entry ts, 0 when unknown */
	__u32 tid;
	__u32 pid;
	__s64 res;
	__u32 len; /* total record length, header included */
	__u16 nr;  /* syscall number (or 0 for procexit) */
	__u8 kind; /* VG_REC_* */
	__u8 cpu;
};

/* Socket endpoints (network byte order addresses, host order ports). */
struct vg_sock {
	__u16 family;
	__u16 type;
	__u16 protocol;
	__u16 lport;
	__u16 rport;
	__u16 pad0;
	__u32 pad1;
	__u8 laddr[16];
	__u8 raddr[16];
};

struct vg_fd {
	__s64 num;
	__u64 ino;
	__u32 dev;
	__u32 mode;  /* inode i_mode */
	__u32 magic; /* super block magic (low 32 bits) */
	__u32 flags; /* VG_FDF_* */
	__u32 nlink;
	__u32 open_flags; /* file->f_flags */
	struct vg_sock sock;
};

struct vg_sys {
	__u64 args[6];
	struct vg_fd fd;
};

struct vg_stdio {
	__u64 ino;
	__u32 mode;
	__u32 magic;
	__u16 family;
	__u16 pad[3];
};

struct vg_proc {
	__u32 ptid;
	__u32 vtid;
	__u32 vpid;
	__u32 pgid;
	__u32 sid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 tty;
	__u32 exe_flags;
	__u64 clone_flags;
	__u64 cap_inheritable;
	__u64 cap_permitted;
	__u64 cap_effective;
	__u64 cgroup_id;
	__u64 exe_ino;
	__u64 exe_ctime; /* ns */
	__u64 exe_mtime; /* ns */
	__u64 exe_dev;
	struct vg_stdio stdio[3];
	char comm[16];
};

struct vg_exit {
	__s64 status;
	__u32 sig;
	__u32 core;
};

struct vg_blob {
	__u16 len;
	__u8 tag;
	__u8 arg;
};

/* Per-syscall capture spec, written by user space (array map `specs`, key = syscall nr). */
/* vg_spec.enabled bits. */
#define VG_SPEC_ON 1    /* emit events of this type */
#define VG_SPEC_STASH 2 /* stash entry time and arguments at sys_enter (latency, close); without
			 * it the arguments are read from the registers at exit, which x86-64
			 * leaves untouched */
#define VG_SPEC_PATHGEN 4 /* a successful call can change what path a dentry has (rename,
			   * mount): it invalidates the path cache, reported or not */
#define VG_SPEC_NOCACHE 8 /* a successful call turns the path cache off for good (io_uring:
			   * its requests rename files without a syscall) */

/* The path cache (per-CPU array `path_cache`, direct-mapped): the path-set bits of a (dentry,
 * mount, root) that a walk computed, reused while the generation (`path_gen`) and the
 * dentry's parent, name and inode are unchanged. `path_gen` slots: */
#define VG_GEN_KERNEL 0  /* bumped by the programs on renames and mount changes */
#define VG_GEN_USER 1    /* bumped by user space when the filters change */
#define VG_GEN_ENABLED 2 /* non-zero while the cache is used */
#define VG_GEN_SLOTS 4
/* `path_cache_stats` (per-CPU) slots. */
#define VG_PC_HIT 0
#define VG_PC_INSERT 1
#define VG_PC_SLOTS 2

struct vg_pc_key {
	__u64 dentry;
	__u64 mnt;
	__u64 root_dentry;
	__u64 root_mnt;
};

struct vg_pc_val {
	__u64 gen;
	__u64 parent;   /* dentry->d_parent */
	__u64 hash_len; /* dentry->d_name.hash_len */
	__u64 inode;    /* file->f_inode */
	__u64 mask;     /* path-set bits (vg_path_mask) */
};

/* bpf_rdonly_cast calls (see vg_rdonly_cast in vigil.bpf.c) carry this placeholder id until the
 * loader patches in the kernel's: the raw instruction is code 0x85 (BPF_JMP | BPF_CALL),
 * src_reg 2 (BPF_PSEUDO_KFUNC_CALL), off 0, imm VG_KFUNC_RDONLY_CAST, little-endian. */
#define VG_KFUNC_RDONLY_CAST 0x564b4746
#define VG_KFUNC_CALL_INSN "0x564b474600002085"

/* A slot of `path_cache`; VG_PC_ENTRIES slots per CPU, indexed by a hash of the key. */
#define VG_PC_ENTRIES 2048
struct vg_pc_entry {
	struct vg_pc_key key;
	struct vg_pc_val val;
};

/* Prefilters for open events (array map `filters`, vg_spec.filter = index + 1). */
#define VG_NR_FILTERS 8
#define VG_LPM_BYTES 256
/* Facts about an open event a filter tests (bits of the vg_filter.combos index). */
#define VG_ATOM_WRITE 1  /* opened for writing: O_WRONLY or O_RDWR */
#define VG_ATOM_READ 2   /* opened for reading: O_RDONLY or O_RDWR */
#define VG_ATOM_OK 4     /* the call returned a descriptor */
#define VG_ATOM_DOTDOT 8 /* the path argument contains "../" */
#define VG_ATOM_CREATE 16 /* O_CREAT (always for creat()) */
#define VG_NAME_BYTES 64
/* vg_filter.flags_arg: creat() has no flags argument; it opens O_WRONLY|O_CREAT. */
#define VG_FLAGS_CREAT 0xfe

/* A filter, compiled per combination of atoms (VG_ATOM_* bits index `combos`): the event
 * passes if `always`, or if its path is in a set of `any`, or in a set of both masks of one
 * of the `pairs`. A combination no clause allows has all three empty. */
#define VG_FILTER_COMBOS 32
#define VG_FILTER_PAIRS 4

struct vg_combo {
	__u8 always;
	__u8 npairs;
	__u8 pad[6];
	__u64 any;
	__u64 pairs[VG_FILTER_PAIRS][2];
};

struct vg_filter {
	__u32 pass_all;
	__u8 flags_arg; /* the argument with the open flags (openat2: its open_how), or VG_FLAGS_CREAT */
	__u8 pad[3];
	struct vg_combo combos[VG_FILTER_COMBOS];
};

/* Key of the `filter_paths` LPM trie: a path, and its bit length that must match. The value
 * (u64) is the set of path-set bits of this entry and of every shorter entry it extends. */
struct vg_lpm_key {
	__u32 prefixlen;
	__u8 data[VG_LPM_BYTES];
};

/* Key of the `filter_names` hash: a path's last component, zero-padded (at most 63 bytes). */
struct vg_name_key {
	__u8 name[VG_NAME_BYTES];
};

struct vg_spec {
	__u8 enabled;   /* VG_SPEC_* bits; 0: not reported */
	__u8 fd_src;    /* VG_FD_* */
	__u8 kind[6];   /* VG_ARG_* per argument */
	__u8 dirfd_of[6]; /* for a PATH argument: index of its dirfd argument, or VG_DIRFD_CWD */
	__u8 category;    /* event category index (user space's order), for drop accounting */
	__u8 filter;      /* 1 + index into `filters` for a prefiltered open type; 0: none */
};

/* Global configuration (array map `config`, one entry). */
struct vg_config {
	__u32 self_tgid;      /* vigil's own pid: its syscalls are not reported */
	__u32 record_cgroups; /* non-zero when `cgroup_record` has entries */
	__u64 ignore_cgroup;  /* a cgroup whose syscalls are not reported (0 = none) */
	__u64 wakeup_bytes;   /* wake the reader only once this much is pending (0: every record) */
};

_Static_assert(sizeof(struct vg_hdr) == 40, "vg_hdr layout");
_Static_assert(sizeof(struct vg_sock) == 48, "vg_sock layout");
_Static_assert(sizeof(struct vg_fd) == 88, "vg_fd layout");
_Static_assert(sizeof(struct vg_sys) == 136, "vg_sys layout");
_Static_assert(sizeof(struct vg_stdio) == 24, "vg_stdio layout");
_Static_assert(sizeof(struct vg_proc) == 208, "vg_proc layout");
_Static_assert(sizeof(struct vg_exit) == 16, "vg_exit layout");
_Static_assert(sizeof(struct vg_spec) == 16, "vg_spec layout");
_Static_assert(sizeof(struct vg_config) == 24, "vg_config layout");
_Static_assert(sizeof(struct vg_combo) == 16 + 16 * VG_FILTER_PAIRS, "vg_combo layout");
_Static_assert(sizeof(struct vg_filter) == 8 + sizeof(struct vg_combo) * VG_FILTER_COMBOS, "vg_filter layout");
_Static_assert(sizeof(struct vg_lpm_key) == 260, "vg_lpm_key layout");
_Static_assert(sizeof(struct vg_name_key) == 64, "vg_name_key layout");
_Static_assert(sizeof(struct vg_pc_key) == 32, "vg_pc_key layout");
_Static_assert(sizeof(struct vg_pc_val) == 40, "vg_pc_val layout");
_Static_assert(sizeof(struct vg_pc_entry) == 72, "vg_pc_entry layout");

#endif
