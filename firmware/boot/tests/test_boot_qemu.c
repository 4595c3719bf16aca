/* QEMU boot tests (host side). Runs the Cortex-M4 build's bootloader with
 * the signed demo firmware for slot A staged, and a control block holding
 * the mode and a delta patch A -> B made here with the host generator:
 *   confirm: boot A, apply the delta into B, reset, B boots testing,
 *            confirms, reset, B boots confirmed;
 *   never:   B never confirms and is reverted to A after the configured
 *            trial boots.
 * QEMU runs under a deadline and is always killed and reaped.
 *
 *   test_boot_qemu confirm|never QEMU BOOT_ELF A_IMG B_IMG TRIAL_BOOTS
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/bytes.h"
#include "agent/delta_gen.h"

#define DEADLINE_S 90

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "test_boot_qemu: cannot open %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	fclose(f);
	*ret_len = (size_t)n;
	return b;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s confirm|never QEMU BOOT_ELF A_IMG B_IMG TRIAL_BOOTS\n",
			argv[0]);
		return 2;
	}
	int never = strcmp(argv[1], "never") == 0;
	int trials = atoi(argv[6]);
	size_t alen, blen, plen;
	uint8_t *a = slurp(argv[4], &alen), *b = slurp(argv[5], &blen), *patch;
	if (ag_delta_generate(a, alen, b, blen, NULL, &patch, &plen) != 0) {
		fprintf(stderr, "test_boot_qemu: delta generation failed\n");
		return 1;
	}
	printf("test_boot_qemu: slot images %zu and %zu bytes, patch %zu bytes\n", alen, blen, plen);

	char dir[] = "/tmp/boot-qemu-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	char ctl[64];
	snprintf(ctl, sizeof(ctl), "%s/ctl.bin", dir);
	uint8_t hdr[16];
	ag_put_le32(hdr, 0x4d444246u);
	ag_put_le32(hdr + 4, never ? 2u : 1u);
	ag_put_le32(hdr + 8, (uint32_t)plen);
	ag_put_le32(hdr + 12, (uint32_t)blen);
	FILE *f = fopen(ctl, "wb");
	if (!f || fwrite(hdr, 1, 16, f) != 16 || fwrite(patch, 1, plen, f) != plen || fclose(f))
		return 2;

	char dev_a[512], dev_ctl[512];
	snprintf(dev_a, sizeof(dev_a), "loader,file=%s,addr=0x21000000,force-raw=on", argv[4]);
	snprintf(dev_ctl, sizeof(dev_ctl), "loader,file=%s,addr=0x21200000,force-raw=on", ctl);
	int out[2];
	if (pipe(out) < 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		execlp(argv[2], argv[2], "-M", "mps2-an386", "-nographic", "-monitor", "none",
		      "-serial", "null", "-serial", "stdio", "-semihosting-config",
		      "enable=on,target=native", "-kernel", argv[3], "-device", dev_a, "-device",
		      dev_ctl, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	static char log[1 << 16];
	size_t used = 0;
	time_t end = time(NULL) + DEADLINE_S;
	int timed_out = 0;
	for (;;) {
		int left = (int)(end - time(NULL));
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p = {out[0], POLLIN, 0};
		if (poll(&p, 1, left * 1000) <= 0)
			continue;
		ssize_t n = read(out[0], log + used, sizeof(log) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	log[used] = 0;
	kill(pid, SIGKILL); /* no-op if it exited; never leave it behind */
	int st = 0;
	waitpid(pid, &st, 0);
	close(out[0]);
	unlink(ctl);
	rmdir(dir);
	fputs(log, stdout);

	int ok = !timed_out && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (timed_out)
		printf("test_boot_qemu: QEMU did not finish in %d s\n", DEADLINE_S);
	else if (!ok)
		printf("test_boot_qemu: QEMU exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* What the bootloader and the firmware said, in order. */
	ok = ok && strstr(log, "boot: slot A 1.0.0+1 confirmed") &&
	     strstr(log, "demo: delta applied into B: ok");
	if (never) {
		int t = count(log, "boot: slot B 1.1.0+2 testing");
		if (t != trials)
			printf("test_boot_qemu: B booted on trial %d times, want %d\n", t, trials);
		ok = ok && t == trials && strstr(log, "(trial image reverted)") &&
		     strstr(log, "demo: trial image reverted, A runs") &&
		     !strstr(log, "demo: confirm");
	} else {
		ok = ok && count(log, "boot: slot B 1.1.0+2 testing") == 1 &&
		     strstr(log, "demo: confirm: ok") &&
		     strstr(log, "boot: slot B 1.1.0+2 confirmed") &&
		     strstr(log, "demo: B confirmed and running");
	}
	printf("test_boot_qemu %s: %s\n", argv[1], ok ? "PASS" : "FAIL");
	free(a);
	free(b);
	free(patch);
	return ok ? 0 : 1;
}
