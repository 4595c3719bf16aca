/**
 * @file wait.h
 * @brief The wait queue embedded in channels and event flags. Private to
 * the runtime; public only so those objects can be allocated statically.
 */
#ifndef RT_WAIT_H
#define RT_WAIT_H

struct rt__waiter;

/** A FIFO of blocked coroutines' waiters. All fields private. */
struct rt__waitq {
	struct rt__waiter *head; /**< private */
	struct rt__waiter *tail; /**< private */
};

#endif /* RT_WAIT_H */
