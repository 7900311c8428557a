// SPDX-License-Identifier: GPL-2.0
/*
 * A start-up probe: does the running kernel accept vigil's bpf_rdonly_cast calls in a BTF
 * tracepoint program? The loader patches and loads (verifies) this program before choosing
 * between the kfunc object and the helpers-only one; it is never attached or run.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "vigil_records.h"
#include "vigil_kfunc.h"

struct file {
	unsigned int f_flags;
} __attribute__((preserve_access_index));

SEC("tp_btf/sys_exit")
int vigil_kfunc_probe(__u64 *ctx)
{
	/* The kind of load the sensor makes: a field of a kernel structure through the cast. */
	struct file *f = KCAST(struct file, ctx[1]);
	return f->f_flags & 1;
}

char LICENSE[] SEC("license") = "GPL";
