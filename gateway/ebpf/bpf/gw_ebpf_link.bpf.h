/* SPDX-License-Identifier: GPL-2.0 */
/* What both BPF objects' link probes share: the loader's read-only settings
 * (the gateway's tgid, this architecture's syscall numbers) and the maps the
 * link probe fills. BPF side only; included once per object, after the
 * object's own kernel headers and gw_ebpf_shared.h. The loader finds these
 * by name in either skeleton. */
#ifndef GW_EBPF_LINK_BPF_H
#define GW_EBPF_LINK_BPF_H

const volatile __u32 target_tgid = 0;
/* Syscall numbers of this architecture, filled in by the loader. */
const volatile long nr_read = -1, nr_readv = -1, nr_recvfrom = -1, nr_recvmsg = -1;
const volatile long nr_write = -1, nr_writev = -1, nr_sendto = -1, nr_sendmsg = -1;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GW_EBPF_K_TRANSPORTS * GW_EBPF_K_GROUPS);
	__type(key, __u32);
	__type(value, struct gw_ebpf_k_hist);
} link_hist SEC(".maps");

/* fd of the gateway -> link state; resized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct gw_ebpf_k_fd);
} fds SEC(".maps");

#endif
