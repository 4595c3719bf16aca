/* The runtime test suite: scheduling order and priorities, sleep, timers,
 * channels (full, empty, timeout, select), event flags (also from interrupt
 * context), stack painting and overflow detection, pool limits. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/err.h"
#include "rt/chan.h"
#include "rt/event.h"
#include "rt/rt.h"
#include "rt/timer.h"
#include "suite.h"

const char *t_fail_expr;
const char *t_fail_file;
int t_fail_line;
struct rt_fault t_last_fault;
int t_faults;
static volatile int irq_active;

void t_fail(const char *file, int line, const char *expr)
{
	if (t_fail_expr == NULL) {
		t_fail_expr = expr;
		t_fail_file = file;
		t_fail_line = line;
	}
}

void t_reset(void)
{
	t_fail_expr = NULL;
	t_fail_file = NULL;
	t_fail_line = 0;
	t_faults = 0;
	memset(&t_last_fault, 0, sizeof(t_last_fault));
}

static void t_idle(void)
{
	if (irq_active) {
		t_plat_irq_wait();
		return;
	}
	rt_tick_t d;
	if (rt_next_deadline(&d)) {
		rt_tick_t now = rt_now();
		rt_tick_announce(rt_tick_before(now, d) ? d - now : 0);
	} else {
		rt_stop(AG_EDEADLOCK);
	}
}

static void t_fatal(const struct rt_fault *f)
{
	t_last_fault = *f;
	t_faults++;
}

void t_rt_init(void)
{
	static const struct rt_hooks h = {t_idle, t_fatal};
	rt_init(&h);
}

/* ---- an event log ---- */

static char logbuf[128];
static unsigned loglen;

static void log_reset(void)
{
	loglen = 0;
	logbuf[0] = 0;
}

static void log_c(char c)
{
	if (loglen + 1 < sizeof(logbuf)) {
		logbuf[loglen++] = c;
		logbuf[loglen] = 0;
	}
}

#define SPAWN(name, fn, arg, prio)                                                   \
	T_EQ(rt_spawn(name, fn, (void *)(uintptr_t)(arg), prio, NULL, 0, NULL), 0)

/* ---- scheduling ---- */

static void rr_body(void *arg)
{
	char c = (char)(uintptr_t)arg;
	for (int i = 0; i < 3; i++) {
		log_c(c);
		rt_yield();
	}
}

static void test_round_robin(void)
{
	log_reset();
	SPAWN("a", rr_body, 'a', 2);
	SPAWN("b", rr_body, 'b', 2);
	SPAWN("c", rr_body, 'c', 2);
	T_EQ(rt_run(), 0);
	T_CHECK(strcmp(logbuf, "abcabcabc") == 0);
}

RT_CHAN_DEFINE(prio_ch, int, 4);

static void prio_high(void *arg)
{
	(void)arg;
	int v;
	log_c('H');
	T_EQ(rt_chan_recv(&prio_ch, &v, RT_FOREVER), 0); /* blocks; low runs */
	log_c('h');
}

static void prio_low(void *arg)
{
	(void)arg;
	int v = 1;
	log_c('L');
	T_EQ(rt_chan_send(&prio_ch, &v, RT_NOWAIT), 0); /* readies high ... */
	log_c('l');                                  /* ... which waits for a yield point */
	rt_yield();
	log_c('m');
}

static void test_priorities(void)
{
	log_reset();
	T_EQ(rt_chan_init(&prio_ch, prio_ch_storage, sizeof(int), 4), 0);
	SPAWN("low", prio_low, 0, 1);
	SPAWN("high", prio_high, 0, 5);
	T_EQ(rt_run(), 0);
	/* high first though spawned second; woken high preempts low at its yield */
	T_CHECK(strcmp(logbuf, "HLlhm") == 0);
}

static void spin_yield(void *arg)
{
	char c = (char)(uintptr_t)arg;
	for (int i = 0; i < 2; i++) {
		log_c(c);
		rt_yield();
	}
}

static void test_priority_starves_lower(void)
{
	log_reset();
	SPAWN("lo", spin_yield, 'l', 1);
	SPAWN("hi", spin_yield, 'h', 3);
	SPAWN("hi2", spin_yield, 'H', 3);
	T_EQ(rt_run(), 0);
	T_CHECK(strcmp(logbuf, "hHhHll") == 0);
}

/* ---- sleep and timers ---- */

static rt_tick_t woke[4];

