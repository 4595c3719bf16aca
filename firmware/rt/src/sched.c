/* The scheduler: coroutine pools, ready rings, blocking and waking, the tick
 * clock, and the system and idle coroutines. */
#include <stddef.h>
#include <string.h>

#include "agent/err.h"
#include "rt_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ASAN 1
#endif
#endif

#ifdef RT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

struct rt__sched rt__s;

static struct rt_co pool[RT_CFG_CO_MAX];
#if RT_CFG_STACK_POOL > 0
static uint32_t stacks[RT_CFG_STACK_POOL][RT_CFG_STACK_BYTES / 4]
	__attribute__((aligned(RT_PORT_STACK_ALIGN)));
static uint8_t stack_busy[RT_CFG_STACK_POOL];
#endif
static uint32_t sys_stack[RT_CFG_SYS_STACK_BYTES / 4]
	__attribute__((aligned(RT_PORT_STACK_ALIGN)));
static uint32_t idle_stack[RT_CFG_IDLE_STACK_BYTES / 4]
	__attribute__((aligned(RT_PORT_STACK_ALIGN)));
static struct rt_co sys_co, idle_co, main_co;
/* The main context's "stack bottom": with an MPU guard, the block the guard
 * covers while main runs, so it must hold nothing else. */
static uint32_t main_canary[RT_PORT_GUARD_BYTES ? RT_PORT_GUARD_BYTES / 4 : 1]
	__attribute__((aligned(RT_PORT_GUARD_BYTES ? RT_PORT_GUARD_BYTES : 4)));
static struct rt_hooks hooks;

/* The coroutine entry/argument, kept beside the pool rather than in the
 * control block: they are needed once, at the first switch. */
static struct {
	rt_entry_t fn;
	void *arg;
} entries[RT_CFG_CO_MAX + 2];

#ifdef RT_ASAN
static const void *main_bottom;
static size_t main_size;
#endif

static inline void switch_to(struct rt_co *from, struct rt_co *to, bool dying)
{
#ifdef RT_ASAN
	void *fake = NULL;
	const void *bottom;
	size_t size;
	if (to == &main_co) {
		bottom = main_bottom;
		size = main_size;
	} else {
		bottom = to->stack;
		size = (size_t)to->stack_words * 4u;
	}
	__sanitizer_start_switch_fiber(dying ? NULL : &fake, bottom, size);
	rt__port_switch(from, to);
	__sanitizer_finish_switch_fiber(fake, &bottom, &size);
	if (from == &main_co) {
		main_bottom = bottom;
		main_size = size;
	}
#else
	(void)dying;
	rt__port_switch(from, to);
#endif
}

static void overflow(struct rt_co *co) __attribute__((noinline, noreturn));

/* The port's assembly rt_yield branches here when the canary is gone. */
void rt__stack_overflow(struct rt_co *co) __attribute__((noreturn));
void rt__stack_overflow(struct rt_co *co)
{
	overflow(co);
}

/* The port's assembly knows these offsets. */
_Static_assert(offsetof(struct rt_co, sp) == 0, "rt_co.sp");
_Static_assert(offsetof(struct rt_co, next) == sizeof(void *), "rt_co.next");
_Static_assert(offsetof(struct rt_co, stack) == 2 * sizeof(void *), "rt_co.stack");
_Static_assert(offsetof(struct rt__sched, cur) == RT_CFG_PRIO_LEVELS * sizeof(void *),
	       "rt__sched.cur");
_Static_assert(offsetof(struct rt__sched, ready) == (RT_CFG_PRIO_LEVELS + 1) * sizeof(void *),
	       "rt__sched.ready");
#if UINTPTR_MAX == 0xffffffffu
_Static_assert(offsetof(struct rt_co, level) == 30, "rt_co.level");
_Static_assert(sizeof(struct rt_co) == 32, "rt_co is 32 bytes on 32-bit targets");
#endif

/* Picks the head of the highest non-empty ring and switches to it. The
 * outgoing coroutine's canary is checked first. */
