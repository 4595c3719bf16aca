/* Private to the sample application. */
#ifndef APP_INTERNAL_H
#define APP_INTERNAL_H

#include <stdint.h>

#include "rt/chan.h"

#ifdef __x86_64__
#define APP_STACK_BYTES 32768 /* host frames (ASan) are large */
#else
#define APP_STACK_BYTES 1024
#endif

extern struct rt_chan app__report_ch;

int app__pipeline_start(uint32_t period_ms);
/* Tells the agent a report is waiting. */
void app__agent_kick(void);

#endif
