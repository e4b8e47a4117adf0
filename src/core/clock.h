/* Monotonic and wall clocks in milliseconds. */
#ifndef PW_CORE_CLOCK_H
#define PW_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t pw__now_ms(void);  /* CLOCK_MONOTONIC */
int64_t pw__unix_ms(void); /* CLOCK_REALTIME */
/* "2026-11-28T12:00:00.123Z" into buf (>= 32 bytes). */
void pw__iso8601(char *buf, size_t size, int64_t unix_ms);

#endif
