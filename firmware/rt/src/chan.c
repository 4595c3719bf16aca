/* Channels: bounded rings with FIFO wait queues and direct hand-off. */
#include <string.h>

#include "agent/err.h"
#include "rt/chan.h"
#include "rt_internal.h"

int rt_chan_init(struct rt_chan *c, void *storage, size_t size, size_t depth)
{
	if (c == NULL || storage == NULL || size == 0 || depth == 0 || size > 0xffffu ||
	    depth > 0xffffu)
		return AG_EINVAL;
	c->buf = storage;
	c->size = (uint16_t)size;
	c->depth = (uint16_t)depth;
	c->head = 0;
	c->count = 0;
	c->recvq.head = c->recvq.tail = NULL;
	c->sendq.head = c->sendq.tail = NULL;
	return 0;
}

unsigned rt_chan_count(const struct rt_chan *c)
{
	return c->count;
}

static uint8_t *slot(struct rt_chan *c, unsigned i)
{
	unsigned at = c->head + i;
	if (at >= c->depth)
		at -= c->depth;
	return c->buf + (size_t)at * c->size;
}

/* Non-blocking send; hands the item to a waiting receiver if there is one. */
static int try_send(struct rt_chan *c, const void *item)
{
	struct rt__waiter *r = c->recvq.head;
	if (r) { /* then the ring is empty */
		memcpy(r->buf, item, c->size);
		rt__complete(r->w, r->index);
		return 0;
	}
	if (c->count == c->depth)
		return AG_EAGAIN;
	memcpy(slot(c, c->count), item, c->size);
	c->count++;
	return 0;
}

/* Non-blocking receive; refills the freed slot from a waiting sender. */
static int try_recv(struct rt_chan *c, void *item)
{
	if (c->count == 0)
		return AG_EAGAIN;
	memcpy(item, slot(c, 0), c->size);
	c->head = (uint16_t)(c->head + 1u == c->depth ? 0u : c->head + 1u);
	c->count--;
	struct rt__waiter *s = c->sendq.head;
	if (s) { /* the ring was full */
		memcpy(slot(c, c->count), s->buf, c->size);
		c->count++;
		rt__complete(s->w, s->index);
	}
	return 0;
}

static int timed_out(rt_tick_t timeout)
{
	return timeout == RT_NOWAIT ? AG_EAGAIN : AG_ETIMEDOUT;
}

int rt_chan_send(struct rt_chan *c, const void *item, rt_tick_t timeout)
{
	if (try_send(c, item) == 0)
		return 0;
	if (timeout == RT_NOWAIT)
		return AG_EAGAIN;
	struct rt__waiter node = {.buf = (void *)(uintptr_t)item, .index = 0};
	struct rt__wait w = {.nodes = &node, .n = 1};
	node.w = &w;
	rt__waitq_push(&c->sendq, &node);
	int rc = rt__block(&w, timeout);
	return rc >= 0 ? 0 : rc;
}

int rt_chan_recv(struct rt_chan *c, void *item, rt_tick_t timeout)
{
	if (try_recv(c, item) == 0)
		return 0;
	if (timeout == RT_NOWAIT)
		return AG_EAGAIN;
	struct rt__waiter node = {.buf = item, .index = 0};
	struct rt__wait w = {.nodes = &node, .n = 1};
	node.w = &w;
	rt__waitq_push(&c->recvq, &node);
	int rc = rt__block(&w, timeout);
	return rc >= 0 ? 0 : rc;
}

int rt_chan_select(struct rt_sel *ops, unsigned n, rt_tick_t timeout)
{
	if (ops == NULL || n == 0 || n > RT_SEL_MAX)
		return AG_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (ops[i].chan == NULL || ops[i].op > RT_SEL_SEND)
			return AG_EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		int rc = ops[i].op == RT_SEL_SEND ? try_send(ops[i].chan, ops[i].buf)
						  : try_recv(ops[i].chan, ops[i].buf);
		if (rc == 0)
			return (int)i;
	}
	if (timeout == RT_NOWAIT)
		return timed_out(timeout);
	struct rt__waiter nodes[RT_SEL_MAX];
	struct rt__wait w = {.nodes = nodes, .n = (uint8_t)n};
	for (unsigned i = 0; i < n; i++) {
		nodes[i].buf = ops[i].buf;
		nodes[i].index = (uint8_t)i;
		nodes[i].w = &w;
		rt__waitq_push(ops[i].op == RT_SEL_SEND ? &ops[i].chan->sendq
							: &ops[i].chan->recvq,
			       &nodes[i]);
	}
	return rt__block(&w, timeout);
}
