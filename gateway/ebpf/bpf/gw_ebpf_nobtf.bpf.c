// SPDX-License-Identifier: GPL-2.0
/* The link probe for kernels without BTF: a raw_tp program on sys_exit that
 * needs neither kernel BTF nor CO-RE. It reads the syscall number and first
 * argument from struct pt_regs at the offsets of the architecture's ptrace
 * ABI (user_regs_struct on x86-64, user_pt_regs + orig_x0 and syscallno on
 * arm64), which do not change between kernels. Same maps and arithmetic as
 * gw_ebpf.bpf.c's link probe; RTT and scheduling need kernel types and are
 * not offered here. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "gw_ebpf_shared.h"
#include "gw_ebpf_link.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#if defined(__TARGET_ARCH_x86)
#define REGS_NR_OFF 120   /* orig_ax */
#define REGS_ARG1_OFF 112 /* di */
#define REGS_NR_SIZE 8
#elif defined(__TARGET_ARCH_arm64)
#define REGS_NR_OFF 280   /* syscallno (s32) */
#define REGS_ARG1_OFF 272 /* orig_x0 */
#define REGS_NR_SIZE 4
#else
#error "gw_ebpf_nobtf: add this architecture's pt_regs offsets"
#endif

SEC("raw_tp/sys_exit")
int gw_sys_exit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	const char *regs = (const char *)ctx->args[0];
	long ret = (long)ctx->args[1];
	struct gw_ebpf_k_fd *v;
	struct gw_ebpf_k_hist *hist;
	__u64 now, t0, d, arg1 = 0;
	__u32 fd, b, idx;
	long id = 0;
	int is_write;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (ret <= 0)
		return 0;
	if (bpf_probe_read_kernel(&id, REGS_NR_SIZE, regs + REGS_NR_OFF))
		return 0;
	if (REGS_NR_SIZE == 4)
		id = (int)id;
	is_write = id == nr_write || id == nr_writev || id == nr_sendto || id == nr_sendmsg;
	if (!is_write && id != nr_read && id != nr_readv && id != nr_recvfrom &&
	    id != nr_recvmsg)
		return 0;
	if (bpf_probe_read_kernel(&arg1, sizeof(arg1), regs + REGS_ARG1_OFF))
		return 0;
	fd = (__u32)arg1;
	v = bpf_map_lookup_elem(&fds, &fd);
	if (!v)
		return 0;
	now = bpf_ktime_get_ns();
	if (is_write) {
		if (v->t_write == 0)
			v->t_write = now;
		return 0;
	}
	t0 = v->t_write;
	if (t0 == 0)
		return 0;
	v->t_write = 0;
	d = now > t0 ? now - t0 : 0;
	idx = v->hist;
	hist = bpf_map_lookup_elem(&link_hist, &idx);
	if (hist) {
		hist->slot[gw_ebpf_k_bucket(d) & (GW_EBPF_K_BUCKETS - 1)] += 1;
		hist->sum += d;
	}
	b = gw_ebpf_k_bucket(d);
	if (b >= GW_EBPF_K_DEV_BUCKETS)
		b = GW_EBPF_K_DEV_BUCKETS - 1;
	__sync_fetch_and_add(&v->bucket[b], 1);
	__sync_fetch_and_add(&v->sum, d);
	return 0;
}
