/* gw_ebpf with the real kernel (root): accuracy of the link probe against
 * simulated devices on ptys, the fallback without privilege, the link probe
 * without kernel BTF, and the exposition with every probe on. Exits 77 (skipped) without root or without probes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cmocka.h>

#include "testutil.h"

/* A simulated device on a pty: for each byte d it reads, it waits d ms and
 * answers one byte. */
struct device {
	int fd;   /* the gateway's side (pty master) */
	pid_t pid;
};

static void device_start(struct device *d)
{
	struct termios t;
	int slave;

	d->fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(d->fd >= 0);
	assert_int_equal(grantpt(d->fd), 0);
	assert_int_equal(unlockpt(d->fd), 0);
	slave = open(ptsname(d->fd), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(slave, TCSANOW, &t), 0);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		unsigned char c;

		close(d->fd);
		while (read(slave, &c, 1) == 1) {
			tu_sleep_ms(c);
			if (write(slave, &c, 1) != 1)
				break;
		}
		_exit(0);
	}
	close(slave);
}

static void device_stop(struct device *d)
{
	int st;

	close(d->fd);
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &st, 0);
}

/* One exchange, timed by the fallback API as the daemon would. */
static void exchange(struct gw_ebpf *h, int fd, unsigned char delay_ms)
{
	unsigned char r;
	ssize_t n;

	gw_ebpf_note_write(h, fd);
	assert_int_equal(write(fd, &delay_ms, 1), 1);
	n = read(fd, &r, 1);
	gw_ebpf_note_read(h, fd, n);
	assert_int_equal(n, 1);
	assert_int_equal(r, delay_ms);
}

/* The one bucket that grew by one between a and b; -1 otherwise. */
static int grown_bucket(const struct gw_ebpf_hist *a, const struct gw_ebpf_hist *b)
{
	int found = -1;

	if (b->count != a->count + 1)
		return -1;
	for (int i = 0; i < GW_EBPF_HIST_BUCKETS; i++) {
		if (b->bucket[i] == a->bucket[i])
			continue;
		if (b->bucket[i] != a->bucket[i] + 1 || found >= 0)
			return -1;
		found = i;
	}
	return found;
}