static void schedule(struct rt_co *cur, bool dying)
{
	struct rt__sched *s = &rt__s;
	if (!dying && cur->stack[0] != RT_STACK_CANARY)
		overflow(cur);
	struct rt_co *next = s->tails[__builtin_clz(s->ready)]->next;
	s->cur = next;
	switch_to(cur, next, dying);
}

#ifndef RT_PORT_HAS_YIELD
void rt_yield(void)
{
	struct rt__sched *s = &rt__s;
	struct rt_co *cur = s->cur;
	if (cur->stack[0] != RT_STACK_CANARY)
		overflow(cur);
	/* cur heads its ring; making it the tail rotates the ring. */
	s->tails[cur->level] = cur;
	struct rt_co *next = s->tails[__builtin_clz(s->ready)]->next;
	s->cur = next;
#ifdef RT_ASAN
	switch_to(cur, next, false);
#else
	rt__port_switch(cur, next);
#endif
}
#endif /* RT_PORT_HAS_YIELD */

static inline void ready_set(unsigned level)
{
	__atomic_fetch_or(&rt__s.ready, RT__BIT(level), __ATOMIC_SEQ_CST);
}

static inline void ready_clear(unsigned level)
{
	__atomic_fetch_and(&rt__s.ready, ~RT__BIT(level), __ATOMIC_SEQ_CST);
}

/* Appends @co to its ring. */
static void ring_add(struct rt_co *co)
{
	struct rt_co *tail = rt__s.tails[co->level];
	if (tail == NULL) {
		co->next = co;
		rt__s.tails[co->level] = co;
		ready_set(co->level);
	} else {
		co->next = tail->next;
		tail->next = co;
		rt__s.tails[co->level] = co;
	}
	co->state = RT_CO_READY;
}

/* Removes the running coroutine, the head of its ring. */
static void ring_remove_cur(struct rt_co *cur)
{
	struct rt_co *tail = rt__s.tails[cur->level];
	if (tail == cur) {
		rt__s.tails[cur->level] = NULL;
		ready_clear(cur->level);
	} else {
		tail->next = cur->next;
	}
}

void rt__sys_kick(void)
{
	ready_set(RT__LEVEL_SYS);
}

/* ---- timeouts ---- */

/* Flag in rt_co.state: the coroutine is in the timeout list. */
#define TIMED 0x80u

static void timeout_insert(struct rt_co *co, rt_tick_t wake)
{
	co->wake = wake;
	co->state |= TIMED;
	struct rt_co **pp = &rt__s.timeouts;
	while (*pp && !rt_tick_before(wake, (*pp)->wake))
		pp = &(*pp)->tnext;
	co->tnext = *pp;
	*pp = co;
	if (rt__s.timeouts == co)
		rt__deadline_update();
}

static bool timeout_remove(struct rt_co *co)
{
	if (!(co->state & TIMED))
		return false;
	co->state &= (uint8_t)~TIMED;
	for (struct rt_co **pp = &rt__s.timeouts; *pp; pp = &(*pp)->tnext) {
		if (*pp == co) {
			*pp = co->tnext;
			co->tnext = NULL;
			return true;
		}
	}
	return false;
}

void rt__deadline_update(void)
{
	struct rt__sched *s = &rt__s;
	rt_tick_t d = 0, t;
	bool any = false;
	if (s->timeouts) {
		d = s->timeouts->wake;
		any = true;
	}
	if (rt__timers_next(&t) && (!any || rt_tick_before(t, d))) {
		d = t;
		any = true;
	}
	if (!any) {
		s->has_deadline = 0;
		return;
	}
	s->deadline = d;
	__atomic_store_n(&s->has_deadline, 1, __ATOMIC_SEQ_CST);
	/* A tick that raced with publishing must not be missed. */
	if (!rt_tick_before(s->tick, d))
		rt__sys_kick();
}

bool rt_next_deadline(rt_tick_t *ret_tick)
{
	if (!rt__s.has_deadline)
		return false;
	*ret_tick = rt__s.deadline;
	return true;
}