static void sleeper(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	rt_tick_t t0 = rt_now();
	T_EQ(rt_sleep((rt_tick_t)(10 - 3 * i)), 0);
	woke[i] = rt_now() - t0;
	log_c((char)('0' + i));
}

static void test_sleep_ticks(void)
{
	log_reset();
	memset(woke, 0, sizeof(woke));
	SPAWN("s0", sleeper, 0, 2);
	SPAWN("s1", sleeper, 1, 2);
	SPAWN("s2", sleeper, 2, 2);
	T_EQ(rt_run(), 0);
	T_EQ(woke[0], 10);
	T_EQ(woke[1], 7);
	T_EQ(woke[2], 4);
	T_CHECK(strcmp(logbuf, "210") == 0); /* in deadline order */
	T_EQ(rt_now(), 10);
}

static void ms_sleeper(void *arg)
{
	(void)arg;
	T_EQ(rt_sleep_ms(25), 0);
	T_EQ(rt_now(), RT_MS_TO_TICKS(25));
}

static void test_sleep_ms(void)
{
	SPAWN("ms", ms_sleeper, 0, 2);
	T_EQ(rt_run(), 0);
}

static unsigned fired_once, fired_periodic;
static rt_tick_t fired_at[8];
static struct rt_timer t_once, t_per;

static void on_once(struct rt_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	fired_once++;
}

static void on_per(struct rt_timer *t, void *arg)
{
	(void)arg;
	if (fired_periodic < 8)
		fired_at[fired_periodic] = rt_now();
	if (++fired_periodic == 4)
		rt_timer_stop(t);
}

static void timer_user(void *arg)
{
	(void)arg;
	rt_timer_init(&t_once, on_once, NULL);
	rt_timer_init(&t_per, on_per, NULL);
	T_EQ(rt_timer_start(&t_once, 5, 0), 0);
	T_EQ(rt_timer_start(&t_per, 3, 10), 0);
	T_CHECK(rt_timer_armed(&t_once));
	T_EQ(rt_sleep(100), 0);
	T_CHECK(!rt_timer_armed(&t_once));
	T_CHECK(!rt_timer_armed(&t_per));
}

static void test_timers(void)
{
	fired_once = fired_periodic = 0;
	SPAWN("timers", timer_user, 0, 2);
	T_EQ(rt_run(), 0);
	T_EQ(fired_once, 1);
	T_EQ(fired_periodic, 4);
	T_EQ(fired_at[0], 3);
	T_EQ(fired_at[1], 13);
	T_EQ(fired_at[3], 33);
}

/* ---- channels ---- */

RT_CHAN_DEFINE(ch_a, uint32_t, 3);
RT_CHAN_DEFINE(ch_b, uint32_t, 3);
RT_CHAN_DEFINE(ch_c, uint32_t, 1);

static void chans_init(void)
{
	T_EQ(rt_chan_init(&ch_a, ch_a_storage, sizeof(uint32_t), 3), 0);
	T_EQ(rt_chan_init(&ch_b, ch_b_storage, sizeof(uint32_t), 3), 0);
	T_EQ(rt_chan_init(&ch_c, ch_c_storage, sizeof(uint32_t), 1), 0);
}

static void full_empty(void *arg)
{
	(void)arg;
	uint32_t v = 0;
	T_EQ(rt_chan_try_recv(&ch_a, &v), AG_EAGAIN);
	for (uint32_t i = 1; i <= 3; i++)
		T_EQ(rt_chan_try_send(&ch_a, &i), 0);
	uint32_t x = 99;
	T_EQ(rt_chan_try_send(&ch_a, &x), AG_EAGAIN);
	T_EQ(rt_chan_count(&ch_a), 3);
	for (uint32_t i = 1; i <= 3; i++) {
		T_EQ(rt_chan_try_recv(&ch_a, &v), 0);
		T_EQ(v, i);
	}
	T_EQ(rt_chan_try_recv(&ch_a, &v), AG_EAGAIN);
	/* wrap around the ring */
	for (uint32_t round = 0; round < 5; round++) {
		uint32_t a = round, b = round + 100;
		T_EQ(rt_chan_try_send(&ch_a, &a), 0);
		T_EQ(rt_chan_try_send(&ch_a, &b), 0);
		T_EQ(rt_chan_try_recv(&ch_a, &v), 0);
		T_EQ(v, a);
		T_EQ(rt_chan_try_recv(&ch_a, &v), 0);
		T_EQ(v, b);
	}
}