static void test_accuracy(void **state)
{
	static const unsigned char delays[] = { 1, 10, 100 };
	static const int rounds[] = { 10, 5, 3 };
	static const char *const release[] = { "d1", "d10", "d100" };
	struct gw_ebpf_config cfg = { .probes = GW_EBPF_PROBE_LINK | GW_EBPF_PROBE_SCHED };
	struct device dev[3];
	struct gw_ebpf *h;
	struct gw_ebpf_hist k0, k1, u0, u1;
	struct gw_ebpf_summary sum;

	(void)state;
	assert_int_equal(gw_ebpf_new(&cfg, &h), 0);
	if (gw_ebpf_probes(h) != cfg.probes)
		fail_msg("probes not attached as root: %s", gw_ebpf_reason(h));
	for (int i = 0; i < 3; i++) {
		device_start(&dev[i]);
		assert_int_equal(gw_ebpf_watch_fd(h, dev[i].fd, GW_EBPF_TRANSPORT_PTY,
						  release[i], "canary"), 0);
	}
	for (int i = 0; i < 3; i++) {
		unsigned expect = gw_ebpf_bucket_of((uint64_t)delays[i] * 1000000u);
		int near = 0, least = GW_EBPF_HIST_BUCKETS;

		for (int r = 0; r < rounds[i]; r++) {
			int bk, bu;

			assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, release[i],
							   "canary", GW_EBPF_SOURCE_KERNEL, &k0), 0);
			assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, release[i],
							   "canary", GW_EBPF_SOURCE_USER, &u0), 0);
			exchange(h, dev[i].fd, delays[i]);
			assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, release[i],
							   "canary", GW_EBPF_SOURCE_KERNEL, &k1), 0);
			assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, release[i],
							   "canary", GW_EBPF_SOURCE_USER, &u1), 0);
			bk = grown_bucket(&k0, &k1);
			bu = grown_bucket(&u0, &u1);
			printf("delay %3u ms: kernel bucket le=%.6f s, userspace le=%.6f s, "
			       "kernel %.3f ms\n", delays[i], gw_ebpf_bucket_le_seconds((unsigned)bk),
			       gw_ebpf_bucket_le_seconds((unsigned)bu),
			       (double)(k1.sum_ns - k0.sum_ns) / 1e6);
			assert_true(bk >= 0);
			assert_true(bu >= 0);
			/* Never faster than the device's delay. */
			assert_true((unsigned)bk >= expect);
			if ((unsigned)bk <= expect + 1)
				near++;
			if (bk < least)
				least = bk;
			/* Kernel and userspace agree within one bucket. */
			assert_true(abs(bk - bu) <= 1);
			assert_true(k1.sum_ns - k0.sum_ns >= (uint64_t)delays[i] * 1000000u);
		}
		/* The quickest exchange lands in the delay's bucket or the next
		 * (the sleep's slack can cross a bucket bound). A late wakeup on a
		 * loaded machine adds a few ms, so only the slower devices must land
		 * there mostly. */
		assert_true((unsigned)least <= expect + 1);
		if (delays[i] >= 10)
			assert_true(near * 2 > rounds[i]);
		assert_int_equal(gw_ebpf_device_summary(h, dev[i].fd, &sum), 0);
		assert_true(sum.from_kernel);
		assert_int_equal(sum.count, (uint64_t)rounds[i]);
		assert_true(sum.p50_seconds >= delays[i] * 1e-3);
		assert_true(sum.p99_seconds >= sum.p50_seconds);
		assert_true(sum.mean_seconds >= delays[i] * 1e-3);
	}
	/* The other releases' histograms did not move. */
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "d1", "canary",
					   GW_EBPF_SOURCE_KERNEL, &k1), 0);
	assert_int_equal(k1.count, (uint64_t)rounds[0]);
	/* Unwatched: writes and reads on the fd are not measured any more. */
	assert_int_equal(gw_ebpf_unwatch_fd(h, dev[0].fd), 0);
	exchange(h, dev[0].fd, 1);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "d1", "canary",
					   GW_EBPF_SOURCE_KERNEL, &k1), 0);
	assert_int_equal(k1.count, (uint64_t)rounds[0]);
	/* Label groups are reused once no fd holds them: d1's group (dev[0] is
	 * unwatched) goes to one of these new pairs, whose kernel series must
	 * start from 0 although the kernel's cell keeps d1's counts. */
	for (int i = 0; i < GW_EBPF_GROUPS_MAX + 2; i++) {
		char rel[16];

		snprintf(rel, sizeof(rel), "fill%d", i);
		assert_int_equal(gw_ebpf_watch_fd(h, dev[1].fd, GW_EBPF_TRANSPORT_PTY, rel, "x"), 0);
		assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, rel, "x",
						   GW_EBPF_SOURCE_KERNEL, &k1), 0);
		assert_int_equal(k1.count, 0);
		assert_int_equal(k1.sum_ns, 0);
	}
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "d1", "canary",
					   GW_EBPF_SOURCE_KERNEL, &k1), -ENOENT);
	/* The exchanges slept and woke this thread: run-queue delays recorded. */
	assert_int_equal(gw_ebpf_read_sched(h, &k1), 0);
	assert_true(k1.count > 0);
	for (int i = 0; i < 3; i++)
		device_stop(&dev[i]);
	gw_ebpf_free(h);
}

static int log_calls;
static char log_line[1024];

static void log_cb(void *arg, const char *line)
{
	(void)arg;
	log_calls++;
	snprintf(log_line, sizeof(log_line), "%s", line);
}

/* Child without capabilities: the probes cannot load, the fallback runs. */
static int unprivileged_child(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct gw_ebpf_config cfg = { .log = log_cb };
	struct gw_ebpf *h;
	struct device dev;
	char *text;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0)
		return 10;
	if (gw_ebpf_new(&cfg, &h) != 0)
		return 11;
	printf("unprivileged: %s\n", log_line);
	if (gw_ebpf_enabled(h) || log_calls != 1)
		return 12;
	if (!strstr(gw_ebpf_reason(h), "privilege"))
		return 13;
	if (!strstr(log_line, "disabled") || !strstr(log_line, "privilege"))
		return 14;
	device_start(&dev);
	if (gw_ebpf_watch_fd(h, dev.fd, GW_EBPF_TRANSPORT_PTY, "r9", "stable") != 0)
		return 15;
	exchange(h, dev.fd, 2);
	text = tu_metrics(h);
	if (!text)
		return 16;
	if (!strstr(text, "\nflotilla_gateway_ebpf_enabled 0\n"))
		return 17;
	if (!strstr(text, "flotilla_gateway_link_latency_seconds_count{transport=\"pty\","
			  "release=\"r9\",cohort=\"stable\"} 1\n"))
		return 18;
	if (tu_check_histograms(text) != 1)
		return 19;
	free(text);
	device_stop(&dev);
	gw_ebpf_free(h);
	return 0;
}

