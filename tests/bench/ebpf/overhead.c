/* Overhead per event of each gw_ebpf probe: the same loop of the traced
 * operation with the probe detached and attached, alternating in one run.
 * Each figure is the median over the rounds of (attached - detached), in ns
 * per event, printed as `bench: ebpf_overhead_ns.<probe> N ns`; the in-program
 * time from kernel BPF statistics is printed as ebpf_prog_ns.<program>.
 * The process runs on one CPU at nice -20, so other work on the machine
 * disturbs the loops less. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gateway/ebpf.h"

#define ROUNDS 21

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "ebpf bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the loops: each returns ns per event ---- */

static double loop_getppid(long n)
{
	double t = now_s();

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now_s() - t) * 1e9 / (double)n;
}

static int pipe_fd[2];

static double loop_exchange(long n)
{
	char c = 'x';
	double t = now_s();

	for (long i = 0; i < n; i++) {
		if (write(pipe_fd[1], &c, 1) != 1 || read(pipe_fd[0], &c, 1) != 1)
			die("pipe");
	}
	return (now_s() - t) * 1e9 / (double)n;
}

static int ping[2], pong[2];

static void *ponger(void *arg)
{
	char c;

	(void)arg;
	while (read(ping[0], &c, 1) == 1)
		if (write(pong[1], &c, 1) != 1)
			break;
	return NULL;
}

/* Thread ping-pong: each round trip is two wakeups and two switches in. */
static double loop_switch(long n)
{
	char c = 'x';
	double t = now_s();

	for (long i = 0; i < n; i++) {
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			die("ping-pong");
	}
	return (now_s() - t) * 1e9 / (double)n / 2;
}

static int tcp_c, tcp_s;

/* TCP ping-pong on loopback: each round trip is two received segments. */
static double loop_tcp(long n)
{
	char buf[16] = "ping";
	double t = now_s();

	for (long i = 0; i < n; i++) {
		if (write(tcp_c, buf, 16) != 16 || read(tcp_s, buf, 16) != 16 ||
		    write(tcp_s, buf, 16) != 16 || read(tcp_c, buf, 16) != 16)
			die("tcp");
	}
	return (now_s() - t) * 1e9 / (double)n / 2;
}