static void test_chan_full_empty(void)
{
	chans_init();
	SPAWN("fe", full_empty, 0, 2);
	T_EQ(rt_run(), 0);
	uint8_t st[4];
	struct rt_chan c;
	T_EQ(rt_chan_init(&c, st, 0, 4), AG_EINVAL);
	T_EQ(rt_chan_init(&c, st, 4, 0), AG_EINVAL);
}

static uint32_t got_sum, got_n, got_last;

static void producer(void *arg)
{
	uint32_t n = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 1; i <= n; i++)
		T_EQ(rt_chan_send(&ch_a, &i, RT_FOREVER), 0);
}

static void consumer(void *arg)
{
	uint32_t n = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v;
		T_EQ(rt_chan_recv(&ch_a, &v, RT_FOREVER), 0);
		T_EQ(v, got_last + 1); /* in order */
		got_last = v;
		got_sum += v;
		got_n++;
		if (i % 7 == 0)
			rt_sleep(1); /* let the producer fill the channel */
	}
}

static void test_chan_blocking(void)
{
	chans_init();
	got_sum = got_n = got_last = 0;
	SPAWN("prod", producer, 50, 2);
	SPAWN("cons", consumer, 50, 2);
	T_EQ(rt_run(), 0);
	T_EQ(got_n, 50);
	T_EQ(got_sum, 50 * 51 / 2);
}

static void test_chan_block_prio(void)
{
	/* consumer above producer: every item is handed off directly */
	chans_init();
	got_sum = got_n = got_last = 0;
	SPAWN("prod", producer, 20, 1);
	SPAWN("cons", consumer, 20, 4);
	T_EQ(rt_run(), 0);
	T_EQ(got_n, 20);
}

static void timeouts(void *arg)
{
	(void)arg;
	uint32_t v = 7;
	rt_tick_t t0 = rt_now();
	T_EQ(rt_chan_recv(&ch_a, &v, 10), AG_ETIMEDOUT);
	T_EQ(rt_now() - t0, 10);
	T_EQ(rt_chan_send(&ch_c, &v, 5), 0);
	t0 = rt_now();
	T_EQ(rt_chan_send(&ch_c, &v, 5), AG_ETIMEDOUT); /* full */
	T_EQ(rt_now() - t0, 5);
	t0 = rt_now();
	T_EQ(rt_chan_count(&ch_c), 1);
	/* a timed receive that is satisfied before its deadline */
	T_EQ(rt_chan_recv(&ch_b, &v, 50), 0);
	T_EQ(v, 42);
	T_EQ(rt_now() - t0, 8);
}

static void late_sender(void *arg)
{
	(void)arg;
	uint32_t v = 42;
	rt_sleep(23);
	T_EQ(rt_chan_send(&ch_b, &v, RT_FOREVER), 0);
}

static void test_chan_timeout(void)
{
	chans_init();
	SPAWN("to", timeouts, 0, 2);
	SPAWN("late", late_sender, 0, 2);
	T_EQ(rt_run(), 0);
	rt_tick_t d;
	T_CHECK(!rt_next_deadline(&d)); /* the satisfied wait left no timeout */
}

static void selector(void *arg)
{
	(void)arg;
	uint32_t a = 0, b = 0, c = 0;
	struct rt_sel ops[3] = {
		{&ch_a, &a, RT_SEL_RECV},
		{&ch_b, &b, RT_SEL_RECV},
		{&ch_c, &c, RT_SEL_RECV},
	};
	T_EQ(rt_chan_select(ops, 3, RT_NOWAIT), AG_EAGAIN);
	rt_tick_t t0 = rt_now();
	T_EQ(rt_chan_select(ops, 3, 4), AG_ETIMEDOUT);
	T_EQ(rt_now() - t0, 4);
	/* the feeder sends to b after 2 ticks, then to c and a */
	T_EQ(rt_chan_select(ops, 3, RT_FOREVER), 1);
	T_EQ(b, 11);
	T_EQ(rt_chan_select(ops, 3, RT_FOREVER), 2);
	T_EQ(c, 12);
	T_EQ(rt_chan_select(ops, 3, RT_FOREVER), 0);
	T_EQ(a, 13);
	/* both ready: the first case wins */
	uint32_t x = 21, y = 22;
	T_EQ(rt_chan_try_send(&ch_b, &x), 0);
	T_EQ(rt_chan_try_send(&ch_a, &y), 0);
	T_EQ(rt_chan_select(ops, 3, RT_FOREVER), 0);
	T_EQ(a, 22);
	T_EQ(rt_chan_select(ops, 3, RT_FOREVER), 1);
	T_EQ(b, 21);
	/* a send case: ch_c is full until the feeder drains it */
	uint32_t one = 1, s = 31;
	T_EQ(rt_chan_try_send(&ch_c, &one), 0);
	struct rt_sel sops[2] = {{&ch_c, &s, RT_SEL_SEND}, {&ch_a, &a, RT_SEL_RECV}};
	T_EQ(rt_chan_select(sops, 2, RT_FOREVER), 0);
	T_EQ(rt_chan_select(ops, 0, RT_FOREVER), AG_EINVAL);
}