static void test_fallback_without_privilege(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = unprivileged_child();

		fflush(stdout);
		_exit(rc); /* no leak check: LSan cannot ptrace without capabilities */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Child in its own mount namespace where /sys/kernel/btf is an empty tmpfs:
 * a kernel without BTF, as the library sees it. The link probe runs on its
 * raw_tp program without CO-RE; RTT and scheduling are off. */
static int no_btf_child(void)
{
	struct gw_ebpf_config cfg = { .log = log_cb };
	struct gw_ebpf_hist k, u;
	struct gw_ebpf *h;
	struct device dev;
	char *text;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("none", "/sys/kernel/btf", "tmpfs", 0, NULL) != 0)
		return 10;
	if (access("/sys/kernel/btf/vmlinux", F_OK) == 0)
		return 11;
	log_calls = 0;
	if (gw_ebpf_new(&cfg, &h) != 0)
		return 12;
	printf("no BTF: %s\n", log_line);
	if (gw_ebpf_probes(h) != GW_EBPF_PROBE_LINK || log_calls != 1)
		return 13;
	if (!strstr(gw_ebpf_reason(h), "no kernel BTF") || !strstr(gw_ebpf_reason(h), "raw_tp"))
		return 14;
	device_start(&dev);
	if (gw_ebpf_watch_fd(h, dev.fd, GW_EBPF_TRANSPORT_PTY, "r8", "canary") != 0)
		return 15;
	for (int i = 0; i < 3; i++)
		exchange(h, dev.fd, 5);
	if (gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r8", "canary", GW_EBPF_SOURCE_KERNEL, &k) ||
	    gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r8", "canary", GW_EBPF_SOURCE_USER, &u))
		return 16;
	printf("no BTF: kernel %llu exchanges %.3f ms, userspace %llu exchanges %.3f ms\n",
	       (unsigned long long)k.count, (double)k.sum_ns / 1e6,
	       (unsigned long long)u.count, (double)u.sum_ns / 1e6);
	/* Each exchange took at least the device's 5 ms; the kernel's span lies
	 * inside the userspace one. */
	if (k.count != 3 || u.count != 3 || k.sum_ns < 15000000u || k.sum_ns > u.sum_ns)
		return 17;
	for (unsigned b = 0; b < gw_ebpf_bucket_of(5000000u); b++)
		if (k.bucket[b])
			return 18;
	text = tu_metrics(h);
	if (!text || !strstr(text, "\nflotilla_gateway_ebpf_enabled 1\n") ||
	    !strstr(text, "flotilla_gateway_ebpf_program_attached{program=\"sys_exit\"} 1\n") ||
	    !strstr(text, "flotilla_gateway_ebpf_program_attached{program=\"sched_switch\"} 0\n") ||
	    !strstr(text, "flotilla_gateway_link_latency_seconds_count{transport=\"pty\","
			  "release=\"r8\",cohort=\"canary\"} 3\n") ||
	    strstr(text, "flotilla_gateway_sched_latency_seconds"))
		return 19;
	if (tu_check_histograms(text) != 1)
		return 20;
	free(text);
	device_stop(&dev);
	gw_ebpf_free(h);
	return 0;
}

static void test_link_without_btf(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = no_btf_child();

		fflush(stdout);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
	*server = accept(l, NULL, NULL);
	assert_true(*server >= 0);
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
}

static void tcp_pingpong(int client, int server, int n)
{
	char buf[64] = "ping";

	for (int i = 0; i < n; i++) {
		assert_int_equal(write(client, buf, 16), 16);
		assert_int_equal(read(server, buf, sizeof(buf)), 16);
		assert_int_equal(write(server, buf, 16), 16);
		assert_int_equal(read(client, buf, sizeof(buf)), 16);
	}
}

static void test_exposition_all_probes(void **state)
{
	struct gw_ebpf_config cfg = { .enable_stats = true, .log = log_cb };
	struct gw_ebpf *h;
	struct gw_ebpf_hist hist;
	struct device dev;
	int dc, ds, cc, cs;
	char *text;

	(void)state;
	log_calls = 0;
	assert_int_equal(gw_ebpf_new(&cfg, &h), 0);
	if (gw_ebpf_probes(h) != GW_EBPF_PROBE_ALL)
		fail_msg("not every probe attached as root: %s", gw_ebpf_reason(h));
	assert_string_equal(gw_ebpf_reason(h), "");
	assert_int_equal(log_calls, 1);
	assert_non_null(strstr(log_line, "link rtt sched"));

	device_start(&dev);
	assert_int_equal(gw_ebpf_watch_fd(h, dev.fd, GW_EBPF_TRANSPORT_PTY, "1.2.0", "canary"), 0);
	for (int i = 0; i < 5; i++)
		exchange(h, dev.fd, 1);
	tcp_pair(&dc, &ds);
	tcp_pair(&cc, &cs);
	assert_int_equal(gw_ebpf_watch_fd(h, dc, GW_EBPF_TRANSPORT_TCP, "1.1.0", "stable"), 0);
	assert_int_equal(gw_ebpf_watch_controller(h, cc), 0);
	tcp_pingpong(dc, ds, 20);
	tcp_pingpong(cc, cs, 20);

	assert_int_equal(gw_ebpf_read_rtt(h, GW_EBPF_PEER_DEVICE, "1.1.0", "stable", &hist), 0);
	assert_true(hist.count > 0);
	assert_int_equal(gw_ebpf_read_rtt(h, GW_EBPF_PEER_CONTROLLER, NULL, NULL, &hist), 0);
	assert_true(hist.count > 0);
	/* The TCP device is a link too: its request/response exchanges count. */
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_TCP, "1.1.0", "stable",
					   GW_EBPF_SOURCE_KERNEL, &hist), 0);
	assert_int_equal(hist.count, 20);

	text = tu_metrics(h);
	assert_non_null(text);
	fputs(text, stdout);
	assert_non_null(strstr(text, "\nflotilla_gateway_ebpf_enabled 1\n"));
	for (const char *const *p = (const char *const[]){ "sys_exit",
			"sched_wakeup", "sched_wakeup_new", "sched_switch", "tcp_probe", NULL }; *p; p++) {
		char want[128];

		snprintf(want, sizeof(want),
			 "flotilla_gateway_ebpf_program_attached{program=\"%s\"} 1\n", *p);
		assert_non_null(strstr(text, want));
	}
	assert_non_null(strstr(text, "flotilla_gateway_ebpf_program_runs_total{program=\"sys_exit\"}"));
	assert_non_null(strstr(text, "flotilla_gateway_ebpf_program_run_seconds_total{program=\"sys_exit\"}"));
	assert_non_null(strstr(text, "flotilla_gateway_tcp_rtt_seconds_count{peer=\"controller\"}"));
	assert_non_null(strstr(text, "flotilla_gateway_tcp_rtt_seconds_count{peer=\"device\","
				     "release=\"1.1.0\",cohort=\"stable\"}"));
	assert_non_null(strstr(text, "flotilla_gateway_sched_latency_seconds_count "));
	assert_non_null(strstr(text, "flotilla_gateway_link_latency_seconds_count{transport=\"pty\","
				     "release=\"1.2.0\",cohort=\"canary\"} 5\n"));
	/* link pty, link tcp, rtt device, rtt controller, sched */
	assert_int_equal(tu_check_histograms(text), 5);
	int rc = tu_promtool_check(text);
	if (rc == 77)
		fail_msg("promtool not installed (deploy/install-deps.sh installs prometheus)");
	assert_int_equal(rc, 0);
	free(text);

	close(dc);
	close(ds);
	close(cc);
	close(cs);
	device_stop(&dev);
	gw_ebpf_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_fallback_without_privilege),
		cmocka_unit_test(test_link_without_btf),
		cmocka_unit_test(test_exposition_all_probes),
	};

	if (!GW_EBPF_HAVE_PROBES) {
		printf("skipped: gw_ebpf was built without BPF probes\n");
		return 77;
	}
	if (geteuid() != 0) {
		printf("skipped: the probe tests need root\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