void rt_tick_announce(rt_tick_t n)
{
	struct rt__sched *s = &rt__s;
	rt_tick_t t = __atomic_add_fetch(&s->tick, n, __ATOMIC_SEQ_CST);
	if (s->has_deadline && !rt_tick_before(t, s->deadline))
		rt__sys_kick();
}

rt_tick_t rt_now(void)
{
	return rt__s.tick;
}

/* ---- waiting ---- */

void rt__waitq_push(struct rt__waitq *q, struct rt__waiter *n)
{
	n->q = q;
	n->next = NULL;
	n->prev = q->tail;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
}

static void waitq_unlink(struct rt__waiter *n)
{
	struct rt__waitq *q = n->q;
	if (q == NULL)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	n->q = NULL;
}

int rt__block(struct rt__wait *w, rt_tick_t timeout)
{
	struct rt__sched *s = &rt__s;
	struct rt_co *cur = s->cur;
	w->co = cur;
	w->result = AG_EAGAIN;
	cur->wait = w;
	cur->state = RT_CO_BLOCKED;
	if (timeout != RT_FOREVER)
		timeout_insert(cur, s->tick + (timeout ? timeout : 1));
	ring_remove_cur(cur);
	schedule(cur, false);
	return w->result;
}

void rt__complete(struct rt__wait *w, int result)
{
	struct rt_co *co = w->co;
	for (unsigned i = 0; i < w->n; i++)
		waitq_unlink(&w->nodes[i]);
	if (timeout_remove(co) && rt__s.timeouts == NULL)
		rt__deadline_update();
	w->result = result;
	co->wait = NULL;
	ring_add(co);
}

int rt_sleep(rt_tick_t ticks)
{
	if (ticks == 0) {
		rt_yield();
		return 0;
	}
	if (ticks == RT_FOREVER)
		ticks = RT_FOREVER - 1;
	struct rt__wait w = {.n = 0};
	(void)rt__block(&w, ticks);
	return 0;
}

int rt_sleep_ms(uint32_t ms)
{
	return rt_sleep(RT_MS_TO_TICKS(ms));
}

/* ---- coroutines ---- */

static void overflow(struct rt_co *co)
{
	struct rt_fault f;
	uint32_t bytes = (uint32_t)co->stack_words * 4u;
	uintptr_t top = (uintptr_t)(co->stack + co->stack_words);
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	memset(&f, 0, sizeof(f));
	f.code = AG_ESTACK;
	f.co = co;
	f.name = co->name ? co->name : "?";
	f.stack_bytes = bytes;
	/* The canary is gone, so it went at least the whole stack deep; if we
	 * are still below the stack, the current frame says how far. */
	f.depth_bytes = bytes;
	if (sp < (uintptr_t)co->stack && co == rt__s.cur && top - sp > bytes)
		f.depth_bytes = (uint32_t)(top - sp);
	if (hooks.fatal)
		hooks.fatal(&f);
	/* The hook returned (host tests): abandon the run. The coroutine is
	 * never resumed; its stack cannot be trusted. */
	rt__s.stop_code = AG_ESTACK;
	rt__s.running = 0;
	for (;;)
		switch_to(rt__s.cur, &main_co, true);
}

void rt__co_main(void); /* entered from the port's first frame */
void rt__co_main(void)
{
	struct rt_co *co = rt__s.cur;
#ifdef RT_ASAN
	const void *bottom;
	size_t size;
	__sanitizer_finish_switch_fiber(NULL, &bottom, &size);
	if (main_bottom == NULL) {
		main_bottom = bottom;
		main_size = size;
	}
#endif
	unsigned idx = co == &sys_co ? RT_CFG_CO_MAX : co == &idle_co ? RT_CFG_CO_MAX + 1
								      : (unsigned)(co - pool);
	entries[idx].fn(entries[idx].arg);
	rt_exit();
}

static int stack_prepare(struct rt_co *co, void *stack, size_t bytes)
{
	uint32_t *lo = stack;
	size_t words = bytes / 4u;
#ifdef RT_ASAN
	/* Frames of coroutines abandoned by an earlier run stay poisoned. */
	__asan_unpoison_memory_region(stack, bytes);
#endif
	for (size_t i = 1; i < words; i++)
		lo[i] = RT_STACK_PAINT;
	lo[0] = RT_STACK_CANARY;
	co->stack = lo;
	co->stack_words = (uint16_t)words;
	co->sp = rt__port_stack_init(lo + words);
	return 0;
}