static void feeder(void *arg)
{
	(void)arg;
	uint32_t v;
	rt_sleep(6);
	v = 11;
	T_EQ(rt_chan_send(&ch_b, &v, RT_FOREVER), 0);
	rt_yield();
	v = 12;
	T_EQ(rt_chan_send(&ch_c, &v, RT_FOREVER), 0);
	rt_yield();
	v = 13;
	T_EQ(rt_chan_send(&ch_a, &v, RT_FOREVER), 0);
	rt_sleep(5);
	/* drain ch_c: 1, then the selector's 31 handed in from its send case */
	T_EQ(rt_chan_recv(&ch_c, &v, RT_FOREVER), 0);
	T_EQ(v, 1);
	T_EQ(rt_chan_recv(&ch_c, &v, RT_FOREVER), 0);
	T_EQ(v, 31);
}

static void test_chan_select(void)
{
	chans_init();
	SPAWN("sel", selector, 0, 3);
	SPAWN("feed", feeder, 0, 2);
	T_EQ(rt_run(), 0);
	/* the selector left no waiter behind on the channels it did not use */
	uint32_t v = 5;
	T_EQ(rt_chan_try_send(&ch_b, &v), 0);
	T_EQ(rt_chan_count(&ch_b), 1);
}

/* ---- event flags ---- */

static struct rt_event ev;

static void ev_waiter(void *arg)
{
	(void)arg;
	uint32_t got = 0;
	T_EQ(rt_event_wait(&ev, 0x3, RT_EVENT_ANY, RT_NOWAIT, &got), AG_EAGAIN);
	T_EQ(rt_event_wait(&ev, 0x3, RT_EVENT_ANY | RT_EVENT_CLEAR, RT_FOREVER, &got), 0);
	T_EQ(got, 0x2);
	T_EQ(ev.bits & 0x2, 0);
	log_c('1');
	T_EQ(rt_event_wait(&ev, 0x5, RT_EVENT_ALL, RT_FOREVER, &got), 0);
	T_EQ(got, 0x5);
	T_EQ(ev.bits & 0x5, 0x5); /* no CLEAR: still set */
	log_c('2');
	rt_tick_t t0 = rt_now();
	T_EQ(rt_event_wait(&ev, 0x100, RT_EVENT_ANY, 7, &got), AG_ETIMEDOUT);
	T_EQ(rt_now() - t0, 7);
	T_EQ(rt_event_wait(&ev, 0, RT_EVENT_ANY, 7, &got), AG_EINVAL);
}

static void ev_setter(void *arg)
{
	(void)arg;
	rt_sleep(2);
	rt_event_set(&ev, 0x2);
	rt_sleep(2);
	rt_event_set(&ev, 0x1);
	rt_sleep(1);
	log_c('a');
	rt_event_set(&ev, 0x4); /* now 0x5 all set */
}

static void test_events(void)
{
	log_reset();
	rt_event_init(&ev);
	SPAWN("wait", ev_waiter, 0, 2);
	SPAWN("set", ev_setter, 0, 2);
	T_EQ(rt_run(), 0);
	T_CHECK(strcmp(logbuf, "1a2") == 0);
}

/* From interrupt (or signal) context: the handler counts and sets a flag;
 * the waiter must see the final count, so no wake-up was lost. */
static volatile uint32_t irq_sent;
static uint32_t irq_seen, irq_wakes;
#define IRQ_TARGET 200u

static void irq_handler(void)
{
	if (irq_sent < IRQ_TARGET) {
		irq_sent = irq_sent + 1u;
		rt_event_set(&ev, 0x1);
	}
}

static void irq_waiter(void *arg)
{
	(void)arg;
	while (irq_seen < IRQ_TARGET) {
		uint32_t got;
		T_EQ(rt_event_wait(&ev, 0x1, RT_EVENT_ANY | RT_EVENT_CLEAR, RT_FOREVER, &got),
		     0);
		irq_wakes++;
		irq_seen = irq_sent;
	}
}

