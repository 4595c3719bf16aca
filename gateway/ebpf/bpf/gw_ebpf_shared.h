/* Layouts shared by the BPF programs (bpf/gw_ebpf.bpf.c) and the userspace
 * loader (src/ebpf.c). Both sides compile this file: keep it to fixed-width
 * kernel types and static inline arithmetic. */
#ifndef GW_EBPF_SHARED_H
#define GW_EBPF_SHARED_H

/** Log2 buckets of a kernel histogram; bucket b counts values in
 *  (2^(b-1), 2^b] nanoseconds (bucket 0: 0 and 1 ns). */
#define GW_EBPF_K_BUCKETS 64
/** Buckets kept per device fd (up to 2^39 ns, about 550 s; beyond clamps). */
#define GW_EBPF_K_DEV_BUCKETS 40
/** Transports the kernel aggregates by. */
#define GW_EBPF_K_TRANSPORTS 4
/** (release, cohort) label groups; group 0 is "unknown". */
#define GW_EBPF_K_GROUPS 64
/** RTT peers: 0 = device, 1 = controller. */
#define GW_EBPF_K_PEERS 2

/** One histogram cell of a per-CPU array: counts per bucket and the sum. */
struct gw_ebpf_k_hist {
	__u64 slot[GW_EBPF_K_BUCKETS];
	__u64 sum;
};

/** Value of the watched-fd map: which histogram the fd feeds, the pending
 *  write time and the per-device distribution for the local API. */
struct gw_ebpf_k_fd {
	__u32 hist;   /* transport * GW_EBPF_K_GROUPS + group */
	__u32 pad;
	__u64 t_write; /* first write not yet answered, 0 when none */
	__u64 sum;     /* the count is the sum of bucket[] */
	__u32 bucket[GW_EBPF_K_DEV_BUCKETS];
};

/** Value of the watched-socket map (key: socket cookie). */
struct gw_ebpf_k_sock {
	__u32 hist;   /* peer * GW_EBPF_K_GROUPS + group */
	__u32 pad;
};

/* Round-up log2 bucket of v: the smallest b with v <= 2^b, capped at 63. */
static inline __u32 gw_ebpf_k_bucket(__u64 v)
{
	__u32 r = 0, s;

	if (v <= 1)
		return 0;
	v -= 1;
	s = (v > 0xFFFFFFFFULL) << 5; v >>= s; r |= s;
	s = (v > 0xFFFFULL) << 4; v >>= s; r |= s;
	s = (v > 0xFFULL) << 3; v >>= s; r |= s;
	s = (v > 0xFULL) << 2; v >>= s; r |= s;
	s = (v > 0x3ULL) << 1; v >>= s; r |= s;
	r |= (__u32)(v >> 1);
	r += 1;
	return r > GW_EBPF_K_BUCKETS - 1 ? GW_EBPF_K_BUCKETS - 1 : r;
}

#endif
