/* Timers: a list sorted by due tick, run by the system coroutine. */
#include "agent/err.h"
#include "rt_internal.h"

void rt__timers_reset(void)
{
	rt__s.timers = NULL;
}

void rt_timer_init(struct rt_timer *t, rt_timer_fn fn, void *arg)
{
	t->next = NULL;
	t->due = 0;
	t->period = 0;
	t->fn = fn;
	t->arg = arg;
	t->armed = 0;
}

static void unlink_timer(struct rt_timer *t)
{
	for (struct rt_timer **pp = &rt__s.timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = 0;
}

static void insert(struct rt_timer *t)
{
	struct rt_timer **pp = &rt__s.timers;
	while (*pp && !rt_tick_before(t->due, (*pp)->due))
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = 1;
}

int rt_timer_start(struct rt_timer *t, rt_tick_t delay, rt_tick_t period)
{
	if (t == NULL || t->fn == NULL)
		return AG_EINVAL;
	if (t->armed)
		unlink_timer(t);
	t->due = rt__s.tick + (delay ? delay : 1);
	t->period = period;
	insert(t);
	rt__deadline_update();
	return 0;
}

void rt_timer_stop(struct rt_timer *t)
{
	if (t && t->armed) {
		unlink_timer(t);
		rt__deadline_update();
	}
}

bool rt_timer_armed(const struct rt_timer *t)
{
	return t->armed != 0;
}

bool rt__timers_next(rt_tick_t *ret_due)
{
	if (rt__s.timers == NULL)
		return false;
	*ret_due = rt__s.timers->due;
	return true;
}

void rt__timers_run(rt_tick_t now)
{
	struct rt_timer *t;
	while ((t = rt__s.timers) != NULL && !rt_tick_before(now, t->due)) {
		rt__s.timers = t->next;
		t->next = NULL;
		t->armed = 0;
		if (t->period) {
			/* Skip the expiries we missed rather than firing a burst. */
			rt_tick_t late = now - t->due;
			t->due += t->period * (late / t->period + 1u);
			insert(t);
		}
		t->fn(t, t->arg);
	}
}