static void irq_busy(void *arg)
{
	/* Runs alongside, so interrupts also land while coroutines run. */
	(void)arg;
	while (irq_seen < IRQ_TARGET) {
		for (volatile int i = 0; i < 200; i++)
			;
		rt_yield();
	}
}

static void test_events_from_irq(void)
{
	rt_event_init(&ev);
	irq_sent = irq_seen = irq_wakes = 0;
	SPAWN("irqwait", irq_waiter, 0, 3);
	SPAWN("busy", irq_busy, 0, 1);
	irq_active = 1;
	t_plat_irq_start(irq_handler, 200);
	int rc = rt_run();
	t_plat_irq_stop();
	irq_active = 0;
	T_EQ(rc, 0);
	T_EQ(irq_seen, IRQ_TARGET);
	T_CHECK(irq_wakes >= 1 && irq_wakes <= IRQ_TARGET);
}

/* ---- stacks ---- */

RT_STACK_DEFINE(user_stack, 4096);

static void use_stack(void *arg)
{
	volatile uint8_t buf[1024];
	(void)arg;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	rt_yield();
	T_CHECK(rt_stack_used(rt_self()) >= 1024);
	T_CHECK(rt_stack_used(rt_self()) < sizeof(user_stack));
}

static void test_stack_high_water(void)
{
	struct rt_co *co = NULL;
	T_EQ(rt_spawn("user", use_stack, NULL, 2, user_stack, sizeof(user_stack), &co), 0);
	T_CHECK(co != NULL && rt_stack_used(co) < 256);
	T_EQ(rt_run(), 0);
}

#if !RT_PORT_GUARD_BYTES
RT_STACK_DEFINE(smash_stack, 4096);
static volatile int smash_depth;

/* The deepest frame of a runaway recursion: writes what its callees
 * would, down through the bottom of the stack. Not instrumented, since
 * under ASan the stack below it is not a live frame. */
__attribute__((noinline, no_sanitize("address"))) static void smash_bottom(void)
{
	volatile uint32_t *lo = rt_self()->stack;
	volatile uint32_t here = 0;
	uintptr_t end = (uintptr_t)&here - 32u; /* leave this frame alone */
	for (volatile uint32_t *p = lo; (uintptr_t)p < end; p++)
		*p = 0x5eedf00du;
}

__attribute__((noinline)) static void recurse(int n)
{
	volatile uint8_t frame[64];
	frame[0] = (uint8_t)n;
	smash_depth = n;
	uintptr_t lo = (uintptr_t)rt_self()->stack;
	if ((uintptr_t)&frame[0] - lo > 256)
		recurse(n + 1);
	else
		smash_bottom();
	frame[1] = frame[0];
}

static void smasher(void *arg)
{
	(void)arg;
	recurse(0);
	rt_yield(); /* the canary is checked here */
	log_c('X');  /* never reached */
}

static void bystander(void *arg)
{
	(void)arg;
	for (;;) {
		log_c('b');
		rt_yield();
	}
}

static void test_stack_overflow(void)
{
	log_reset();
	T_EQ(rt_spawn("smasher", smasher, NULL, 2, smash_stack, sizeof(smash_stack), NULL),
	     0);
	SPAWN("bystander", bystander, 0, 1);
	T_EQ(rt_run(), AG_ESTACK);
	T_EQ(t_faults, 1);
	T_EQ(t_last_fault.code, AG_ESTACK);
	T_CHECK(t_last_fault.name && strcmp(t_last_fault.name, "smasher") == 0);
	T_EQ(t_last_fault.stack_bytes, sizeof(smash_stack));
	T_CHECK(t_last_fault.depth_bytes >= sizeof(smash_stack));
	T_CHECK(strchr(logbuf, 'X') == NULL);
	T_CHECK(smash_depth > 0);
	t_faults = 0; /* expected */
}
#endif /* !RT_PORT_GUARD_BYTES */

/* ---- pools and limits ---- */

static void nop(void *arg)
{
	(void)arg;
}

