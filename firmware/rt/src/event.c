/* Event flags. Interrupts set bits and queue the event on a lock-free stack
 * (push only; the system coroutine takes the whole stack at once, so there
 * is no ABA); the system coroutine wakes the satisfied waiters. */
#include "agent/err.h"
#include "rt_internal.h"

struct ev_wait {
	uint32_t mask;
	unsigned opts;
	uint32_t got;
};

void rt_event_init(struct rt_event *ev)
{
	ev->bits = 0;
	ev->qnext = NULL;
	ev->queued = 0;
	ev->waiters.head = ev->waiters.tail = NULL;
}

void rt_event_set(struct rt_event *ev, uint32_t mask)
{
	__atomic_fetch_or(&ev->bits, mask, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&ev->queued, 1u, __ATOMIC_SEQ_CST) == 0) {
		struct rt_event *old = __atomic_load_n(&rt__s.evq, __ATOMIC_SEQ_CST);
		do {
			ev->qnext = old;
		} while (!__atomic_compare_exchange_n(&rt__s.evq, &old, ev, true,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	}
	rt__sys_kick();
}

uint32_t rt_event_clear(struct rt_event *ev, uint32_t mask)
{
	return __atomic_fetch_and(&ev->bits, ~mask, __ATOMIC_SEQ_CST);
}

/* Takes the satisfying bits if @ew's condition holds now. */
static bool try_take(struct rt_event *ev, struct ev_wait *ew)
{
	uint32_t bits = __atomic_load_n(&ev->bits, __ATOMIC_SEQ_CST);
	uint32_t hit = bits & ew->mask;
	bool ok = (ew->opts & RT_EVENT_ALL) ? hit == ew->mask : hit != 0;
	if (!ok)
		return false;
	if (ew->opts & RT_EVENT_CLEAR)
		__atomic_fetch_and(&ev->bits, ~hit, __ATOMIC_SEQ_CST);
	ew->got = hit;
	return true;
}

int rt_event_wait(struct rt_event *ev, uint32_t mask, unsigned opts, rt_tick_t timeout,
		  uint32_t *ret_bits)
{
	if (ev == NULL || mask == 0)
		return AG_EINVAL;
	struct ev_wait ew = {mask, opts, 0};
	if (!try_take(ev, &ew)) {
		if (timeout == RT_NOWAIT)
			return AG_EAGAIN;
		struct rt__waiter node = {.buf = &ew, .index = 0};
		struct rt__wait w = {.nodes = &node, .n = 1};
		node.w = &w;
		rt__waitq_push(&ev->waiters, &node);
		/* A set racing with this wait has queued the event; the system
		 * coroutine runs before anything else and will see it. */
		int rc = rt__block(&w, timeout);
		if (rc < 0)
			return rc;
	}
	if (ret_bits)
		*ret_bits = ew.got;
	return 0;
}

static void event_scan(struct rt_event *ev)
{
	struct rt__waiter *n = ev->waiters.head;
	while (n) {
		struct rt__waiter *next = n->next;
		if (try_take(ev, n->buf))
			rt__complete(n->w, 0);
		n = next;
	}
}

void rt__events_run(void)
{
	struct rt_event *list = __atomic_exchange_n(&rt__s.evq, NULL, __ATOMIC_SEQ_CST);
	while (list) {
		struct rt_event *ev = list;
		list = ev->qnext;
		/* Dequeue before reading the bits: a later set queues it again. */
		__atomic_store_n(&ev->queued, 0u, __ATOMIC_SEQ_CST);
		event_scan(ev);
	}
}