int rt_spawn(const char *name, rt_entry_t fn, void *arg, int prio, void *stack,
	     size_t stack_bytes, struct rt_co **ret_co)
{
	if (fn == NULL || prio < RT_PRIO_MIN || prio > RT_PRIO_MAX)
		return AG_EINVAL;
	if (stack != NULL &&
	    (stack_bytes < RT_PORT_STACK_MIN || stack_bytes / 4u > 0xffffu ||
	     ((uintptr_t)stack % RT_PORT_STACK_ALIGN) != 0 ||
	     (stack_bytes % RT_PORT_STACK_ALIGN) != 0))
		return AG_EINVAL;
	struct rt_co *co = NULL;
	for (unsigned i = 0; i < RT_CFG_CO_MAX; i++) {
		if (pool[i].state == RT_CO_FREE) {
			co = &pool[i];
			break;
		}
	}
	if (co == NULL)
		return AG_ENOSPC;
	if (stack == NULL) {
#if RT_CFG_STACK_POOL > 0
		for (unsigned i = 0; i < RT_CFG_STACK_POOL; i++) {
			if (!stack_busy[i]) {
				stack_busy[i] = 1;
				stack = stacks[i];
				stack_bytes = sizeof(stacks[i]);
				break;
			}
		}
#endif
		if (stack == NULL)
			return AG_ENOSPC;
	}
	memset(co, 0, sizeof(*co));
	unsigned idx = (unsigned)(co - pool);
	entries[idx].fn = fn;
	entries[idx].arg = arg;
	co->name = name;
	co->level = (uint8_t)(RT_CFG_PRIO_LEVELS - 1 - prio);
	(void)stack_prepare(co, stack, stack_bytes);
	rt__s.live++;
	ring_add(co);
	if (ret_co)
		*ret_co = co;
	return 0;
}

static void release(struct rt_co *co)
{
#if RT_CFG_STACK_POOL > 0
	for (unsigned i = 0; i < RT_CFG_STACK_POOL; i++) {
		if (co->stack == stacks[i])
			stack_busy[i] = 0;
	}
#endif
	co->state = RT_CO_FREE;
}

void rt_exit(void)
{
	struct rt__sched *s = &rt__s;
	struct rt_co *cur = s->cur;
	if (cur->stack[0] != RT_STACK_CANARY)
		overflow(cur);
	ring_remove_cur(cur);
	cur->state = RT_CO_DONE;
	if (cur != &sys_co && cur != &idle_co) {
		release(cur);
		if (--s->live == 0) {
			s->running = 0;
			for (;;)
				switch_to(cur, &main_co, true);
		}
	}
	for (;;)
		schedule(cur, true);
}

void rt_stop(int code)
{
	struct rt__sched *s = &rt__s;
	s->stop_code = code;
	s->running = 0;
	switch_to(s->cur, &main_co, false);
	for (;;) /* never resumed */
		;
}

struct rt_co *rt_self(void)
{
	return rt__s.running ? rt__s.cur : NULL;
}

unsigned rt_count(void)
{
	return rt__s.live;
}

bool rt_busy(void)
{
	return (rt__s.ready & ~RT__BIT(RT__LEVEL_IDLE)) != 0;
}

uint32_t rt_stack_used(const struct rt_co *co)
{
	uint32_t words = co->stack_words;
	if (co->stack[0] != RT_STACK_CANARY)
		return words * 4u;
	uint32_t i = 1;
	while (i < words && co->stack[i] == RT_STACK_PAINT)
		i++;
	return (words - i) * 4u;
}

void rt_foreach(void (*fn)(const struct rt_co *co, void *arg), void *arg)
{
	if (sys_co.state != RT_CO_FREE)
		fn(&sys_co, arg);
	for (unsigned i = 0; i < RT_CFG_CO_MAX; i++) {
		unsigned st = pool[i].state & ~TIMED;
		if (st == RT_CO_READY || st == RT_CO_BLOCKED)
			fn(&pool[i], arg);
	}
	if (idle_co.state != RT_CO_FREE)
		fn(&idle_co, arg);
}

