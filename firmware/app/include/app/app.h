/**
 * @file app.h
 * @brief The sample application: a sample → filter → report pipeline of
 * coroutines joined by channels, and the agent coroutine that says hello
 * and sends heartbeats (and the pipeline's telemetry) over the link UART
 * with the agent protocol.
 */
#ifndef APP_APP_H
#define APP_APP_H

#include <stdint.h>

#include "rt/chan.h"

/** Identity the agent reports in hello. */
struct app_config {
	const char *device_id;  /**< up to AG_ID_MAX bytes */
	const char *hw_id;      /**< up to AG_ID_MAX bytes */
	uint32_t sample_ms;     /**< sampling period */
	uint32_t heartbeat_ms;  /**< until the gateway asks for another period */
	uint8_t active_slot;    /**< 0 (A) or 1 (B): where this image runs */
};

/** One sample: a timestamp and a raw value. */
struct app_sample {
	uint32_t t_ms;
	int32_t value;
};

/** A window's summary, from the report stage. */
struct app_report {
	uint32_t seq;   /**< windows reported so far */
	int32_t mean;   /**< of the filtered values */
	int32_t min, max;
	uint32_t count; /**< samples in the window */
};

/** Samples per report window. */
#define APP_WINDOW 16

/**
 * @brief The filter stage's arithmetic: an exponential moving average with
 * weight 1/8, in fixed point (value * 256). @p state starts at INT32_MIN.
 * @return the filtered value.
 */
int32_t app_filter_step(int32_t *state, int32_t value);

/**
 * @brief A deterministic synthetic sensor: a triangle wave plus noise from
 * a linear congruential generator. @p seed is updated.
 */
int32_t app_sensor_read(uint32_t *seed, uint32_t t_ms);

/**
 * @brief Spawns the pipeline (sample, filter, report) and the agent.
 * Call between rt_init and rt_run.
 * @return 0, or the rt_spawn error.
 */
int app_start(const struct app_config *cfg) __attribute__((warn_unused_result));

/** @brief Windows reported so far (for tests). */
uint32_t app_reports(void);

/** @brief Heartbeats sent so far (for tests). */
uint32_t app_heartbeats(void);

/** @brief True once the gateway answered hello. */
int app_link_ready(void);

#endif /* APP_APP_H */
