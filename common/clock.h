/* Monotonic and wall clocks. */
#ifndef DFLY_CLOCK_H
#define DFLY_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ns(void);
uint64_t clock_mono_us(void);
uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
int64_t clock_wall_us(void);

#endif
