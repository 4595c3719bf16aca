/* The epoll loop. A watch deleted while a batch of events is dispatched is
 * blanked out of the rest of that batch, so its memory may be freed. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "gateway/loop.h"

#define BATCH 256

struct gw_loop {
	int epfd;
	struct gw_watch *prio;
	int n, i; /* events of the batch being dispatched */
	struct epoll_event ev[BATCH];
};

int gw_loop_new(struct gw_loop **ret_loop)
{
	struct gw_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		return -e;
	}
	*ret_loop = l;
	return 0;
}

void gw_loop_free(struct gw_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int gw_loop_add(struct gw_loop *l, struct gw_watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &e) ? -errno : 0;
}

int gw_loop_mod(struct gw_loop *l, struct gw_watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &e) ? -errno : 0;
}

void gw_loop_set_priority(struct gw_loop *l, struct gw_watch *w)
{
	l->prio = w;
}

void gw_loop_del(struct gw_loop *l, struct gw_watch *w)
{
	if (l->prio == w)
		l->prio = NULL;
	if (w->fd >= 0)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int k = l->i; k < l->n; k++)
		if (l->ev[k].data.ptr == w)
			l->ev[k].data.ptr = NULL;
}

int gw_loop_run_once(struct gw_loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->ev, BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->n = n;
	for (l->i = 0; l->i < l->n;) {
		struct epoll_event e = l->ev[l->i++];
		struct gw_watch *w = e.data.ptr;
		if (w)
			w->fn(w, e.events);
		if (l->prio && l->i % GW_LOOP_PRIORITY_EVERY == 0 && l->i < l->n) {
			struct pollfd p = {l->prio->fd, POLLIN, 0};
			if (poll(&p, 1, 0) > 0)
				l->prio->fn(l->prio, EPOLLIN);
		}
	}
	l->n = l->i = 0;
	return n;
}

uint64_t gw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
