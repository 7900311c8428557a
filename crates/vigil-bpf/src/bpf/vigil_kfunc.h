// SPDX-License-Identifier: GPL-2.0
#ifndef VIGIL_KFUNC_H
#define VIGIL_KFUNC_H
/*
 * bpf_rdonly_cast (Linux 6.2+): a kfunc that makes the verifier treat an address as a
 * read-only pointer to a kernel type, so its fields are read with plain loads (a load that
 * faults reads 0, like a failed bpf_probe_read_kernel). The verifier rewrites the call into a
 * register move: no call, no return, which matters on CPUs where every return is a mitigated
 * one. The cache-hit path of a dropped open reads six fields this way.
 *
 * aya, the loader, cannot link kfuncs, so the call is emitted as a raw instruction (BPF_CALL
 * with src_reg BPF_PSEUDO_KFUNC_CALL) carrying a placeholder id; the loader puts the
 * function's BTF id of the running kernel in its place (vigil_bpf::patch_kfunc_calls). The
 * build also makes an object without kfuncs (VG_KFUNC undefined), loaded when the kernel has
 * no bpf_rdonly_cast or refuses it in a tracing program (kfunc_probe.bpf.c tells at start).
 *
 * Needs __u32/__u64, bpf_core_read.h and VG_KFUNC_CALL_INSN (vigil_records.h) first.
 */
static __always_inline void *vg_rdonly_cast(__u64 p, __u32 btf_id)
{
	register __u64 r1 asm("r1") = p;
	register __u64 r2 asm("r2") = btf_id;
	register __u64 r0 asm("r0");
	asm volatile(".quad " VG_KFUNC_CALL_INSN : "=r"(r0), "+r"(r1), "+r"(r2) : : "r3", "r4", "r5", "memory");
	return (void *)r0;
}
#define KCAST(type, p) ((type *)vg_rdonly_cast((__u64)(p), bpf_core_type_id_kernel(type)))

#endif
