/* sample -> filter -> report: three coroutines joined by channels. */
#include <limits.h>

#include "agent/err.h"
#include "app/app.h"
#include "app_internal.h"
#include "hal/sys.h"
#include "rt/chan.h"
#include "rt/rt.h"

RT_CHAN_DEFINE(raw_ch, struct app_sample, 8);
RT_CHAN_DEFINE(filtered_ch, struct app_sample, 8);
static struct app_report report_storage[2];
struct rt_chan app__report_ch;

RT_STACK_DEFINE(sample_stack, APP_STACK_BYTES);
RT_STACK_DEFINE(filter_stack, APP_STACK_BYTES);
RT_STACK_DEFINE(report_stack, APP_STACK_BYTES);

static uint32_t sample_ms;
static uint32_t reports;

int32_t app_sensor_read(uint32_t *seed, uint32_t t_ms)
{
	*seed = *seed * 1664525u + 1013904223u;
	int32_t noise = (int32_t)((*seed >> 16) & 0xffu) - 128;
	int32_t phase = (int32_t)(t_ms % 2000u);
	int32_t tri = phase < 1000 ? phase : 2000 - phase; /* 0..1000..0 */
	return tri * 10 + noise;
}

int32_t app_filter_step(int32_t *state, int32_t value)
{
	int32_t v = value * 256;
	if (*state == INT32_MIN)
		*state = v;
	else
		*state += (v - *state) / 8;
	return *state / 256;
}

static void sample_main(void *arg)
{
	(void)arg;
	uint32_t seed = 12345u;
	for (;;) {
		struct app_sample s = {hal_clock_ms(), 0};
		s.value = app_sensor_read(&seed, s.t_ms);
		(void)rt_chan_send(&raw_ch, &s, RT_FOREVER);
		rt_sleep_ms(sample_ms);
	}
}

static void filter_main(void *arg)
{
	(void)arg;
	int32_t state = INT32_MIN;
	for (;;) {
		struct app_sample s;
		if (rt_chan_recv(&raw_ch, &s, RT_FOREVER) != 0)
			continue;
		s.value = app_filter_step(&state, s.value);
		(void)rt_chan_send(&filtered_ch, &s, RT_FOREVER);
	}
}

static void report_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct app_report r = {0, 0, INT32_MAX, INT32_MIN, 0};
		int64_t sum = 0;
		while (r.count < APP_WINDOW) {
			struct app_sample s;
			if (rt_chan_recv(&filtered_ch, &s, RT_FOREVER) != 0)
				continue;
			sum += s.value;
			r.min = s.value < r.min ? s.value : r.min;
			r.max = s.value > r.max ? s.value : r.max;
			r.count++;
		}
		r.mean = (int32_t)(sum / (int64_t)r.count);
		r.seq = ++reports;
		/* The agent takes reports when the link is up; drop the
		 * oldest rather than stall the pipeline. */
		if (rt_chan_try_send(&app__report_ch, &r) == AG_EAGAIN) {
			struct app_report old;
			(void)rt_chan_try_recv(&app__report_ch, &old);
			(void)rt_chan_try_send(&app__report_ch, &r);
		}
		app__agent_kick();
	}
}

uint32_t app_reports(void)
{
	return reports;
}

int app__pipeline_start(uint32_t period_ms)
{
	sample_ms = period_ms ? period_ms : 100u;
	reports = 0;
	int rc = rt_chan_init(&raw_ch, raw_ch_storage, sizeof(struct app_sample), 8);
	rc = rc ? rc : rt_chan_init(&filtered_ch, filtered_ch_storage, sizeof(struct app_sample), 8);
	rc = rc ? rc
		: rt_chan_init(&app__report_ch, report_storage, sizeof(struct app_report), 2);
	rc = rc ? rc
		: rt_spawn("sample", sample_main, NULL, 3, sample_stack, sizeof(sample_stack), NULL);
	rc = rc ? rc
		: rt_spawn("filter", filter_main, NULL, 3, filter_stack, sizeof(filter_stack), NULL);
	rc = rc ? rc
		: rt_spawn("report", report_main, NULL, 2, report_stack, sizeof(report_stack), NULL);
	return rc;
}