static void test_spawn_limits(void)
{
	T_EQ(rt_spawn("x", nop, NULL, 0, NULL, 0, NULL), AG_EINVAL);
	T_EQ(rt_spawn("x", nop, NULL, RT_PRIO_MAX + 1, NULL, 0, NULL), AG_EINVAL);
	T_EQ(rt_spawn("x", NULL, NULL, 1, NULL, 0, NULL), AG_EINVAL);
	T_EQ(rt_spawn("x", nop, NULL, 1, user_stack, 8, NULL), AG_EINVAL);
	T_EQ(rt_spawn("x", nop, NULL, 1, (uint8_t *)user_stack + 4, 1024, NULL), AG_EINVAL);
	unsigned n = 0;
	while (rt_spawn("p", nop, NULL, 1, NULL, 0, NULL) == 0)
		n++;
	T_EQ(n, RT_CFG_CO_MAX < RT_CFG_STACK_POOL ? RT_CFG_CO_MAX : RT_CFG_STACK_POOL);
	T_EQ(rt_count(), n);
	T_EQ(rt_run(), 0);
	T_EQ(rt_count(), 0);
	/* everything was returned to the pools */
	t_rt_init();
	unsigned m = 0;
	while (rt_spawn("p", nop, NULL, 1, NULL, 0, NULL) == 0)
		m++;
	T_EQ(m, n);
	T_EQ(rt_run(), 0);
}

static unsigned respawned;

static void respawner(void *arg)
{
	unsigned left = (unsigned)(uintptr_t)arg;
	respawned++;
	if (left > 0)
		T_EQ(rt_spawn("r", respawner, (void *)(uintptr_t)(left - 1), 2, NULL, 0, NULL), 0);
}

static void test_exit_reuse(void)
{
	respawned = 0;
	SPAWN("r", respawner, 3 * RT_CFG_CO_MAX, 2);
	T_EQ(rt_run(), 0);
	T_EQ(respawned, 3 * RT_CFG_CO_MAX + 1);
}

static void forever_waiter(void *arg)
{
	(void)arg;
	uint32_t v;
	(void)rt_chan_recv(&ch_a, &v, RT_FOREVER);
	log_c('!');
}

static void test_deadlock_stops(void)
{
	log_reset();
	chans_init();
	SPAWN("w", forever_waiter, 0, 2);
	T_EQ(rt_run(), AG_EDEADLOCK);
	T_EQ(logbuf[0], 0);
}

static void stopper(void *arg)
{
	(void)arg;
	rt_stop(1234);
}

static void test_stop_and_state(void)
{
	T_CHECK(rt_self() == NULL);
	SPAWN("stop", stopper, 0, 2);
	T_EQ(rt_run(), 1234);
	T_EQ(rt_run(), AG_ESTATE); /* needs rt_init */
}

const struct t_case t_cases[] = {
	{"round_robin", test_round_robin},
	{"priorities", test_priorities},
	{"priority_starves_lower", test_priority_starves_lower},
	{"sleep_ticks", test_sleep_ticks},
	{"sleep_ms", test_sleep_ms},
	{"timers", test_timers},
	{"chan_full_empty", test_chan_full_empty},
	{"chan_blocking", test_chan_blocking},
	{"chan_block_prio", test_chan_block_prio},
	{"chan_timeout", test_chan_timeout},
	{"chan_select", test_chan_select},
	{"events", test_events},
	{"events_from_irq", test_events_from_irq},
	{"stack_high_water", test_stack_high_water},
#if !RT_PORT_GUARD_BYTES
	/* With the MPU guard the board's fault handler stops the device at the
	 * first write into the guard (tests/mpu_guard_main.c tests that); the
	 * canary path is tested where there is no guard. */
	{"stack_overflow", test_stack_overflow},
#endif
	{"spawn_limits", test_spawn_limits},
	{"exit_reuse", test_exit_reuse},
	{"deadlock_stops", test_deadlock_stops},
	{"stop_and_state", test_stop_and_state},
};
const unsigned t_ncases = sizeof(t_cases) / sizeof(t_cases[0]);

int t_run_tap(void (*out)(const char *line))
{
	char line[200];
	int failed = 0;

	snprintf(line, sizeof(line), "1..%u\n", t_ncases);
	out(line);
	for (unsigned i = 0; i < t_ncases; i++) {
		t_reset();
		t_rt_init();
		t_cases[i].fn();
		if (t_fail_expr || t_faults) {
			failed++;
			snprintf(line, sizeof(line), "not ok %u - %s # %s:%d: %s\n", i + 1,
				 t_cases[i].name, t_fail_file ? t_fail_file : "?", t_fail_line,
				 t_fail_expr ? t_fail_expr : "unexpected fault");
		} else {
			snprintf(line, sizeof(line), "ok %u - %s\n", i + 1, t_cases[i].name);
		}
		out(line);
	}
	return failed;
}
