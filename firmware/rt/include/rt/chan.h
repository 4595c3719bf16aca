/**
 * @file chan.h
 * @brief Channels: bounded ring buffers of fixed-size items between
 * coroutines, with blocking, non-blocking and timed send and receive, and
 * select over several channels.
 *
 * Items are copied. A send to an empty channel with a receiver waiting hands
 * the item straight to that receiver; a receive from a full channel with a
 * sender waiting refills the slot from that sender, so waiters are served
 * in FIFO order and a wake-up is never lost. Channels are for coroutines
 * only; interrupt handlers use event flags.
 */
#ifndef RT_CHAN_H
#define RT_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"
#include "rt/wait.h"

/** A channel. Caller-allocated; fields private. */
struct rt_chan {
	uint8_t *buf;           /**< private: depth * size bytes */
	uint16_t size;          /**< private: item size */
	uint16_t depth;         /**< private: capacity in items */
	uint16_t head;          /**< private: index of the oldest item */
	uint16_t count;         /**< private: items held */
	struct rt__waitq recvq; /**< private */
	struct rt__waitq sendq; /**< private */
};

/**
 * @brief Defines and statically initializes a channel @p name of up to
 * @p depth items of type @p type.
 */
#define RT_CHAN_DEFINE(name, type, depth)                                           \
	static uint8_t name##_storage[(depth) * sizeof(type)]                        \
		__attribute__((aligned(__alignof__(type))));                         \
	static struct rt_chan name = {name##_storage, sizeof(type), (depth), 0, 0,   \
				      {0, 0}, {0, 0}}

/**
 * @brief Initializes a channel over @p storage (@p depth * @p size bytes).
 * @return 0, or AG_EINVAL when a size is 0 or over 65535.
 */
int rt_chan_init(struct rt_chan *c, void *storage, size_t size, size_t depth);

/**
 * @brief Sends one item, waiting up to @p timeout ticks for room.
 * @return 0; AG_EAGAIN (RT_NOWAIT) or AG_ETIMEDOUT when full.
 */
int rt_chan_send(struct rt_chan *c, const void *item, rt_tick_t timeout);

/**
 * @brief Receives one item into @p item, waiting up to @p timeout ticks.
 * @return 0; AG_EAGAIN (RT_NOWAIT) or AG_ETIMEDOUT when empty.
 */
int rt_chan_recv(struct rt_chan *c, void *item, rt_tick_t timeout);

/** @brief rt_chan_send without waiting. */
static inline int rt_chan_try_send(struct rt_chan *c, const void *item)
{
	return rt_chan_send(c, item, RT_NOWAIT);
}

/** @brief rt_chan_recv without waiting. */
static inline int rt_chan_try_recv(struct rt_chan *c, void *item)
{
	return rt_chan_recv(c, item, RT_NOWAIT);
}

/** @brief Items in @p c. */
unsigned rt_chan_count(const struct rt_chan *c);

/** Operations of rt_chan_select. */
enum rt_sel_op {
	RT_SEL_RECV = 0, /**< receive into buf */
	RT_SEL_SEND = 1, /**< send from buf */
};

/** One case of a select. */
struct rt_sel {
	struct rt_chan *chan; /**< the channel */
	void *buf;            /**< item to send, or where to receive */
	uint8_t op;           /**< enum rt_sel_op */
};

/** Most cases one select can wait on. */
#define RT_SEL_MAX 8

/**
 * @brief Performs exactly one of @p n operations, the first in order that
 * can proceed, waiting up to @p timeout ticks for one to become possible.
 * @return the index of the case performed; AG_EAGAIN (RT_NOWAIT) or
 *         AG_ETIMEDOUT if none could; AG_EINVAL for n of 0 or over
 *         RT_SEL_MAX.
 */
int rt_chan_select(struct rt_sel *ops, unsigned n, rt_tick_t timeout);

#endif /* RT_CHAN_H */
