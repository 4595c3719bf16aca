/* Test helpers: ports, an etcd cluster, processes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

int ctl_test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

bool ctl_test_have_etcd(void)
{
	return access("/usr/bin/etcd", X_OK) == 0;
}

pid_t ctl_test_spawn(const char *const argv[], const char *log)
{
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return p;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

bool ctl_test_wait_http(const char *url, int ms)
{
	CURL *h = curl_easy_init();
	bool ok = false;
	for (int waited = 0; waited < ms && !ok; waited += 50) {
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
		long code = 0;
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
			ok = true;
		else
			usleep(50000);
	}
	curl_easy_cleanup(h);
	return ok;
}

void ctl_test_stop(pid_t pid, int sig, int grace_ms)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	for (int i = 0; i < grace_ms / 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int ctl_test_etcd_start(struct ctl_test_etcd *e, int n)
{
	memset(e, 0, sizeof(*e));
	e->n = n;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(e->dir, sizeof(e->dir), "%s/ctl-etcd-XXXXXX", base);
	if (!mkdtemp(e->dir))
		return -errno;
	char cluster[512] = "";
	for (int i = 0; i < n; i++) {
		e->client_port[i] = ctl_test_free_port();
		e->peer_port[i] = ctl_test_free_port();
		snprintf(cluster + strlen(cluster), sizeof(cluster) - strlen(cluster),
			 "%sm%d=http://127.0.0.1:%d", i ? "," : "", i, e->peer_port[i]);
		snprintf(e->endpoints + strlen(e->endpoints),
			 sizeof(e->endpoints) - strlen(e->endpoints), "%shttp://127.0.0.1:%d",
			 i ? "," : "", e->client_port[i]);
	}
	for (int i = 0; i < n; i++) {
		char name[16], data[300], curl_[64], purl[64], log[300];
		snprintf(name, sizeof(name), "m%d", i);
		snprintf(data, sizeof(data), "%s/%s", e->dir, name);
		snprintf(curl_, sizeof(curl_), "http://127.0.0.1:%d", e->client_port[i]);
		snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", e->peer_port[i]);
		snprintf(log, sizeof(log), "%s/%s.log", e->dir, name);
		const char *argv[] = {"/usr/bin/etcd", "--name", name, "--data-dir", data,
				"--listen-client-urls", curl_, "--advertise-client-urls", curl_,
				"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
				"--initial-cluster", cluster, "--initial-cluster-state", "new",
				"--initial-cluster-token", e->dir,
				"--heartbeat-interval", "50", "--election-timeout", "500",
				"--logger", "zap", "--log-level", "error", NULL};
		e->pid[i] = ctl_test_spawn(argv, log);
		if (e->pid[i] < 0) {
			e->pid[i] = 0;
			ctl_test_etcd_stop(e);
			return -EIO;
		}
	}
	for (int i = 0; i < n; i++) {
		char url[96];
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", e->client_port[i]);
		if (!ctl_test_wait_http(url, 20000)) {
			ctl_test_etcd_stop(e);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

void ctl_test_etcd_kill(struct ctl_test_etcd *e, int i)
{
	ctl_test_stop(e->pid[i], SIGKILL, 1000);
	e->pid[i] = 0;
}

void ctl_test_etcd_stop(struct ctl_test_etcd *e)
{
	for (int i = 0; i < e->n; i++) {
		ctl_test_stop(e->pid[i], SIGTERM, 3000);
		e->pid[i] = 0;
	}
	if (e->dir[0]) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", e->dir);
	}
}
