/**
 * @file testlib.h
 * @brief Helpers for the controller's tests: free loopback ports, an etcd
 *        cluster of Debian's etcd on temporary data dirs, controller
 *        processes. Every process is started and stopped by pid.
 */
#ifndef CTL_TESTLIB_H
#define CTL_TESTLIB_H

#include <stdbool.h>
#include <sys/types.h>

/** Up to three etcd members. */
struct ctl_test_etcd {
	int n;                 /**< members */
	pid_t pid[3];          /**< 0 once stopped */
	int client_port[3];    /**< loopback client ports */
	int peer_port[3];      /**< loopback peer ports */
	char dir[256];         /**< temporary data root */
	char endpoints[512];   /**< "http://127.0.0.1:P,..." */
};

/** @brief A loopback TCP port that was free a moment ago. */
int ctl_test_free_port(void);

/** @brief Nonzero when the etcd binary is installed. */
bool ctl_test_have_etcd(void);

/**
 * @brief Start @p n members and wait until the cluster answers.
 * @return 0 or -errno (everything started is stopped again)
 */
int ctl_test_etcd_start(struct ctl_test_etcd *e, int n);

/** @brief SIGKILL member @p i. */
void ctl_test_etcd_kill(struct ctl_test_etcd *e, int i);

/** @brief Stop every member and remove the data. */
void ctl_test_etcd_stop(struct ctl_test_etcd *e);

/**
 * @brief Start a process with @p argv; stdout/stderr go to @p log (or stay).
 * @return its pid, or -errno
 */
pid_t ctl_test_spawn(const char *const argv[], const char *log);

/** @brief Wait up to @p ms for GET @p url to answer 200. */
bool ctl_test_wait_http(const char *url, int ms);

/** @brief Stop a process by pid (SIGTERM, then SIGKILL after @p grace_ms). */
void ctl_test_stop(pid_t pid, int sig, int grace_ms);

#endif