static void tcp_setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		die("listen");
	tcp_c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(tcp_c, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	tcp_s = accept(l, NULL, NULL);
	if (tcp_s < 0)
		die("accept");
	setsockopt(tcp_c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(tcp_s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

/* ---- attach, measure, detach ---- */

struct probe_case {
	const char *name;
	unsigned probes;
	bool other_tgid; /* trace another process: this loop only pays the filter */
	double (*loop)(long n);
	long n;
};

static struct gw_ebpf *attach(const struct probe_case *pc, bool stats)
{
	struct gw_ebpf_config cfg = {
		.probes = pc->probes,
		.tgid = pc->other_tgid ? getppid() : 0,
		.enable_stats = stats,
	};
	struct gw_ebpf *h;

	if (gw_ebpf_new(&cfg, &h) != 0)
		die("gw_ebpf_new");
	if (gw_ebpf_probes(h) != pc->probes) {
		fprintf(stderr, "ebpf bench: probes not attached: %s\n", gw_ebpf_reason(h));
		exit(1);
	}
	if (!pc->other_tgid) {
		if (gw_ebpf_watch_fd(h, pipe_fd[0], GW_EBPF_TRANSPORT_PTY, "bench", "stable") ||
		    gw_ebpf_watch_fd(h, pipe_fd[1], GW_EBPF_TRANSPORT_PTY, "bench", "stable") ||
		    gw_ebpf_watch_fd(h, tcp_c, GW_EBPF_TRANSPORT_TCP, "bench", "stable") ||
		    gw_ebpf_watch_fd(h, tcp_s, GW_EBPF_TRANSPORT_TCP, "bench", "stable"))
			die("watch");
	}
	return h;
}

/* Runs and run time of each program, from the metrics text. */
static void print_prog_stats(const struct gw_ebpf *h)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char names[8][32];
	double runs[8] = { 0 }, secs[8] = { 0 };
	int nn = 0;

	if (!f || gw_ebpf_write_metrics(h, f) != 0)
		die("metrics");
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[32];
		double v;
		bool is_runs;
		int i;

		if (sscanf(line, "flotilla_gateway_ebpf_program_runs_total{program=\"%31[^\"]\"} %lf",
			   name, &v) == 2)
			is_runs = true;
		else if (sscanf(line, "flotilla_gateway_ebpf_program_run_seconds_total"
				      "{program=\"%31[^\"]\"} %lf", name, &v) == 2)
			is_runs = false;
		else
			continue;
		for (i = 0; i < nn && strcmp(names[i], name); i++)
			;
		if (i == nn) {
			if (nn == 8)
				continue;
			snprintf(names[nn++], sizeof(names[0]), "%s", name);
		}
		if (is_runs)
			runs[i] = v;
		else
			secs[i] = v;
	}
	for (int i = 0; i < nn; i++)
		if (runs[i] > 0)
			printf("bench: ebpf_prog_ns.%s %.1f ns\n", names[i], secs[i] * 1e9 / runs[i]);
	free(buf);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Each round times the loop detached and attached back to back (in
 * alternating order, against drift); the figure is the median of the rounds'
 * differences, which a machine busy with other work disturbs least. */
static void run_case(const struct probe_case *pc, double scale)
{
	long n = (long)((double)pc->n * scale);
	double diff[ROUNDS], best_off = 1e30, best_on = 1e30;
	struct gw_ebpf *h;

	if (n < 1000)
		n = 1000;
	pc->loop(n / 10); /* warm up */
	for (int r = 0; r < ROUNDS; r++) {
		double off = 0, on;

		if (r & 1)
			off = pc->loop(n);
		h = attach(pc, false);
		on = pc->loop(n);
		gw_ebpf_free(h);
		if (!(r & 1))
			off = pc->loop(n);
		diff[r] = on - off;
		if (off < best_off)
			best_off = off;
		if (on < best_on)
			best_on = on;
	}
	qsort(diff, ROUNDS, sizeof(diff[0]), cmp_double);
	fprintf(stderr, "%-32s best detached %8.1f ns/event, best attached %8.1f ns/event, "
		"round differences %.1f .. %.1f\n", pc->name, best_off, best_on, diff[0],
		diff[ROUNDS - 1]);
	printf("bench: ebpf_overhead_ns.%s %.1f ns\n", pc->name, diff[ROUNDS / 2]);
	fflush(stdout);
	if (!pc->other_tgid) {
		h = attach(pc, true);
		pc->loop(n / 4);
		print_prog_stats(h);
		gw_ebpf_free(h);
	}
}

/* The link probe as it runs on a kernel without BTF (raw_tp, no CO-RE): in a
 * child whose mount namespace hides /sys/kernel/btf. */
static void run_without_btf(double scale)
{
	const struct probe_case cases[] = {
		{ "sys_exit_raw.gateway_syscall", GW_EBPF_PROBE_LINK, false, loop_getppid, 700000 },
		{ "sys_exit_raw.other_process", GW_EBPF_PROBE_LINK, true, loop_getppid, 700000 },
		{ "link_exchange_raw", GW_EBPF_PROBE_LINK, false, loop_exchange, 150000 },
	};
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", "/sys/kernel/btf", "tmpfs", 0, NULL))
			die("hide /sys/kernel/btf");
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			run_case(&cases[c], scale);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "ebpf bench: the no-BTF run failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	const struct probe_case cases[] = {
		/* link probe: a syscall of the gateway that is not device I/O */
		{ "sys_exit.gateway_syscall", GW_EBPF_PROBE_LINK, false, loop_getppid, 700000 },
		/* link probe: a syscall of another process (tgid filter only) */
		{ "sys_exit.other_process", GW_EBPF_PROBE_LINK, true, loop_getppid, 700000 },
		/* link probe: one measured exchange (write + read on a watched fd) */
		{ "link_exchange", GW_EBPF_PROBE_LINK, false, loop_exchange, 150000 },
		/* sched probe: per switch-in of a gateway thread (wakeup + switch) */
		{ "sched_switch.gateway_thread", GW_EBPF_PROBE_SCHED, false, loop_switch, 30000 },
		/* sched probe: per switch of another process's threads */
		{ "sched_switch.other_process", GW_EBPF_PROBE_SCHED, true, loop_switch, 30000 },
		/* rtt probe: per received TCP segment on a watched socket */
		{ "tcp_probe", GW_EBPF_PROBE_RTT, false, loop_tcp, 30000 },
	};
	pthread_t t;

	cpu_set_t one;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&one);
	CPU_SET(ncpu > 1 ? (int)ncpu - 1 : 0, &one);
	if (sched_setaffinity(0, sizeof(one), &one) != 0)
		fprintf(stderr, "ebpf bench: cannot pin to one CPU: %s\n", strerror(errno));
	if (setpriority(PRIO_PROCESS, 0, -20) != 0)
		fprintf(stderr, "ebpf bench: cannot raise priority: %s\n", strerror(errno));
	if (pipe(pipe_fd) || pipe(ping) || pipe(pong))
		die("pipe");
	if (pthread_create(&t, NULL, ponger, NULL))
		die("thread");
	tcp_setup();

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		run_case(&cases[c], scale);
	run_without_btf(scale);
	close(ping[1]);
	pthread_join(t, NULL);
	return 0;
}
