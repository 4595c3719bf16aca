// SPDX-License-Identifier: GPL-2.0
/* The gateway's probes: device-link I/O latency (the sys_exit tracepoint),
 * TCP smoothed RTT (tcp_probe) and run-queue delay of the gateway's threads
 * (sched_wakeup/sched_switch). All are tp_btf programs, filtered to the
 * gateway's tgid (set in rodata before load) or to the sockets it watches.
 * Histograms are per-CPU arrays whose cells are never deleted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gw_ebpf_shared.h"
#include "gw_ebpf_link.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GW_EBPF_K_PEERS * GW_EBPF_K_GROUPS);
	__type(key, __u32);
	__type(value, struct gw_ebpf_k_hist);
} rtt_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gw_ebpf_k_hist);
} sched_hist SEC(".maps");

/* socket cookie -> RTT histogram. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gw_ebpf_k_sock);
} socks SEC(".maps");

/* Per gateway thread: when it became runnable (0: not waiting). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} runnable_since SEC(".maps");

static __always_inline void hist_add(void *map, __u32 idx, __u64 v)
{
	struct gw_ebpf_k_hist *h = bpf_map_lookup_elem(map, &idx);

	if (!h)
		return;
	h->slot[gw_ebpf_k_bucket(v) & (GW_EBPF_K_BUCKETS - 1)] += 1;
	h->sum += v;
}

/* The syscall's number at sys_exit: the register the kernel keeps it in. */
#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((long)BPF_CORE_READ(regs, syscallno))
#else
#error "gw_ebpf: add this architecture's syscall number register"
#endif

/* One program on sys_exit does the link probe: the syscall's number, its
 * first argument (the fd) and its result are all there, so nothing is spent
 * on sys_enter, which every syscall of every process would pay. A write that
 * returned bytes starts an exchange (if none is open); the next read on the
 * fd that returns bytes ends it. */
SEC("tp_btf/sys_exit")
int BPF_PROG(gw_sys_exit, struct pt_regs *regs, long ret)
{
	struct gw_ebpf_k_fd *v;
	__u64 now, t0, d;
	__u32 fd, b;
	long id;
	int is_write;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (ret <= 0)
		return 0;
	id = SYSCALL_NR(regs);
	is_write = id == nr_write || id == nr_writev || id == nr_sendto || id == nr_sendmsg;
	if (!is_write && id != nr_read && id != nr_readv && id != nr_recvfrom &&
	    id != nr_recvmsg)
		return 0;
	fd = (__u32)PT_REGS_PARM1_SYSCALL(regs);
	v = bpf_map_lookup_elem(&fds, &fd);
	if (!v)
		return 0;
	now = bpf_ktime_get_ns();
	if (is_write) {
		/* The exchange starts at the first write not yet answered. */
		if (v->t_write == 0)
			v->t_write = now;
		return 0;
	}
	t0 = v->t_write;
	if (t0 == 0)
		return 0;
	v->t_write = 0;
	d = now > t0 ? now - t0 : 0;
	hist_add(&link_hist, v->hist, d);
	b = gw_ebpf_k_bucket(d);
	if (b >= GW_EBPF_K_DEV_BUCKETS)
		b = GW_EBPF_K_DEV_BUCKETS - 1;
	/* The count is the sum of the buckets. */
	__sync_fetch_and_add(&v->bucket[b], 1);
	__sync_fetch_and_add(&v->sum, d);
	return 0;
}

/* Kernels before 5.14 call the task state field "state". */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

/* tp_btf arguments are trusted pointers: plain loads (CO-RE relocated), no
 * probe-read helper calls on this hot path. */
static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state;
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline void mark_runnable(struct task_struct *p)
{
	__u64 *ts;

	if ((__u32)p->tgid != target_tgid)
		return;
	ts = bpf_task_storage_get(&runnable_since, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(gw_sched_wakeup, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(gw_sched_wakeup_new, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(gw_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u64 *ts, now, t0;

	/* Preempted while runnable: it waits on the run queue from now. */
	if ((__u32)prev->tgid == target_tgid && task_state(prev) == 0)
		mark_runnable(prev);
	if ((__u32)next->tgid != target_tgid)
		return 0;
	ts = bpf_task_storage_get(&runnable_since, next, 0, 0);
	if (!ts || *ts == 0)
		return 0;
	t0 = *ts;
	*ts = 0;
	now = bpf_ktime_get_ns();
	hist_add(&sched_hist, 0, now > t0 ? now - t0 : 0);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(gw_tcp_probe, struct sock *sk, struct sk_buff *skb)
{
	struct gw_ebpf_k_sock *v;
	struct tcp_sock *tp;
	__u64 cookie;
	__u32 srtt_us;

	cookie = bpf_get_socket_cookie(sk);
	v = bpf_map_lookup_elem(&socks, &cookie);
	if (!v)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	srtt_us = tp->srtt_us >> 3; /* stored as 8 * srtt */
	hist_add(&rtt_hist, v->hist, (__u64)srtt_us * 1000);
	return 0;
}