/* ---- the system and idle coroutines ---- */

static void sys_main(void *arg)
{
	struct rt__sched *s = &rt__s;
	(void)arg;
	for (;;) {
		/* Clear our bit before looking, so that anything an interrupt
		 * posts from here on sets it again. */
		ready_clear(RT__LEVEL_SYS);
		rt__events_run();
		rt_tick_t now = s->tick;
		while (s->timeouts && !rt_tick_before(now, s->timeouts->wake)) {
			struct rt_co *co = s->timeouts;
			s->timeouts = co->tnext;
			co->tnext = NULL;
			co->state &= (uint8_t)~TIMED;
			rt__complete(co->wait, AG_ETIMEDOUT);
		}
		rt__timers_run(now);
		rt__deadline_update();
		if (s->ready & RT__BIT(RT__LEVEL_SYS))
			continue;
		schedule(&sys_co, false);
	}
}

static void default_idle(void)
{
#if defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__)
	/* With interrupts masked, an interrupt that arrives after the check
	 * still ends the wfi. */
	__asm__ volatile("cpsid i" ::: "memory");
	if (!rt_busy())
		__asm__ volatile("wfi" ::: "memory");
	__asm__ volatile("cpsie i" ::: "memory");
#endif
}

static void idle_main(void *arg)
{
	(void)arg;
	for (;;) {
		if (!rt_busy())
			hooks.idle();
		rt_yield();
	}
}

static void special_init(struct rt_co *co, const char *name, unsigned level, rt_entry_t fn,
			 unsigned idx, uint32_t *stack, size_t bytes)
{
	memset(co, 0, sizeof(*co));
	co->name = name;
	co->level = (uint8_t)level;
	entries[idx].fn = fn;
	entries[idx].arg = NULL;
	(void)stack_prepare(co, stack, bytes);
}

void rt_init(const struct rt_hooks *h)
{
#ifdef RT_PORT_HAS_INIT
	rt__port_init(); /* before main_canary is written: it may be guarded */
#endif
	memset(&rt__s, 0, sizeof(rt__s));
	memset(pool, 0, sizeof(pool));
#if RT_CFG_STACK_POOL > 0
	memset(stack_busy, 0, sizeof(stack_busy));
#endif
	memset(&hooks, 0, sizeof(hooks));
	if (h)
		hooks = *h;
	if (hooks.idle == NULL)
		hooks.idle = default_idle;
	rt__timers_reset();
	special_init(&sys_co, "rt.sys", RT__LEVEL_SYS, sys_main, RT_CFG_CO_MAX, sys_stack,
		     sizeof(sys_stack));
	special_init(&idle_co, "rt.idle", RT__LEVEL_IDLE, idle_main, RT_CFG_CO_MAX + 1,
		     idle_stack, sizeof(idle_stack));
	/* The system coroutine sits in its ring for good; only its ready bit
	 * comes and goes. */
	sys_co.next = &sys_co;
	sys_co.state = RT_CO_READY;
	rt__s.tails[RT__LEVEL_SYS] = &sys_co;
	ring_add(&idle_co);
	rt__s.sys = &sys_co;
	rt__s.idle = &idle_co;
	memset(&main_co, 0, sizeof(main_co));
	main_canary[0] = RT_STACK_CANARY;
	main_co.stack = main_canary;
	main_co.name = "main";
}

int rt_run(void)
{
	struct rt__sched *s = &rt__s;
	if (s->running || s->idle == NULL)
		return AG_ESTATE;
	if (s->live == 0)
		return 0;
	s->running = 1;
	s->stop_code = 0;
	s->cur = &main_co;
	/* Let the system coroutine settle timers first. */
	rt__sys_kick();
	schedule(&main_co, false);
	s->cur = NULL;
	s->idle = NULL; /* rt_init before the next run */
	return s->stop_code;
}
